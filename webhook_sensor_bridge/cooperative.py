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


def patch() -> None:
    """Make sockets, ``select``, threads and locks cooperative in this process and its forks."""
    imported = [name for name in BOUND_AT_IMPORT if name in sys.modules]
    if imported and not is_patched():
        raise PatchedTooLate(
            f"{', '.join(imported)} imported before gevent's monkey-patching: their waits would"
            " block a whole gevent worker"
        )
    from gevent import monkey

    monkey.patch_all()


def is_patched() -> bool:
    """Whether ``patch()`` (or gevent's own ``patch_all``) ran in this process."""
    monkey = sys.modules.get("gevent.monkey")
    return monkey is not None and all(
        monkey.is_module_patched(name) for name in ("socket", "select", "threading")
    )
