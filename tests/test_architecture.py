"""The import rules of docs/architecture.md, checked on the source: each package imports only
what its job needs, so that the bridge stays light and the plain functions test without Dagster.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LEAVES = ("benchsync_core.settings", "benchsync_core.database", "benchsync_core.kinds")
OURS = (
    "benchsync",
    "benchsync_core",
    "benchsync_dagster",
    "webhook_sensor_bridge",
    "benchling_emulator",
)


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from a import b` may take a module b or a name of a: a.b covers both.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def within(name: str, *packages: str) -> bool:
    return any(name == package or name.startswith(f"{package}.") for package in packages)


def sources(package: str, *, skip: tuple[str, ...] = ()) -> list[Path]:
    return [
        path
        for path in sorted((REPO / package).rglob("*.py"))
        if not any(part in skip for part in path.relative_to(REPO).parts)
    ]


def violations(
    paths: list[Path], forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()
) -> list[str]:
    return [
        f"{path.relative_to(REPO)} imports {name}"
        for path in paths
        for name in sorted(imports(path))
        if within(name, *forbidden) and not within(name, *allowed)
    ]


@pytest.mark.parametrize(
    ("package", "skip", "forbidden", "allowed"),
    [
        # The HTTP edge: no Dagster, no migrations machinery, none of the other packages.
        (
            "webhook_sensor_bridge",
            ("migrations",),  # loaded by `benchsync db upgrade` only, by path
            (
                "dagster",
                "alembic",
                "sqlalchemy",
                "benchsync",
                "benchsync_core",
                "benchsync_dagster",
                "benchling_emulator",
            ),
            LEAVES,
        ),
        # The code location reads the inbox, never the HTTP edge or the command line.
        (
            "benchsync_dagster",
            ("migrations",),
            (
                "webhook_sensor_bridge",
                "benchsync",
                "benchsync_core",
                "benchling_emulator",
                "alembic",
            ),
            ("webhook_sensor_bridge.inbox", *LEAVES),
        ),
        # The emulator stands alone: it is Benchling, not benchsync.
        (
            "benchling_emulator",
            (),
            (
                "benchsync",
                "benchsync_core",
                "benchsync_dagster",
                "webhook_sensor_bridge",
                "dagster",
            ),
            (),
        ),
        # What the parts share imports none of them, and never the command line.
        (
            "benchsync_core",
            (),
            ("benchsync", "benchsync_dagster", "webhook_sensor_bridge", "benchling_emulator"),
            ("benchsync_core",),
        ),
    ],
)
def test_each_package_imports_only_what_its_job_needs(
    package: str, skip: tuple[str, ...], forbidden: tuple[str, ...], allowed: tuple[str, ...]
) -> None:
    assert violations(sources(package, skip=skip), forbidden, allowed) == []


def test_the_plain_sync_functions_do_without_dagster() -> None:
    plain = [
        path
        for path in sources("benchsync_dagster", skip=("defs", "migrations"))
        if path.name != "definitions.py"
    ]
    dagster = ("dagster", "dagster_graphql", "dagster_postgres", "benchsync_dagster.defs")
    assert violations(plain, dagster) == []


def test_the_leaves_everyone_may_import_import_no_other_package_of_ours() -> None:
    leaves = [REPO / "benchsync_core" / f"{name}.py" for name in ("settings", "database", "kinds")]
    assert violations(leaves, OURS, ("benchsync_core.settings",)) == []


def test_nothing_imports_the_command_line() -> None:
    others = [path for package in OURS if package != "benchsync" for path in sources(package)]
    assert violations(others, ("benchsync",)) == []
