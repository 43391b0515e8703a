"""Benchling webhook signatures, checked against the App's JWKS, which is fetched lazily and cached.

It accepts and rejects exactly what benchling-sdk's ``verify`` does (a property test compares
them), but loads each public key once per fetch instead of once per webhook, and refuses a
signature header of more than ``MAX_SIGNATURE_ENTRIES`` entries unverified, where the SDK would
try every one against every key.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from jwcrypto import jwk
from jwcrypto.common import JWException

logger = logging.getLogger(__name__)

TIMESTAMP_TOLERANCE_SECONDS = 5 * 60
# A JWKS fetch happens inside a webhook request, which Benchling abandons after 3 s.
JWKS_FETCH_TIMEOUT_SECONDS = 2.0
MAX_JWKS_BYTES = 1024 * 1024
# Benchling signs with one key, two while it rotates them: more entries only buy an attacker
# verifies (each about 0.1 ms of CPU) per request.
MAX_SIGNATURE_ENTRIES = 4
_SIGNATURE_ALGORITHM = ec.ECDSA(hashes.SHA256())

PublicKeys = tuple[ec.EllipticCurvePublicKey, ...]


class SignatureRejected(Exception):
    """The webhook is not authentic, or its timestamp is outside the tolerance (HTTP 401)."""


class KeysUnavailable(Exception):
    """No JWKS could be fetched yet, so nothing can be verified (HTTP 503; Benchling retries)."""


def fetch_public_keys(url: str) -> PublicKeys:
    """The EC public keys published at ``url``; raises OSError or ValueError when there are none."""
    with urllib.request.urlopen(url, timeout=JWKS_FETCH_TIMEOUT_SECONDS) as response:  # noqa: S310 (the URL is validated as http(s) in settings)
        document = response.read(MAX_JWKS_BYTES + 1)
    if len(document) > MAX_JWKS_BYTES:
        raise ValueError(f"the JWKS at {url} is larger than {MAX_JWKS_BYTES} bytes")
    return public_keys(document)


def public_keys(jwks_document: bytes) -> PublicKeys:
    """The EC public keys of a JWKS document; raises ValueError when there are none."""
    try:
        # The same PEM round trip as benchling-sdk, done once per fetch, not once per webhook.
        loaded = [
            load_pem_public_key(key.export_to_pem()) for key in jwk.JWKSet.from_json(jwks_document)
        ]
    except JWException as error:
        raise ValueError(f"not a JWK set of public keys: {error}") from error
    keys = tuple(key for key in loaded if isinstance(key, ec.EllipticCurvePublicKey))
    if not keys:
        raise ValueError("the JWK set holds no EC public key")
    return keys


class JwksCache:
    """The App's public keys: fetched on first use, refreshed when old or when a signature misses.

    A failed fetch is never cached: with no keys yet, the next webhook tries again. Refetches of a
    cache that already holds keys are at least ``refetch_floor_seconds`` apart, so a flood of bad
    signatures cannot hammer the JWKS host.
    """

    def __init__(
        self,
        url: str,
        max_age_seconds: float,
        refetch_floor_seconds: float,
        fetch: Callable[[str], PublicKeys] = fetch_public_keys,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._max_age_seconds = max_age_seconds
        self._refetch_floor_seconds = refetch_floor_seconds
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: PublicKeys = ()
        self._fetched_at = -math.inf
        self._attempted_at = -math.inf

    def current_keys(self) -> PublicKeys:
        with self._lock:
            now = self._clock()
            too_old = now - self._fetched_at >= self._max_age_seconds
            if not self._keys or (too_old and self._may_refetch(now)):
                self._refetch(now)
            return self._keys

    def prefer(self, key: ec.EllipticCurvePublicKey) -> None:
        """Try ``key`` first from now on (while Benchling rotates, the JWKS lists two keys)."""
        with self._lock:
            if self._keys and self._keys[0] is key:
                return
            others = tuple(other for other in self._keys if other is not key)
            if len(others) < len(self._keys):  # still one of the cached keys
                self._keys = (key, *others)

    def refetch_after_miss(self) -> bool:
        """Refetch because no cached key verified a signature; False when the floor forbids it."""
        with self._lock:
            now = self._clock()
            return self._may_refetch(now) and self._refetch(now)

    def _may_refetch(self, now: float) -> bool:
        return now - self._attempted_at >= self._refetch_floor_seconds

    def _refetch(self, now: float) -> bool:
        self._attempted_at = now
        try:
            self._keys = self._fetch(self._url)
        except (OSError, ValueError) as error:
            if not self._keys:
                raise KeysUnavailable(f"cannot fetch the JWKS at {self._url}: {error}") from error
            logger.warning("keeping the cached JWKS: refetching %s failed: %s", self._url, error)
            return False
        self._fetched_at = now
        logger.info("fetched the JWKS at %s: %d key(s)", self._url, len(self._keys))
        return True


class WebhookVerifier:
    """Checks a webhook's timestamp and signature over the raw body bytes, as received."""

    def __init__(self, jwks: JwksCache, clock: Callable[[], float] = time.time) -> None:
        self._jwks = jwks
        self._clock = clock

    def verify(self, webhook_id: str, timestamp: str, signature_header: str, body: bytes) -> None:
        """Return if authentic; raise SignatureRejected or KeysUnavailable otherwise."""
        check_timestamp(timestamp, now=self._clock())
        signatures = der_signatures(signature_header)
        try:
            signed_text = f"{webhook_id}.{timestamp}.".encode() + body
        except UnicodeEncodeError as error:
            raise SignatureRejected("webhook headers are not valid text") from error
        key = verifying_key(self._jwks.current_keys(), signed_text, signatures)
        # Benchling may have rotated its key since the JWKS was cached.
        if key is None and self._jwks.refetch_after_miss():
            key = verifying_key(self._jwks.current_keys(), signed_text, signatures)
        if key is None:
            raise SignatureRejected("no key in the JWKS verifies the webhook-signature")
        self._jwks.prefer(key)  # each miss before it costs a whole verify


