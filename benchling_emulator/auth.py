"""OAuth2 client credentials, as ``POST /api/v2/token`` grants them, and bearer-token checks."""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable


class TokenIssuer:
    def __init__(
        self,
        client_id: str,
        client_secret: str,
        ttl_seconds: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client_id = client_id
        self._client_secret = client_secret
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._expiries: dict[str, float] = {}  # token → when it stops being accepted

    def issue(self, client_id: str, client_secret: str) -> str | None:
        """A new access token for the right credentials, None for wrong ones."""
        right_id = hmac.compare_digest(client_id.encode(), self._client_id.encode())
        right_secret = hmac.compare_digest(client_secret.encode(), self._client_secret.encode())
        if not (right_id and right_secret):
            return None
        token = secrets.token_urlsafe(24)
        with self._lock:
            now = self._clock()
            self._expiries = {t: e for t, e in self._expiries.items() if e > now}
            self._expiries[token] = now + self.ttl_seconds
        return token

    def accepts(self, authorization: str | None) -> bool:
        """Whether an ``Authorization`` header carries a live bearer token."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        with self._lock:
            return self._expiries.get(token, 0.0) > self._clock()
