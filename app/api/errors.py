"""Rendering errors: one JSON shape everywhere, never a stack trace."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from app.api.json import json_response
from app.domain.errors import BadRequest, ServiceError, Unprocessable

log = logging.getLogger("vouchers.api")

RETRY_AFTER_S = "1"

_HTTP_CODES = {404: "route_not_found", 405: "method_not_allowed"}


def error_response(error: ServiceError, headers: dict[str, str] | None = None) -> Response:
    headers = dict(headers or {})
    if error.status == 503:
        headers["Retry-After"] = RETRY_AFTER_S
    body = {"error": {"code": error.code, "message": error.message, "details": error.details}}
    return json_response(body, error.status, headers)


def _field(loc: tuple[int | str, ...]) -> str:
    """A field's name as a client writes it: `items[3].user_id`."""
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else f".{part}" if name else str(part)
    return name or "body"


def from_validation(exc: ValidationError) -> ServiceError:
    """Pydantic errors as one 400 (not JSON at all) or one 422 naming every bad field."""
    errors = exc.errors(include_url=False, include_input=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return BadRequest("The request body is not valid JSON.")
    if any(e["type"] == "model_type" and not e["loc"] for e in errors):
        return BadRequest("The request body must be a JSON object.")
    fields = [{"field": _field(e["loc"]), "message": e["msg"]} for e in errors]
    names = ", ".join(f["field"] for f in fields)
    return Unprocessable(f"Invalid fields: {names}.", fields=fields)


async def http_exception(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    error = ServiceError(str(exc.detail), code=code)
    error.status = exc.status_code
    return error_response(error, dict(exc.headers or {}))