def check_timestamp(timestamp: str, now: float) -> None:
    try:
        sent_at = float(timestamp)
    except ValueError as error:
        raise SignatureRejected("webhook-timestamp is not a number") from error
    if not math.isfinite(sent_at):
        raise SignatureRejected("webhook-timestamp is not a finite number")
    if sent_at < now - TIMESTAMP_TOLERANCE_SECONDS:
        raise SignatureRejected("webhook-timestamp is too old")
    if sent_at > now + TIMESTAMP_TOLERANCE_SECONDS:
        raise SignatureRejected("webhook-timestamp is too new")


def der_signatures(signature_header: str) -> list[bytes]:
    """The DER signatures in ``v1der,<base64> v1der,<base64>``; a malformed entry rejects all."""
    entries = signature_header.split(" ")
    if len(entries) > MAX_SIGNATURE_ENTRIES:
        raise SignatureRejected(
            f"webhook-signature has {len(entries)} entries; at most {MAX_SIGNATURE_ENTRIES}"
            " are accepted"
        )
    encoded = []
    for entry in entries:
        parts = entry.split(",")
        if len(parts) != 2:
            raise SignatureRejected("webhook-signature entries must be 'version,signature'")
        version, signature = parts
        if "der" in version:
            encoded.append(signature)
    if not encoded:
        raise SignatureRejected("webhook-signature holds no DER-encoded signature")
    try:
        return [base64.b64decode(signature) for signature in encoded]
    except (binascii.Error, ValueError) as error:
        raise SignatureRejected("webhook-signature is not valid base64") from error


def verifying_key(
    keys: PublicKeys, signed_text: bytes, signatures: Sequence[bytes]
) -> ec.EllipticCurvePublicKey | None:
    """The first of ``keys`` that verifies one of ``signatures``, or None."""
    for key in keys:
        for signature in signatures:
            try:
                key.verify(signature, signed_text, _SIGNATURE_ALGORITHM)
            except InvalidSignature:
                continue
            return key
    return None
