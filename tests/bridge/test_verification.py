"""Signature verification: the same verdicts as benchling-sdk, and a JWKS cache that behaves."""

from __future__ import annotations

import base64
import json
import time
from dataclasses import replace

import httpx
import pytest
from benchling_sdk.apps.helpers.webhook_helpers import verify as sdk_verify
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jwcrypto import jwk

from benchling_emulator.server import EmulatorServer
from benchling_emulator.signing import WebhookSigner
from benchsync.demo.processes import free_port
from tests.support.emulator import TEST_SETTINGS, MakeEmulator
from tests.support.properties import examples
from tests.support.webhooks import close_pool, envelope, inbox_row, new_webhook_id
from webhook_sensor_bridge.app import create_app
from webhook_sensor_bridge.settings import Settings
from webhook_sensor_bridge.verification import (
    MAX_SIGNATURE_ENTRIES,
    JwksCache,
    KeysUnavailable,
    PublicKeys,
    SignatureRejected,
    WebhookVerifier,
    public_keys,
)

TRUSTED_KEY = ec.generate_private_key(ec.SECP256R1())
STRANGER_KEY = ec.generate_private_key(ec.SECP256R1())
TRUSTED_JWKS = json.dumps(
    {"keys": [jwk.JWK.from_pyca(TRUSTED_KEY.public_key()).export_public(as_dict=True)]}
).encode()


def fixed_keys(_: str) -> PublicKeys:
    return public_keys(TRUSTED_JWKS)


def signature_entry(key: ec.EllipticCurvePrivateKey, version: str, signed_text: str) -> str:
    # Signs any timestamp text, which WebhookSigner (integers only) cannot.
    der = key.sign(signed_text.encode(), ec.ECDSA(hashes.SHA256()))
    return f"{version},{base64.b64encode(der).decode()}"


@st.composite
def webhooks(draw: st.DrawFn) -> tuple[str, str, str, str]:
    """(webhook id, timestamp header, signature header, body): sometimes genuine, often not."""
    webhook_id = draw(st.text(min_size=1, max_size=20) | st.just(new_webhook_id()))
    body = draw(st.text(max_size=40) | st.just(envelope().decode()))
    # Offsets stay 5 s clear of the ±5 minute edge, where the two clocks could disagree.
    offset = draw(st.integers(-295, 295) | st.integers(305, 10**6) | st.integers(-(10**6), -305))
    timestamp = draw(
        st.just(str(int(time.time()) + offset))
        | st.just(f"{time.time() + offset:.3f}")
        | st.sampled_from(["", "abc", "nan", "inf", "-inf", " 1e3", "1_0", "0x10"])
    )
    kinds = ["trusted", "stranger", "other-body", "garbage"]
    signatures = []
    for kind in draw(st.lists(st.sampled_from(kinds), max_size=3)):
        version = draw(st.sampled_from(["v1der", "v1bder", "v1", "v2der"]))
        if kind == "garbage":
            random_der = base64.b64encode(draw(st.binary(max_size=72))).decode()
            signatures.append(
                draw(
                    st.sampled_from(["", "v1der", "v1der,", "v1der,a,b", "v1der,!!", "v1der,abc"])
                    | st.just(f"{version},{random_der}")
                    | st.text(max_size=12)
                )
            )
            continue
        key = STRANGER_KEY if kind == "stranger" else TRUSTED_KEY
        signed_body = body + "x" if kind == "other-body" else body
        try:
            signatures.append(
                signature_entry(key, version, f"{webhook_id}.{timestamp}.{signed_body}")
            )
        except UnicodeEncodeError:
            signatures.append("v1der,")
    return webhook_id, timestamp, " ".join(signatures), body


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(webhooks())
def test_the_bridge_accepts_exactly_what_the_sdk_verify_accepts(
    webhook: tuple[str, str, str, str],
) -> None:
    webhook_id, timestamp, signature, body = webhook
    headers = {"webhook-id": webhook_id, "webhook-timestamp": timestamp}
    headers["webhook-signature"] = signature
    key_set = jwk.JWKSet.from_json(TRUSTED_JWKS)
    try:
        sdk_verify("appdef_test", body, headers, jwk_function=lambda _: key_set)
        sdk_accepts = True
    except Exception:  # the SDK raises more than WebhookVerificationError on odd input
        sdk_accepts = False

    verifier = WebhookVerifier(JwksCache("unused", 3600, 30, fetch=fixed_keys))
    try:
        encoded_body = body.encode()
    except UnicodeEncodeError:
        return  # a body that is not UTF-8 text cannot reach the SDK's str-based verify
    try:
        verifier.verify(webhook_id, timestamp, signature, encoded_body)
        bridge_accepts = True
    except SignatureRejected:  # anything else would fail the test
        bridge_accepts = False

    assert bridge_accepts == sdk_accepts


