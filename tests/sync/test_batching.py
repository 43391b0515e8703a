from datetime import UTC, datetime, timedelta

from benchsync_dagster.batching import PendingEvent, plan_batches

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
QUIET = timedelta(seconds=2)


def _events(count: int, newest_age: timedelta) -> list[PendingEvent]:
    return [
        PendingEvent(seq=i, txid=1000 + i, webhook_id=f"msg_{i}", received_at=NOW - newest_age)
        for i in range(1, count + 1)
    ]


def _plan(events: list[PendingEvent], max_batches: int = 20) -> list[int]:
    plan = plan_batches(
        events, now=NOW, max_batch_size=1000, max_batches=max_batches, quiet_after=QUIET
    )
    assert plan.taken == [event for batch in plan.batches for event in batch]
    return [len(batch) for batch in plan.batches]


def test_a_lone_event_goes_out_at_once() -> None:
    assert _plan(_events(1, newest_age=timedelta(0))) == [1]


def test_an_arriving_burst_holds_back_its_partial_hundred() -> None:
    assert _plan(_events(250, newest_age=timedelta(0))) == [200]


def test_a_quiet_backlog_goes_out_whole() -> None:
    assert _plan(_events(250, newest_age=timedelta(seconds=5))) == [250]


def test_batches_are_capped_in_size_and_number() -> None:
    assert _plan(_events(3500, newest_age=timedelta(seconds=5))) == [1000, 1000, 1000, 500]
    assert _plan(_events(3500, newest_age=timedelta(seconds=5)), max_batches=2) == [1000, 1000]


def test_no_events_no_batches() -> None:
    assert _plan([]) == []
