"""The incremental poll through Dagster's daemon: what it costs when nothing changed, and how long
an edit that sends no event (an AA sequence's) takes to reach its snapshot.

On the stack of ``benchsync demo`` (free ports), with BENCHSYNC_POLL_INTERVAL_SECONDS=--interval:

1. --entities of the eight types are registered and synced, and one poll has listed them;
2. idle: for --idle-intervals intervals nothing changes; the Benchling API requests the whole
   deployment makes meanwhile, per interval, against what the rate limit allows in one;
3. --edits AA-sequence edits through benchling-sdk, each at a random moment of an interval: the
   time from the edit to its snapshot holding the new residues, against interval + 30 s.

    .venv/bin/python benchmarks/poll_freshness.py --interval 60 --edits 5

BENCHSYNC_DATABASE_URL, when set, names the database to use (it gets Dagster's tables too);
otherwise an embedded Postgres starts under a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg
from benchling_sdk.auth.client_credentials_oauth2 import ClientCredentialsOAuth2
from benchling_sdk.benchling import Benchling
from benchling_sdk.models import AaSequenceUpdate

from benchling_emulator.entity_types import ENTITY_TYPES
from benchling_emulator.server import EmulatorServer
from benchsync.demo.stack import Stack
from webhook_sensor_bridge import inbox

RATE_LIMIT = 60  # Benchling's, per 30 s
AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"


def _api_requests(emulator: EmulatorServer) -> int:
    return sum(emulator.stats.requests().values())


def _wait(condition: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {condition}")
        time.sleep(0.2)


def _residues(database_url: str, entity_id: str) -> str | None:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT document ->> 'aminoAcids' FROM benchling_entity_snapshots WHERE entity_id = %s",
            [entity_id],
        ).fetchone()
    return row[0] if row else None


def _polls_finished(database_url: str) -> int:
    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM benchsync.poll_watermarks WHERE polled_at IS NOT NULL"
        ).fetchone()
    return int(row[0]) if row else 0


def measure(entities: int, interval: int, idle_intervals: int, edits: int, home: Path) -> None:
    os.environ["BENCHSYNC_POLL_INTERVAL_SECONDS"] = str(interval)
    with Stack.on_free_ports(home, rate_limit=RATE_LIMIT) as stack:
        emulator = stack.emulator
        assert emulator is not None
        ids = emulator.tenant.create_registered(entities, list(ENTITY_TYPES))
        proteins = ids[list(ENTITY_TYPES).index("aa_sequence") :: len(ENTITY_TYPES)]

        def all_synced() -> bool:
            with psycopg.connect(stack.database_url) as connection:
                return inbox.count_by_state(connection, ids).synced == entities

        _wait("the registrations to sync", all_synced, 600)
        _wait("a first poll", lambda: _polls_finished(stack.database_url) == 8, interval + 120)

        before = _api_requests(emulator)
        time.sleep(idle_intervals * interval)
        idle = (_api_requests(emulator) - before) / idle_intervals
        allowed = RATE_LIMIT * interval / 30

        benchling = Benchling(
            emulator.base_url,
            auth_method=ClientCredentialsOAuth2(
                emulator.settings.client_id, emulator.settings.client_secret
            ),
        )
        delays = []
        for number in range(edits):
            time.sleep(random.uniform(0, interval))
            protein = proteins[number % len(proteins)]
            residues = "".join(random.choices(AMINO_ACIDS, k=40))
            benchling.aa_sequences.update(protein, AaSequenceUpdate(amino_acids=residues))
            edited = time.monotonic()

            def arrived(entity_id: str = protein, expected: str = residues) -> bool:
                return _residues(stack.database_url, entity_id) == expected

            _wait(f"edit {number + 1} to arrive", arrived, interval + 300)
            delays.append(time.monotonic() - edited)
            print(f"  edit {number + 1}: in its snapshot after {delays[-1]:.1f} s")

    print(f"poll every {interval} s, {entities:,} entities of 8 types, {RATE_LIMIT} requests/30 s")
    print(
        f"  idle: {idle:.1f} Benchling requests per interval, {idle / allowed:.1%} of the"
        f" {allowed:.0f} the limit allows"
    )
    print(
        f"  AA-sequence edit → snapshot: median {statistics.median(delays):.1f} s,"
        f" max {max(delays):.1f} s (target ≤ {interval + 30} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", type=int, default=1000)
    parser.add_argument("--interval", type=int, default=60, help="poll interval, seconds")
    parser.add_argument("--idle-intervals", type=int, default=3)
    parser.add_argument("--edits", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="benchsync-poll-") as home:
        measure(args.entities, args.interval, args.idle_intervals, args.edits, Path(home))


if __name__ == "__main__":
    main()
