from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.types.json import Jsonb

from benchsync.cli import main
from benchsync_core import database, migrations
from benchsync_dagster.storage import snapshots
from tests.support.postgres import create_database, drop_database


@pytest.fixture
def empty_database_url(postgres_server_url: str) -> Iterator[str]:
    url = create_database(postgres_server_url)
    yield url
    drop_database(postgres_server_url, url)


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as connection:
        rows = connection.execute(
            "SELECT table_schema || '.' || table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
        ).fetchall()
    return {str(name) for (name,) in rows}


def test_upgrade_an_empty_database_then_again_changes_nothing(empty_database_url: str) -> None:
    assert migrations.current_revision(empty_database_url) is None

    migrations.upgrade(empty_database_url)
    head = migrations.current_revision(empty_database_url)
    tables = _tables(empty_database_url)
    migrations.upgrade(empty_database_url)

    assert head is not None
    assert migrations.current_revision(empty_database_url) == head
    assert _tables(empty_database_url) == tables
    assert "benchsync.inbox" in tables
    # Our version table stays out of public, where Dagster keeps its own alembic_version.
    assert "benchsync.alembic_version" in tables
    assert "public.alembic_version" not in tables


def test_downgrade_to_base_removes_our_tables(empty_database_url: str) -> None:
    migrations.upgrade(empty_database_url)
    migrations.downgrade(empty_database_url, "base")

    assert migrations.current_revision(empty_database_url) is None
    assert _tables(empty_database_url) == {"benchsync.alembic_version"}


def test_unreachable_database_names_the_variable() -> None:
    with pytest.raises(database.DatabaseUnavailable, match="BENCHSYNC_DATABASE_URL"):
        migrations.upgrade("postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")


def test_benchsync_db_upgrade_migrates_the_configured_database(
    empty_database_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BENCHSYNC_DATABASE_URL", empty_database_url)

    assert main(["db", "upgrade"]) == 0

    head = migrations.current_revision(empty_database_url)
    assert head is not None
    assert f"database at revision {head}" in capsys.readouterr().out


def test_benchsync_db_upgrade_without_a_url_uses_the_embedded_postgres(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BENCHSYNC_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)

    assert main(["db", "upgrade"]) == 0

    assert (tmp_path / ".benchsync" / "postgres" / "PG_VERSION").exists()


def test_an_unreadable_created_at_recorded_before_the_check_is_forgotten(
    empty_database_url: str,
) -> None:
    migrations.upgrade(empty_database_url, "0011")
    with psycopg.connect(empty_database_url) as connection:
        for webhook_id, created_at in [
            ("msg_far_future", "20000-01-01 00:00:00+00"),
            ("msg_before_christ", "0100-01-01 00:00:00+00 BC"),
            ("msg_ordinary", "2026-12-03 10:00:00+00"),
        ]:
            connection.execute(
                "INSERT INTO benchsync.inbox (webhook_id, message_type, created_at, body)"
                " VALUES (%s, 'v2.entity.registered', %s::timestamptz, '{}')",
                [webhook_id, created_at],
            )

    migrations.upgrade(empty_database_url)

    with psycopg.connect(empty_database_url) as connection:
        rows = connection.execute("SELECT webhook_id, created_at FROM benchsync.inbox")
        kept = {webhook_id: created_at for webhook_id, created_at in rows}
    assert kept["msg_far_future"] is None
    assert kept["msg_before_christ"] is None
    assert kept["msg_ordinary"] is not None


def test_rows_archived_as_not_returned_before_the_marker_get_it(empty_database_url: str) -> None:
    migrations.upgrade(empty_database_url, "0015")
    vanished = {"reason": "Not returned by Benchling"}
    retired = {"reason": "Retired"}
    with psycopg.connect(empty_database_url) as connection:
        for entity_id, record in [("bfi_gone", vanished), ("bfi_retired", retired)]:
            connection.execute(
                "INSERT INTO benchling_entity_snapshots (entity_id, entity_type, schema_id,"
                " modified_at, archived, document) VALUES (%s, 'custom_entity', 'ts_1', now(),"
                " true, %s)",
                [entity_id, Jsonb({"id": entity_id, "archiveRecord": record})],
            )
            connection.execute(
                "INSERT INTO synced_benchling_data (benchling_api_id, modified_at, archived,"
                " archive_reason) VALUES (%s, now(), true, %s)",
                [entity_id, record["reason"]],
            )
        connection.execute(
            "INSERT INTO benchsync.typed_tables (schema_id, entity_type, schema_name, table_name,"
            " view_name) VALUES ('ts_1', 'custom_entity', 'Sample', 'sample$raw', 'sample')"
        )
        connection.execute(
            'CREATE TABLE benchling."sample$raw" (id text PRIMARY KEY, "archived$" boolean'
            ' NOT NULL, "archive_reason$" text)'
        )
        connection.execute(
            'CREATE VIEW benchling.sample AS SELECT * FROM benchling."sample$raw"'
            ' WHERE NOT "archived$"'
        )
        connection.execute(
            "INSERT INTO benchling.\"sample$raw\" VALUES ('bfi_gone', true, %s),"
            " ('bfi_retired', true, 'Retired')",
            [vanished["reason"]],
        )

    migrations.upgrade(empty_database_url)

    with psycopg.connect(empty_database_url) as connection:
        snapshots = {
            entity_id: (is_vanished, record)
            for entity_id, is_vanished, record in connection.execute(
                "SELECT entity_id, vanished, document -> 'archiveRecord'"
                " FROM benchling_entity_snapshots"
            )
        }
        synced: dict[str, bool] = dict(
            connection.execute("SELECT benchling_api_id, vanished FROM synced_benchling_data")
        )
        typed: dict[str, bool] = dict(
            connection.execute('SELECT id, "vanished$" FROM benchling."sample$raw"')
        )
        view_columns = [
            name
            for (name,) in connection.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = 'benchling' AND table_name = 'sample'"
            )
        ]
    assert "vanished$" in view_columns, "the view made before the column shows it too"
    assert snapshots == {
        "bfi_gone": (True, {**vanished, "benchsyncVanished": True}),
        "bfi_retired": (False, retired),
    }
    assert synced == typed == {"bfi_gone": True, "bfi_retired": False}


