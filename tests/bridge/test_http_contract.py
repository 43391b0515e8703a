"""The bridge's HTTP contract (README.md, docs/architecture.md), row by row, on a real Postgres."""

from __future__ import annotations

import io
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
from flask import Flask
from flask.testing import FlaskClient

from benchling_emulator.signing import WebhookSigner
from tests.support.webhooks import (
    close_pool,
    envelope,
    inbox_row,
    new_webhook_id,
    wrapped_envelope,
)
from webhook_sensor_bridge.app import MAX_BODY_BYTES, create_app
from webhook_sensor_bridge.events import Origin
from webhook_sensor_bridge.inbox.event_types import (
    APP_CONFIGURATION_UPDATED,
    SYNCED_ENTITY_EVENT_TYPES,
)
from webhook_sensor_bridge.settings import Settings

URL = "/1/webhooks"


def post(client: FlaskClient, signer: WebhookSigner, body: bytes, **signing: object) -> int:
    response = client.post(URL, data=body, headers=signer.signed_headers(body, **signing))  # type: ignore[arg-type]
    return response.status_code


def test_health_answers_ok_when_the_database_answers(client: FlaskClient) -> None:
    response = client.get("/health")
    assert (response.status_code, response.text) == (200, "OK")


@pytest.mark.parametrize("message_type", sorted(SYNCED_ENTITY_EVENT_TYPES))
def test_an_entity_event_is_recorded_pending_with_its_envelope(
    client: FlaskClient, signer: WebhookSigner, migrated_database_url: str, message_type: str
) -> None:
    webhook_id = new_webhook_id()
    body = envelope(message_type, resourceId="bfi_abc123", id="evt_42")

    response = client.post(URL, data=body, headers=signer.signed_headers(body, webhook_id))

    assert response.status_code == 200
    assert response.json == {"outcome": "recorded"}
    row = inbox_row(migrated_database_url, webhook_id)
    assert row is not None
    assert row["state"] == "pending"
    assert row["body"] == body.decode()  # the raw body, byte for byte
    assert (row["message_type"], row["message_id"], row["resource_id"]) == (
        message_type,
        "evt_42",
        "bfi_abc123",
    )
    assert (row["channel"], row["schema_id"], row["app_id"]) == ("events", "ts_test", "app_test")
    assert (row["app_definition_id"], row["tenant_id"]) == ("appdef_test", "ten_test")
    assert row["base_url"] == "https://tenant.benchling.com"
    assert row["created_at"].isoformat() == "2026-11-28T01:02:03.456000+00:00"
    assert row["received_at"] is not None


def test_a_sub_path_is_accepted(
    client: FlaskClient, signer: WebhookSigner, migrated_database_url: str
) -> None:
    webhook_id = new_webhook_id()
    body = envelope()
    response = client.post(
        f"{URL}/lifecycle/extra", data=body, headers=signer.signed_headers(body, webhook_id)
    )
    assert response.status_code == 200
    assert inbox_row(migrated_database_url, webhook_id) is not None


def test_a_redelivery_is_acknowledged_and_stores_nothing_new(
    client: FlaskClient, signer: WebhookSigner, migrated_database_url: str
) -> None:
    webhook_id = new_webhook_id()
    body = envelope()
    first = client.post(URL, data=body, headers=signer.signed_headers(body, webhook_id))
    stored = inbox_row(migrated_database_url, webhook_id)
    again = client.post(URL, data=body, headers=signer.signed_headers(body, webhook_id))

    assert (first.json, again.json) == ({"outcome": "recorded"}, {"outcome": "duplicate"})
    assert again.status_code == 200
    assert inbox_row(migrated_database_url, webhook_id) == stored


def test_the_app_configuration_update_is_recorded_pending(
    client: FlaskClient, signer: WebhookSigner, migrated_database_url: str
) -> None:
    webhook_id = new_webhook_id()
    body = envelope(APP_CONFIGURATION_UPDATED, channel="app_signals")
    assert post(client, signer, body, webhook_id=webhook_id) == 200
    row = inbox_row(migrated_database_url, webhook_id)
    assert row is not None and row["state"] == "pending"


