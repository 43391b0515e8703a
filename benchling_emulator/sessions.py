"""The App's sessions (``/app-sessions``), as the SDK's status helpers create and update them;
they touch nothing else in the tenant, so they keep a lock of their own."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from benchling_emulator.clock import TenantClock, isoformat
from benchling_emulator.errors import bad_request, not_found


class AppSessions:
    def __init__(self, app_id: str, clock: TenantClock, new_id: Callable[[str], str]) -> None:
        self._app_id = app_id
        self._clock = clock
        self._new_id = new_id
        self._lock = threading.Lock()
        self._sessions: dict[str, dict[str, Any]] = {}

    def create(self, request: dict[str, Any]) -> dict[str, Any]:
        if request.get("appId") != self._app_id:
            raise bad_request(f"unknown appId: {request.get('appId')!r}")
        name = request.get("name")
        if not isinstance(name, str) or not 3 <= len(name) <= 100:
            raise bad_request("name must be a string of 3 to 100 characters")
        timeout = request.get("timeoutSeconds")
        if not isinstance(timeout, int) or not 1 <= timeout <= 30 * 24 * 3600:
            raise bad_request("timeoutSeconds must be from 1 second to 30 days")
        with self._lock:
            now = isoformat(self._clock.now())
            session: dict[str, Any] = {
                "id": self._new_id("sesn_"),
                "app": {"id": self._app_id},
                "name": name,
                "status": "RUNNING",
                "timeoutSeconds": timeout,
                "messages": list(request.get("messages") or []),
                "createdAt": now,
                "modifiedAt": now,
            }
            self._sessions[session["id"]] = session
            return dict(session)

    def get(self, session_id: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._session(session_id))

    def update(self, session_id: str, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            session = self._session(session_id)
            session["messages"] = [*session["messages"], *(request.get("messages") or [])]
            for key in ("status", "timeoutSeconds"):
                if request.get(key) is not None:
                    session[key] = request[key]
            session["modifiedAt"] = isoformat(self._clock.now())
            return dict(session)

    def _session(self, session_id: str) -> dict[str, Any]:
        session = self._sessions.get(session_id)
        if session is None:
            raise not_found("App session", session_id)
        return session
