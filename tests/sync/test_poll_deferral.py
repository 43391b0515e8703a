"""The poll gives way to a burst waiting in the inbox (its list calls would take the rate
limit's slots from the burst's sync), but never for long: a skipped tick is followed by a poll
whatever waits, and a trickle never defers it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import dagster as dg
import psycopg
import pytest

from benchsync_dagster.defs.poll.sensors import SKIPPED_FOR_BURST, poll_sensor
from benchsync_dagster.poll_deferral import YIELDS_TO_BURSTS_TAG, skips_tick
from tests.support.dagster import materialization_of
from tests.support.tenant import Tenant, register


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        yield instance


def tick(
    instance: dg.DagsterInstance, tenant: Tenant, cursor: str | None = None
) -> dg.SensorResult:
    with dg.build_sensor_context(
        instance=instance, cursor=cursor, resources=tenant.resources()
    ) as context:
        result = poll_sensor(interval_seconds=300)(context)
    assert isinstance(result, dg.SensorResult)
    return result


@pytest.mark.parametrize(
    ("burst", "skipped_last_tick", "skips"),
    [(False, False, False), (True, False, True), (True, True, False), (False, True, False)],
)
def test_a_burst_skips_one_tick_never_two(
    burst: bool, skipped_last_tick: bool, skips: bool
) -> None:
    assert skips_tick(burst, skipped_last_tick) is skips


def test_a_trickle_does_not_defer_the_poll(tenant: Tenant, instance: dg.DagsterInstance) -> None:
    register(tenant, 5)

    result = tick(instance, tenant)

    (request,) = result.run_requests or []
    assert request.tags[YIELDS_TO_BURSTS_TAG] == "true"


def test_a_burst_skips_the_tick_and_the_next_polls_whatever_waits(
    tenant: Tenant, instance: dg.DagsterInstance
) -> None:
    register(tenant, 150)

    skipped = tick(instance, tenant)
    assert not skipped.run_requests and skipped.cursor == SKIPPED_FOR_BURST
    assert skipped.skip_reason is not None
    assert "burst" in (skipped.skip_reason.skip_message or "")

    polled = tick(instance, tenant, cursor=skipped.cursor)
    (request,) = polled.run_requests or []
    assert request.tags[YIELDS_TO_BURSTS_TAG] == "false"
    assert polled.cursor == ""


def poll_with(tenant: Tenant, yields: str) -> dict[str, Any]:
    job = tenant.definitions().resolve_job_def("poll_job")
    result = job.execute_in_process(
        instance=dg.DagsterInstance.ephemeral(),
        tags={YIELDS_TO_BURSTS_TAG: yields},
        raise_on_error=False,
    )
    assert result.success
    materialization = materialization_of(result, "registry_poll")
    return {key: value.value for key, value in materialization.metadata.items()}


def test_a_yielding_poll_begins_no_type_while_a_burst_waits(
    tenant: Tenant, db: psycopg.Connection[Any]
) -> None:
    register(tenant, 150)

    yielded = poll_with(tenant, "true")

    assert yielded["benchling_requests"] == 0
    assert sum(yielded["listed_by_type"].values()) == 0
    assert len(yielded["types_deferred_to_next_poll"]) == len(yielded["listed_by_type"])
    assert db.execute("SELECT count(*) FROM benchsync.poll_watermarks").fetchone() == (0,)

    # The poll after a skipped tick lists every type, a page of the burst's.
    forced = poll_with(tenant, "false")

    assert forced["listed_by_type"]["custom_entity"] == 100
    assert forced["types_deferred_to_next_poll"] == ["custom_entity"]
