"""The tenant's clock: UTC timestamps that strictly increase, even within one microsecond."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

_TICK = timedelta(microseconds=1)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TenantClock:
    """Every ``now()`` is later than the one before, so ``modifiedAt`` orders every change."""

    def __init__(self, wall_clock: Callable[[], datetime] = _utc_now) -> None:
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._last = datetime.min.replace(tzinfo=UTC)

    def now(self) -> datetime:
        with self._lock:
            self._last = max(self._wall_clock(), self._last + _TICK)
            return self._last


def isoformat(moment: datetime) -> str:
    """Benchling's timestamp form: microseconds always present, so strings sort as times do."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")
