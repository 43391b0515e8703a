"""Reading JSON request bodies; what does not fit is answered 400, as Benchling does."""

from __future__ import annotations

from typing import Any

from flask import request

from benchling_emulator.errors import bad_request


def json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    return body


def string_list(body: dict[str, Any], key: str) -> list[str]:
    values = body.get(key)
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise bad_request(f"{key} must be a list of strings")
    return values
