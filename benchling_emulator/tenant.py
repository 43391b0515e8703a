"""The tenant's state: the registry's entities of every type (``entity_types``), their schemas
(``schema_catalog``), registration tasks and the App's configuration (``app_configuration``),
behind one lock; the App's sessions (``sessions``) keep their own.

Request threads and the control endpoints change it; every change moves the entity's
``modifiedAt`` forward on the tenant clock and, where Benchling would, emits an event. Events
are handed to the sink after the lock is released, so delivery never holds up the tenant.
"""

from __future__ import annotations

import random
import string
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from benchling_emulator.app_configuration import AppConfiguration
from benchling_emulator.clock import TenantClock
from benchling_emulator.entities import (
    Entity,
    EntityQuery,
    accept_fields,
    refit_fields,
    request_of,
)
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
    APP_SIGNALS,
    ENTITY_REGISTERED,
    AppSignal,
    Event,
    TenantEvent,
)
from benchling_emulator.listing import Page, keyset_page
from benchling_emulator.rendering import render_entity
from benchling_emulator.schema_catalog import SchemaCatalog
from benchling_emulator.schemas import EntitySchema, schema_from_request
from benchling_emulator.seed import ConfigItem, Registry, TenantSeed, sample_field_values
from benchling_emulator.sessions import AppSessions
from benchling_emulator.settings import BulkGetMissing

EventSink = Callable[[Sequence[Event]], None]

