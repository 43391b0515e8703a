"""What the bridge's database role runs against ``benchsync.inbox``, and the grant that allows
exactly that: ``record`` a webhook (``INSERT``) and ``ping`` the table (``SELECT``) before serving.

Anything added here that needs another privilege needs it added to ``grant_recording`` too
(tests/bridge/test_database_roles.py runs the bridge as a role granted only this).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from webhook_sensor_bridge.inbox.rows import InboxEvent

_RECORD = """
INSERT INTO benchsync.inbox (
    webhook_id, message_type, channel, message_id, resource_id, schema_id, app_id,
    app_definition_id, tenant_id, base_url, created_at, body, origin_verified, state, reason,
    finished_at
) VALUES (
    %(webhook_id)s, %(message_type)s, %(channel)s, %(message_id)s, %(resource_id)s,
    %(schema_id)s, %(app_id)s, %(app_definition_id)s, %(tenant_id)s, %(base_url)s,
    %(created_at)s, %(body)s, %(origin_verified)s, %(state)s, %(reason)s,
    CASE WHEN %(state)s = 'ignored' THEN clock_timestamp() END
)
ON CONFLICT (webhook_id) DO NOTHING
"""


def record(connection: psycopg.Connection[Any], event: InboxEvent) -> bool:
    """Store ``event`` unless its webhook-id is already there; True when this call stored it.

    Safe to repeat: a redelivery (or a retry after a lost connection) stores nothing new.
    """
    cursor = connection.execute(
        _RECORD,
        {
            "webhook_id": event.webhook_id,
            "message_type": event.message_type,
            "channel": event.channel,
            "message_id": event.message_id,
            "resource_id": event.resource_id,
            "schema_id": event.schema_id,
            "app_id": event.app_id,
            "app_definition_id": event.app_definition_id,
            "tenant_id": event.tenant_id,
            "base_url": event.base_url,
            "created_at": event.created_at,
            "body": event.body,
            "origin_verified": event.origin_verified,
            "state": "pending" if event.ignored_reason is None else "ignored",
            "reason": event.ignored_reason,
        },
    )
    return cursor.rowcount == 1


def ping(connection: psycopg.Connection[Any]) -> None:
    """Raise unless the database answers and the inbox table exists."""
    connection.execute("SELECT 1 FROM benchsync.inbox LIMIT 0")


def grant_recording(connection: psycopg.Connection[Any], role: str) -> None:
    """Let ``role`` do what the bridge does, and no more: read and insert inbox rows (the
    identity column needs no sequence grant). Postgres refuses a role that does not exist."""
    name = sql.Identifier(role)
    connection.execute(sql.SQL("GRANT USAGE ON SCHEMA benchsync TO {}").format(name))
    connection.execute(sql.SQL("GRANT SELECT, INSERT ON benchsync.inbox TO {}").format(name))
