"""The tenant rate limit and injected faults: the limiter alone, then the SDK riding them out."""

from __future__ import annotations

import random

import httpx

from benchling_emulator.limits import FaultInjector, SlidingWindowLimiter
from benchling_emulator.server import EmulatorServer
from benchling_emulator.stats import busiest_window
from tests.support.emulator import MakeEmulator, benchling_client


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_window_slides_and_refusals_do_not_count() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(3, window_seconds=30.0, clock=clock)
    decisions = []
    for moment in (0.0, 1.0, 2.0):
        clock.now = moment
        decisions.append(limiter.acquire())
    assert [d.admitted for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]
    assert decisions[0].reset_seconds == 30

    clock.now = 3.5
    refused = limiter.acquire()
    assert not refused.admitted
    assert (refused.remaining, refused.reset_seconds) == (0, 27)  # until the one at 0 s leaves
    assert refused.headers() == {
        "x-rate-limit-limit": "3",
        "x-rate-limit-remaining": "0",
        "x-rate-limit-reset": "27",
    }

    clock.now = 30.0  # the request at 0 s has left the window; the refusal never entered it
    assert limiter.acquire().admitted
    assert not limiter.acquire().admitted
    clock.now = 31.0
    assert limiter.peek().admitted  # peeking admits nothing...
    assert limiter.acquire().remaining == 0  # ...so this takes the slot the 1 s request left


def test_a_lower_limit_applies_at_once() -> None:
    clock = FakeClock()
    limiter = SlidingWindowLimiter(5, clock=clock)
    limiter.acquire()
    limiter.acquire()
    limiter.limit = 2
    refused = limiter.acquire()
    assert not refused.admitted
    assert refused.limit == 2


def _bearer(emulator: EmulatorServer) -> dict[str, str]:
    token = httpx.post(
        f"{emulator.base_url}/api/v2/token",
        data={"grant_type": "client_credentials"},
        auth=(emulator.settings.client_id, emulator.settings.client_secret),
    ).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_over_the_limit_the_answer_is_429_with_the_rate_headers(
    make_emulator: MakeEmulator,
) -> None:
    emulator = make_emulator(rate_limit=2)
    headers = _bearer(emulator)  # the token endpoint is not counted
    url = f"{emulator.base_url}/api/v2/registries"
    assert [httpx.get(url, headers=headers).status_code for _ in range(3)] == [200, 200, 429]
    refused = httpx.get(url, headers=headers)
    assert refused.status_code == 429
    assert refused.json()["error"]["message"] == "rate limit exceeded"
    assert refused.headers["x-rate-limit-remaining"] == "0"
    assert 1 <= int(refused.headers["x-rate-limit-reset"]) <= 30
    stats = httpx.get(f"{emulator.base_url}/_emulator/stats").json()
    assert stats["responses_429"] == 2
    assert stats["requests"] == {"GET /api/v2/registries": 2}


def test_the_request_log_tells_the_limits_refusals_from_injected_faults(
    make_emulator: MakeEmulator,
) -> None:
    emulator = make_emulator(rate_limit=2)
    headers = _bearer(emulator)  # neither logged nor counted
    url = f"{emulator.base_url}/api/v2/registries"
    faults = f"{emulator.base_url}/_emulator/faults"
    started = emulator.stats.request_log()
    httpx.post(faults, json={"fail_rate": 1.0, "fail_statuses": [429]}).raise_for_status()
    assert httpx.get(url, headers=headers).status_code == 429  # injected: takes no room
    httpx.post(faults, json={"fail_rate": 0.0}).raise_for_status()
    assert [httpx.get(url, headers=headers).status_code for _ in range(3)] == [200, 200, 429]

    logged = emulator.stats.request_log()
    assert started == []
    assert {entry.route for entry in logged} == {"GET /api/v2/registries"}
    assert [(entry.outcome, entry.status) for entry in logged] == [
        ("fault", 429),
        ("admitted", None),
        ("admitted", None),
        ("rate_limited", 429),
    ]
    assert emulator.stats.request_log(since=logged[1].at) == logged[1:]
    stats = httpx.get(f"{emulator.base_url}/_emulator/stats").json()
    assert (stats["responses_429"], stats["rate_limited"]) == (2, 1)
    assert stats["busiest_window_requests"] == 4


def test_the_busiest_window_counts_what_one_window_of_the_limit_had_to_hold() -> None:
    assert busiest_window([], 30.0) == 0
    assert busiest_window([0.0, 10.0, 29.9, 30.0, 59.0], 30.0) == 3  # 0 s leaves at 30 s
    assert busiest_window([40.0, 0.0, 45.0, 1.0, 50.0], 30.0) == 3  # in any order


