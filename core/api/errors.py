"""One JSON error envelope for every error the app returns.

``{"code": 422, "message": "...", "errors": {"config.api_key": ["Missing data ..."]}}``

It is registered app-wide for ``HTTPException``, so a 404 for a URL no view matches, a
401 from the token guard, a webargs 422 and an unexpected exception (which Flask turns
into a 500 after logging it) all have the same shape. A 500 never carries the
exception's text: that goes to the log, where an operator can read it and a caller
cannot.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException

SERVER_ERROR_MESSAGE = "The server failed to handle the request; the error was logged."
INVALID_INPUT_MESSAGE = "The request has invalid input; `errors` names each field and why."


def flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested error messages as ``{"dotted.field": [reasons]}``.

    Nested schemas and dict fields give nested dicts; list items give integer keys
    (``entities.0``); schema-level errors keep marshmallow's ``_schema`` key.
    """
    if isinstance(messages, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in messages.items():
            flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
        return flat
    if isinstance(messages, (list, tuple)) and all(isinstance(m, str) for m in messages):
        return {prefix or "_schema": list(messages)}
    return {prefix or "_schema": [str(messages)]}


def error_response(code: int, message: str, errors: Mapping[str, list[str]] | None = None) -> Response:
    response = jsonify({"code": code, "message": message, "errors": dict(errors or {})})
    response.status_code = code
    return response


def _request_errors(data: Mapping[str, Any]) -> dict[str, list[str]]:
    """Field errors passed to ``abort(errors=...)`` or collected by webargs.

    webargs nests them under the request location (``{"json": {...}}``); callers of the
    API name fields, not locations, so that level is dropped.
    """
    if "errors" in data:
        return flatten(data["errors"])
    messages = data.get("messages")
    if not isinstance(messages, Mapping):
        return {}
    flat: dict[str, list[str]] = {}
    for location, errors in messages.items():
        flat.update(flatten(errors) if isinstance(errors, Mapping) else flatten(errors, str(location)))
    return flat


def handle_http_exception(error: HTTPException) -> Response:
    """Flask error handler: any HTTP error (including wrapped 500s) as the envelope."""
    code = error.code or 500
    data: Mapping[str, Any] = getattr(error, "data", None) or {}
    errors = _request_errors(data)
    if code == 500:
        message = SERVER_ERROR_MESSAGE
    elif "message" in data:
        message = data["message"]
    else:
        message = INVALID_INPUT_MESSAGE if errors else (error.description or error.name)
    response = error_response(code, message, errors)
    # werkzeug's own headers (Allow on a 405, Retry-After on a 429), then the caller's.
    for name, value in [*error.get_headers(), *(data.get("headers") or {}).items()]:
        if name.lower() != "content-type":
            response.headers[name] = value
    if code == 401:
        response.headers.setdefault("WWW-Authenticate", 'Bearer realm="podium"')
    return response
