"""Fetching Benchling objects by id, each kind with the cheapest call its description names, and
telling a batch's wanted ids apart by kind."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from benchling_sdk.benchling import Benchling
from benchling_sdk.errors import BenchlingError

from benchsync_core.kinds import (
    KINDS,
    MAX_ID_LENGTH,
    SHORT_ID,
    IdForm,
    Kind,
    kind_of_event,
    kinds_of_id,
)
from benchsync_dagster.benchling.listing import BULK_GET_LIMIT
from benchsync_dagster.typed.catalog import SchemaDefinition, SchemaField


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


# Schemas' ids are short ids (``ts_…``), whatever the kind of the objects of the schema.
_SCHEMA_IDS = IdForm(SHORT_ID)


def _quoted(text: str) -> str:
    """``text`` quoted for a reason, cut short when long (an event may carry a mebibyte)."""
    if len(text) <= MAX_ID_LENGTH:
        return repr(text)
    return f"{text[:MAX_ID_LENGTH]!r}… ({len(text)} characters)"


def _refused(result: FetchResult, entity_id: str, error: BenchlingError) -> None:
    said = f": {error.message}" if error.message else ""
    result.unavailable[entity_id] = f"Benchling answered {error.status_code} for {entity_id}{said}"


def _fetch_one(service: Any, entity_id: str, result: FetchResult) -> None:
    try:
        result.documents.append(service.get_by_id(entity_id).to_dict())
    except BenchlingError as error:
        if not refuses_the_entity(error):
            raise
        _refused(result, entity_id, error)


def _invalid_ids(error: BenchlingError) -> list[str]:
    """The ids a list-by-ids call was refused for, as its 400 names them (``invalidIds``
    beside the error, as Benchling's ``ListingError`` has it)."""
    body = error.json if isinstance(error.json, dict) else {}
    named = body.get("invalidIds")
    return [str(i) for i in named] if isinstance(named, list) else []


def _many(benchling: Benchling, kind: Kind, chunk: list[str], result: FetchResult) -> list[Any]:
    """One call for up to 100 ids of ``kind``: its bulk get, or a list by ids. A list refused
    for ids it names is made again without them (each of them set apart with Benchling's
    answer); any other refusal of what was asked for returns nothing, for the ids to be
    fetched one by one."""
    try:
        if kind.bulk_get_service is not None:
            return getattr(benchling, kind.bulk_get_service).bulk_get(chunk) or []
        service = getattr(benchling, kind.service)
        asked = list(chunk)
        while asked:
            try:
                return [
                    entity
                    for page in service.list(ids=asked, page_size=BULK_GET_LIMIT)
                    for entity in page
                ]
            except BenchlingError as error:
                invalid = [i for i in _invalid_ids(error) if i in asked]
                if error.status_code != HTTPStatus.BAD_REQUEST or not invalid:
                    raise
                for entity_id in invalid:
                    _refused(result, entity_id, error)
                asked = [i for i in asked if i not in invalid]
        return []
    except BenchlingError as error:
        if not refuses_the_entity(error):
            raise
        return []


def document_bytes(document: Any) -> int:
    """About the size of a document as JSON: its text counted, its structure roughly."""
    if isinstance(document, str):
        return len(document) + 2
    if isinstance(document, dict):
        return sum(len(str(k)) + 4 + document_bytes(v) for k, v in document.items()) + 2
    if isinstance(document, list):
        return sum(document_bytes(item) + 1 for item in document) + 2
    return 8


def fetched_in_chunks(
    benchling: Benchling, entity_type: str, entity_ids: Sequence[str], max_call_bytes: int
) -> Iterator[FetchResult]:
    """Fetch entities of one type by id, a call's documents at a time: ≤ 100 ids per call (its
    kind's first call size on the first), and as many as ``max_call_bytes`` holds at the size
    of the largest document seen so far (at least one), so that memory is bounded by bytes
    whatever the documents.

    Benchling does not say whether a bulk get of an id that no longer exists fails the whole
    call or leaves the id out, so both are handled: a chunk refused for what it asked for is
    fetched id by id, so that only the entities Benchling refuses end unavailable, each with its
    own answer; an id left out is fetched alone to learn why. Any other failure is raised.
    """
    kind = KINDS[entity_type]
    remaining = list(dict.fromkeys(entity_ids))
    size = kind.first_call_size or BULK_GET_LIMIT
    largest = 0
    while remaining:
        chunk, remaining = remaining[:size], remaining[size:]
        result = FetchResult(documents=[], unavailable={})
        result.documents = [entity.to_dict() for entity in _many(benchling, kind, chunk, result)]
        returned = {document.get("id") for document in result.documents}
        for entity_id in chunk:
            if entity_id not in returned and entity_id not in result.unavailable:
                _fetch_one(getattr(benchling, kind.service), entity_id, result)
        largest = max([largest, *(document_bytes(d) for d in result.documents)])
        if largest:
            size = max(1, min(BULK_GET_LIMIT, max_call_bytes // largest))
        yield result


@dataclass(frozen=True)
class Wanted:
    """An entity a batch asks for, with what its event says of its type."""

    entity_id: str
    message_type: str | None = None
    schema_id: str | None = None


@dataclass
class SortedByType:
    """The entities a batch wants, each with its entity type or why it has none."""

    types: dict[Wanted, str]
    unknown: dict[Wanted, str]

    @property
    def by_type(self) -> dict[str, list[str]]:
        """The ids to fetch, per entity type (an id twice when events disagree on its type)."""
        grouped: dict[str, list[str]] = {}
        for entity, entity_type in self.types.items():
            ids = grouped.setdefault(entity_type, [])
            if entity.entity_id not in ids:
                ids.append(entity.entity_id)
        return grouped


def sort_by_type(
    describe: Callable[[str], SchemaDefinition | None],
    wanted: Sequence[Wanted],
    known_schema_types: dict[str, str],
) -> SortedByType:
    """Each wanted entity's type, or why it has none: the id's form names it where only one
    kind has ids like it; else (a ``seq_``, four kinds') the kind its event names, if the id
    fits it; else the event's schema's, whose type ``known_schema_types`` holds or Benchling is
    asked once per schema (and it is added there). What is no id of any kind is never asked
    about. Each ``Wanted`` is sorted on its own, so an event wrong about an entity's type costs
    that event alone."""
    result = SortedByType(types={}, unknown={})
    for entity in wanted:
        fitting = {kind.name for kind in kinds_of_id(entity.entity_id)}
        if not fitting:
            result.unknown[entity] = (
                f"{_quoted(entity.entity_id)} is no id of a kind benchsync mirrors"
            )
            continue
        # The id first: an event naming another type for a bfi_ id is wrong about it.
        announced = kind_of_event(entity.message_type or "")
        found: str | None
        if len(fitting) == 1:
            (found,) = fitting
        elif announced and announced.name in fitting:
            found = announced.name
        else:
            found = _type_of_schema(describe, entity.schema_id, known_schema_types)
        if found is None or found not in fitting:
            result.unknown[entity] = f"cannot tell the entity type of {entity.entity_id}" + (
                f" (schema type {found!r})" if found else ""
            )
            continue
        result.types[entity] = found
    return result


def _type_of_schema(
    describe: Callable[[str], SchemaDefinition | None],
    schema_id: str | None,
    known_schema_types: dict[str, str],
) -> str | None:
    """The entity type of the schema, as ``known_schema_types`` holds it or else Benchling says
    (then added there); None for no schema, or what is no schema id."""
    if not schema_id or not _SCHEMA_IDS.fits(schema_id):
        return None
    found = known_schema_types.get(schema_id)
    if found is None:
        definition = describe(schema_id)
        found = definition.entity_type if definition else None
        if found:
            known_schema_types[schema_id] = found
    return found


def describe_schema(benchling: Benchling, schema_id: str) -> SchemaDefinition | None:
    """The schema's definition (its fields with their definition ids), or None when Benchling
    has no such schema (or ``schema_id`` is no id)."""
    if not _SCHEMA_IDS.fits(schema_id):
        return None
    try:
        schema = benchling.schemas.get_entity_schema_by_id(schema_id)
    except BenchlingError as error:
        if error.status_code == HTTPStatus.NOT_FOUND:
            return None
        raise
    # The raw JSON: the SDK reads some field definitions as an UnknownType.
    document = schema.to_dict()
    return SchemaDefinition(
        schema_id=document["id"],
        name=document["name"],
        entity_type=str(document["type"]),
        fields=tuple(
            SchemaField(
                id=field["id"],
                name=field["name"],
                type=str(field["type"]),
                is_multi=bool(field.get("isMulti")),
            )
            for field in document.get("fieldDefinitions") or []
            if not field.get("archiveRecord")
        ),
    )
