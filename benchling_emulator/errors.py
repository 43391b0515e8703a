"""Benchling's error answers: ``{"error": {"type", "message", "userMessage", ...}}``, with the
keys its OpenAPI document names (``NotFoundError``'s ``invalidId``, ``ListingError``'s
``invalidIds``)."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An API call that Benchling would refuse; the routes turn it into Benchling's error body."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        invalid_id: str | None = None,
        invalid_ids: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.error_type = error_type
        self.invalid_id = invalid_id
        self.invalid_ids = invalid_ids

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {
            "type": self.error_type,
            "message": self.message,
            "userMessage": self.message,
        }
        if self.invalid_id is not None:
            error["invalidId"] = self.invalid_id  # as ``NotFoundError`` names it
        body: dict[str, Any] = {"error": error}
        if self.invalid_ids is not None:
            body["invalidIds"] = self.invalid_ids  # beside the error, as ``ListingError`` has it
        return body


def not_found(kind: str, resource_id: str) -> ApiError:
    return ApiError(404, f"{kind} not found: {resource_id}", invalid_id=resource_id)


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)
