"""Webhook signing exactly as Benchling does it, and the JWKS that publishes the public key.

Benchling signs ``"{webhook-id}.{webhook-timestamp}.{raw body}"`` with ECDSA P-256 / SHA-256 and
sends the DER signature, base64-encoded, as ``webhook-signature: v1der,<base64>``.
"""

from __future__ import annotations

import base64
import threading
import time
import uuid
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto import jwk


class WebhookSigner:
    """Holds the tenant's current signing key; ``rotate()`` replaces it (the JWKS follows)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key_id, self._private_key = self._new_key()

    @staticmethod
    def _new_key() -> tuple[str, ec.EllipticCurvePrivateKey]:
        return f"key_{uuid.uuid4().hex[:12]}", ec.generate_private_key(ec.SECP256R1())

    @property
    def key_id(self) -> str:
        return self._key_id

    def rotate(self) -> str:
        """Switch to a fresh key; webhooks signed from now on verify only against the new JWKS."""
        key_id, private_key = self._new_key()
        with self._lock:
            self._key_id, self._private_key = key_id, private_key
        return key_id

    def jwks(self) -> dict[str, Any]:
        """The public JWKS document, as served at ``/api/v1/apps/<app definition id>/jwks``."""
        with self._lock:
            key_id, private_key = self._key_id, self._private_key
        public = jwk.JWK.from_pyca(private_key.public_key()).export_public(as_dict=True)
        public.update({"kid": key_id, "use": "sig", "alg": "ES256"})
        return {"keys": [public]}

    def sign(self, webhook_id: str, timestamp: int, body: bytes) -> str:
        """The ``webhook-signature`` header value for this id, timestamp and raw body."""
        with self._lock:
            private_key = self._private_key
        signed_text = b"%s.%d.%s" % (webhook_id.encode(), timestamp, body)
        der_signature = private_key.sign(signed_text, ec.ECDSA(hashes.SHA256()))
        return "v1der," + base64.b64encode(der_signature).decode()

    def signed_headers(
        self, body: bytes, webhook_id: str | None = None, timestamp: int | None = None
    ) -> dict[str, str]:
        """Headers Benchling would send with ``body`` (by default a fresh id, timestamped now)."""
        webhook_id = webhook_id or f"msg_{uuid.uuid4().hex}"
        timestamp = int(time.time()) if timestamp is None else timestamp
        return {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": self.sign(webhook_id, timestamp, body),
        }
