"""``benchsync demo``: start the stack, register entities, show them synced, wait for Ctrl-C."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime

from benchling_emulator.entity_types import ENTITY_TYPES
from benchsync.demo.processes import DemoError
from benchsync.demo.progress import show_an_edit, summary, wait_until_synced
from benchsync.demo.stack import Stack


@contextlib.contextmanager
def _interrupted_cleanly() -> Iterator[None]:
    """Ctrl-C and SIGTERM stop the demo and its children, even when it was started in the
    background (where a shell leaves SIGINT ignored)."""
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.signal(number, signal.default_int_handler) for number in signals}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def run(options: argparse.Namespace) -> int:
    """``benchsync demo``: 0 once synced (or stopped with Ctrl-C), 1 when something failed."""
    started = datetime.now(UTC)
    try:
        with _interrupted_cleanly(), Stack(options) as stack:
            print(f"benchsync demo: Dagster UI at {stack.dagster_url}; logs in {stack.home}/logs")
            assert stack.emulator is not None
            # Every entity type in turn: the seed's custom entities fill synced_benchling_data,
            # all of them the snapshots.
            entity_ids = stack.emulator.tenant.create_registered(options.entities, ENTITY_TYPES)
            print(
                f"registered {len(entity_ids)} entities of {len(ENTITY_TYPES)} types in the"
                " Benchling emulator"
            )
            progress = wait_until_synced(stack, entity_ids, options.timeout)
            print(summary(stack, entity_ids, progress, started))
            print(show_an_edit(stack, entity_ids, options.timeout))
            if options.exit_when_synced:
                return 0
            print("Everything stays up until Ctrl-C.", flush=True)
            while True:
                stack.check_children()
                time.sleep(1)
    except DemoError as error:
        print(f"benchsync demo: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nbenchsync demo: stopped", file=sys.stderr)
        return 0
