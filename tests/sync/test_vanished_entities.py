"""Lost access against the emulator: a full reconciliation archives what Benchling no longer
returns only within its guard, and what it archived comes back as soon as Benchling returns it
— while Benchling's own archives stay archived."""

from __future__ import annotations

from typing import Any, Literal

import dagster as dg
import httpx
import psycopg
import pytest
from benchling_sdk.models import EntityArchiveReason
from psycopg import sql

from benchsync.status import read_status, status_document
from benchsync_dagster.defs.reconciliation.assets import VANISHED_REASON
from tests.support.dagster import run_batch
from tests.support.emulator import benchling_client
from tests.support.tenant import Tenant, pending_webhook_ids, register
from tests.sync.test_hostile_envelopes import failures
from tests.sync.test_poll import poll
from tests.sync.test_reconciliation import drift_check, reconcile

# (archived, vanished, archive reason) of one entity in each table that holds it.
State = tuple[bool, bool, str | None]


def _synced(tenant: Tenant, count: int, types: list[str] | None = None) -> list[str]:
    ids = register(tenant, count, types=types)
    assert run_batch(tenant, pending_webhook_ids(tenant.database_url)).success
    return ids


def _hide(tenant: Tenant, ids: list[str]) -> None:
    tenant.control("access", {"hidden": ids})


def _states(db: psycopg.Connection[Any], entity_id: str) -> dict[str, State | None]:
    """The entity's archive state in the snapshots, its typed table and synced_benchling_data."""
    snapshot = db.execute(
        "SELECT archived, vanished, document -> 'archiveRecord' ->> 'reason', schema_id"
        " FROM benchling_entity_snapshots WHERE entity_id = %s",
        [entity_id],
    ).fetchone()
    assert snapshot is not None
    (table_name,) = db.execute(
        "SELECT table_name FROM benchsync.typed_tables WHERE schema_id = %s", [snapshot[3]]
    ).fetchone() or (None,)
    typed = db.execute(
        sql.SQL('SELECT "archived$", "vanished$", "archive_reason$" FROM {} WHERE id = %s').format(
            sql.Identifier("benchling", str(table_name))
        ),
        [entity_id],
    ).fetchone()
    synced = db.execute(
        "SELECT archived, vanished, archive_reason FROM synced_benchling_data"
        " WHERE benchling_api_id = %s",
        [entity_id],
    ).fetchone()
    return {
        "snapshot": (snapshot[0], snapshot[1], snapshot[2]),
        "typed": None if typed is None else (typed[0], typed[1], typed[2]),
        "synced": None if synced is None else (synced[0], synced[1], synced[2]),
    }


def _everywhere(state: State, synced: bool = True) -> dict[str, State | None]:
    return {"snapshot": state, "typed": state, "synced": state if synced else None}


LIVE: State = (False, False, None)
VANISHED: State = (True, True, VANISHED_REASON)


def _guard(result: dg.ExecuteInProcessResult) -> dg.AssetCheckEvaluation:
    (evaluation,) = [
        e for e in result.get_asset_check_evaluations() if e.check_name == "vanishing_within_guard"
    ]
    return evaluation


def _modified_at(db: psycopg.Connection[Any], entity_id: str) -> Any:
    row = db.execute(
        "SELECT modified_at FROM benchling_entity_snapshots WHERE entity_id = %s", [entity_id]
    ).fetchone()
    assert row is not None
    return row[0]


