"""deploy/postgres-roles.sh, as the postgres image runs it on a first start and as an older
volume's owner runs it again: benchsync's roles, each with its own password, neither a superuser.

Against a Postgres of the test's own (pgserver's, with psql 16 like the postgres:16 image), since
roles are server-wide; password logins are turned on for every role but the superuser.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pgserver
import psycopg
import pytest
from pgserver.postgres_server import get_server
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from benchsync_core import migrations
from tests.deployment.stack import REPO
from webhook_sensor_bridge import inbox

ROLES_SCRIPT = REPO / "deploy" / "postgres-roles.sh"
PSQL_DIRECTORY = Path(pgserver.__file__).parent / "pginstall" / "bin"
SUPERUSER = "postgres"
OWNER = "benchsync_owner"
BRIDGE = "benchsync_bridge"
# Characters that mean something to a shell, to psql or to SQL.
PASSWORDS = {OWNER: "own'er \\ $HOME :pw", BRIDGE: 'bri"dge; pw'}


class Server:
    def __init__(self, url: str, directory: Path) -> None:
        self.url = url
        self.directory = directory

    def connect(
        self, dbname: str = "benchling", user: str = SUPERUSER, password: str | None = None
    ) -> psycopg.Connection[tuple[object, ...]]:
        extra = {"password": password} if password is not None else {}
        return psycopg.connect(
            make_conninfo(self.url, dbname=dbname, user=user, **extra), autocommit=True
        )

    def write_passwords(self, passwords: dict[str, str]) -> dict[str, str]:
        files = {}
        for role, password in passwords.items():
            path = self.directory / f"{role}_password"
            path.write_text(password + "\n")
            files[role] = str(path)
        return files

    def run_roles_script(self, passwords: dict[str, str] = PASSWORDS) -> None:
        files = self.write_passwords(passwords)
        env = {
            "PATH": f"{PSQL_DIRECTORY}{os.pathsep}{os.environ['PATH']}",
            "PGHOST": str(conninfo_to_dict(self.url)["host"]),
            "POSTGRES_USER": SUPERUSER,
            "POSTGRES_DB": "benchling",
            "BENCHSYNC_OWNER_PASSWORD_FILE": files[OWNER],
            "BENCHSYNC_BRIDGE_PASSWORD_FILE": files[BRIDGE],
        }
        result = subprocess.run(
            ["bash", str(ROLES_SCRIPT)], env=env, capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stderr

    def owners(self, dbname: str) -> set[tuple[str, str]]:
        """(object, owner) of each schema, relation and routine but the system's."""
        query = """
            SELECT 'schema ' || nspname, pg_get_userbyid(nspowner) FROM pg_namespace
            WHERE nspname IN ('benchsync', 'benchling')
            UNION ALL
            SELECT c.oid::regclass::text, pg_get_userbyid(c.relowner)
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname IN ('public', 'benchsync', 'benchling') AND c.relkind NOT IN ('i', 't')
            UNION ALL
            SELECT p.oid::regprocedure::text, pg_get_userbyid(p.proowner)
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname IN ('benchsync', 'benchling')
        """
        with self.connect(dbname) as connection:
            return {(str(name), str(owner)) for name, owner in connection.execute(query)}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # Not under pytest's temporary folder: pgserver, as root, runs Postgres as a user of its own,
    # which another pytest session starting meanwhile would lock out of that folder (mode 700).
    data = Path(tempfile.mkdtemp(prefix="benchsync-roles-")) / "data"
    postgres = get_server(data, cleanup_mode="delete")
    url = postgres.get_uri()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE DATABASE benchling")
    # Passwords matter for every role but the superuser (the image's socket logins are trust).
    hba = data / "pg_hba.conf"
    hba.write_text(f"local all {SUPERUSER} trust\nlocal all all scram-sha-256\n")
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("SELECT pg_reload_conf()")
    try:
        yield Server(url, tmp_path)
    finally:
        postgres.cleanup()
        shutil.rmtree(data.parent, ignore_errors=True)


def test_each_role_logs_in_with_its_own_password_only_and_neither_is_a_superuser(
    server: Server,
) -> None:
    server.run_roles_script()

    with server.connect() as admin:
        rows = admin.execute(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles"
            " WHERE rolname IN (%s, %s) ORDER BY rolname",
            [OWNER, BRIDGE],
        ).fetchall()
    assert rows == [(BRIDGE, False, False, False, False), (OWNER, False, False, False, False)]
    for role, password in PASSWORDS.items():
        with server.connect(user=role, password=password):
            pass
    # The bridge's password opens no other role.
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        server.connect(user=OWNER, password=PASSWORDS[BRIDGE])


