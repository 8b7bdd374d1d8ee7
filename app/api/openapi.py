"""The OpenAPI 3.1 document, generated from the endpoint declarations and pydantic models."""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from app import __version__
from app.api.routing import Endpoint
from app.api.schemas import ErrorBody

_PATH_PARAM = re.compile(r"{(\w+)(?::\w+)?}")  # {name} or, with a convertor, {name:path}
_REF = "#/components/schemas/{model}"


def documented_path(path: str) -> str:
    """The route's path as OpenAPI writes it: `{code:path}` is `{code}`."""
    return _PATH_PARAM.sub(r"{\1}", path)


def _error_codes(endpoint: Endpoint) -> dict[int, list[str]]:
    codes: dict[int, list[str]] = defaultdict(list)
    if endpoint.role is not None:
        codes[401].append("unauthorized")
        codes[403].append("forbidden")
    if endpoint.body is not None:
        codes[400].append("malformed_body")
        codes[413].append("payload_too_large")
        codes[415].append("unsupported_media_type")
        codes[422].append("validation_error")
    if endpoint.query is not None:
        codes[422].append("validation_error")
    if endpoint.uses_store:
        codes[503].append("store_unavailable")
    for status, code in endpoint.errors:
        codes[status].append(code)
    return {status: sorted(set(names)) for status, names in sorted(codes.items())}


def build(endpoints: list[Endpoint]) -> dict[str, Any]:
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = [(ErrorBody, "serialization")]
    for e in endpoints:
        if e.body is not None:
            wanted.append((e.body, "validation"))
        if e.response is not None:
            wanted.append((e.response, "serialization"))
    refs, top = models_json_schema(list(dict.fromkeys(wanted)), ref_template=_REF)
    paths: dict[str, dict[str, Any]] = defaultdict(dict)
    for e in endpoints:
        paths[documented_path(e.path)][e.method.lower()] = _operation(e, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Partner Vouchers", "version": __version__},
        "paths": dict(paths),
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(e: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in _PATH_PARAM.findall(e.path)
    ]
    if e.query is not None:
        schema = e.query.model_json_schema(ref_template=_REF)
        for name, prop in schema["properties"].items():
            params.append({"name": name, "in": "query", "required": False, "schema": prop})
    ok: dict[str, Any] = {"description": "OK" if e.status != 204 else "No content"}
    if e.response is not None:
        ok["content"] = {e.media_type: {"schema": refs[(e.response, "serialization")]}}
    elif e.status != 204:
        ok["content"] = {e.media_type: {"schema": {}}}
    responses: dict[str, Any] = {str(e.status): ok}
    error_schema = refs[(ErrorBody, "serialization")]
    for status, names in _error_codes(e).items():
        if status < 400:  # another success (a replay): the same body as the main one
            responses[str(status)] = {**ok, "description": ", ".join(names)}
            continue
        responses[str(status)] = {
            "description": "error codes: " + ", ".join(names),
            "content": {"application/json": {"schema": error_schema}},
        }
    op: dict[str, Any] = {
        "operationId": e.handler.__name__,
        "summary": e.summary,
        "parameters": params,
        "responses": responses,
        "security": [] if e.role is None else [{"bearer": []}],
    }
    if e.role is not None:
        op["description"] = f"Needs the {e.role} role or higher."
    if e.file_field is not None:
        op["requestBody"] = {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": [e.file_field],
                        "properties": {e.file_field: {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    if e.body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(e.body, "validation")]}},
        }
    return op
