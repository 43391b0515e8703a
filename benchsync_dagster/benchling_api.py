"""benchling-sdk, configured from the environment, paced to the tenant's rate limit.

Pacing lives here, in the code location, because users deploy it into Dagster instances whose
settings we do not control. Every HTTP call (token requests included) passes through
``PacedTransport``, which keeps this process under the configured rate and waits out a 429 for
as long as ``x-rate-limit-reset`` says.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

import httpx
from benchling_sdk.apps.config.errors import MissingRequiredConfigItemError
from benchling_sdk.apps.framework import App
from benchling_sdk.auth.client_credentials_oauth2 import ClientCredentialsOAuth2
from benchling_sdk.benchling import Benchling
from benchling_sdk.errors import BenchlingError
from benchling_sdk.helpers.retry_helpers import RetryStrategy

from benchsync_dagster.settings import BenchlingSettings, ConfigurationError

BULK_GET_LIMIT = 100  # Benchling's page size and bulk-get maximum
RATE_WINDOW_SECONDS = 30.0  # Benchling counts requests per tenant in 30 s windows


def _seconds(header_value: str | None) -> float | None:
    try:
        return float(header_value) if header_value is not None else None
    except ValueError:
        return None


@dataclass
class CallStats:
    """What this process has spent against the tenant's limit."""

    requests: int = 0
    throttled: int = 0  # answers of 429
    waited_seconds: float = 0.0
    last_rate_limit_headers: dict[str, str] = field(default_factory=dict)