@pytest.mark.parametrize(
    ("message_type", "channel", "reason"),
    [
        ("v2.app.installed", "app_signals", "app lifecycle signal v2.app.installed"),
        ("v2.request.created", "events", "message type v2.request.created is not synced"),
    ],
)
def test_types_we_do_not_sync_are_acknowledged_and_recorded_ignored(
    client: FlaskClient,
    signer: WebhookSigner,
    migrated_database_url: str,
    message_type: str,
    channel: str,
    reason: str,
) -> None:
    webhook_id = new_webhook_id()
    body = envelope(message_type, channel=channel)
    response = client.post(URL, data=body, headers=signer.signed_headers(body, webhook_id))

    assert (response.status_code, response.json) == (200, {"outcome": "ignored"})
    row = inbox_row(migrated_database_url, webhook_id)
    assert row is not None
    assert row["state"] == "ignored"
    assert row["reason"].startswith(reason)
    assert row["finished_at"] is not None


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_a_missing_header_is_malformed(
    client: FlaskClient, signer: WebhookSigner, migrated_database_url: str, missing: str
) -> None:
    webhook_id = new_webhook_id()
    body = envelope()
    headers = signer.signed_headers(body, webhook_id)
    del headers[missing]
    response = client.post(URL, data=body, headers=headers)
    assert response.status_code == 400
    assert missing in response.json["detail"]  # type: ignore[index]
    assert inbox_row(migrated_database_url, webhook_id) is None


@pytest.mark.parametrize(
    "body",
    [b"not json", b"\xff\xfe{}", b"[1, 2]", b'{"message": "x"}', b'{"message": {"id": "e"}}'],
    ids=["not-json", "not-utf8", "array", "message-not-object", "no-type"],
)
def test_a_signed_body_that_is_not_an_envelope_is_malformed(
    client: FlaskClient, signer: WebhookSigner, migrated_database_url: str, body: bytes
) -> None:
    webhook_id = new_webhook_id()
    assert post(client, signer, body, webhook_id=webhook_id) == 400
    assert inbox_row(migrated_database_url, webhook_id) is None


def test_a_signature_from_another_key_is_unauthorized(
    client: FlaskClient, migrated_database_url: str
) -> None:
    webhook_id = new_webhook_id()
    assert post(client, WebhookSigner(), envelope(), webhook_id=webhook_id) == 401
    assert inbox_row(migrated_database_url, webhook_id) is None


def test_a_body_altered_after_signing_is_unauthorized(
    client: FlaskClient, signer: WebhookSigner, migrated_database_url: str
) -> None:
    webhook_id = new_webhook_id()
    body = envelope(resourceId="bfi_original")
    headers = signer.signed_headers(body, webhook_id)
    altered = body.replace(b"bfi_original", b"bfi_attacker")
    assert client.post(URL, data=altered, headers=headers).status_code == 401
    # Re-serialised JSON (same data, other bytes) breaks the signature too.
    assert client.post(URL, data=body.replace(b": ", b":"), headers=headers).status_code == 401
    assert inbox_row(migrated_database_url, webhook_id) is None


@pytest.mark.parametrize("offset", [-6 * 60, 6 * 60], ids=["6-minutes-old", "6-minutes-ahead"])
def test_a_timestamp_outside_five_minutes_is_unauthorized(
    client: FlaskClient, signer: WebhookSigner, migrated_database_url: str, offset: int
) -> None:
    webhook_id = new_webhook_id()
    timestamp = int(time.time()) + offset
    assert post(client, signer, envelope(), webhook_id=webhook_id, timestamp=timestamp) == 401
    assert inbox_row(migrated_database_url, webhook_id) is None


def test_a_timestamp_four_minutes_old_is_accepted(
    client: FlaskClient, signer: WebhookSigner
) -> None:
    assert post(client, signer, envelope(), timestamp=int(time.time()) - 4 * 60) == 200


def test_a_body_over_one_mebibyte_is_refused_unread(
    client: FlaskClient, signer: WebhookSigner, migrated_database_url: str
) -> None:
    webhook_id = new_webhook_id()
    body = envelope(padding="x" * MAX_BODY_BYTES)
    assert post(client, signer, body, webhook_id=webhook_id) == 413
    assert inbox_row(migrated_database_url, webhook_id) is None