def test_a_genuine_webhook_is_accepted_by_both() -> None:
    webhook_id, timestamp, body = new_webhook_id(), str(int(time.time())), envelope().decode()
    signature = signature_entry(TRUSTED_KEY, "v1der", f"{webhook_id}.{timestamp}.{body}")
    headers = {"webhook-id": webhook_id, "webhook-timestamp": timestamp}
    headers["webhook-signature"] = signature
    key_set = jwk.JWKSet.from_json(TRUSTED_JWKS)

    sdk_verify("appdef_test", body, headers, jwk_function=lambda _: key_set)
    verifier = WebhookVerifier(JwksCache("unused", 3600, 30, fetch=fixed_keys))
    verifier.verify(webhook_id, timestamp, signature, body.encode())


def test_the_key_that_verified_is_tried_first() -> None:
    # While Benchling rotates, the JWKS lists two keys; each miss would cost a whole verify.
    stranger, trusted = STRANGER_KEY.public_key(), TRUSTED_KEY.public_key()
    cache = JwksCache("unused", 3600, 30, fetch=lambda _: (stranger, trusted))
    verifier = WebhookVerifier(cache)
    webhook_id, timestamp, body = new_webhook_id(), str(int(time.time())), envelope().decode()
    signature = signature_entry(TRUSTED_KEY, "v1der", f"{webhook_id}.{timestamp}.{body}")

    verifier.verify(webhook_id, timestamp, signature, body.encode())
    assert cache.current_keys() == (trusted, stranger)
    verifier.verify(webhook_id, timestamp, signature, body.encode())
    assert cache.current_keys() == (trusted, stranger)


class CountingKey:
    """A public key that verifies nothing and counts how often it was asked."""

    def __init__(self) -> None:
        self.verifies = 0

    def verify(self, signature: bytes, data: bytes, algorithm: object) -> None:
        self.verifies += 1
        raise InvalidSignature


@pytest.mark.parametrize("entries", [MAX_SIGNATURE_ENTRIES + 1, 300])
def test_a_header_of_too_many_signatures_is_refused_unverified(entries: int) -> None:
    key = CountingKey()
    verifier = WebhookVerifier(JwksCache("unused", 3600, 30, fetch=lambda _: (key,)))  # type: ignore[arg-type,return-value]
    webhook_id, timestamp, body = new_webhook_id(), str(int(time.time())), envelope().decode()
    signature = signature_entry(STRANGER_KEY, "v1der", f"{webhook_id}.{timestamp}.{body}")

    with pytest.raises(SignatureRejected, match=f"{entries} entries; at most"):
        verifier.verify(webhook_id, timestamp, " ".join([signature] * entries), body.encode())
    assert key.verifies == 0


def test_a_full_header_costs_one_verify_per_entry_and_key() -> None:
    key = CountingKey()
    verifier = WebhookVerifier(JwksCache("unused", 3600, 30, fetch=lambda _: (key,)))  # type: ignore[arg-type,return-value]
    webhook_id, timestamp, body = new_webhook_id(), str(int(time.time())), envelope().decode()
    signature = signature_entry(STRANGER_KEY, "v1der", f"{webhook_id}.{timestamp}.{body}")

    with pytest.raises(SignatureRejected, match="no key"):
        verifier.verify(
            webhook_id, timestamp, " ".join([signature] * MAX_SIGNATURE_ENTRIES), body.encode()
        )
    # The keys were fetched just now: the refetch floor forbids a second round.
    assert key.verifies == MAX_SIGNATURE_ENTRIES


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class CountingFetch:
    def __init__(self) -> None:
        self.calls = 0
        self.failing = False

    def __call__(self, url: str) -> PublicKeys:
        self.calls += 1
        if self.failing:
            raise OSError("connection refused")
        return fixed_keys(url)


