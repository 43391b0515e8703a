"""benchsync's Dagster code location, its plain sync functions, and the ``benchsync`` command.

``defs`` is built on first access (PEP 562), so the command line and the plain modules import
without loading Dagster; ``dagster dev -m benchsync_dagster`` finds it all the same.
"""

from typing import Any


def __getattr__(name: str) -> Any:
    if name == "defs":
        from benchsync_dagster.definitions import defs

        return defs
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return ["defs"]
