"""Shared fixtures live in tests/support/, one module per real service the tests start.

Each top-level folder of tests/ is a tier, marked with its folder's name here (``pytest -m
faults`` runs one tier, ``-m "not end_to_end"`` leaves one out), so no test file repeats it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

# Registers and loads the property tests' profiles before Hypothesis reads --hypothesis-profile.
import tests.support.properties  # noqa: F401

pytest_plugins = [
    "tests.support.postgres",
    "tests.support.emulator",
    "tests.support.tenant",
    "tests.support.listener",
]

TESTS = Path(__file__).parent
# The tiers whose files run longest start first: under pytest-xdist a long file handed out last
# would be the whole run's tail.
LONGEST_FIRST = ("end_to_end", "faults", "compose")


def tier(item: pytest.Item) -> str:
    """The top-level folder of tests/ that holds ``item`` ("" for tests/ itself)."""
    parts = item.path.relative_to(TESTS).parts
    return parts[0] if len(parts) > 1 else ""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if tier(item):
            item.add_marker(tier(item))
        # Under `--dist loadgroup` a worker takes a whole group: a file's tests share its
        # module-scoped stack or tenant, and the end-to-end tier shares one session stack.
        shared = "end_to_end" if tier(item) == "end_to_end" else str(item.path)
        item.add_marker(pytest.mark.xdist_group(shared))
    # A stable sort keeps each file's tests together, in their order.
    items.sort(
        key=lambda item: (
            LONGEST_FIRST.index(tier(item)) if tier(item) in LONGEST_FIRST else len(LONGEST_FIRST)
        )
    )