def test_a_type_listed_without_any_of_its_entities_has_none_archived_and_the_run_fails(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    customs = _synced(tenant, 4)
    sequences = _synced(tenant, 20, types=["dna_sequence"])
    _hide(tenant, [*customs, sequences[0]])  # all of one type; 5 % of the other

    result = reconcile(tenant, full=True, raise_on_error=False)

    assert not result.success
    guard = _guard(result)
    assert not guard.passed
    assert guard.severity == dg.AssetCheckSeverity.ERROR
    assert guard.description is not None
    assert "custom_entity: Benchling listed 0, 4 stored, 4 of them not returned" in (
        guard.description
    )
    assert guard.metadata["held_back"].value == {
        "custom_entity": {"listed": 0, "stored": 4, "not_returned": 4}
    }
    for entity_id in customs:
        assert _states(db, entity_id) == _everywhere(LIVE)
    # The other type still reconciled.
    assert _states(db, sequences[0]) == _everywhere(VANISHED, synced=False)
    assert drift_check(result).metadata["vanished"].value == 1
    reported = status_document(read_status(db))["last_reconciliation"]
    assert reported["withheld"] == {"custom_entity": 4}
    assert reported["drift"]["vanished"] == 1


def test_half_of_a_type_not_returned_is_held_back_until_the_guard_allows_it_or_it_is_named(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    ids = _synced(tenant, 10)
    _hide(tenant, ids[:5])

    held = reconcile(tenant, full=True, raise_on_error=False)

    assert not held.success
    assert _guard(held).metadata["held_back"].value == {
        "custom_entity": {"listed": 5, "stored": 10, "not_returned": 5}
    }
    assert all(_states(db, entity_id) == _everywhere(LIVE) for entity_id in ids)

    allowed = reconcile(tenant, full=True, reconcile_max_vanished_percent=50)

    assert _guard(allowed).passed
    assert drift_check(allowed).metadata["vanished"].value == 5
    assert all(_states(db, entity_id) == _everywhere(VANISHED) for entity_id in ids[:5])


def test_entities_the_same_listing_repaired_count_among_those_mirrored(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    """A type whose rows went stale (its poll failed for days) has them repaired by the nightly
    listing; they were mirrored all along, so one not returned of 20 is 5 %, not all of them."""
    ids = _synced(tenant, 20)
    db.execute(
        "UPDATE benchling_entity_snapshots SET modified_at = modified_at - interval '1 day'"
        " WHERE entity_id = ANY(%s)",
        [ids[1:]],
    )
    _hide(tenant, ids[:1])

    result = reconcile(tenant, full=True)

    assert _guard(result).passed
    assert drift_check(result).metadata["stale"].value == 19
    assert _states(db, ids[0]) == _everywhere(VANISHED)


def test_an_operator_can_archive_a_whole_type_that_is_gone_by_naming_it(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    ids = _synced(tenant, 2)
    _hide(tenant, ids)

    result = reconcile(tenant, full=True, archive_vanished_of=("custom_entity",))

    assert _guard(result).passed
    assert all(_states(db, entity_id) == _everywhere(VANISHED) for entity_id in ids)


Path = Literal["poll", "reconciliation", "fetch", "webhook"]


def _return_through(
    tenant: Tenant, db: psycopg.Connection[Any], entity_id: str, path: Path
) -> None:
    """Let benchsync meet the entity again: in a listing, a fetch, or through a webhook."""
    if path == "poll":
        poll(tenant)
    elif path == "reconciliation":
        result = reconcile(tenant, full=True)
        assert drift_check(result).metadata["reappeared"].value == 1
        assert status_document(read_status(db))["last_reconciliation"]["drift"]["reappeared"] == 1
    elif path == "fetch":  # a sync run fetching it again (a replayed event)
        (webhook_id,) = db.execute(
            "SELECT webhook_id FROM benchsync.inbox WHERE resource_id = %s", [entity_id]
        ).fetchone() or (None,)
        assert run_batch(tenant, [str(webhook_id)]).success
    else:  # a new webhook about it: Benchling's registration event, delivered again
        (body,) = db.execute(
            "SELECT body FROM benchsync.inbox WHERE resource_id = %s", [entity_id]
        ).fetchone() or ("",)
        encoded = str(body).encode()
        headers = tenant.emulator.signer.signed_headers(encoded)
        httpx.post(tenant.bridge_url, content=encoded, headers=headers).raise_for_status()
        assert run_batch(tenant, pending_webhook_ids(tenant.database_url)).success


@pytest.mark.parametrize("path", ["poll", "reconciliation", "fetch", "webhook"])
def test_an_entity_archived_as_vanished_is_restored_everywhere_once_benchling_returns_it(
    tenant: Tenant, db: psycopg.Connection[Any], path: Path
) -> None:
    gone, *_ = ids = _synced(tenant, 20)
    modified_at = _modified_at(db, gone)
    _hide(tenant, [gone])  # 5 %: within the guard
    result = reconcile(tenant, full=True)
    assert _guard(result).passed
    assert _states(db, gone) == _everywhere(VANISHED)

    _hide(tenant, [])
    _return_through(tenant, db, gone, path)

    assert _states(db, gone) == _everywhere(LIVE)
    assert _modified_at(db, gone) == modified_at  # the same version: only access came back
    document = db.execute(
        "SELECT document FROM benchling_entity_snapshots WHERE entity_id = %s", [gone]
    ).fetchone()
    assert document is not None and document[0].get("archiveRecord") is None
    assert all(_states(db, entity_id) == _everywhere(LIVE) for entity_id in ids[1:])


def test_benchlings_own_archives_stay_archived_when_entities_reappear(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    retired, archived_while_hidden, *_ = _synced(tenant, 20)
    benchling = benchling_client(tenant.emulator)
    benchling.custom_entities.archive([retired], EntityArchiveReason.RETIRED)
    poll(tenant)
    real: State = (True, False, "Retired")
    assert _states(db, retired) == _everywhere(real)
    _hide(tenant, [retired, archived_while_hidden])  # 1 of 19 unarchived: within the guard

    reconcile(tenant, full=True)

    assert _states(db, retired) == _everywhere(real)
    assert _states(db, archived_while_hidden) == _everywhere(VANISHED)

    _hide(tenant, [])
    benchling.custom_entities.archive([archived_while_hidden], EntityArchiveReason.EXPIRED)
    poll(tenant)
    reconcile(tenant, full=True)

    assert _states(db, retired) == _everywhere(real)
    assert _states(db, archived_while_hidden) == _everywhere((True, False, "Expired"))


def test_a_run_naming_no_entity_type_to_archive_fails_saying_which_are(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    [entity_id] = _synced(tenant, 1)
    _hide(tenant, [entity_id])

    result = reconcile(
        tenant, full=True, raise_on_error=False, archive_vanished_of=("custom_entities",)
    )

    assert not result.success
    said = "\n".join(failures(result))
    assert "archive_vanished_of names no entity type: custom_entities" in said
    assert "custom_entity, " in said
    assert _states(db, entity_id) == _everywhere(LIVE)
