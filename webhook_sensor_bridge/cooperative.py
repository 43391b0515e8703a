"""Gevent's monkey-patching for ``benchsync bridge``, done before psycopg is imported.

The bridge's gunicorn workers are gevent workers (``server.WORKER_CLASS``). Gunicorn patches
each worker after the fork, too late for what the master already imported: psycopg picks its
wait function when ``psycopg.waiting`` is imported (the C ``wait_c`` unless ``select`` is
patched, and ``wait_c`` blocks the whole worker while Postgres commits), and psycopg_pool binds
``threading.Event``, ``Condition`` and ``RLock`` at import (a greenlet waiting on a real lock
blocks the worker, and with it the pool's own connecting greenlet). So the command patches
first, before anything imports them. Only standard-library modules may be imported above it.
"""

from __future__ import annotations

import sys

# Modules that bind blocking primitives when imported: patched after them, they stay blocking.
BOUND_AT_IMPORT = ("psycopg", "psycopg_pool")


class PatchedTooLate(RuntimeError):
    """A module that must see gevent's patches was imported before them."""


def patch() -> bool:
    """Make sockets, ``select``, threads and locks cooperative in this process and its forks.

    Too late once psycopg or psycopg_pool is imported (they would keep blocking): then it patches
    nothing (an in-process caller, a test, keeps its process as it was) and returns False, and
    ``require_patched`` refuses.
    """
    if any(name in sys.modules for name in BOUND_AT_IMPORT) and not is_patched():
        return False
    from gevent import monkey

    monkey.patch_all()
    return True


def require_patched() -> None:
    """Raise PatchedTooLate unless ``patch()`` ran before psycopg and psycopg_pool were imported."""
    if not is_patched():
        raise PatchedTooLate(
            "the bridge's gevent workers need webhook_sensor_bridge.cooperative.patch() before"
            f" {' and '.join(BOUND_AT_IMPORT)} are imported: their waits would block a whole worker"
        )


def is_patched() -> bool:
    """Whether ``patch()`` (or gevent's own ``patch_all``) ran in this process."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and all(
        monkey.is_module_patched(name) for name in ("socket", "select", "threading")
    )