class PacedTransport(httpx.BaseTransport):
    """Keeps this process within ``rate_limit`` requests per 30 s and waits out 429s.

    Other processes spend the same tenant budget, so it also pauses when Benchling reports
    ``x-rate-limit-remaining: 0``, until ``x-rate-limit-reset`` has passed.
    """

    def __init__(
        self,
        rate_limit: int,
        inner: httpx.BaseTransport | None = None,
        least_throttle_wait: float = 1.0,
        max_throttled_retries: int = 8,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._inner = inner or httpx.HTTPTransport()
        self._rate_limit = rate_limit
        self._least_throttle_wait = least_throttle_wait
        self._max_throttled_retries = max_throttled_retries
        self._clock, self._sleep = clock, sleep
        self._sent_at: collections.deque[float] = collections.deque()
        self._tenant_exhausted_until = 0.0
        self._lock = threading.Lock()
        self.stats = CallStats()

    def _wait_for_slot(self) -> None:
        with self._lock:
            now = self._clock()
            while self._sent_at and now - self._sent_at[0] >= RATE_WINDOW_SECONDS:
                self._sent_at.popleft()
            wait = max(0.0, self._tenant_exhausted_until - now)
            if len(self._sent_at) >= self._rate_limit:
                wait = max(wait, RATE_WINDOW_SECONDS - (now - self._sent_at[0]))
            # Reserve the slot now so concurrent callers queue behind it.
            self._sent_at.append(now + wait)
            self.stats.requests += 1
            self.stats.waited_seconds += wait
        if wait > 0:
            self._sleep(wait)

    def _note_headers(self, response: httpx.Response) -> None:
        headers = {
            name: response.headers[name]
            for name in ("x-rate-limit-limit", "x-rate-limit-remaining", "x-rate-limit-reset")
            if name in response.headers
        }
        if not headers:
            return
        with self._lock:
            self.stats.last_rate_limit_headers = headers
            if headers.get("x-rate-limit-remaining") == "0":
                reset = _seconds(headers.get("x-rate-limit-reset"))
                self._tenant_exhausted_until = self._clock() + (reset or 1.0)

    def _throttle_wait(self, response: httpx.Response, attempt: int) -> float:
        reset = _seconds(response.headers.get("x-rate-limit-reset"))
        if reset is None:
            return float(min(self._least_throttle_wait * 2**attempt, RATE_WINDOW_SECONDS))
        return max(self._least_throttle_wait, reset)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        for attempt in range(self._max_throttled_retries + 1):
            self._wait_for_slot()
            response = self._inner.handle_request(request)
            self._note_headers(response)
            if (
                response.status_code != HTTPStatus.TOO_MANY_REQUESTS
                or attempt == self._max_throttled_retries
            ):
                return response
            response.read()
            response.close()
            wait = self._throttle_wait(response, attempt)
            with self._lock:
                self.stats.throttled += 1
                self.stats.waited_seconds += wait
            self._sleep(wait)
        raise AssertionError("unreachable")  # the loop always returns

    def close(self) -> None:
        self._inner.close()


def build_client(settings: BenchlingSettings, transport: PacedTransport) -> Benchling:
    """A Benchling client whose every call (the token's too) goes through ``transport``."""
    http = httpx.Client(transport=transport, timeout=30.0)
    auth = ClientCredentialsOAuth2(
        client_id=settings.client_id, client_secret=settings.client_secret, httpx_client=http
    )
    # 429s are waited out by the transport; the SDK retries only gateway errors.
    retries = RetryStrategy(
        max_tries=3,
        backoff_factor=settings.retry_backoff_seconds,
        status_codes_to_retry=(
            HTTPStatus.BAD_GATEWAY,
            HTTPStatus.SERVICE_UNAVAILABLE,
            HTTPStatus.GATEWAY_TIMEOUT,
        ),
    )
    return Benchling(
        settings.tenant_url, auth_method=auth, retry_strategy=retries, httpx_client=http
    )


def modified_after(moment: datetime) -> str:
    """The list endpoints' ``modifiedAt`` filter for "changed after ``moment``"."""
    utc = moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"> {utc}"


def chunks(ids: Sequence[str], size: int = BULK_GET_LIMIT) -> Iterator[list[str]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


@dataclass
class FetchResult:
    documents: list[dict[str, Any]]
    # entity id → why it could not be fetched (404 gone, 403 no access): dead letters
    unavailable: dict[str, str]


def _fetch_one(benchling: Benchling, entity_id: str, result: FetchResult) -> None:
    try:
        result.documents.append(benchling.custom_entities.get_by_id(entity_id).to_dict())
    except BenchlingError as error:
        if error.status_code not in (HTTPStatus.NOT_FOUND, HTTPStatus.FORBIDDEN):
            raise
        result.unavailable[entity_id] = f"Benchling answered {error.status_code} for {entity_id}"


def fetch_custom_entities(benchling: Benchling, entity_ids: Sequence[str]) -> FetchResult:
    """Fetch entities by id, ≤ 100 per call.

    Benchling does not say whether ``bulk_get`` on an id that no longer exists fails the whole
    call or leaves the id out, so both are handled: a failed chunk is fetched id by id, and an
    id left out is fetched alone to learn why.
    """
    result = FetchResult(documents=[], unavailable={})
    for chunk in chunks(list(dict.fromkeys(entity_ids))):
        try:
            fetched = benchling.custom_entities.bulk_get(chunk) or []
        except BenchlingError as error:
            if error.status_code not in (HTTPStatus.NOT_FOUND, HTTPStatus.FORBIDDEN):
                raise
            fetched = []
        documents = [entity.to_dict() for entity in fetched]
        result.documents.extend(documents)
        returned = {document["id"] for document in documents}
        for entity_id in chunk:
            if entity_id not in returned:
                _fetch_one(benchling, entity_id, result)
    return result


# The App configuration paths this code reads; manifest.yaml declares the same.
SYNCED_SCHEMA_PATH = ["Synced Schema"]
SYNCED_FIELD_PATH = ["Synced Schema", "Synced Field Data"]


@dataclass(frozen=True)
class SyncTarget:
    """Which schema feeds ``synced_benchling_data``, and which of its fields is the value."""

    schema_id: str
    field_name: str


def read_sync_target(benchling: Benchling, app_id: str) -> SyncTarget:
    """Read the App configuration ("Synced Schema" → "Synced Field Data") from the tenant."""
    store = App(app_id, benchling).config_store
    try:
        schema_id = store.config_by_path(SYNCED_SCHEMA_PATH).required().value_str()
        field = store.config_by_path(SYNCED_FIELD_PATH).required().linked_resource()
    except MissingRequiredConfigItemError as error:
        raise ConfigurationError(
            f"the App's configuration in Benchling is incomplete: {error}"
        ) from error
    return SyncTarget(schema_id=schema_id, field_name=field.name)


class SyncTargetCache:
    """The App configuration, read again after ``ttl_seconds`` or once ``invalidate()`` is called.

    Reading it costs API calls at every use, so the sensor keeps one copy per process and passes
    it to runs in their config.
    """

    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._target: SyncTarget | None = None
        self._read_at = 0.0

    def get(self, read: Callable[[], SyncTarget]) -> SyncTarget:
        with self._lock:
            if self._target is None or self._clock() - self._read_at >= self._ttl_seconds:
                self._target = read()
                self._read_at = self._clock()
            return self._target

    def invalidate(self) -> None:
        with self._lock:
            self._target = None
