"""The inbox's reader: commit-safe order, so a cursor never skips a late commit."""

from __future__ import annotations

import threading
import time
from typing import Any

import psycopg

from tests.support.plans import ExplainingConnection, index_scans, indexes_used, scans_of
from tests.support.webhooks import envelope, new_webhook_id
from webhook_sensor_bridge import inbox
from webhook_sensor_bridge.events import Origin, parse_webhook


def record(connection: psycopg.Connection[tuple[object, ...]], webhook_id: str) -> None:
    assert inbox.record(connection, parse_webhook(webhook_id, envelope()))


def read_ids(url: str, position: inbox.ReadPosition) -> tuple[list[str], inbox.InboxBatch]:
    """What a reader sees past ``position``, once no other transaction on the (shared) server
    holds the horizon back: other test sessions may be running on it."""
    deadline = time.monotonic() + 10
    with psycopg.connect(url, autocommit=True) as reader:
        while (
            batch := inbox.read_after(reader, position, 100)
        ).held_back and time.monotonic() < deadline:
            time.sleep(0.05)
    return [row.webhook_id for row in batch.rows], batch


def test_a_row_committed_late_is_read_before_rows_that_committed_after_it(
    fresh_inbox_url: str,
) -> None:
    early, late, next_one = new_webhook_id(), new_webhook_id(), new_webhook_id()
    start = inbox.ReadPosition()
    with (
        psycopg.connect(fresh_inbox_url) as slow,
        psycopg.connect(fresh_inbox_url, autocommit=True) as fast,
    ):
        record(slow, early)  # takes its transaction id (and seq) first, commits last
        record(fast, late)

        with psycopg.connect(fresh_inbox_url, autocommit=True) as reader:
            batch = inbox.read_after(reader, start, limit=100)
        assert batch.rows == []
        assert batch.held_back == 1  # "late" is committed but waits behind "early"
        slow.commit()

    ids, batch = read_ids(fresh_inbox_url, start)
    assert ids == [early, late]
    assert batch.held_back == 0
    position = batch.position_after(start)

    with psycopg.connect(fresh_inbox_url, autocommit=True) as connection:
        record(connection, next_one)
    assert read_ids(fresh_inbox_url, position)[0] == [next_one]


def test_marks_finish_only_pending_rows(fresh_inbox_url: str) -> None:
    synced, dead, failing = new_webhook_id(), new_webhook_id(), new_webhook_id()
    with psycopg.connect(fresh_inbox_url, autocommit=True) as connection:
        for webhook_id in (synced, dead, failing):
            record(connection, webhook_id)
        assert inbox.mark_synced(connection, [synced]) == 1
        assert inbox.mark_dead(connection, [synced, dead], "gone") == 1
        assert inbox.note_failed_attempt(connection, [failing], "timeout") == 1
        rows = {
            row.webhook_id: row
            for row in inbox.read_after(connection, inbox.ReadPosition(), 10).rows
        }
    assert (rows[synced].state, rows[dead].state, rows[failing].state) == (
        "synced",
        "dead",
        "pending",
    )
    assert rows[failing].attempts == 1


def test_the_app_id_is_taken_only_from_a_verified_webhook_of_this_tenant_and_app_definition(
    fresh_inbox_url: str,
) -> None:
    ours = Origin(app_definition_id="appdef_test")

    def webhook(app_id: str, *, verified: bool = True, **outer: object) -> inbox.InboxEvent:
        body = envelope(outer={"app": {"id": app_id}, **outer})
        return parse_webhook(new_webhook_id(), body, ours, signature_verified=verified)

    with psycopg.connect(fresh_inbox_url, autocommit=True) as connection:
        inbox.record(connection, webhook("app_ours"))
        # Each newer than ours: another tenant's, one signed for another App definition (a
        # key the JWKS shares with it), one the bridge took without verifying it.
        inbox.record(connection, webhook("app_theirs", baseURL="https://other.benchling.com"))
        inbox.record(
            connection, webhook("app_other_definition", appDefinition={"id": "appdef_other"})
        )
        inbox.record(connection, webhook("app_unverified", verified=False))

        assert inbox.latest_app_id(connection, "https://tenant.benchling.com/") == "app_ours"
        assert inbox.latest_app_id(connection, "https://nobody.benchling.com") is None
        assert inbox.latest_app_id(connection, "https://other.benchling.com") == "app_theirs"


def test_rows_committed_while_the_horizon_is_read_never_look_restored(
    fresh_inbox_url: str,
) -> None:
    # Read in two statements, a row committed between them sat above "the next id" (a false
    # "restored or moved?" that requeued every pending event, seen in the fault tests).
    stop = threading.Event()

    def keep_recording() -> None:
        with psycopg.connect(fresh_inbox_url, autocommit=True) as connection:
            while not stop.is_set():
                record(connection, new_webhook_id())

    writers = [threading.Thread(target=keep_recording) for _ in range(3)]
    for writer in writers:
        writer.start()
    try:
        with psycopg.connect(fresh_inbox_url, autocommit=True) as reader:
            ahead = [inbox.txid_horizon(reader)[1] for _ in range(500)]
    finally:
        stop.set()
        for writer in writers:
            writer.join()

    assert sum(ahead) == 0


def _fill_inbox(connection: psycopg.Connection[Any], rows: int) -> None:
    """``rows`` synced events, each about an entity of its own, finished a day ago; then the
    planner's statistics, as autovacuum would gather them."""
    connection.execute(
        "INSERT INTO benchsync.inbox (webhook_id, message_type, resource_id, body, state,"
        " finished_at) SELECT 'wh_' || i, 'v2.entity.registered', 'bfi_' || i, '{}', 'synced',"
        " now() - interval '1 day' FROM generate_series(1, %s) AS i",
        [rows],
    )
    connection.execute("ANALYZE benchsync.inbox")


def test_retention_reads_only_the_rows_it_deletes(fresh_inbox_url: str) -> None:
    with ExplainingConnection.connect(fresh_inbox_url, autocommit=True) as connection:
        _fill_inbox(connection, 20_000)
        connection.execute(
            "UPDATE benchsync.inbox SET finished_at = now() - interval '40 days'"
            " WHERE webhook_id IN ('wh_7', 'wh_70', 'wh_700')"
        )

        connection.plans = []
        deleted = inbox.delete_finished(connection, older_than_days=30, limit=1000)

        assert deleted == 3
        (finished,) = [
            n for n in index_scans(connection.plans) if n["Index Name"] == "inbox_finished"
        ]
        assert "finished_at <" in finished["Index Cond"]  # a bound, not a filter over the index
        assert not [s for s in scans_of(connection.plans, "inbox") if s["Node Type"] == "Seq Scan"]


def test_counts_about_a_few_entities_read_their_rows_through_the_resource_index(
    fresh_inbox_url: str,
) -> None:
    with ExplainingConnection.connect(fresh_inbox_url, autocommit=True) as connection:
        _fill_inbox(connection, 20_000)
        ids = ["bfi_1", "bfi_2", "bfi_3"]

        connection.plans = []
        counts = inbox.count_by_state(connection, ids)
        inbox.sync_latency_percentiles(connection, ids, [0.5])

        assert (counts.total, counts.synced) == (3, 3)
        assert indexes_used(connection.plans) == {"inbox_resource"}
        assert not [s for s in scans_of(connection.plans, "inbox") if s["Node Type"] == "Seq Scan"]
        connection.plans = None
        assert inbox.count_by_state(connection).total == 20_000
