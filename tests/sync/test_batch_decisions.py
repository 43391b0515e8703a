"""What becomes of a batch whose run did not finish, and the batch's run config and tags:
plain functions, no Dagster, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from benchsync_dagster.batch_decisions import (
    MAX_OUTAGE_RETRIES,
    BatchAttempt,
    DeadLetter,
    FailedBatch,
    Halve,
    TryAgain,
    WaitOutOutage,
    after_cancel,
    after_failure,
    failed_in_outage,
    runs_allowed,
)
from benchsync_dagster.batch_runs import (
    ATTEMPT_TAG,
    BATCH_TAG,
    OUTAGE_RETRIES_TAG,
    batch_name,
    batch_run_config,
    batch_span,
    batch_tags,
    batch_webhook_ids,
    cursor_at,
    position_from_cursor,
)
from webhook_sensor_bridge.inbox import BatchSpan, ReadPosition

BATCH = "inbox-7.1-7.3"
EVENTS = ["w1", "w2", "w3"]


def failed(
    attempt: int = 1,
    webhook_ids: list[str] = EVENTS,
    in_outage: bool = False,
    outage_retries: int = 0,
) -> FailedBatch:
    return FailedBatch(
        "0123456789abcdef", BATCH, BATCH, webhook_ids, attempt, outage_retries, in_outage
    )


def test_a_failure_before_the_last_attempt_is_tried_again_under_the_next_key() -> None:
    assert after_failure(failed(attempt=1), "boom", max_attempts=3) == TryAgain(
        BatchAttempt(f"{BATCH}-attempt2", BATCH, BATCH, EVENTS, attempt=2)
    )


def test_a_failure_in_an_outage_is_tried_again_without_spending_an_attempt() -> None:
    decision = after_failure(failed(attempt=3, in_outage=True), "503", max_attempts=3)

    assert decision == WaitOutOutage(
        BatchAttempt(f"{BATCH}-attempt3-after-01234567", BATCH, BATCH, EVENTS, 3, 1)
    )


def test_an_outage_retried_long_enough_spends_the_attempt() -> None:
    spent = failed(attempt=1, in_outage=True, outage_retries=MAX_OUTAGE_RETRIES)

    decision = after_failure(spent, "503", max_attempts=3)

    # The outage count starts again with the new attempt.
    assert decision == TryAgain(BatchAttempt(f"{BATCH}-attempt2", BATCH, BATCH, EVENTS, 2))


def test_after_the_last_attempt_a_batch_is_halved_with_no_attempts_left() -> None:
    decision = after_failure(failed(attempt=3), "boom", max_attempts=3)

    assert decision == Halve(
        (
            BatchAttempt(f"{BATCH}/1", f"{BATCH}/1", f"{BATCH}/1", ["w1"], attempt=3),
            BatchAttempt(f"{BATCH}/2", f"{BATCH}/2", f"{BATCH}/2", ["w2", "w3"], attempt=3),
        )
    )


def test_after_the_last_attempt_one_event_is_dead_with_the_error() -> None:
    decision = after_failure(failed(attempt=3, webhook_ids=["w1"]), "boom", max_attempts=3)

    assert decision == DeadLetter("sync failed 3 times; last error: boom")


@pytest.mark.parametrize(
    ("seen_after_start", "started", "expected"),
    [(None, 100.0, False), (10.0, 100.0, True), (-10.0, 100.0, False), (-10.0, None, True)],
)
def test_an_outage_counts_when_seen_while_the_run_ran(
    seen_after_start: float | None, started: float | None, expected: bool
) -> None:
    start = datetime(2026, 12, 1, tzinfo=UTC)
    seen = None if seen_after_start is None else start + timedelta(seconds=seen_after_start)

    run_started = start.timestamp() if started is not None else None
    assert failed_in_outage(seen, run_started) is expected


def test_a_cancelled_batch_is_dead_saying_how_to_requeue_it() -> None:
    decision = after_cancel("run-1", BATCH, ["Sending run termination request."])

    assert isinstance(decision, DeadLetter)
    assert f"benchsync replay --batch {BATCH}" in decision.reason


def test_a_batch_cancelled_for_its_maximum_runtime_is_left_to_the_retry() -> None:
    message = "Canceling due to exceeding maximum runtime of 600 seconds."  # run monitoring's

    assert after_cancel("run-1", BATCH, [message]) is None


def test_one_run_probes_benchling_while_it_is_down() -> None:
    assert runs_allowed(4, benchling_down=False) == 4
    assert runs_allowed(4, benchling_down=True) == 1


def test_a_batch_reads_back_from_its_run_config_and_tags() -> None:
    config = batch_run_config(EVENTS, BATCH)

    assert batch_webhook_ids(config) == EVENTS
    assert batch_name(config) == BATCH
    assert batch_span(config) == BatchSpan(ReadPosition(7, 1), ReadPosition(7, 3))
    assert batch_name(batch_run_config(EVENTS, None)) is None
    assert batch_span(batch_run_config(EVENTS, None)) is None
    assert batch_tags(BATCH, 2) == {BATCH_TAG: BATCH, ATTEMPT_TAG: "2"}
    assert batch_tags(BATCH, 2, outage_retries=1)[OUTAGE_RETRIES_TAG] == "1"


def test_the_cursor_holds_the_read_position() -> None:
    assert position_from_cursor(None) == ReadPosition()
    assert position_from_cursor(cursor_at(ReadPosition(42, 7))) == ReadPosition(42, 7)
