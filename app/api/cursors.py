"""Opaque pagination cursors: base64url of a small JSON value."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any

import orjson

from app.domain.errors import validation_error


def encode(value: Any) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(value)).decode().rstrip("=")


def decode(cursor: str, valid: Callable[[Any], bool]) -> Any:
    """The value behind a cursor; a 422 naming `cursor` when it is not one we handed out."""
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        value = None
    if value is None or not valid(value):
        raise validation_error("cursor", "is not a cursor this API returned")
    return value