def test_a_chunked_body_over_one_mebibyte_is_refused(
    client: FlaskClient, signer: WebhookSigner, migrated_database_url: str
) -> None:
    webhook_id = new_webhook_id()
    body = envelope(padding="x" * MAX_BODY_BYTES)
    headers = signer.signed_headers(body, webhook_id)
    # A body of unknown length, as gunicorn hands over a chunked upload.
    response = client.post(
        URL,
        input_stream=io.BytesIO(body),
        headers={**headers, "transfer-encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 413
    assert inbox_row(migrated_database_url, webhook_id) is None


def test_fifty_concurrent_posts_of_one_webhook_make_one_row(
    app: Flask, signer: WebhookSigner, migrated_database_url: str
) -> None:
    webhook_id = new_webhook_id()
    body = envelope()
    headers = signer.signed_headers(body, webhook_id)

    def deliver(_: int) -> tuple[int, str]:
        response = app.test_client().post(URL, data=body, headers=headers)
        return response.status_code, response.json["outcome"]  # type: ignore[index]

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(deliver, range(50)))

    assert {status for status, _ in results} == {200}
    outcomes = sorted(outcome for _, outcome in results)
    assert outcomes == ["duplicate"] * 49 + ["recorded"]
    assert inbox_row(migrated_database_url, webhook_id) is not None


def test_each_request_logs_one_line_without_the_body(
    client: FlaskClient, signer: WebhookSigner, caplog: pytest.LogCaptureFixture
) -> None:
    webhook_id = new_webhook_id()
    body = envelope(resourceId="bfi_secret_payload")
    caplog.set_level(logging.INFO)
    post(client, signer, body, webhook_id=webhook_id)

    lines = [r for r in caplog.records if r.name == "webhook_sensor_bridge.requests"]
    assert len(lines) == 1
    message = lines[0].getMessage()
    assert webhook_id in message
    for field in ('"outcome": "recorded"', '"status": 200', '"latency_ms": ', "v2.entity"):
        assert field in message
    assert "bfi_secret_payload" not in caplog.text
    assert "v1der," not in caplog.text


def test_a_huge_message_type_or_webhook_id_is_cut_short_in_the_log_line(
    client: FlaskClient, signer: WebhookSigner, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="webhook_sensor_bridge.requests")
    post(client, signer, envelope("v2." + "x" * 500_000))
    post(client, signer, envelope(), webhook_id="msg_" + "y" * 5_000)

    lines = [r.getMessage() for r in caplog.records if r.name == "webhook_sensor_bridge.requests"]
    assert len(lines) == 2
    assert all(len(line) < 1_000 for line in lines)
    assert "(500003 characters)" in lines[0]
    assert "(5004 characters)" in lines[1]


def test_skipping_verification_is_loud_and_accepts_unsigned_webhooks(
    settings: Settings, migrated_database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    app = create_app(replace(settings, jwks_url=None, skip_verification=True))
    try:
        startup_warnings = len(caplog.records)
        webhook_id = new_webhook_id()
        headers = {"webhook-id": webhook_id, "webhook-timestamp": "0", "webhook-signature": "x"}
        response = app.test_client().post(URL, data=envelope(), headers=headers)
    finally:
        close_pool(app)

    assert response.status_code == 200
    assert inbox_row(migrated_database_url, webhook_id) is not None
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert startup_warnings >= 1
    assert sum("BENCHSYNC_INSECURE_SKIP_VERIFICATION" in w for w in warnings) == 2


@pytest.mark.parametrize(
    ("origin", "why"),
    [
        (Origin(tenant_url="https://other.benchling.com"), "from another tenant"),
        (Origin(app_id="app_ours"), "for another App installation"),
        (Origin(app_definition_id="appdef_ours"), "for another App definition"),
    ],
)
def test_a_webhook_from_another_tenant_or_installation_is_recorded_ignored(
    settings: Settings,
    signer: WebhookSigner,
    migrated_database_url: str,
    origin: Origin,
    why: str,
) -> None:
    # A valid signature proves the App definition only, which every installation shares.
    app = create_app(replace(settings, origin=origin))
    webhook_id = new_webhook_id()
    body = envelope()  # from https://tenant.benchling.com, installation app_test

    response = app.test_client().post(
        URL, data=body, headers=signer.signed_headers(body, webhook_id)
    )
    close_pool(app)

    assert (response.status_code, response.json) == (200, {"outcome": "ignored"})
    row = inbox_row(migrated_database_url, webhook_id)
    assert row is not None and row["state"] == "ignored"
    assert why in row["reason"]


def test_a_webhook_from_this_tenant_and_installation_is_recorded(
    settings: Settings, signer: WebhookSigner
) -> None:
    ours = Origin(tenant_url="HTTPS://Tenant.Benchling.com/", app_id="app_test")
    app = create_app(replace(settings, origin=ours))
    body = envelope()

    response = app.test_client().post(URL, data=body, headers=signer.signed_headers(body))
    close_pool(app)

    assert response.json == {"outcome": "recorded"}


@pytest.mark.parametrize("skip_verification", [False, True], ids=["verified", "unverified"])
def test_the_bridge_vouches_for_a_webhooks_origin_only_when_it_verified_the_signature(
    settings: Settings, signer: WebhookSigner, migrated_database_url: str, skip_verification: bool
) -> None:
    ours = Origin(app_definition_id="appdef_test")
    if skip_verification:
        settings = replace(settings, jwks_url=None, skip_verification=True)
    app = create_app(replace(settings, origin=ours))
    webhook_id = new_webhook_id()
    body = envelope()

    post(app.test_client(), signer, body, webhook_id=webhook_id)
    close_pool(app)

    row = inbox_row(migrated_database_url, webhook_id)
    assert row is not None and row["state"] == "pending"
    assert row["origin_verified"] is not skip_verification


def test_the_seed_apps_wrapped_registration_is_recorded_pending_as_the_event(
    client: FlaskClient, signer: WebhookSigner, migrated_database_url: str
) -> None:
    webhook_id = new_webhook_id()
    body = wrapped_envelope(
        id="evt_MQjr2hnJ7WLS",
        createdAt="2024-04-04T03:48:09.962068+00:00",
        resourceId="bfi_J81Hy0ih",
        schema={"id": "ts_X3i4k1M0"},
    )

    response = client.post(URL, data=body, headers=signer.signed_headers(body, webhook_id))

    assert (response.status_code, response.json) == (200, {"outcome": "recorded"})
    row = inbox_row(migrated_database_url, webhook_id)
    assert row is not None
    assert row["state"] == "pending"
    assert row["body"] == body.decode()  # the raw body, byte for byte
    assert (row["message_type"], row["message_id"], row["resource_id"], row["schema_id"]) == (
        "v2.entity.registered",
        "evt_MQjr2hnJ7WLS",
        "bfi_J81Hy0ih",
        "ts_X3i4k1M0",
    )
    assert row["created_at"].isoformat() == "2024-04-04T03:48:09.962068+00:00"


def test_a_wrapped_event_of_a_type_not_synced_is_recorded_ignored_with_its_reason(
    client: FlaskClient, signer: WebhookSigner, migrated_database_url: str
) -> None:
    webhook_id = new_webhook_id()
    body = wrapped_envelope("v2.request.created", resourceId="req_1")

    response = client.post(URL, data=body, headers=signer.signed_headers(body, webhook_id))

    assert (response.status_code, response.json) == (200, {"outcome": "ignored"})
    row = inbox_row(migrated_database_url, webhook_id)
    assert row is not None
    assert (row["state"], row["message_type"], row["resource_id"]) == (
        "ignored",
        "v2.request.created",
        "req_1",
    )
    assert row["reason"] == (
        "message type v2.request.created is not synced (delivered wrapped in v0-beta.event.created)"
    )


@pytest.mark.parametrize(
    "message",
    [
        b'{"type": "v0-beta.event.created"}',
        b'{"type": "v0-beta.event.created", "event": "v2.entity.registered"}',
        b'{"type": "v0-beta.event.created", "event": {"resourceId": "bfi_1"}}',
        b'{"type": "v0-beta.event.created", "event": {"eventType": 1}}',
    ],
    ids=["no-event", "event-not-object", "no-event-type", "event-type-not-text"],
)
def test_a_malformed_wrapper_is_answered_400_and_not_stored(
    client: FlaskClient, signer: WebhookSigner, migrated_database_url: str, message: bytes
) -> None:
    webhook_id = new_webhook_id()
    body = b'{"version": "0", "channel": "events", "message": ' + message + b"}"

    response = client.post(URL, data=body, headers=signer.signed_headers(body, webhook_id))

    assert response.status_code == 400
    assert response.json is not None and response.json["outcome"] == "malformed"
    assert "v0-beta.event.created" in response.json["detail"]
    assert inbox_row(migrated_database_url, webhook_id) is None
