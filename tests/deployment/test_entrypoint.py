"""deploy/entrypoint.py: the password from the secret file reaches libpq through a passfile."""

from __future__ import annotations

import importlib.util
import stat
from pathlib import Path
from types import ModuleType

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from tests.deployment.stack import REPO

# Characters a generated password may hold that mean something in a URL or a passfile.
AWKWARD_PASSWORD = "p@ss:w/rd?#%&= ü\\:"


@pytest.fixture(scope="module")
def entrypoint() -> ModuleType:
    spec = importlib.util.spec_from_file_location("entrypoint", REPO / "deploy" / "entrypoint.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BENCHSYNC_URL = "postgresql://benchsync_owner@postgres:5432/benchling"
DAGSTER_URL = "postgresql+psycopg2://benchsync_owner@postgres:5432/dagster"


def _passfile_for(
    entrypoint: ModuleType, password: str, tmp_path: Path, **urls: str
) -> dict[str, str]:
    password_file = tmp_path / "database_password"
    password_file.write_text(password)
    environ = {
        "BENCHSYNC_DATABASE_PASSWORD_FILE": str(password_file),
        **(urls or {"BENCHSYNC_DATABASE_URL": BENCHSYNC_URL}),
    }
    entrypoint.write_passfile(environ, directory=str(tmp_path))
    return environ


def test_libpq_reads_the_password_back_intact(
    entrypoint: ModuleType,
    tmp_path: Path,
    postgres_server_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    environ = _passfile_for(
        entrypoint, AWKWARD_PASSWORD + "\n", tmp_path, BENCHSYNC_DATABASE_URL=postgres_server_url
    )
    monkeypatch.setenv("PGPASSFILE", environ["PGPASSFILE"])
    # libpq looks the password up in the passfile while connecting (psycopg2 does the same).
    with psycopg.connect(postgres_server_url) as connection:
        assert connection.info.password == AWKWARD_PASSWORD


def test_libpq_offers_the_password_to_no_other_host_database_or_user(
    entrypoint: ModuleType,
    tmp_path: Path,
    postgres_server_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Run config pointing a connection elsewhere finds no password to send there."""
    server = conninfo_to_dict(postgres_server_url)
    environ = _passfile_for(
        entrypoint, "secret", tmp_path, BENCHSYNC_DATABASE_URL=postgres_server_url
    )
    monkeypatch.setenv("PGPASSFILE", environ["PGPASSFILE"])
    other_database = "template1" if server.get("dbname") != "template1" else "postgres"
    elsewhere = [
        {"dbname": other_database},
        # The same server under another name is another host to libpq.
        {"host": "localhost" if server.get("host") != "localhost" else "127.0.0.1"},
    ]
    for change in elsewhere:
        with psycopg.connect(make_conninfo(postgres_server_url, **change)) as connection:
            assert not connection.info.password, change


def test_each_url_gets_a_line_naming_its_host_port_database_and_user(
    entrypoint: ModuleType, tmp_path: Path
) -> None:
    environ = _passfile_for(
        entrypoint,
        "pass:word\\",
        tmp_path,
        BENCHSYNC_DATABASE_URL=BENCHSYNC_URL,
        DAGSTER_POSTGRES_URL=DAGSTER_URL,
    )
    assert Path(environ["PGPASSFILE"]).read_text() == (
        "postgres:5432:benchling:benchsync_owner:pass\\:word\\\\\n"
        "postgres:5432:dagster:benchsync_owner:pass\\:word\\\\\n"
    )


@pytest.mark.parametrize(
    ("url", "line"),
    [
        # libpq's defaults: port 5432, the database named after the user.
        ("postgresql://bridge@db", "db:5432:bridge:bridge:pw"),
        # Query parameters override the URL's parts when libpq connects: so here too.
        ("postgresql://u@db:5433/x?host=other&dbname=y", "other:5433:y:u:pw"),
        ("postgresql://u@[::1]:5433/x", "\\:\\:1:5433:x:u:pw"),
        # Escapes decoded, case kept: libpq compares the host as the URL spells it.
        ("postgresql+psycopg2://My%40user@DB-Host/My%20db", "DB-Host:5432:My db:My@user:pw"),
    ],
)
def test_the_line_names_the_server_libpq_connects_to(
    entrypoint: ModuleType, tmp_path: Path, url: str, line: str
) -> None:
    environ = _passfile_for(entrypoint, "pw", tmp_path, BENCHSYNC_DATABASE_URL=url)
    assert Path(environ["PGPASSFILE"]).read_text() == line + "\n"
    # libpq's own reading of the URL agrees.
    libpq = conninfo_to_dict("postgresql://" + url.partition("://")[2])
    host, port, database, user = entrypoint.passfile_fields("BENCHSYNC_DATABASE_URL", url)
    assert (libpq["host"], libpq.get("port", "5432"), libpq.get("dbname", user)) == (
        host,
        port,
        database,
    )
    assert libpq["user"] == user


@pytest.mark.parametrize(
    "url",
    ["postgresql://postgres:5432/benchling", "postgresql://u@a,b/db", "mysql://u@h/db"],
)
def test_a_url_without_one_host_and_a_user_stops_the_container_with_its_name(
    entrypoint: ModuleType, tmp_path: Path, url: str
) -> None:
    with pytest.raises(SystemExit, match="DAGSTER_POSTGRES_URL"):
        _passfile_for(entrypoint, "pw", tmp_path, DAGSTER_POSTGRES_URL=url)


def test_a_password_file_without_a_url_to_give_it_to_is_refused(
    entrypoint: ModuleType, tmp_path: Path
) -> None:
    password_file = tmp_path / "database_password"
    password_file.write_text("secret")
    with pytest.raises(SystemExit, match="BENCHSYNC_DATABASE_URL nor DAGSTER_POSTGRES_URL"):
        entrypoint.write_passfile({"BENCHSYNC_DATABASE_PASSWORD_FILE": str(password_file)})


def test_the_passfile_is_private_and_holds_no_newline_of_the_secret(
    entrypoint: ModuleType, tmp_path: Path
) -> None:
    # Only trailing newlines go, as when the postgres image reads POSTGRES_PASSWORD_FILE.
    environ = _passfile_for(entrypoint, " secret \n\n", tmp_path)
    passfile = Path(environ["PGPASSFILE"])
    assert passfile.read_text() == "postgres:5432:benchling:benchsync_owner: secret \n"
    assert stat.S_IMODE(passfile.stat().st_mode) == 0o600


def test_every_run_rewrites_one_passfile(entrypoint: ModuleType, tmp_path: Path) -> None:
    """The daemon's healthcheck runs through the entrypoint every 30 s: no file per run."""
    paths = {_passfile_for(entrypoint, f"secret{run}", tmp_path)["PGPASSFILE"] for run in range(3)}
    (path,) = paths
    assert Path(path).read_text() == "postgres:5432:benchling:benchsync_owner:secret2\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["database_password", Path(path).name]
    )


def test_without_a_password_file_nothing_changes(entrypoint: ModuleType) -> None:
    environ = {"BENCHSYNC_DATABASE_URL": "postgresql://postgres@postgres:5432/benchling"}
    entrypoint.write_passfile(environ)
    assert environ == {"BENCHSYNC_DATABASE_URL": "postgresql://postgres@postgres:5432/benchling"}


def test_an_empty_or_missing_password_file_stops_the_container_with_its_name(
    entrypoint: ModuleType, tmp_path: Path
) -> None:
    empty = tmp_path / "database_password"
    empty.write_text("\n")
    for path in (empty, tmp_path / "missing"):
        with pytest.raises(SystemExit, match="BENCHSYNC_DATABASE_PASSWORD_FILE"):
            entrypoint.write_passfile(
                {
                    "BENCHSYNC_DATABASE_PASSWORD_FILE": str(path),
                    "BENCHSYNC_DATABASE_URL": BENCHSYNC_URL,
                }
            )


def test_a_password_file_with_a_line_break_inside_is_refused(
    entrypoint: ModuleType, tmp_path: Path
) -> None:
    for text in ("secret\r\n", "sec\nret"):
        password_file = tmp_path / "database_password"
        password_file.write_bytes(text.encode())
        with pytest.raises(SystemExit, match="line break"):
            entrypoint.write_passfile(
                {
                    "BENCHSYNC_DATABASE_PASSWORD_FILE": str(password_file),
                    "BENCHSYNC_DATABASE_URL": BENCHSYNC_URL,
                }
            )
