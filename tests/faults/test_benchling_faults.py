"""Benchling failing a fifth of the API calls with 429 or 503, under a rate limit low enough that
the sync must pace itself, for a whole burst of registrations: everything syncs, and the
emulator's request log shows the sync never offered it more calls in a window than its limit
allows (so the limit itself refused none)."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest

from benchling_emulator.stats import busiest_window
from benchsync.demo.stack import Stack
from tests.support.consistency import BULK_GET_SIZE, assert_mirrored, wait_until_settled

BURST = 1_500
# Requests per 30 s, for Benchling and for the sync alike: the burst's calls need some minutes'
# worth of it, so the sync waits for slots.
RATE_LIMIT = 20
FAULTS = {"rate_limit": RATE_LIMIT, "fail_rate": 0.2, "fail_statuses": [429, 503]}


@pytest.fixture(scope="module", autouse=True)
def sync_rate_limit() -> Iterator[None]:
    """The deployment's share of the limit, set before the module's stack starts (an autouse
    fixture comes first in its scope), as an operator sets it for their tenant."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("BENCHSYNC_BENCHLING_RATE_LIMIT", str(RATE_LIMIT))
        yield


def test_a_burst_syncs_through_injected_429s_and_503s_without_exceeding_the_rate_limit(
    stack: Stack, db: psycopg.Connection[Any]
) -> None:
    emulator = stack.emulator
    assert emulator is not None
    faults = f"{emulator.base_url}/_emulator/faults"
    httpx.post(faults, json=FAULTS).raise_for_status()
    try:
        started = time.monotonic()
        entity_ids = emulator.tenant.create_registered(BURST)
        wait_until_settled(db, entity_ids, timeout=240)
        drained = time.monotonic() - started
        calls = emulator.stats.request_log(since=started)
    finally:
        restore = {"rate_limit": stack.options.rate_limit, "fail_rate": 0.0}
        httpx.post(faults, json=restore).raise_for_status()

    outcomes = Counter((call.outcome, call.status) for call in calls)
    busiest = busiest_window((call.at for call in calls), emulator.settings.rate_window_seconds)
    fetches = sum(call.route.endswith(":bulk-get") and call.status is None for call in calls)
    print(
        f"{BURST} registrations drained in {drained:.1f} s: {len(calls)} API calls,"
        f" {outcomes['admitted', None]} admitted ({fetches} bulk gets, one pass needs"
        f" {math.ceil(BURST / BULK_GET_SIZE)}), {outcomes['fault', 429]} injected 429s,"
        f" {outcomes['fault', 503]} injected 503s, {outcomes['rate_limited', 429]} refused by the"
        f" limit; busiest 30 s window {busiest} of {RATE_LIMIT}"
    )
    assert outcomes["fault", 429] and outcomes["fault", 503], "a kind of fault never came"
    assert outcomes["rate_limited", 429] == 0
    assert busiest <= RATE_LIMIT
    assert_mirrored(emulator, db, entity_ids, timeout=60)
