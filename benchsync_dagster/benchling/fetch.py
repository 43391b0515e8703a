"""Fetching entities from Benchling by id, and listing them by modifiedAt."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any

from benchling_sdk.benchling import Benchling
from benchling_sdk.errors import BenchlingError

from benchsync_dagster.typed.catalog import SchemaDefinition, SchemaField
from webhook_sensor_bridge.inbox.event_types import entity_type_of_event

BULK_GET_LIMIT = 100  # Benchling's page size and bulk-get maximum


def modified_after(moment: datetime) -> str:
    """The list endpoints' ``modifiedAt`` filter for "changed after ``moment``"."""
    utc = moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return f"> {utc}"


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


@dataclass(frozen=True)
class RegistryType:
    """How benchling-sdk reaches one entity type: its service, and the cheapest call that
    fetches many by id (its own bulk get, the legacy oligos one, or a list by ids)."""

    name: str  # EntitySchema.type
    service: str  # the attribute of ``Benchling``
    bulk_get_service: str | None  # whose ``bulk_get`` fetches it; None: ``list(ids=…)``


REGISTRY_TYPES = {
    t.name: t
    for t in (
        RegistryType("custom_entity", "custom_entities", "custom_entities"),
        RegistryType("dna_sequence", "dna_sequences", "dna_sequences"),
        RegistryType("rna_sequence", "rna_sequences", "rna_sequences"),
        RegistryType("aa_sequence", "aa_sequences", "aa_sequences"),
        # DNA and RNA oligos have no bulk get of their own; the legacy oligos one serves both.
        RegistryType("dna_oligo", "dna_oligos", "oligos"),
        RegistryType("rna_oligo", "rna_oligos", "oligos"),
        RegistryType("mixture", "mixtures", None),
        RegistryType("molecule", "molecules", None),
    )
}
# Id prefixes that name one type (``seq_`` is shared by four: only the schema tells).
_TYPE_OF_PREFIX = {
    "bfi_": "custom_entity",
    "prtn_": "aa_sequence",
    "mxt_": "mixture",
    "mol_": "molecule",
}


def listed_since(
    benchling: Benchling, entity_type: str, since: datetime | None
) -> Iterator[list[dict[str, Any]]]:
    """The type's entities modified after ``since`` (all of them for None), archived included,
    oldest first, a page (≤ 100) of documents at a time, every schema."""
    pages = getattr(benchling, REGISTRY_TYPES[entity_type].service).list(
        modified_at=modified_after(since) if since else None,
        archive_reason="ANY_ARCHIVED_OR_NOT_ARCHIVED",
        sort="modifiedAt:asc",
        page_size=BULK_GET_LIMIT,
    )
    for page in pages:
        yield [entity.to_dict() for entity in page]


# A Benchling id is short: a lower-case prefix, an underscore, then letters and digits
# (``bfi_Ks908uWV``; ``-`` and ``_`` are let through, as they mean nothing in a URL). Nothing
# else names an entity or a schema: put into a request's path, it could name another one
# (``bfi_1/../../dna-sequences/seq_2``, ``bfi_1#``) or make a URL no client sends.
_BENCHLING_ID = re.compile(r"[a-z]+_[A-Za-z0-9_-]+")
MAX_ID_LENGTH = 100


def is_benchling_id(text: str) -> bool:
    return len(text) <= MAX_ID_LENGTH and _BENCHLING_ID.fullmatch(text) is not None


def _quoted(text: str) -> str:
    """``text`` quoted for a reason, cut short when long (an event may carry a mebibyte)."""
    if len(text) <= MAX_ID_LENGTH:
        return repr(text)
    return f"{text[:MAX_ID_LENGTH]!r}… ({len(text)} characters)"


def type_of_id(entity_id: str) -> str | None:
    """The entity type an id's prefix names, when only one type uses it."""
    prefix = entity_id[: entity_id.find("_") + 1]
    return _TYPE_OF_PREFIX.get(prefix)


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
    """The ids a list-by-ids call was refused for, as its 400 names them."""
    body = error.json if isinstance(error.json, dict) else {}
    detail = body.get("error")
    named = detail.get("invalidIds") if isinstance(detail, dict) else None
    return [str(i) for i in named] if isinstance(named, list) else []


def _many(
    benchling: Benchling, kind: RegistryType, chunk: list[str], result: FetchResult
) -> list[Any]:
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


# Of these types a document grows with its sequence (a DNA sequence may hold megabases): a
# run's first call for one asks for a few, to learn their size before asking for more.
_SEQUENCE_TYPES = frozenset({"dna_sequence", "rna_sequence", "aa_sequence"})
FIRST_SEQUENCE_CALL = 10


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
    """Fetch entities of one type by id, a call's documents at a time: ≤ 100 ids per call, and
    as many as ``max_call_bytes`` holds at the size of the largest document seen so far (at
    least one), so that memory is bounded by bytes whatever the documents.

    Benchling does not say whether a bulk get of an id that no longer exists fails the whole
    call or leaves the id out, so both are handled: a chunk refused for what it asked for is
    fetched id by id, so that only the entities Benchling refuses end unavailable, each with its
    own answer; an id left out is fetched alone to learn why. Any other failure is raised.
    """
    kind = REGISTRY_TYPES[entity_type]
    remaining = list(dict.fromkeys(entity_ids))
    size = FIRST_SEQUENCE_CALL if entity_type in _SEQUENCE_TYPES else BULK_GET_LIMIT
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
    """Each wanted entity's type, or why it has none: an id's prefix names the type where only
    one type has it, else a v3 event does; else (a registered ``seq_``) the event's schema does,
    whose type ``known_schema_types`` holds or Benchling is asked once per schema (and it is
    added there). What is not an id at all is never asked about. Each ``Wanted`` is sorted on
    its own, so an event wrong about an entity's type costs that event alone."""
    result = SortedByType(types={}, unknown={})
    for entity in wanted:
        if not is_benchling_id(entity.entity_id):
            result.unknown[entity] = f"{_quoted(entity.entity_id)} is not a Benchling entity id"
            continue
        # The prefix first: an event naming another type for a bfi_ id is wrong about it.
        found = type_of_id(entity.entity_id) or entity_type_of_event(entity.message_type or "")
        if found is None and entity.schema_id and is_benchling_id(entity.schema_id):
            found = known_schema_types.get(entity.schema_id)
            if found is None:
                definition = describe(entity.schema_id)
                found = definition.entity_type if definition else None
                if found:
                    known_schema_types[entity.schema_id] = found
        if found not in REGISTRY_TYPES:
            result.unknown[entity] = f"cannot tell the entity type of {entity.entity_id}" + (
                f" (schema type {found!r})" if found else ""
            )
            continue
        result.types[entity] = found
    return result


def describe_schema(benchling: Benchling, schema_id: str) -> SchemaDefinition | None:
    """The schema's definition (its fields with their definition ids), or None when Benchling
    has no such schema (or ``schema_id`` is no id)."""
    if not is_benchling_id(schema_id):
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
