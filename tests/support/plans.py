"""The plans Postgres makes for the statements a function runs, to show that a statement reads
through an index (or reads only a few rows) rather than its whole table."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
from psycopg import sql


class ExplainingConnection(psycopg.Connection[Any]):
    """A connection that, while ``plans`` is a list, has each statement planned (``EXPLAIN``;
    ``EXPLAIN ANALYZE`` when ``analyze``, which runs it: for reads only) before it runs it,
    and keeps the plans there."""

    plans: list[dict[str, Any]] | None = None
    analyze = False

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        if self.plans is not None:
            options = sql.SQL("ANALYZE, FORMAT JSON" if self.analyze else "FORMAT JSON")
            statement = query if isinstance(query, sql.Composable) else sql.SQL(query)
            explain = sql.SQL("EXPLAIN ({}) ").format(options) + statement
            row = super().execute(explain, params).fetchone()
            assert row is not None
            self.plans.append(row[0][0]["Plan"])
        return super().execute(query, params, **kwargs)


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every node of ``plan``, the top one first."""
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def scans_of(plans: list[dict[str, Any]], table: str) -> list[dict[str, Any]]:
    """The nodes of ``plans`` that read ``table`` (a scan of it, or of its index)."""
    return [node for plan in plans for node in nodes(plan) if node.get("Relation Name") == table]


def index_scans(plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The nodes of ``plans`` that read an index (with its ``Index Cond``, when bounded)."""
    return [node for plan in plans for node in nodes(plan) if "Index Name" in node]


def indexes_used(plans: list[dict[str, Any]]) -> set[str]:
    return {node["Index Name"] for node in index_scans(plans)}
