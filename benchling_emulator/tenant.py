"""The tenant's state: the registry's entities of every type (``entity_types``), registration
tasks and app sessions, behind one lock.

Request threads and the control endpoints change it; every change moves the entity's
``modifiedAt`` forward on the tenant clock and, where Benchling would, emits an event. Events
are handed to the sink after the lock is released, so delivery never holds up the tenant.
"""

from __future__ import annotations

import contextlib
import random
import string
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from benchling_emulator.clock import TenantClock, isoformat
from benchling_emulator.entity_types import (
    CUSTOM_ENTITY,
    ENTITY_TYPES,
    Content,
    EntityType,
    entity_type,
)
from benchling_emulator.errors import ApiError, bad_request, not_found
from benchling_emulator.events import (
    APP_CONFIGURATION_UPDATED,
    ENTITY_REGISTERED,
    TenantEvent,
)
from benchling_emulator.listing import Page, SortKey, SortOrder, keyset_page
from benchling_emulator.schemas import EntitySchema, schema_from_request
from benchling_emulator.seed import (
    SYNCED_FIELD_PATH,
    ConfigItem,
    Registry,
    TenantSeed,
    sample_field_values,
)
from benchling_emulator.settings import BulkGetMissing

EventSink = Callable[[list[TenantEvent]], None]

MAX_BULK_GET_IDS = 100
_APP_USER = {"id": "ent_emulatorApp", "handle": "emulator-app", "name": "Emulator App"}
_ID_ALPHABET = string.ascii_letters + string.digits
# What an update may change, by request key; these keys are also the event's "properties".
_UPDATABLE = ("name", "fields", "customFields", "folderId", "aliases", "entityRegistryId")


@dataclass
class Entity:
    id: str
    name: str
    schema: EntitySchema
    folder_id: str | None
    fields: dict[str, Any]  # stored values by field display name
    custom_fields: dict[str, Any]
    aliases: list[str]
    created_at: datetime
    modified_at: datetime
    registry_id: str | None = None
    entity_registry_id: str | None = None
    registered_at: datetime | None = None
    archive_reason: str | None = None
    content: Content = field(default_factory=dict)  # what its type holds beside the fields

    @property
    def type(self) -> EntityType:
        return ENTITY_TYPES[self.schema.type]


@dataclass(frozen=True)
class EntityQuery:
    """The filters of a list (``GET /custom-entities`` …); None means "not filtered"."""

    types: frozenset[str] = frozenset({CUSTOM_ENTITY.name})
    schema_id: str | None = None
    registry_id: str | None = None
    ids: frozenset[str] | None = None
    modified_at: Callable[[datetime], bool] | None = None
    created_at: Callable[[datetime], bool] | None = None
    archive_reason: str = "NOT_ARCHIVED"  # or ANY_ARCHIVED, ANY_ARCHIVED_OR_NOT_ARCHIVED, a reason
    sort: SortOrder = field(default_factory=lambda: SortOrder("modifiedAt", descending=True))

    def matches(self, entity: Entity) -> bool:
        return (
            entity.schema.type in self.types
            and self.schema_id in (None, entity.schema.id)
            and self.registry_id in (None, entity.registry_id)
            and (self.ids is None or entity.id in self.ids)
            and (self.modified_at is None or self.modified_at(entity.modified_at))
            and (self.created_at is None or self.created_at(entity.created_at))
            and self._archive_matches(entity.archive_reason)
        )

    def _archive_matches(self, reason: str | None) -> bool:
        if self.archive_reason == "NOT_ARCHIVED":
            return reason is None
        if self.archive_reason == "ANY_ARCHIVED":
            return reason is not None
        if self.archive_reason == "ANY_ARCHIVED_OR_NOT_ARCHIVED":
            return True
        return reason == self.archive_reason

    def sort_key(self, entity: Entity) -> SortKey:
        if self.sort.property == "name":
            return entity.name, entity.id
        moment = entity.created_at if self.sort.property == "createdAt" else entity.modified_at
        return isoformat(moment), entity.id


