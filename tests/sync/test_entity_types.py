"""Every registry entity type, fetched through benchling-sdk with the cheapest call each has and
stored as a snapshot with its type and schema (the emulator as the tenant)."""

from __future__ import annotations

from typing import Any

import dagster as dg
import psycopg

from benchling_emulator.entity_types import ENTITY_TYPES
from benchsync_dagster.batch_runs import batch_run_config
from benchsync_dagster.defs.resources import SyncSettings
from tests.support.dagster import run_batch
from tests.support.tenant import Tenant, inbox_states, pending_webhook_ids, register


def snapshot_types(db: psycopg.Connection[Any]) -> dict[str, tuple[str, str]]:
    rows = db.execute("SELECT entity_id, entity_type, schema_id FROM benchling_entity_snapshots")
    return {entity_id: (entity_type, schema_id) for entity_id, entity_type, schema_id in rows}


def test_every_type_registered_is_mirrored_with_its_type_and_schema(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    ids = register(tenant, 16, types=list(ENTITY_TYPES))

    result = run_batch(tenant, pending_webhook_ids(tenant.database_url))

    assert result.success
    assert inbox_states(tenant.database_url) == {"synced": 16}
    stored = snapshot_types(db)
    assert set(stored) == set(ids)
    seed = tenant.emulator.tenant.seed
    assert {entity_type for entity_type, _ in stored.values()} == set(ENTITY_TYPES)
    for entity_type, schema_id in stored.values():
        assert seed.schema_of_type(entity_type).id == schema_id
    # The seed's table keeps its meaning: the configured (custom entity) schema only.
    (rows,) = db.execute("SELECT count(*) FROM synced_benchling_data").fetchone() or (0,)
    assert rows == 2


def test_dna_and_aa_sequences_in_a_batch_of_custom_entities_take_one_call_per_type(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    register(tenant, 6, types=["custom_entity", "dna_sequence", "aa_sequence"])
    before = tenant.control_get("stats")["requests"]

    assert run_batch(tenant, pending_webhook_ids(tenant.database_url)).success

    after = tenant.control_get("stats")["requests"]
    spent = {route: after[route] - before.get(route, 0) for route in after}
    for path in ("custom-entities", "dna-sequences", "aa-sequences"):
        assert spent[f"GET /api/v2/{path}:bulk-get"] == 1
    # Each schema is read once, for its typed table; that read also resolved the DNA
    # sequences' shared seq_ prefix.
    assert spent.get("GET /api/v2/entity-schemas/<schema_id>", 0) == 3
    assert inbox_states(tenant.database_url) == {"synced": 6}


def test_a_mixture_batch_with_one_invalid_id_dead_letters_only_it(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    ids = register(tenant, 4, types=["mixture"])
    tenant.control("delete", {"ids": [ids[0]]})

    result = run_batch(tenant, pending_webhook_ids(tenant.database_url))

    assert result.success
    states = dict(
        db.execute("SELECT resource_id, state || ':' || coalesce(reason, '') FROM benchsync.inbox")
    )
    assert states[ids[0]].startswith("dead:Benchling answered 400 for " + ids[0])
    assert all(states[i] == "synced:" for i in ids[1:])
    assert set(snapshot_types(db)) == set(ids[1:])


def test_an_entity_of_a_schema_not_mirrored_is_ignored_with_the_reason(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    ids = register(tenant, 2, types=["custom_entity", "molecule"])
    seed = tenant.emulator.tenant.seed
    only_custom = SyncSettings(schemas=f" {seed.schema.id} , ts_elsewhere")
    job = tenant.definitions(sync_settings=only_custom).resolve_job_def("sync_job")

    result = job.execute_in_process(
        run_config=batch_run_config(pending_webhook_ids(tenant.database_url), None),
        instance=dg.DagsterInstance.ephemeral(),
        raise_on_error=False,
    )

    assert result.success
    states = dict(
        db.execute("SELECT resource_id, state || ':' || coalesce(reason, '') FROM benchsync.inbox")
    )
    molecules = seed.schema_of_type("molecule").id
    assert states == {
        ids[0]: "synced:",
        ids[1]: f"ignored:schema {molecules} is not mirrored (BENCHSYNC_SCHEMAS)",
    }
    assert set(snapshot_types(db)) == {ids[0]}


def test_an_event_wrong_about_a_sequences_type_dead_letters_itself_alone(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    (sequence_id,) = register(tenant, 1, types=["dna_sequence"])
    # A signed event naming the real DNA sequence as an RNA one: Benchling has no such RNA.
    db.execute(
        """INSERT INTO benchsync.inbox (webhook_id, message_type, channel, message_id,
               resource_id, schema_id, app_id, app_definition_id, tenant_id, base_url,
               created_at, body, state)
           SELECT 'msg_forged', 'v3.rnaSequence.updated', channel, message_id || '-forged',
               resource_id, schema_id, app_id, app_definition_id, tenant_id, base_url,
               created_at + interval '1 second', body, state
           FROM benchsync.inbox WHERE resource_id = %s""",
        [sequence_id],
    )
    db.commit()

    result = run_batch(tenant, pending_webhook_ids(tenant.database_url))

    assert result.success
    states = dict(
        db.execute("SELECT webhook_id, state || ':' || coalesce(reason, '') FROM benchsync.inbox")
    )
    assert states.pop("msg_forged").startswith(f"dead:Benchling answered 404 for {sequence_id}")
    assert list(states.values()) == ["synced:"]
    assert snapshot_types(db)[sequence_id][0] == "dna_sequence"
