"""When the poll gives way to a burst of webhook events waiting in the inbox. Plain code.

The sync's runs fetch a burst's entities under the same tenant rate limit that the poll's list
calls spend, and at a slow limit the burst is bound by it: each call the poll makes meanwhile
delays the burst's end by one slot (2.5 s at 12 requests per 30 s), for entities the sync is
about to fetch anyway. So while a burst waits, the poll gives way:

- ``poll_sensor`` skips its tick, but never twice in a row: the tick after a skip requests the
  poll whatever waits, so a poll is late by at most one interval, never starved;
- a poll the sensor requested without a skip before it leaves each type it has not begun
  listing to the next poll (a burst can begin between the tick and the run's start), and every
  poll stops a type after a full page.

A burst is a page's worth of pending events: a steady trickle, which the sync keeps up with,
never holds that many, so it never defers the poll.
"""

from __future__ import annotations

from typing import Any

import psycopg

from benchsync_dagster.benchling.listing import BULK_GET_LIMIT
from webhook_sensor_bridge import inbox

# On the polls poll_sensor requests: "true" when the poll may leave a type it has not begun
# to the next poll while a burst waits; "false" on the poll after a skipped tick.
YIELDS_TO_BURSTS_TAG = "benchsync/poll_yields_to_bursts"


def burst_waiting(connection: psycopg.Connection[Any]) -> bool:
    """Whether a page's worth of webhook events waits in the inbox: a burst, whose entities the
    sync's runs are fetching under the same rate limit."""
    return inbox.pending_at_least(connection, BULK_GET_LIMIT)


def skips_tick(burst: bool, skipped_last_tick: bool) -> bool:
    """Whether ``poll_sensor`` defers this tick's poll: while a burst waits, once."""
    return burst and not skipped_last_tick
