"""The contract's single error format, for every error a service can answer.

`{"error": {"code": "...", "message": "...", "fields": {"requester.email": ["..."]}}}`
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify
from marshmallow import ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from services.common.failures import Conflict, Failure, NotAllowed, NotFound

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
    503: "unavailable",
}


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: Mapping[str, list[str]] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.fields = dict(fields) if fields else None
        self.headers = dict(headers) if headers else {}


def flatten_messages(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as dotted paths: {"requester.email": [...]}."""
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            path = (
                prefix if key == "_schema" and prefix else f"{prefix}.{key}" if prefix else str(key)
            )
            for sub_path, texts in flatten_messages(value, path).items():
                flat.setdefault(sub_path, []).extend(texts)
        return flat
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": list(messages)}
    return {prefix or "_schema": [str(messages)]}


def error_response(
    status: int,
    code: str,
    message: str,
    fields: Mapping[str, list[str]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = dict(fields)
    response = jsonify({"error": body})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.fields, exc.headers)

    @app.errorhandler(Failure)
    def _failure(exc: Failure) -> Response:
        status = (
            404
            if isinstance(exc, NotFound)
            else 409
            if isinstance(exc, Conflict)
            else 403
            if isinstance(exc, NotAllowed)
            else 422
        )
        return error_response(status, exc.code, exc.message, getattr(exc, "fields", None))

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError) -> Response:
        return error_response(
            422,
            "validation_failed",
            "The request has invalid fields.",
            flatten_messages(exc.messages),
        )

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        headers = {}
        if status == 405 and exc.valid_methods:
            headers["Allow"] = ", ".join(exc.valid_methods)
        if status == 401:
            headers["WWW-Authenticate"] = "Bearer"
        code = HTTP_CODES.get(status, "http_error")
        return error_response(status, code, exc.description or exc.name, headers=headers)

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _database_down(exc: Exception) -> Response:
        # A restart or failover of the database: nothing was stored, and the client may
        # safely try again (the contract's 503), which a 500 would not tell it.
        log.warning("database unavailable: %s", type(exc.__cause__ or exc).__name__)
        return error_response(
            503,
            "unavailable",
            "The service is briefly unavailable; try again shortly.",
            headers={"Retry-After": "1"},
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "Something went wrong on our side.")
