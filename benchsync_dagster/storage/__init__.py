"""The synced tables' home: their migrations (``migrations/``), and per table one module with
its row shape and every statement that touches it. Plain functions over a psycopg connection."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

import pandas as pd


class StoredVersion(NamedTuple):
    """What a table holds of one entity, to compare with Benchling's document."""

    modified_at: datetime
    archived: bool
    vanished: bool  # archived by benchsync: a full listing did not return it


def frame_columns(frame: pd.DataFrame) -> list[list[Any]]:
    """The frame as one Python list per column, missing values as None: parameters for unnest()."""
    plain = frame.astype(object).where(frame.notna(), None)
    return [
        [value.to_pydatetime() if isinstance(value, pd.Timestamp) else value for value in plain[c]]
        for c in plain.columns
    ]
