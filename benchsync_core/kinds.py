"""The kinds of Benchling objects benchsync mirrors, one description each.

A ``Kind`` says what differs between kinds: the benchling-sdk service that reaches it and the
call that fetches many by id, what its ids look like, which filters its list call takes and the
key it sorts by change time, which webhook events announce a change of one, and how many ids a
run's first call asks for. Fetching, listing, telling a batch's ids apart by kind and typing
snapshot rows read these descriptions; adding a kind (assay results, notebook entries) is a new
description here and its service in the emulator. What every kind's document shares is not
described: its ``id``, its schema as ``{"schema": {"id": …}}`` (a ``SchemaSummary`` or an
``EntrySchema`` in benchling-api-client), its ``archiveRecord``, and (all but assay runs)
``modifiedAt``.

It imports only the standard library, so the bridge (which events it records pending:
``webhook_sensor_bridge.inbox.event_types``) and the code location read the same descriptions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

ENTITY_REGISTERED = "v2.entity.registered"  # sent for all eight entity types

# The longest id accepted: nothing longer names a Benchling object (an event may carry a
# mebibyte where an id should be).
MAX_ID_LENGTH = 100

# Benchling's short ids: a lower-case prefix, an underscore, then letters and digits
# (``bfi_Ks908uWV``; ``-`` and ``_`` are let through, as they mean nothing in a URL). Nothing
# else is put into a request's path: it could name another object there
# (``bfi_1/../../dna-sequences/seq_2``, ``bfi_1#``) or make a URL no client sends.
SHORT_ID = re.compile(r"[a-z]+_[A-Za-z0-9_-]+")
# Assay results' and runs' ids: lower-case UUIDs.
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class IdForm:
    """What the ids of one kind look like."""

    pattern: re.Pattern[str]
    prefix: str | None = None  # what every id of the kind starts with; None: the pattern says all

    def fits(self, text: str) -> bool:
        return (
            len(text) <= MAX_ID_LENGTH
            and self.pattern.fullmatch(text) is not None
            and (self.prefix is None or text.startswith(self.prefix))
        )


def prefixed(prefix: str) -> IdForm:
    """Short ids starting with ``prefix`` (``bfi_``)."""
    return IdForm(SHORT_ID, prefix)


UUID_IDS = IdForm(UUID)


class ListFilter(Enum):
    """A filter of a list call, by the name Benchling's API gives its query parameter."""

    MODIFIED_AT = "modifiedAt"
    SCHEMA_ID = "schemaId"
    ARCHIVE_REASON = "archiveReason"


def registry_events(v3_name: str | None) -> frozenset[str]:
    """The events announcing a registry entity: its registration (sent for every type, so it
    names none), and its v3 created and updated events where Benchling sends them (``v3_name``
    as the events spell the type)."""
    changes = (f"v3.{v3_name}.created", f"v3.{v3_name}.updated") if v3_name else ()
    return frozenset({ENTITY_REGISTERED, *changes})


@dataclass(frozen=True)
class Kind:
    """One kind of Benchling object as benchsync fetches, lists and stores it."""

    name: str  # the schema's ``type`` (EntitySchema.type), stored with each snapshot
    service: str  # the attribute of ``Benchling`` whose ``get_by_id`` and ``list`` reach it
    bulk_get_service: str | None  # whose ``bulk_get`` fetches many by id; None: ``list(ids=…)``
    ids: IdForm
    events: frozenset[str]  # the webhook message types announcing a change of one
    list_filters: frozenset[ListFilter]  # the filters its ``list`` call takes
    modified_at_key: str = "modifiedAt"  # what its list call sorts by, oldest change first
    # How many ids a run's first call asks for; None: as many as a call takes. Fewer where a
    # document may be huge, to learn their size before asking for more.
    first_call_size: int | None = None


def registry_kind(
    name: str,
    service: str,
    bulk_get_service: str | None,
    prefix: str,
    v3_name: str | None,
    first_call_size: int | None = None,
) -> Kind:
    """A registry entity type: short ids, its registration and v3 events, every list filter."""
    return Kind(
        name=name,
        service=service,
        bulk_get_service=bulk_get_service,
        ids=prefixed(prefix),
        events=registry_events(v3_name),
        list_filters=frozenset(ListFilter),
        first_call_size=first_call_size,
    )


# Sequences' documents grow with their bases (a DNA sequence may hold megabases).
SEQUENCE_FIRST_CALL = 10

# The registry's eight entity types: name, service, bulk get, id prefix, v3 event name, first
# call size.
KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        registry_kind(
            "custom_entity", "custom_entities", "custom_entities", "bfi_", "customEntity"
        ),
        registry_kind(
            "dna_sequence",
            "dna_sequences",
            "dna_sequences",
            "seq_",
            "dnaSequence",
            SEQUENCE_FIRST_CALL,
        ),
        registry_kind(
            "rna_sequence",
            "rna_sequences",
            "rna_sequences",
            "seq_",
            "rnaSequence",
            SEQUENCE_FIRST_CALL,
        ),
        registry_kind(
            "aa_sequence", "aa_sequences", "aa_sequences", "prtn_", None, SEQUENCE_FIRST_CALL
        ),
        # DNA and RNA oligos have no bulk get of their own; the legacy oligos one serves both.
        registry_kind("dna_oligo", "dna_oligos", "oligos", "seq_", "dnaOligo"),
        registry_kind("rna_oligo", "rna_oligos", "oligos", "seq_", "rnaOligo"),
        registry_kind("mixture", "mixtures", None, "mxt_", None),
        registry_kind("molecule", "molecules", None, "mol_", None),
    )
}

# Every event that announces a change of some kind: what the sync fetches objects for.
ANNOUNCING_EVENTS = frozenset(event for kind in KINDS.values() for event in kind.events)


def _the_one(kinds: Iterable[Kind]) -> Kind | None:
    found = list(kinds)
    return found[0] if len(found) == 1 else None


def kinds_of_id(text: str) -> list[Kind]:
    """The kinds whose ids look like ``text`` (several for ``seq_``, none for what is no id)."""
    return [kind for kind in KINDS.values() if kind.ids.fits(text)]


def kind_of_id(text: str) -> Kind | None:
    """The kind ``text`` is an id of, when only one kind has ids like it."""
    return _the_one(kinds_of_id(text))


def kind_of_event(message_type: str) -> Kind | None:
    """The kind an event names, when only one kind is announced by it
    (``v3.dnaSequence.updated``; ``v2.entity.registered`` names none)."""
    return _the_one(kind for kind in KINDS.values() if message_type in kind.events)