def test_faults_come_at_exactly_their_rate_with_the_statuses_in_turn() -> None:
    faults = FaultInjector(0.2, random.Random())
    drawn = [faults.draw() for _ in range(30)]
    assert [status for status in drawn if status] == [429, 503] * 3
    assert all(sum(status is not None for status in drawn[i : i + 10]) == 2 for i in (0, 10, 20))

    faults.fail_rate = 0.25  # a fraction of a fault per ten carries over
    assert sum(faults.draw() is not None for _ in range(40)) == 10
    faults.fail_rate = 0.03
    assert sum(faults.draw() is not None for _ in range(1000)) == 30


def test_a_fail_rate_outside_0_to_1_is_refused(emulator: EmulatorServer) -> None:
    faults = f"{emulator.base_url}/_emulator/faults"
    for rate in (1.5, -0.1, "nan"):
        assert httpx.post(faults, json={"fail_rate": rate}).status_code == 400


def test_a_new_rate_drops_the_faults_dealt_under_the_old_one() -> None:
    faults = FaultInjector(1.0, random.Random())
    assert faults.draw() == 429
    faults.fail_rate = 0.0
    assert all(faults.draw() is None for _ in range(20))


def test_the_sdk_rides_out_a_429_burst(make_emulator: MakeEmulator) -> None:
    emulator = make_emulator(rate_limit=2, rate_window_seconds=0.3)
    ids = emulator.tenant.create_registered(3)
    benchling = benchling_client(emulator)  # retries after 0.05, 0.1, 0.2, 0.4 s
    fetched = [benchling.custom_entities.get_by_id(entity_id).id for entity_id in ids * 2]
    assert fetched == ids * 2
    assert emulator.stats.count("responses_429") > 0


def test_the_sdk_rides_out_injected_faults(make_emulator: MakeEmulator) -> None:
    emulator = make_emulator(fail_rate=0.3, seed=5)
    ids = emulator.tenant.create_registered(10)
    benchling = benchling_client(emulator)
    assert [benchling.custom_entities.get_by_id(entity_id).id for entity_id in ids] == ids
    faults = emulator.stats.count("responses_429") + emulator.stats.count("responses_503")
    assert faults > 0


def test_faults_change_while_running(emulator: EmulatorServer) -> None:
    headers = _bearer(emulator)
    url = f"{emulator.base_url}/api/v2/registries"
    assert httpx.get(url, headers=headers).status_code == 200
    changed = httpx.post(
        f"{emulator.base_url}/_emulator/faults",
        json={
            "rate_limit": 1,
            "fail_statuses": [503],
            "duplicate_rate": 0.5,
            "shuffle": True,
            "bulk_get_missing": "error",
        },
    ).json()
    assert changed == {
        "rate_limit": 1,
        "fail_rate": 0.0,
        "fail_statuses": [503],
        "entity_statuses": {},
        "list_statuses": {},
        "duplicate_rate": 0.5,
        "shuffle": True,
        "bulk_get_missing": "error",
    }
    assert httpx.get(url, headers=headers).status_code == 429

    httpx.post(f"{emulator.base_url}/_emulator/faults", json={"rate_limit": 100, "fail_rate": 1})
    assert httpx.get(url, headers=headers).status_code in (429, 503)
    bad = httpx.post(f"{emulator.base_url}/_emulator/faults", json={"bulk_get_missing": "maybe"})
    assert bad.status_code == 400


def test_an_entity_can_be_made_to_fail_every_call_that_names_it(emulator: EmulatorServer) -> None:
    bad, good = emulator.tenant.create_registered(2)
    faults = f"{emulator.base_url}/_emulator/faults"
    assert httpx.post(faults, json={"entity_statuses": {bad: 400}}).status_code == 200
    headers = _bearer(emulator)
    entities = f"{emulator.base_url}/api/v2/custom-entities"

    both = httpx.get(
        f"{entities}:bulk-get", params={"customEntityIds": f"{good},{bad}"}, headers=headers
    )
    alone = httpx.get(f"{entities}/{bad}", headers=headers)

    assert (both.status_code, alone.status_code) == (400, 400)
    assert alone.json()["error"]["invalidId"] == bad
    assert httpx.get(f"{entities}/{good}", headers=headers).status_code == 200
    refused = httpx.post(faults, json={"entity_statuses": {bad: 200}})
    assert refused.status_code == 400


def test_an_entity_type_can_be_made_to_fail_every_list_call(emulator: EmulatorServer) -> None:
    faults = f"{emulator.base_url}/_emulator/faults"
    headers = _bearer(emulator)
    api = f"{emulator.base_url}/api/v2"

    assert httpx.post(faults, json={"list_statuses": {"aa_sequence": 400}}).status_code == 200

    refused = httpx.get(f"{api}/aa-sequences", headers=headers)
    assert refused.status_code == 400 and "aa_sequence" in refused.text
    assert httpx.get(f"{api}/custom-entities", headers=headers).status_code == 200
    for body in ({"list_statuses": {"protein": 400}}, {"list_statuses": {"aa_sequence": 200}}):
        assert httpx.post(faults, json=body).status_code == 400
    httpx.post(faults, json={"list_statuses": {}})
    assert httpx.get(f"{api}/aa-sequences", headers=headers).status_code == 200
