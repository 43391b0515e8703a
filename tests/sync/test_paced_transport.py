"""PacedTransport at unit level: a fake clock, and httpx's MockTransport as Benchling's edge."""

from __future__ import annotations

import httpx
import pytest

from benchsync_dagster.benchling.pacing import THROTTLE_JITTER, LocalBudget, PacedTransport


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def _client(transport: PacedTransport) -> httpx.Client:
    return httpx.Client(transport=transport, base_url="https://tenant.example")


def _paced(
    answers: list[httpx.Response], rate_limit: int = 60, max_throttled_retries: int = 8
) -> tuple[PacedTransport, FakeClock]:
    clock = FakeClock()
    replies = iter(answers)
    inner = httpx.MockTransport(lambda request: next(replies))
    transport = PacedTransport(
        LocalBudget(rate_limit, clock=clock),
        inner,
        max_throttled_retries=max_throttled_retries,
        clock=clock,
        sleep=clock.sleep,
    )
    return transport, clock


def test_stays_within_the_rate_limit_of_its_own_accord() -> None:
    transport, clock = _paced([httpx.Response(200) for _ in range(5)], rate_limit=2)

    for _ in range(5):
        _client(transport).get("/api/v2/custom-entities")

    # Two requests per 30 s window: the third and fifth wait for the window to move on.
    assert clock.slept == [30.0, 30.0]
    assert transport.stats.requests == 5


def test_waits_out_a_429_for_as_long_as_the_reset_header_says() -> None:
    throttled = httpx.Response(429, headers={"x-rate-limit-reset": "7"})
    transport, clock = _paced([throttled, httpx.Response(200)])

    response = _client(transport).get("/api/v2/custom-entities")

    assert response.status_code == 200
    (slept,) = clock.slept
    assert 7.0 <= slept <= 7.0 * (1 + THROTTLE_JITTER)  # jittered, never sooner than told
    assert transport.stats.throttled == 1


def test_pauses_when_the_tenant_reports_its_budget_spent() -> None:
    spent = httpx.Response(200, headers={"x-rate-limit-remaining": "0", "x-rate-limit-reset": "4"})
    transport, clock = _paced([spent, httpx.Response(200)])

    _client(transport).get("/a")
    _client(transport).get("/b")

    assert clock.slept == [4.0]
    assert transport.stats.last_rate_limit_headers["x-rate-limit-remaining"] == "0"


def test_gives_up_after_its_retries_and_returns_the_429() -> None:
    throttled = [httpx.Response(429, headers={"x-rate-limit-reset": "1"}) for _ in range(3)]
    transport, clock = _paced(throttled, max_throttled_retries=2)

    assert _client(transport).get("/a").status_code == 429
    assert len(clock.slept) == 2


def test_callers_waiting_together_are_spread_over_the_windows() -> None:
    # Five callers at once, two per 30 s: from the oldest slot alone, all three queued callers
    # would be told 30 s and go together, one window holding four requests.
    clock = FakeClock()
    budget = LocalBudget(2, window_seconds=30.0, clock=clock)

    waits = [budget.reserve() for _ in range(5)]

    assert waits == [0.0, 0.0, 30.0, 30.0, 60.0]


class RecordedHealth:
    def __init__(self) -> None:
        self.reports: list[str] = []

    def unavailable(self, error: str) -> None:
        self.reports.append(f"unavailable: {error}")

    def answered(self) -> None:
        self.reports.append("answered")


def test_tells_its_health_whether_benchling_answered() -> None:
    answers = iter([httpx.Response(503), httpx.Response(404), httpx.Response(500)])

    def benchling(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/down":
            raise httpx.ConnectError("connection refused")
        return next(answers)

    health = RecordedHealth()
    transport = PacedTransport(LocalBudget(60), httpx.MockTransport(benchling), health=health)
    client = _client(transport)

    client.get("/api/v2/custom-entities")
    client.get("/api/v2/custom-entities/bfi_x")
    client.get("/api/v2/custom-entities/bfi_y")
    with pytest.raises(httpx.ConnectError):
        client.get("/down")

    # A refusal (404) or a server error about one request (500) is an answer; a gateway error
    # or no connection is not.
    assert health.reports == [
        "unavailable: HTTP 503 from /api/v2/custom-entities",
        "answered",
        "answered",
        "unavailable: ConnectError: connection refused",
    ]