MAX_BULK_GET_IDS = 100
_ALL_TYPES = tuple(ENTITY_TYPES.values())
_ID_ALPHABET = string.ascii_letters + string.digits
# What an update may change, by request key; these keys are also the event's "properties".
_UPDATABLE = ("name", "fields", "customFields", "folderId", "aliases", "entityRegistryId")


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
        self._lock = threading.Lock()  # guards every attribute below
        self._schemas = SchemaCatalog((seed.schema, *seed.other_schemas))
        self._configuration = AppConfiguration(app_id, seed.config_items, clock)
        self._entities: dict[str, Entity] = {}
        # Entities the App has lost access to (their project unshared): lists leave them out,
        # gets answer 404, as Benchling does for what the App cannot see.
        self._hidden: frozenset[str] = frozenset()
        self._tasks: dict[str, dict[str, Any]] = {}
        self._registry_numbers = 0
        self.sessions = AppSessions(app_id, clock, self._new_id_locked)  # a lock of their own

    # --- entities: reads --------------------------------------------------------------------

    def get_entity(self, entity_id: str, entity_type: EntityType = CUSTOM_ENTITY) -> dict[str, Any]:
        with self._lock:
            return self._render(self._entity(entity_id, (entity_type,)))

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
                # Benchling: "returns a 400 error that includes a list of which IDs are invalid"
                # (the document's ``ListingError``: ``invalidIds`` beside the error).
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

    # --- entities: writes -------------------------------------------------------------------

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
            fields = accept_fields(schema, request.get("fields") or {})
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
            events: list[Event] = [self._event(created, entity)] if created else []
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
            entity = self._entity(entity_id, (entity_type,))
            fields = accept_fields(entity.schema, request.get("fields") or {})
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
                entity.content = entity_type.from_request({**request_of(entity), **written})
            entity.modified_at = self._clock.now()
            changed = tuple(key for key in (*_UPDATABLE, *written) if key in request)
            updated = entity_type.updated_event()
            # AA sequences, mixtures and molecules change without a word.
            events: list[Event] = (
                [self._event(updated, entity, properties=changed)] if updated else []
            )
            rendered = self._render(entity)
        self._emit(events)
        return rendered

    def set_archived(
        self, entity_ids: list[str], reason: str | None, entity_type: EntityType = CUSTOM_ENTITY
    ) -> list[str]:
        """Archive with ``reason``, or unarchive (None). Benchling sends no event for either."""
        with self._lock:
            entities = [self._entity(entity_id, (entity_type,)) for entity_id in entity_ids]
            for entity in entities:
                entity.archive_reason = reason
                entity.modified_at = self._clock.now()
        return [entity.id for entity in entities]

    def register(self, registry_id: str, entity_ids: list[str], naming_strategy: str) -> str:
        """Register the entities (of any of the eight types) now; answers the id of a task
        that has already succeeded."""
        with self._lock:
            self.registry(registry_id)  # 404 for an unknown registry
            entities = [self._entity(entity_id, _ALL_TYPES) for entity_id in entity_ids]
            events: list[Event] = [
                self._register(entity, registry_id, naming_strategy)
                for entity in entities
                if entity.registry_id is None
            ]
            task_id = self._new_id("task_")
            # ``AsyncTask``: errors and message are there only when it failed.
            self._tasks[task_id] = {"status": "SUCCEEDED", "response": {}}
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
            schemas = [self._schemas[schema_id] for schema_id in schema_ids]
            start = len(self._entities)
            recent = list(self._entities.values())[-200:]
            link_targets = [e.id for e in recent if links_to in (None, e.schema.id)][-100:]
            events: list[TenantEvent] = []
            for number in range(start + 1, start + count + 1):
                schema = schemas[(number - start - 1) % len(schemas)]
                fields = sample_field_values(schema, self._rng, number, link_targets)
                entity = self._insert(
                    f"Sample {number}",
                    schema,
                    accept_fields(schema, fields),
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

    # --- registries, tasks, schemas ---------------------------------------------------------

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
            return self._schemas[schema_id]

    def schemas(self) -> list[EntitySchema]:
        with self._lock:
            return self._schemas.all()

    def define_schema(self, schema_id: str, request: dict[str, Any]) -> EntitySchema:
        """Create the schema, or replace its definition as an admin's edit does.

        The schema's entities follow the new definition, keeping each value by field id where
        it still fits (``refit_fields``); their ``modifiedAt`` stays, as in Benchling, whose
        schema edits change no entity. App configuration items show the new names."""
        with self._lock:
            now = self._clock.now()
            schema = schema_from_request(schema_id, request, self.seed.registry.id, now)
            old = self._schemas.define(schema)
            if old is not None:
                for entity in self._entities.values():
                    if entity.schema.id == schema_id:
                        entity.schema = schema
                        entity.fields = refit_fields(old, schema, entity.fields)
                self._configuration.follow(schema)
            return schema

    # --- the App ----------------------------------------------------------------------------

    def config_items(self, app_id: str) -> list[ConfigItem]:
        with self._lock:
            return self._configuration.items(app_id)

    def link_synced_field(self, field_name: str) -> None:
        """Point "Synced Field Data" at another field of the synced schema, as an admin does in
        the App's settings; Benchling then sends ``v2-beta.app.configuration.updated``."""
        with self._lock:
            synced = self._schemas[self.seed.schema.id]  # as the tenant defines it now
            self._configuration.link_synced_field(synced, field_name)
        self._emit([AppSignal(APP_CONFIGURATION_UPDATED)])

    def signal(self, message_type: str) -> None:
        """Send an App signal (``events.APP_SIGNALS``), as Benchling does when the App is
        installed, activated or deactivated, or its configuration changes."""
        if message_type not in APP_SIGNALS:
            known = ", ".join(APP_SIGNALS)
            raise bad_request(f"unknown App signal {message_type!r}; one of {known}")
        self._emit([AppSignal(message_type)])

    def _new_id_locked(self, prefix: str) -> str:
        """A new id for a caller not holding the lock (the seeded random ids stay in order)."""
        with self._lock:
            return self._new_id(prefix)

    # --- helpers; callers hold the lock -----------------------------------------------------

    def _entity(self, entity_id: str, types: tuple[EntityType, ...]) -> Entity:
        entity = self._of_type(entity_id, types)
        if entity is None:
            raise not_found(types[0].kind if len(types) == 1 else "Entity", entity_id)
        return entity

    def _of_type(self, entity_id: str, types: tuple[EntityType, ...]) -> Entity | None:
        if entity_id in self._hidden:
            return None  # what the App cannot see is unknown to it
        entity = self._entities.get(entity_id)
        return entity if entity is not None and entity.type in types else None

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
        def name_of(entity_id: str) -> str | None:
            linked = self._entities.get(entity_id)
            return linked.name if linked else None

        return render_entity(entity, self.base_url, name_of)
