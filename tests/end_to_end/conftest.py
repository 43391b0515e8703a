"""One running stack for the end-to-end tests: ``dagster dev``, the bridge, the emulator."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from benchsync.demo.stack import Stack


@pytest.fixture(scope="session")
def stack(migrated_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("BENCHSYNC_DATABASE_URL", migrated_database_url)
        with Stack.on_free_ports(tmp_path_factory.mktemp("stack")) as running:
            yield running
