"""Fetching entities from Benchling by id, and the list endpoints' time filter."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from benchling_sdk.benchling import Benchling
from benchling_sdk.errors import BenchlingError

BULK_GET_LIMIT = 100  # Benchling's page size and bulk-get maximum


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
    # entity id → why Benchling refused it (404 gone, 403 no access, 400 …): dead letters
    unavailable: dict[str, str]


# 4xx answers that say "not now" rather than "not this": retrying may mend them.
_TRANSIENT_CLIENT_ERRORS = frozenset(
    {
        HTTPStatus.UNAUTHORIZED,  # a sign-in problem, the token's
        HTTPStatus.REQUEST_TIMEOUT,
        HTTPStatus.CONFLICT,  # the entity is being changed
        HTTPStatus.LOCKED,
        HTTPStatus.TOO_EARLY,
        HTTPStatus.TOO_MANY_REQUESTS,
    }
)


def refuses_the_entity(error: BenchlingError) -> bool:
    """A 4xx about what was asked for; not a transient one (a sign-in, rate, timeout or
    conflict problem), nor a 5xx, which retrying may mend."""
    status = error.status_code
    return 400 <= status < 500 and status not in _TRANSIENT_CLIENT_ERRORS


def _fetch_one(benchling: Benchling, entity_id: str, result: FetchResult) -> None:
    try:
        result.documents.append(benchling.custom_entities.get_by_id(entity_id).to_dict())
    except BenchlingError as error:
        if not refuses_the_entity(error):
            raise
        said = f": {error.message}" if error.message else ""
        result.unavailable[entity_id] = (
            f"Benchling answered {error.status_code} for {entity_id}{said}"
        )


def fetch_custom_entities(benchling: Benchling, entity_ids: Sequence[str]) -> FetchResult:
    """Fetch entities by id, ≤ 100 per call.

    Benchling does not say whether ``bulk_get`` on an id that no longer exists fails the whole
    call or leaves the id out, so both are handled: a chunk refused for what it asked for is
    fetched id by id, so that only the entities Benchling refuses end unavailable, each with its
    own answer; an id left out is fetched alone to learn why. Any other failure is raised.
    """
    result = FetchResult(documents=[], unavailable={})
    for chunk in chunks(list(dict.fromkeys(entity_ids))):
        try:
            fetched = benchling.custom_entities.bulk_get(chunk) or []
        except BenchlingError as error:
            if not refuses_the_entity(error):
                raise
            fetched = []
        documents = [entity.to_dict() for entity in fetched]
        result.documents.extend(documents)
        returned = {document.get("id") for document in documents}
        for entity_id in chunk:
            if entity_id not in returned:
                _fetch_one(benchling, entity_id, result)
    return result