def test_field_names_and_the_configured_field_id_come_from_the_catalog(
    empty_database_url: str,
) -> None:
    migrations.upgrade(empty_database_url, "0016")
    with psycopg.connect(empty_database_url) as connection:
        connection.execute(
            "INSERT INTO benchsync.typed_tables (schema_id, entity_type, schema_name, table_name,"
            " view_name) VALUES ('ts_1', 'custom_entity', 'Sample', 'sample$raw', 'sample')"
        )
        for position, (field_id, name) in enumerate(
            [("tsf_text", "Description"), ("tsf_gone", None), ("tsf_count", "Count")]
        ):
            connection.execute(
                "INSERT INTO benchsync.typed_columns (schema_id, field_id, field_name,"
                " field_type, is_multi, column_name, sql_type, position)"
                " VALUES ('ts_1', %s, %s, 'text', false, %s, 'text', %s)",
                [field_id, name, field_id, position],
            )
        connection.execute(
            "INSERT INTO benchsync.app_configuration (app_id, schema_id, field_name, read_at,"
            " built_schema_id, built_field_name) VALUES ('app_1', 'ts_1', 'Description', now(),"
            " 'ts_other', 'Notes')"
        )

    migrations.upgrade(empty_database_url)

    with psycopg.connect(empty_database_url) as connection:
        names = connection.execute(
            "SELECT field_id, name FROM benchsync.field_names ORDER BY field_id"
        ).fetchall()
        ids = connection.execute(
            "SELECT field_id, built_field_id FROM benchsync.app_configuration"
        ).fetchone()
    assert names == [("tsf_count", "Count"), ("tsf_text", "Description")]
    assert ids == ("tsf_text", None)  # the rows were built for a schema the catalog lacks


def test_row_counts_kept_in_slots_survive_a_downgrade_and_an_upgrade(
    empty_database_url: str,
) -> None:
    migrations.upgrade(empty_database_url)
    insert = (
        "INSERT INTO benchling_entity_snapshots (entity_id, entity_type, modified_at, archived,"
        " document) VALUES (%s, 'custom_entity', now(), false, '{}')"
    )
    for entity_id in ("bfi_1", "bfi_2", "bfi_3"):  # each from a backend of its own
        with psycopg.connect(empty_database_url, autocommit=True) as connection:
            connection.execute(insert, [entity_id])

    migrations.downgrade(empty_database_url, "0018")
    with psycopg.connect(empty_database_url, autocommit=True) as connection:
        kept = connection.execute(
            "SELECT row_count FROM benchsync.row_counts"
            " WHERE table_name = 'benchling_entity_snapshots'"
        ).fetchall()
        assert kept == [(3,)]
        connection.execute(insert, ["bfi_4"])  # counted by migration 0011's trigger
    migrations.upgrade(empty_database_url)

    with psycopg.connect(empty_database_url, autocommit=True) as connection:
        assert snapshots.row_count(connection) == 4