class Tenant:
    def __init__(
        self,
        seed: TenantSeed,
        *,
        app_id: str,
        base_url: str,
        bulk_get_missing: BulkGetMissing,
        clock: TenantClock,
        rng: random.Random,
        events: EventSink,
    ) -> None:
        self.seed = seed
        self.app_id = app_id
        self.base_url = base_url
        self.bulk_get_missing = bulk_get_missing  # how :bulk-get answers unknown ids
        self._clock = clock
        self._rng = rng
        self._emit = events
        self._lock = threading.Lock()
        self._schemas = {schema.id: schema for schema in (seed.schema, *seed.other_schemas)}
        self._config_items = list(seed.config_items)
        self._entities: dict[str, Entity] = {}
        # Entities the App has lost access to (their project unshared): lists leave them out,
        # gets answer 404, as Benchling does for what the App cannot see.
        self._hidden: frozenset[str] = frozenset()
        self._tasks: dict[str, dict[str, Any]] = {}
        self._sessions: dict[str, dict[str, Any]] = {}
        self._registry_numbers = 0

    # --- custom entities: reads -------------------------------------------------------------

    def get_entity(self, entity_id: str, entity_type: EntityType = CUSTOM_ENTITY) -> dict[str, Any]:
        with self._lock:
            return self._render(self._entity(entity_id, entity_type))

    def bulk_get(
        self, entity_ids: list[str], types: tuple[EntityType, ...] = (CUSTOM_ENTITY,)
    ) -> list[dict[str, Any]]:
        """The entities of these ids and types (an id of another type counts as unknown)."""
        if not entity_ids:
            raise bad_request("ids are required")
        if len(entity_ids) > MAX_BULK_GET_IDS:
            raise bad_request(f"at most {MAX_BULK_GET_IDS} ids per bulk get")
        with self._lock:
            asked = list(dict.fromkeys(entity_ids))
            found = [self._of_type(entity_id, types) for entity_id in asked]
            unknown = [i for i, entity in zip(asked, found, strict=True) if entity is None]
            if unknown and self.bulk_get_missing == "error":
                raise not_found(types[0].kind, unknown[0])
            return [self._render(entity) for entity in found if entity is not None]

    def list_entities(
        self, query: EntityQuery, page_size: int, next_token: str | None
    ) -> Page[dict[str, Any]]:
        with self._lock:
            if query.ids is not None:
                # Benchling: "returns a 400 error that includes a list of which IDs are invalid".
                types = tuple(ENTITY_TYPES[name] for name in query.types)
                invalid = sorted(i for i in query.ids if self._of_type(i, types) is None)
                if invalid:
                    raise ApiError(400, f"invalid ids: {', '.join(invalid)}", invalid_ids=invalid)
            matching = [
                entity
                for entity in self._entities.values()
                if entity.id not in self._hidden and query.matches(entity)
            ]
            page = keyset_page(
                matching, query.sort_key, query.sort.descending, page_size, next_token
            )
            return Page(
                [self._render(entity) for entity in page.items], page.next_token, page.total
            )

    # --- custom entities: writes ------------------------------------------------------------

    def create_entity(
        self, request: dict[str, Any], entity_type: EntityType = CUSTOM_ENTITY
    ) -> dict[str, Any]:
        name = request.get("name")
        if not isinstance(name, str) or not name:
            raise bad_request("name is required")
        with self._lock:  # from the schema's lookup on, so that its definition cannot change
            schema = self._schemas.get(str(request.get("schemaId")))
            if schema is None or schema.type != entity_type.name:
                schema_id = request.get("schemaId")
                raise bad_request(f"unknown {entity_type.kind} schemaId: {schema_id!r}")
            content = entity_type.from_request(request)
            registry_id = request.get("registryId")
            naming_strategy = request.get("namingStrategy")
            entity_registry_id = request.get("entityRegistryId")
            if registry_id:
                self.registry(registry_id)  # 404 for an unknown registry
                if not (naming_strategy or entity_registry_id):
                    raise bad_request("registryId needs a namingStrategy or an entityRegistryId")
            fields = _accept_fields(schema, request.get("fields") or {})
            entity = self._insert(
                name,
                schema,
                fields,
                folder_id=request.get("folderId") or self.seed.folder_id,
                custom_fields=dict(request.get("customFields") or {}),
                aliases=list(request.get("aliases") or []),
                content=content,
            )
            created = entity_type.created_event()
            events = [self._event(created, entity)] if created else []
            if registry_id:
                registration = self._register(
                    entity, registry_id, naming_strategy or "NEW_IDS", entity_registry_id
                )
                events.append(registration)
            rendered = self._render(entity)
        self._emit(events)
        return rendered

    def update_entity(
        self, entity_id: str, request: dict[str, Any], entity_type: EntityType = CUSTOM_ENTITY
    ) -> dict[str, Any]:
        with self._lock:
            entity = self._entity(entity_id, entity_type)
            fields = _accept_fields(entity.schema, request.get("fields") or {})
            if "name" in request:
                entity.name = str(request["name"])
            entity.fields.update(fields)
            entity.custom_fields.update(request.get("customFields") or {})
            if "folderId" in request:
                entity.folder_id = request["folderId"]
            if "aliases" in request:
                entity.aliases = list(request["aliases"] or [])
            if "entityRegistryId" in request:
                entity.entity_registry_id = request["entityRegistryId"]
            written = {key: request[key] for key in entity.content if key in request}
            if written:
                entity.content = entity_type.from_request({**_request_of(entity), **written})
            entity.modified_at = self._clock.now()
            changed = tuple(key for key in (*_UPDATABLE, *written) if key in request)
            updated = entity_type.updated_event()
            # AA sequences, mixtures and molecules change without a word.
            events = [self._event(updated, entity, properties=changed)] if updated else []
            rendered = self._render(entity)
        self._emit(events)
        return rendered

    def set_archived(
        self, entity_ids: list[str], reason: str | None, entity_type: EntityType = CUSTOM_ENTITY
    ) -> list[str]:
        """Archive with ``reason``, or unarchive (None). Benchling sends no event for either."""
        with self._lock:
            entities = [self._entity(entity_id, entity_type) for entity_id in entity_ids]
            for entity in entities:
                entity.archive_reason = reason
                entity.modified_at = self._clock.now()
        return [entity.id for entity in entities]

    def register(self, registry_id: str, entity_ids: list[str], naming_strategy: str) -> str:
        """Register the entities now; answers the id of a task that has already succeeded."""
        with self._lock:
            self.registry(registry_id)  # 404 for an unknown registry
            entities = [self._entity(entity_id) for entity_id in entity_ids]
            events = [
                self._register(entity, registry_id, naming_strategy)
                for entity in entities
                if entity.registry_id is None
            ]
            task_id = self._new_id("task_")
            self._tasks[task_id] = {
                "status": "SUCCEEDED",
                "response": {},
                "errors": [],
                "message": "",
            }
        self._emit(events)
        return task_id

    def create_registered(self, count: int, types: Iterable[str] = ("custom_entity",)) -> list[str]:
        """``count`` new entities with varied fields, all registered: of the seeded schema of
        each of ``types`` in turn, linking entities of the synced schema."""
        schema_ids = [self.seed.schema_of_type(entity_type(name).name).id for name in types]
        return self._create_registered(count, schema_ids, links_to=self.seed.schema.id)

    def create_registered_of_schema(self, count: int, schema_id: str) -> list[str]:
        """``count`` new registered entities of ``schema_id`` (of any type), with values for
        every field that has a sampler; their links name recent entities of any schema."""
        return self._create_registered(count, [schema_id], links_to=None)

    def _create_registered(
        self, count: int, schema_ids: list[str], links_to: str | None
    ) -> list[str]:
        """Entities of the schemas in turn; links name entities of ``links_to`` (None: any)."""
        with self._lock:
            schemas = [self._schema(schema_id) for schema_id in schema_ids]
            start = len(self._entities)
            recent = list(self._entities.values())[-200:]
            link_targets = [e.id for e in recent if links_to in (None, e.schema.id)][-100:]
            events = []
            for number in range(start + 1, start + count + 1):
                schema = schemas[(number - start - 1) % len(schemas)]
                fields = sample_field_values(schema, self._rng, number, link_targets)
                entity = self._insert(
                    f"Sample {number}",
                    schema,
                    _accept_fields(schema, fields),
                    self.seed.folder_id,
                    content=ENTITY_TYPES[schema.type].sample(self._rng),
                )
                events.append(self._register(entity, self.seed.registry.id, "NEW_IDS"))
                if links_to in (None, schema.id):
                    link_targets = [*link_targets[-99:], entity.id]
        self._emit(events)
        return [event.resource_id for event in events]

    def hide(self, entity_ids: Iterable[str]) -> list[str]:
        """Take the App's access to exactly these entities (all others visible again); returns
        those hidden that exist. An emulator control: in Benchling, access follows projects."""
        with self._lock:
            self._hidden = frozenset(i for i in entity_ids if i in self._entities)
            return sorted(self._hidden)

    def delete(self, entity_ids: Iterable[str]) -> list[str]:
        """Make entities vanish (an emulator-only power: Benchling archives, never deletes)."""
        with self._lock:
            return [entity_id for entity_id in entity_ids if self._entities.pop(entity_id, None)]

    # --- the rest of the API ----------------------------------------------------------------

    def task(self, task_id: str) -> dict[str, Any]:
        with self._lock:
            task = self._tasks.get(task_id)
            if task is None:
                raise not_found("Task", task_id)
            return dict(task)

    def registry(self, registry_id: str) -> Registry:
        if registry_id != self.seed.registry.id:
            raise not_found("Registry", registry_id)
        return self.seed.registry

    def schema(self, schema_id: str) -> EntitySchema:
        with self._lock:
            return self._schema(schema_id)

    def schemas(self) -> list[EntitySchema]:
        with self._lock:
            return list(self._schemas.values())

    def define_schema(self, schema_id: str, request: dict[str, Any]) -> EntitySchema:
        """Create the schema, or replace its definition as an admin's edit does.

        The schema's entities follow the new definition, keeping each value by field id where
        it still fits (``_refit_fields``); their ``modifiedAt`` stays, as in Benchling, whose
        schema edits change no entity. App configuration items show the new names."""
        with self._lock:
            now = self._clock.now()
            schema = schema_from_request(schema_id, request, self.seed.registry.id, now)
            old = self._schemas.get(schema_id)
            self._check_fits_the_tenant(schema, old)
            self._schemas[schema_id] = schema
            if old is not None:
                for entity in self._entities.values():
                    if entity.schema.id == schema_id:
                        entity.schema = schema
                        entity.fields = _refit_fields(old, schema, entity.fields)
                self._config_items = [_renamed(item, schema) for item in self._config_items]
            return schema

    def config_items(self, app_id: str) -> list[ConfigItem]:
        if app_id != self.app_id:
            raise not_found("App", app_id)
        with self._lock:
            return list(self._config_items)

    def link_synced_field(self, field_name: str) -> None:
        """Point "Synced Field Data" at another field of the synced schema, as an admin does in
        the App's settings; Benchling then sends ``v2-beta.app.configuration.updated``."""
        with self._lock:
            schema = self._schema(self.seed.schema.id)  # as the tenant defines it now
            field = schema.field(field_name)
            if field is None:
                raise bad_request(f"schema {schema.id} has no field named {field_name!r}")
            self._config_items = [
                replace(
                    item, linked_id=field.id, linked_name=field.name, created_at=self._clock.now()
                )
                if item.path == SYNCED_FIELD_PATH
                else item
                for item in self._config_items
            ]
            event = TenantEvent(
                id=self._new_id("evt_"),
                type=APP_CONFIGURATION_UPDATED,
                created_at=self._clock.now(),
                resource_id=self.app_id,
                schema_id=schema.id,
            )
        self._emit([event])

    def create_session(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("appId") != self.app_id:
            raise bad_request(f"unknown appId: {request.get('appId')!r}")
        with self._lock:
            now = isoformat(self._clock.now())
            session: dict[str, Any] = {
                "id": self._new_id("sesn_"),
                "app": {"id": self.app_id},
                "name": str(request.get("name", "")),
                "status": "RUNNING",
                "timeoutSeconds": int(request.get("timeoutSeconds", 0)),
                "messages": list(request.get("messages") or []),
                "createdAt": now,
                "modifiedAt": now,
            }
            self._sessions[session["id"]] = session
            return dict(session)

    def session(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._session(session_id))

    def update_session(self, session_id: str, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            session = self._session(session_id)
            session["messages"] = [*session["messages"], *(request.get("messages") or [])]
            for key in ("status", "timeoutSeconds"):
                if request.get(key) is not None:
                    session[key] = request[key]
            session["modifiedAt"] = isoformat(self._clock.now())
            return dict(session)

    # --- helpers; callers hold the lock -----------------------------------------------------

    def _entity(self, entity_id: str, entity_type: EntityType = CUSTOM_ENTITY) -> Entity:
        entity = self._of_type(entity_id, (entity_type,))
        if entity is None:
            raise not_found(entity_type.kind, entity_id)
        return entity

    def _schema(self, schema_id: str) -> EntitySchema:
        schema = self._schemas.get(schema_id)
        if schema is None:
            raise not_found("Entity schema", schema_id)
        return schema

    def _check_fits_the_tenant(self, schema: EntitySchema, old: EntitySchema | None) -> None:
        """400 for what a definition cannot be beside the tenant's other schemas."""
        if old is not None and old.type != schema.type:
            raise bad_request(f"schema {schema.id} is a {old.type} schema; its type cannot change")
        owners = {
            field.id: other.id
            for other in self._schemas.values()
            if other.id != schema.id
            for field in other.fields
        }
        for definition in schema.fields:
            if definition.id in owners:
                raise bad_request(
                    f"field id {definition.id!r} is a field of schema {owners[definition.id]}"
                )
            linked = definition.link_schema_id
            if definition.type == "entity_link" and linked not in (None, schema.id, *self._schemas):
                raise bad_request(f"field {definition.id!r} links unknown schema {linked!r}")

    def _of_type(self, entity_id: str, types: tuple[EntityType, ...]) -> Entity | None:
        if entity_id in self._hidden:
            return None  # what the App cannot see is unknown to it
        entity = self._entities.get(entity_id)
        return entity if entity is not None and entity.type in types else None

    def _session(self, session_id: str) -> dict[str, Any]:
        session = self._sessions.get(session_id)
        if session is None:
            raise not_found("App session", session_id)
        return session

    def _new_id(self, prefix: str) -> str:
        return prefix + "".join(self._rng.choices(_ID_ALPHABET, k=10))

    def _insert(
        self,
        name: str,
        schema: EntitySchema,
        fields: dict[str, Any],
        folder_id: str | None,
        custom_fields: dict[str, Any] | None = None,
        aliases: list[str] | None = None,
        content: Content | None = None,
    ) -> Entity:
        prefix = ENTITY_TYPES[schema.type].id_prefix
        entity_id = self._new_id(prefix)
        while entity_id in self._entities:
            entity_id = self._new_id(prefix)
        now = self._clock.now()
        entity = Entity(
            id=entity_id,
            name=name,
            schema=schema,
            folder_id=folder_id,
            fields=fields,
            custom_fields=custom_fields or {},
            aliases=aliases or [],
            created_at=now,
            modified_at=now,
            content=content or {},
        )
        self._entities[entity_id] = entity
        return entity

    def _register(
        self,
        entity: Entity,
        registry_id: str,
        naming_strategy: str,
        entity_registry_id: str | None = None,
    ) -> TenantEvent:
        if naming_strategy == "IDS_FROM_NAMES":
            entity_registry_id = entity.name
        if entity_registry_id is None:
            self._registry_numbers += 1
            entity_registry_id = f"{entity.schema.prefix}{self._registry_numbers:06d}"
        if naming_strategy == "DELETE_NAMES":
            entity.name = entity_registry_id
        entity.registry_id = registry_id
        entity.entity_registry_id = entity_registry_id
        entity.registered_at = entity.modified_at = self._clock.now()
        return self._event(ENTITY_REGISTERED, entity)

    def _event(
        self, event_type: str, entity: Entity, properties: tuple[str, ...] | None = None
    ) -> TenantEvent:
        return TenantEvent(
            id=self._new_id("evt_"),
            type=event_type,
            created_at=entity.modified_at,
            resource_id=entity.id,
            schema_id=entity.schema.id,
            properties=properties,
        )

    def _render(self, entity: Entity) -> dict[str, Any]:
        """The entity as Benchling's API shows it (``CustomEntity``, ``DnaSequence`` …)."""

        def name_of(entity_id: str) -> str | None:
            linked = self._entities.get(entity_id)
            return linked.name if linked else None

        kind = entity.type
        web_url = f"{self.base_url}/benchling/{kind.path}/{entity.id}"
        archived = entity.archive_reason is not None
        registration = (
            {"originEntryId": None, "registeredAt": isoformat(entity.registered_at)}
            if entity.registered_at
            else None
        )
        return {
            "id": entity.id,
            "name": entity.name,
            "schema": entity.schema.summary(),
            "fields": {
                definition.name: definition.render(entity.fields.get(definition.name), name_of)
                for definition in entity.schema.fields
            },
            "customFields": {
                name: value if isinstance(value, dict) else {"value": value}
                for name, value in entity.custom_fields.items()
            },
            "registryId": entity.registry_id,
            "entityRegistryId": entity.entity_registry_id,
            "registrationOrigin": registration,
            "archiveRecord": {"reason": entity.archive_reason} if archived else None,
            "folderId": entity.folder_id,
            "aliases": list(entity.aliases),
            "authors": [_APP_USER],
            "creator": _APP_USER,
            "createdAt": isoformat(entity.created_at),
            "modifiedAt": isoformat(entity.modified_at),
            "webURL": web_url,
            **({"url": web_url} if kind.has_url else {}),
            "apiURL": f"{self.base_url}/api/v2/{kind.path}/{entity.id}",
            **entity.content,
        }


def _request_of(entity: Entity) -> dict[str, Any]:
    """The entity's type content as a create request would give it (to apply an update)."""
    content = dict(entity.content)
    if "canonicalizedSmiles" in content:
        content["chemicalStructure"] = {
            "structureFormat": "smiles",
            "value": content["originalSmiles"],
        }
    return content


def _refit_fields(old: EntitySchema, new: EntitySchema, stored: dict[str, Any]) -> dict[str, Any]:
    """Stored values re-keyed for ``new`` by field id: a renamed field keeps its value under its
    new name, a removed one loses it, and a changed one keeps it only if ``new`` accepts it."""
    definitions = {definition.id: definition for definition in new.fields}
    refitted: dict[str, Any] = {}
    for previous in old.fields:
        definition = definitions.get(previous.id)
        value = stored.get(previous.name)
        if definition is None or value is None:
            continue
        with contextlib.suppress(ValueError):
            refitted[definition.name] = definition.accept(value)
    return refitted


def _renamed(item: ConfigItem, schema: EntitySchema) -> ConfigItem:
    """The item, naming its linked schema or field as ``schema`` now names it."""
    names = {schema.id: schema.name, **{field.id: field.name for field in schema.fields}}
    name = names.get(item.linked_id)
    return item if name is None else replace(item, linked_name=name)


def _accept_fields(schema: EntitySchema, written: dict[str, Any]) -> dict[str, Any]:
    """Stored values from request fields ``{"Name": {"value": ...}}``; 400 when one does not fit."""
    accepted: dict[str, Any] = {}
    for name, wrapper in written.items():
        definition = schema.field(name)
        if definition is None:
            raise bad_request(f"schema {schema.name!r} has no field {name!r}")
        value = wrapper.get("value") if isinstance(wrapper, dict) else wrapper
        try:
            accepted[name] = definition.accept(value)
        except ValueError as error:
            raise bad_request(str(error)) from None
    return accepted
