"""The Flask application factory: Benchling's API, the JWKS and the control endpoints."""

from __future__ import annotations

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from benchling_emulator.api import api, jwks
from benchling_emulator.control import control
from benchling_emulator.errors import ApiError
from benchling_emulator.services import EXTENSION_NAME, EmulatorServices


def create_app(services: EmulatorServices) -> Flask:
    app = Flask(__name__)
    app.extensions[EXTENSION_NAME] = services
    app.register_blueprint(api)
    app.register_blueprint(jwks)
    app.register_blueprint(control)
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    return app


def _api_error(error: ApiError) -> tuple[Response, int]:
    return jsonify(error.body()), error.status


def _http_error(error: HTTPException) -> tuple[Response, int]:
    """Unknown routes and wrong methods, in Benchling's error shape."""
    status = error.code or 500
    return _api_error(ApiError(status, error.description or error.name))