def test_the_cache_fetches_lazily_and_never_caches_a_failure() -> None:
    fetch = CountingFetch()
    cache = JwksCache("u", max_age_seconds=6 * 3600, refetch_floor_seconds=30, fetch=fetch)
    assert fetch.calls == 0

    fetch.failing = True
    with pytest.raises(KeysUnavailable):
        cache.current_keys()
    fetch.failing = False
    assert len(cache.current_keys()) == 1
    assert fetch.calls == 2
    cache.current_keys()
    assert fetch.calls == 2


def test_the_cache_refreshes_after_six_hours_and_keeps_its_keys_if_that_fails() -> None:
    fetch, clock = CountingFetch(), FakeClock()
    cache = JwksCache("u", 6 * 3600, 30, fetch=fetch, clock=clock)
    keys = cache.current_keys()
    clock.now += 6 * 3600 - 1
    cache.current_keys()
    assert fetch.calls == 1

    clock.now += 1
    fetch.failing = True
    assert cache.current_keys() == keys
    assert fetch.calls == 2
    cache.current_keys()  # the failed refresh is retried only after the floor
    assert fetch.calls == 2
    clock.now += 30
    fetch.failing = False
    cache.current_keys()
    assert fetch.calls == 3


def test_unknown_signatures_refetch_at_most_once_per_floor() -> None:
    fetch, clock = CountingFetch(), FakeClock()
    cache = JwksCache("u", 6 * 3600, 30, fetch=fetch, clock=clock)
    cache.current_keys()
    clock.now += 30
    assert cache.refetch_after_miss() is True
    for _ in range(1000):  # a flood of bad signatures within the floor
        clock.now += 0.01
        assert cache.refetch_after_miss() is False
    assert fetch.calls == 2


def test_a_rotated_key_is_picked_up_without_a_restart(
    settings: Settings, emulator: EmulatorServer, migrated_database_url: str
) -> None:
    app = create_app(replace(settings, jwks_refetch_floor_seconds=0))
    client = app.test_client()
    try:
        body = envelope()
        headers = emulator.signer.signed_headers(body)
        assert client.post("/1/webhooks", data=body, headers=headers).status_code == 200
        httpx.post(f"{emulator.base_url}/_emulator/rotate-key").raise_for_status()
        webhook_id = new_webhook_id()
        headers = emulator.signer.signed_headers(body, webhook_id)
        assert client.post("/1/webhooks", data=body, headers=headers).status_code == 200
    finally:
        close_pool(app)
    assert inbox_row(migrated_database_url, webhook_id) is not None


def test_a_jwks_host_down_at_startup_is_retried_until_it_answers(
    migrated_database_url: str, make_emulator: MakeEmulator
) -> None:
    port = free_port()  # nothing answers here yet
    jwks_url = f"http://127.0.0.1:{port}/api/v1/apps/{TEST_SETTINGS.app_definition_id}/jwks"
    app = create_app(Settings(database_url=migrated_database_url, jwks_url=jwks_url))
    client = app.test_client()
    try:
        signer = WebhookSigner()
        body = envelope()
        webhook_id = new_webhook_id()
        down = client.post(
            "/1/webhooks", data=body, headers=signer.signed_headers(body, webhook_id)
        )
        assert down.status_code == 503
        assert inbox_row(migrated_database_url, webhook_id) is None

        emulator = make_emulator(port=port)
        headers = emulator.signer.signed_headers(body, webhook_id)
        assert client.post("/1/webhooks", data=body, headers=headers).status_code == 200
        assert inbox_row(migrated_database_url, webhook_id) is not None
    finally:
        close_pool(app)