def test_the_owner_migrates_grants_the_bridge_and_owns_dagsters_database(server: Server) -> None:
    server.run_roles_script()
    owner_url = make_conninfo(server.url, dbname="benchling", user=OWNER, password=PASSWORDS[OWNER])

    migrations.upgrade(owner_url)
    with server.connect(user=OWNER, password=PASSWORDS[OWNER]) as connection:
        inbox.grant_recording(connection, BRIDGE)
    with server.connect("dagster", OWNER, PASSWORDS[OWNER]) as connection:
        connection.execute("CREATE TABLE runs (id serial PRIMARY KEY)")

    assert {owner for _, owner in server.owners("benchling")} == {OWNER}
    # In public, where users query them: a role named like a schema would have put them there.
    with server.connect() as admin:
        found = admin.execute(
            "SELECT to_regclass('public.synced_benchling_data'),"
            " to_regclass('public.benchling_entity_snapshots')"
        ).fetchone()
    assert found is not None and None not in found
    with pytest.raises(psycopg.OperationalError, match="permission denied for database"):
        server.connect("dagster", BRIDGE, PASSWORDS[BRIDGE])


def test_run_again_it_changes_nothing_but_the_passwords(server: Server) -> None:
    server.run_roles_script()
    migrations.upgrade(
        make_conninfo(server.url, dbname="benchling", user=OWNER, password=PASSWORDS[OWNER])
    )
    before = server.owners("benchling")
    renewed = {OWNER: "renewed owner", BRIDGE: "renewed bridge"}

    server.run_roles_script(renewed)

    assert server.owners("benchling") == before
    for role, password in renewed.items():
        with server.connect(user=role, password=password):
            pass


def test_on_an_older_volume_it_hands_the_superusers_benchsync_objects_to_the_owner(
    server: Server,
) -> None:
    # The stack before these roles: migrations and Dagster ran as the superuser.
    migrations.upgrade(make_conninfo(server.url, dbname="benchling"))
    with server.connect() as admin:
        admin.execute("CREATE TABLE users_own_table (id int)")
        admin.execute("CREATE FUNCTION benchling.as_of(timestamptz) RETURNS int RETURN 1")
        admin.execute("CREATE DATABASE dagster")
    with server.connect("dagster") as admin:
        admin.execute("CREATE TABLE runs (id serial PRIMARY KEY)")
        admin.execute("CREATE VIEW recent_runs AS SELECT id FROM runs")

    server.run_roles_script()

    benchling = dict(server.owners("benchling"))
    assert benchling.pop("users_own_table") == SUPERUSER  # a user's own table stays theirs
    assert set(benchling.values()) == {OWNER}, benchling
    assert set(dict(server.owners("dagster")).values()) == {OWNER}
    # And the owner can carry on: the next migration, Dagster's next schema change.
    migrations.upgrade(
        make_conninfo(server.url, dbname="benchling", user=OWNER, password=PASSWORDS[OWNER])
    )
    with server.connect("dagster", OWNER, PASSWORDS[OWNER]) as connection:
        connection.execute("ALTER TABLE runs ADD COLUMN status text")


def test_a_missing_or_empty_password_file_fails_the_first_start(server: Server) -> None:
    files = server.write_passwords({OWNER: "", BRIDGE: "bridge"})
    env = {
        "PATH": f"{PSQL_DIRECTORY}{os.pathsep}{os.environ['PATH']}",
        "PGHOST": str(conninfo_to_dict(server.url)["host"]),
        "BENCHSYNC_OWNER_PASSWORD_FILE": files[OWNER],
        "BENCHSYNC_BRIDGE_PASSWORD_FILE": files[BRIDGE],
    }
    empty = subprocess.run(["bash", str(ROLES_SCRIPT)], env=env, capture_output=True, text=True)
    assert empty.returncode != 0 and "is empty" in empty.stderr
    del env["BENCHSYNC_BRIDGE_PASSWORD_FILE"]
    env["BENCHSYNC_OWNER_PASSWORD_FILE"] = files[BRIDGE]
    unset = subprocess.run(["bash", str(ROLES_SCRIPT)], env=env, capture_output=True, text=True)
    assert unset.returncode != 0 and "BENCHSYNC_BRIDGE_PASSWORD_FILE" in unset.stderr
    with server.connect() as admin:
        assert not admin.execute("SELECT FROM pg_roles WHERE rolname = %s", [OWNER]).fetchall()
