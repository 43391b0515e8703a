"""Webhooks: signed as Benchling signs them, paced, redelivered, duplicated and reordered."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from benchling_sdk.apps.helpers.webhook_helpers import (
    WebhookVerificationError,
    jwks_by_app_definition,
    verify,
)
from benchling_sdk.benchling import Benchling
from benchling_sdk.helpers.serialization_helpers import fields
from benchling_sdk.models import CustomEntityCreate, CustomEntityUpdate
from benchling_sdk.models.webhooks.v0 import EntityRegisteredWebhookV2, WebhookEnvelopeV0
from jwcrypto import jwk

from benchling_emulator.server import EmulatorServer
from tests.support.emulator import (
    MakeEmulator,
    ReceivedWebhook,
    WebhookReceiver,
    benchling_client,
)


def _jwks(emulator: EmulatorServer) -> jwk.JWKSet:
    app_definition_id = emulator.settings.app_definition_id
    return jwks_by_app_definition(app_definition_id, jwk_url_provider=lambda _: emulator.jwks_url)


def _verify(emulator: EmulatorServer, webhook: ReceivedWebhook, keys: jwk.JWKSet) -> None:
    verify(
        emulator.settings.app_definition_id,
        webhook.body.decode(),
        webhook.headers,
        jwk_function=lambda _: keys,
    )


def _message(webhook: ReceivedWebhook) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(webhook.body)["message"]
    return message


def test_a_registration_webhook_verifies_with_the_emulators_jwks(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook_urls=(webhook_receiver.url,))
    [entity_id] = emulator.tenant.create_registered(1)
    [webhook] = webhook_receiver.wait_for(1)

    _verify(emulator, webhook, _jwks(emulator))
    envelope = json.loads(webhook.body)
    assert envelope["baseURL"] == emulator.base_url
    assert envelope["tenantId"] == emulator.settings.tenant_id
    assert envelope["app"] == {"id": emulator.settings.app_id}
    assert envelope["appDefinition"]["id"] == emulator.settings.app_definition_id
    assert envelope["channel"] == "events"
    message = envelope["message"]
    assert message["type"] == "v2.entity.registered"
    assert message["resourceId"] == entity_id
    assert message["schema"] == {"id": emulator.tenant.seed.schema.id}
    assert message["id"].startswith("evt_")
    assert message["deprecated"] is False
    assert message["excludedProperties"] == []
    parsed = WebhookEnvelopeV0.from_dict(envelope).message
    assert isinstance(parsed, EntityRegisteredWebhookV2)
    assert parsed.resource_id == entity_id
    assert webhook.headers["webhook-id"].startswith("msg_")


def test_a_tampered_body_fails_verification(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook_urls=(webhook_receiver.url,))
    emulator.tenant.create_registered(1)
    [webhook] = webhook_receiver.wait_for(1)
    body = webhook.body.replace(b"bfi_", b"bfj_")
    tampered = ReceivedWebhook(webhook.path, webhook.headers, body)
    with pytest.raises(WebhookVerificationError):
        _verify(emulator, tampered, _jwks(emulator))


def test_create_and_update_emit_v3_events(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook_urls=(webhook_receiver.url,), webhook_workers=1)
    benchling: Benchling = benchling_client(emulator)
    seed = emulator.tenant.seed
    created = benchling.custom_entities.create(
        CustomEntityCreate(name="New", schema_id=seed.schema.id, folder_id=seed.folder_id)
    )
    update = CustomEntityUpdate(name="Renamed", fields=fields({"Validated": {"value": True}}))
    benchling.custom_entities.update(created.id, update)
    messages = [_message(webhook) for webhook in webhook_receiver.wait_for(2)]
    assert [message["type"] for message in messages] == [
        "v3.customEntity.created",
        "v3.customEntity.updated",
    ]
    assert {message["resourceId"] for message in messages} == {created.id}
    assert messages[1]["properties"] == ["name", "fields"]


def test_a_failed_delivery_is_retried_with_the_same_id_and_a_valid_signature(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.fail_next = 2
    emulator = make_emulator(webhook_urls=(webhook_receiver.url,))
    emulator.tenant.create_registered(1)
    attempts = webhook_receiver.wait_for(3)
    assert emulator.wait_for_webhooks()

    assert len({attempt.headers["webhook-id"] for attempt in attempts}) == 1
    keys = _jwks(emulator)
    for attempt in attempts:
        _verify(emulator, attempt, keys)
    stats = httpx.get(f"{emulator.base_url}/_emulator/stats").json()
    assert stats["webhook_attempts_failed"] == 2
    assert stats["webhooks_delivered"] == 1
    assert stats["webhooks_pending"] == 0


def test_delivery_gives_up_after_the_last_attempt(make_emulator: MakeEmulator) -> None:
    unreachable = "http://127.0.0.1:9/1/webhooks"  # the discard port: nothing answers
    emulator = make_emulator(webhook_urls=(unreachable,), webhook_max_attempts=3)
    emulator.tenant.create_registered(1)
    assert emulator.wait_for_webhooks()
    assert emulator.stats.count("webhook_attempts_failed") == 3
    assert emulator.stats.count("webhooks_abandoned") == 1


def test_duplicate_rate_delivers_the_same_webhook_twice(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook_urls=(webhook_receiver.url,), duplicate_rate=1.0)
    emulator.tenant.create_registered(3)
    received = webhook_receiver.wait_for(6)
    ids = [webhook.headers["webhook-id"] for webhook in received]
    assert len(set(ids)) == 3
    assert all(ids.count(webhook_id) == 2 for webhook_id in ids)


def test_the_delivery_log_counts_each_webhooks_acknowledgements_and_failures(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    webhook_receiver.fail_next = 1
    emulator = make_emulator(
        webhook_urls=(webhook_receiver.url,), webhook_workers=1, duplicate_rate=1.0
    )
    emulator.tenant.create_registered(2)
    received = webhook_receiver.wait_for(5)  # one refused POST, then four acknowledged
    assert emulator.wait_for_webhooks()

    log = emulator.delivery.log()  # in the order the webhooks were submitted
    assert log[0].webhook_id == received[0].headers["webhook-id"]
    assert {record.webhook_id for record in log} == {w.headers["webhook-id"] for w in received}
    assert {record.url for record in log} == {webhook_receiver.url}
    assert [(record.acknowledged, record.failed) for record in log] == [(2, 1), (2, 0)]


def test_shuffle_reorders_delivery(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    in_order = make_emulator(webhook_urls=(webhook_receiver.url,), webhook_workers=1)
    ids = in_order.tenant.create_registered(20)
    received = webhook_receiver.wait_for(20)
    assert [_message(webhook)["resourceId"] for webhook in received] == ids

    webhook_receiver.received.clear()
    shuffled = make_emulator(webhook_urls=(webhook_receiver.url,), webhook_workers=1, shuffle=True)
    ids = shuffled.tenant.create_registered(20)
    delivered = [_message(webhook)["resourceId"] for webhook in webhook_receiver.wait_for(20)]
    assert sorted(delivered) == sorted(ids)
    assert delivered != ids


def test_delivery_is_paced(make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver) -> None:
    emulator = make_emulator(webhook_urls=(webhook_receiver.url,), webhook_rate=40.0)
    started = time.monotonic()
    emulator.tenant.create_registered(9)
    webhook_receiver.wait_for(9)
    assert time.monotonic() - started >= 8 / 40.0  # nine POSTs are eight intervals apart


def test_webhook_urls_and_key_rotation_change_while_running(
    emulator: EmulatorServer, webhook_receiver: WebhookReceiver
) -> None:
    control = f"{emulator.base_url}/_emulator"
    old_keys = _jwks(emulator)
    answer = httpx.post(f"{control}/webhook-urls", json={"urls": [webhook_receiver.url]})
    assert answer.json() == {"urls": [webhook_receiver.url]}
    httpx.post(f"{control}/rotate-key").raise_for_status()

    httpx.post(f"{control}/register", json={"count": 1}).raise_for_status()
    [webhook] = webhook_receiver.wait_for(1)
    _verify(emulator, webhook, _jwks(emulator))
    with pytest.raises(WebhookVerificationError):
        _verify(emulator, webhook, old_keys)


# The keys of the event in Benchling's example App's fixture (entity_registered_webhook.json).
SEED_APP_EVENT_KEYS = {
    "id",
    "createdAt",
    "eventType",
    "schema",
    "resourceId",
    "deprecated",
    "excludedProperties",
}


def test_the_v0_beta_envelope_wraps_registrations_as_for_benchlings_example_app(
    make_emulator: MakeEmulator, webhook_receiver: WebhookReceiver
) -> None:
    emulator = make_emulator(
        webhook_urls=(webhook_receiver.url,), webhook_workers=1, event_envelope="v0-beta"
    )
    [entity_id] = emulator.tenant.create_registered(1)
    [registered] = webhook_receiver.wait_for(1)
    benchling_client(emulator).custom_entities.create(
        CustomEntityCreate(
            name="New",
            schema_id=emulator.tenant.seed.schema.id,
            folder_id=emulator.tenant.seed.folder_id,
        )
    )
    [_, created] = webhook_receiver.wait_for(2)

    _verify(emulator, registered, _jwks(emulator))
    message = _message(registered)
    assert {key: message[key] for key in ("type", "deprecated", "excludedProperties")} == {
        "type": "v0-beta.event.created",
        "deprecated": False,
        "excludedProperties": [],
    }
    assert set(message) == {"event", "type", "deprecated", "excludedProperties"}
    event = message["event"]
    assert set(event) == SEED_APP_EVENT_KEYS
    assert (event["eventType"], event["resourceId"]) == ("v2.entity.registered", entity_id)
    assert event["schema"] == {"id": emulator.tenant.seed.schema.id}
    assert event["id"].startswith("evt_")
    # v3 events were never in the early-access envelope: they keep their own form.
    assert _message(created)["type"] == "v3.customEntity.created"


def test_the_event_envelope_changes_while_running(
    emulator: EmulatorServer, webhook_receiver: WebhookReceiver
) -> None:
    control = f"{emulator.base_url}/_emulator"
    httpx.post(f"{control}/webhook-urls", json={"urls": [webhook_receiver.url]}).raise_for_status()

    answer = httpx.post(f"{control}/event-envelope", json={"form": "v0-beta"})
    assert answer.json() == {"form": "v0-beta"}
    httpx.post(f"{control}/register", json={"count": 1}).raise_for_status()
    [wrapped] = webhook_receiver.wait_for(1)
    httpx.post(f"{control}/event-envelope", json={"form": "v0"}).raise_for_status()
    httpx.post(f"{control}/register", json={"count": 1}).raise_for_status()
    [_, plain] = webhook_receiver.wait_for(2)

    assert _message(wrapped)["event"]["eventType"] == "v2.entity.registered"
    assert _message(plain)["type"] == "v2.entity.registered"
    for form in ("v1", None, ["v0-beta"]):
        refused = httpx.post(f"{control}/event-envelope", json={"form": form})
        assert refused.status_code == 400
        assert "v0, v0-beta" in refused.json()["error"]["message"]
