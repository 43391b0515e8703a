"""Which of Benchling's answers dead-letter an entity, and which the step retries."""

from __future__ import annotations

import pytest
from benchling_sdk.errors import BenchlingError

from benchsync_dagster.benchling.client import is_outage
from benchsync_dagster.benchling.fetch import refuses_the_entity


def answer(status: int) -> BenchlingError:
    return BenchlingError(status_code=status, headers={}, json=None, content=None, parsed=None)


@pytest.mark.parametrize("status", [400, 403, 404, 410, 422])
def test_an_answer_about_the_entity_refuses_it(status: int) -> None:
    assert refuses_the_entity(answer(status))


@pytest.mark.parametrize("status", [401, 408, 409, 423, 425, 429, 500, 503])
def test_an_answer_about_now_is_retried_not_dead_lettered(status: int) -> None:
    assert not refuses_the_entity(answer(status))


@pytest.mark.parametrize(
    ("status", "outage"), [(502, True), (503, True), (504, True), (500, False)]
)
def test_only_gateway_errors_and_lost_connections_are_outages(status: int, outage: bool) -> None:
    try:
        raise RuntimeError("the step failed") from answer(status)
    except RuntimeError as error:
        assert is_outage(error) is outage
