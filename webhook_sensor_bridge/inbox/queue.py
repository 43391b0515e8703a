"""What the sync runs against ``benchsync.inbox``: the queue the bridge fills.

The sensor reads events in commit-safe order (``read_after``), finds ones no run will settle
(``pending_behind``, ``txid_horizon``); a sync run reads its batch (``rows_by_webhook_id``) and
settles it (``mark_synced``, ``mark_dead``, ``mark_ignored``, ``note_failed_attempt``);
``benchsync replay`` and the stranded sweep ``requeue``; retention deletes what finished long
ago (``delete_finished``). Each function takes a psycopg connection and runs in the caller's
transaction (or autocommit).

States: ``pending`` (to sync) → ``synced`` | ``ignored`` | ``dead`` (with a reason).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row

from webhook_sensor_bridge.inbox.rows import (
    BatchSpan,
    InboxBatch,
    InboxRow,
    ReadPosition,
    Replay,
)

Connection = psycopg.Connection[Any]

_SELECT_ROWS = sql.SQL("""
    SELECT webhook_id, txid::text::bigint AS txid, seq, state, message_type, channel,
           message_id, resource_id, schema_id, app_id, app_definition_id, tenant_id, base_url,
           created_at, received_at, attempts
    FROM benchsync.inbox""")


def pending_at_least(connection: Connection, count: int) -> bool:
    """Whether ``count`` or more events are pending; reads at most that many (the partial index)."""
    row = connection.execute(
        "SELECT count(*) >= %(count)s FROM (SELECT FROM benchsync.inbox"
        " WHERE state = 'pending' LIMIT %(count)s) AS pending",
        {"count": count},
    ).fetchone()
    return bool(row and row[0])


def read_after(connection: Connection, position: ReadPosition, limit: int) -> InboxBatch:
    """Rows past ``position`` in (txid, seq) order, up to ``limit``, whatever their state.

    Only rows older than every transaction still in flight are returned, so no row can later
    commit behind the returned ones: advancing a cursor to ``position_after`` skips nothing
    (docs/architecture.md, invariant 4; the docstring of migration 0001 says how).
    """
    with connection.cursor(row_factory=class_row(InboxRow)) as cursor:
        rows = cursor.execute(
            _SELECT_ROWS
            + sql.SQL("""
            WHERE (txid, seq) > (%s::text::xid8, %s)
              AND txid < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY txid, seq
            LIMIT %s
            """),
            (str(position.txid), position.seq, limit),
        ).fetchall()
    held = connection.execute(
        """
        SELECT count(*) FROM benchsync.inbox
        WHERE state = 'pending' AND (txid, seq) > (%s::text::xid8, %s)
          AND txid >= pg_snapshot_xmin(pg_current_snapshot())
        """,
        (str(position.txid), position.seq),
    ).fetchone()
    return InboxBatch(rows=rows, held_back=int(held[0]) if held else 0)


def pending_behind(
    connection: Connection, position: ReadPosition, older_than_seconds: float, limit: int
) -> list[tuple[str, ReadPosition]]:
    """Pending events a reader at ``position`` has passed, received over ``older_than_seconds``
    ago by the database's clock (which stamped them), as (webhook id, position) in read order:
    candidates for events no run will settle (the partial index)."""
    rows = connection.execute(
        """
        SELECT webhook_id, txid::text::bigint, seq FROM benchsync.inbox
        WHERE state = 'pending'
          AND received_at < clock_timestamp() - make_interval(secs => %s)
          AND (txid, seq) <= (%s::text::xid8, %s)
        ORDER BY txid, seq LIMIT %s
        """,
        (older_than_seconds, str(position.txid), position.seq, limit),
    ).fetchall()
    return [(webhook_id, ReadPosition(txid, seq)) for webhook_id, txid, seq in rows]


def txid_horizon(connection: Connection) -> tuple[int, int]:
    """The id this server's next transaction will get (without taking one), and how many
    pending rows carry that id or a higher one, from one snapshot. Ids only grow on a server,
    so such rows come from another server (a restore, a move); read in two statements, a row
    the bridge commits in between would look so too (the partial index)."""
    row = connection.execute(
        """
        SELECT pg_snapshot_xmax(snapshot)::text::bigint,
               (SELECT count(*) FROM benchsync.inbox
                WHERE state = 'pending' AND txid >= pg_snapshot_xmax(snapshot))
        FROM pg_current_snapshot() AS snapshot
        """
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def rows_by_webhook_id(connection: Connection, webhook_ids: Sequence[str]) -> list[InboxRow]:
    """The rows of these webhooks (a sync run's batch), in read order."""
    with connection.cursor(row_factory=class_row(InboxRow)) as cursor:
        return cursor.execute(
            _SELECT_ROWS + sql.SQL(" WHERE webhook_id = ANY(%s) ORDER BY txid, seq"),
            (list(webhook_ids),),
        ).fetchall()


def latest_app_id(connection: Connection, tenant_url: str) -> str | None:
    """The App installation id (``app.id``) of the newest webhook from ``tenant_url`` that
    carried one and whose origin the bridge verified (signed, for this App definition): a
    webhook from another tenant or App definition, or one nobody verified, never names this
    deployment's installation."""
    row = connection.execute(
        # Newest first along the (txid, seq) index: a few rows read, however long the inbox.
        "SELECT app_id FROM benchsync.inbox"
        " WHERE origin_verified AND app_id IS NOT NULL"
        " AND rtrim(lower(base_url), '/') = rtrim(lower(%s), '/')"
        " ORDER BY txid DESC, seq DESC LIMIT 1",
        (tenant_url,),
    ).fetchone()
    return str(row[0]) if row else None


def _span_parameters(span: BatchSpan | None) -> dict[str, Any]:
    return {
        "first_txid": str(span.first.txid) if span else None,
        "first_seq": span.first.seq if span else None,
        "last_txid": str(span.last.txid) if span else None,
        "last_seq": span.last.seq if span else None,
    }


# Rows whose read position lies within a batch's span (every row when no span is given).
_WITHIN_SPAN = sql.SQL("""
    (%(first_txid)s::text IS NULL
     OR (txid, seq) BETWEEN (%(first_txid)s::text::xid8, %(first_seq)s::bigint)
                        AND (%(last_txid)s::text::xid8, %(last_seq)s::bigint))
""")


def requeue(connection: Connection, replay: Replay) -> dict[str, int]:
    """Make the events ``replay`` selects pending again; returns how many per former state.

    Each moves to the end of the read order: its ``txid`` becomes this transaction's, which is
    newer than any position a reader has passed, so the sensor reads it again (and names its
    batch anew, see ``BatchSpan``).
    """
    rows = connection.execute(
        sql.SQL("""
        WITH chosen AS (
            SELECT webhook_id, state FROM benchsync.inbox
            WHERE state <> 'ignored'
              AND (%(state)s::text IS NULL OR state = %(state)s)
              AND (%(received_from)s::timestamptz IS NULL OR received_at >= %(received_from)s)
              AND (%(received_until)s::timestamptz IS NULL OR received_at < %(received_until)s)
              AND (%(webhook_ids)s::text[] IS NULL OR webhook_id = ANY(%(webhook_ids)s::text[]))
              AND """)
        + _WITHIN_SPAN
        + sql.SQL("""
            FOR UPDATE
        )
        UPDATE benchsync.inbox AS event
        SET state = 'pending', reason = NULL, attempts = 0, finished_at = NULL,
            txid = pg_current_xact_id()
        FROM chosen WHERE event.webhook_id = chosen.webhook_id
        RETURNING chosen.state
        """),
        {
            "state": replay.state,
            "received_from": replay.received_from,
            "received_until": replay.received_until,
            "webhook_ids": list(replay.webhook_ids) if replay.webhook_ids is not None else None,
            **_span_parameters(replay.batch),
        },
    ).fetchall()
    return dict(Counter(state for (state,) in rows))


# The settling statements below change only rows still pending and, given a batch's span,
# still where that batch read them: a row requeued since (a replay, the stranded sweep) has
# moved past the span and belongs to a later batch, which settles it.


def mark_synced(
    connection: Connection, webhook_ids: Sequence[str], within: BatchSpan | None = None
) -> int:
    """Pending rows among ``webhook_ids`` become synced; returns how many changed."""
    return _finish(connection, webhook_ids, within, "synced", reason=None)


def mark_dead(
    connection: Connection,
    webhook_ids: Sequence[str],
    reason: str,
    within: BatchSpan | None = None,
) -> int:
    """Dead-letter pending rows (``benchsync replay`` can requeue them)."""
    return _finish(connection, webhook_ids, within, "dead", reason)


def mark_ignored(
    connection: Connection,
    webhook_ids: Sequence[str],
    reason: str,
    within: BatchSpan | None = None,
) -> int:
    """Pending rows become ignored, saying why (what the deployment chose not to mirror)."""
    return _finish(connection, webhook_ids, within, "ignored", reason)


def note_failed_attempt(
    connection: Connection,
    webhook_ids: Sequence[str],
    reason: str,
    within: BatchSpan | None = None,
) -> int:
    """Count a failed sync attempt on pending rows; they stay pending, with the last reason."""
    cursor = connection.execute(
        sql.SQL(
            "UPDATE benchsync.inbox SET attempts = attempts + 1, reason = %(reason)s"
            " WHERE webhook_id = ANY(%(webhook_ids)s) AND state = 'pending' AND "
        )
        + _WITHIN_SPAN,
        {"reason": reason, "webhook_ids": list(webhook_ids), **_span_parameters(within)},
    )
    return cursor.rowcount


def _finish(
    connection: Connection,
    webhook_ids: Sequence[str],
    within: BatchSpan | None,
    state: str,
    reason: str | None,
) -> int:
    cursor = connection.execute(
        sql.SQL(
            "UPDATE benchsync.inbox"
            " SET state = %(state)s, reason = coalesce(%(reason)s, reason),"
            "     finished_at = clock_timestamp()"
            " WHERE webhook_id = ANY(%(webhook_ids)s) AND state = 'pending' AND "
        )
        + _WITHIN_SPAN,
        {
            "state": state,
            "reason": reason,
            "webhook_ids": list(webhook_ids),
            **_span_parameters(within),
        },
    )
    return cursor.rowcount


def delete_finished(connection: Connection, older_than_days: int, limit: int) -> int:
    """Delete up to ``limit`` synced or ignored rows that finished over ``older_than_days`` ago
    by the database's clock (which stamped them), oldest first; returns how many. Pending and
    dead rows are never deleted: they are work still owed, or evidence. Reads only the rows it
    deletes: their ids through the ``inbox_finished`` index (migration 0018), bounded by the
    cutoff (``now()``, stable; a volatile ``clock_timestamp()`` would only filter a walk of the
    whole index), then each by its key (an array, not ``IN (subquery)``, which the planner may
    join by reading the whole inbox)."""
    cursor = connection.execute(
        """
        DELETE FROM benchsync.inbox WHERE webhook_id = ANY(ARRAY(
            SELECT webhook_id FROM benchsync.inbox
            WHERE state IN ('synced', 'ignored')
              AND finished_at < now() - make_interval(days => %s)
            ORDER BY finished_at
            LIMIT %s))
        """,
        (older_than_days, limit),
    )
    return cursor.rowcount
