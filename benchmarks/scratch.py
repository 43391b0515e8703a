"""What the benchmarks share: a scratch database on the server BENCHSYNC_DATABASE_URL names,
migrated, and dropped afterwards (or one made afresh and kept); and entity documents as the
emulator renders them."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from benchling_emulator.clock import TenantClock, isoformat
from benchling_emulator.seed import seeded_tenant
from benchling_emulator.tenant import Tenant
from benchsync_core import migrations


@contextmanager
def scratch_database() -> Iterator[str]:
    """A migrated database made beside the one BENCHSYNC_DATABASE_URL names, dropped after."""
    server_url = os.environ.get("BENCHSYNC_DATABASE_URL")
    if not server_url:
        raise SystemExit("set BENCHSYNC_DATABASE_URL to a Postgres server the benchmark may use")
    name = f"benchsync_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        url = make_conninfo(server_url, dbname=name)
        migrations.upgrade(url)
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def entity_documents(count: int) -> list[dict[str, Any]]:
    """``count`` registered custom entities of the seeded schema, as Benchling's API gives them."""
    clock = TenantClock()
    tenant = Tenant(
        seeded_tenant(clock),
        app_id="app_bench",
        base_url="http://emulator",
        bulk_get_missing="omit",
        clock=clock,
        rng=random.Random(7),
        events=lambda events: None,
    )
    ids = tenant.create_registered(count)
    return [tenant.get_entity(entity_id) for entity_id in ids]


def edited(documents: list[dict[str, Any]], seconds: int) -> list[dict[str, Any]]:
    """The same entities as an edit would show them, ``seconds`` later."""
    later = timedelta(seconds=seconds)
    return [
        {**d, "modifiedAt": isoformat(pd.Timestamp(d["modifiedAt"]).to_pydatetime() + later)}
        for d in documents
    ]


def fresh_database(server_url: str, name: str) -> str:
    """The database ``name`` on the server, dropped if it was there, made and migrated: kept
    afterwards, to look at."""
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(server_url, dbname=name)
    migrations.upgrade(url)
    return url
