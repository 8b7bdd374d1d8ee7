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


def decode(cursor: str | None, valid: Callable[[Any], bool]) -> Any:
    """The value behind a cursor (None for no cursor); a 422 naming `cursor` when it is not
    one this API handed out."""
    if cursor is None:
        return None
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        value = None
    if value is None or not valid(value):
        raise validation_error("cursor", "is not a cursor this API returned")
    return value


def decode_name(cursor: str | None) -> str | None:
    """A cursor holding the last name (or id) of the previous page."""
    value = decode(cursor, lambda v: isinstance(v, str))
    return None if value is None else str(value)


def decode_position(cursor: str | None) -> tuple[int, str] | None:
    """A cursor holding the (score, id) of the last item of the previous page."""
    value = decode(
        cursor,
        lambda v: (
            isinstance(v, list) and len(v) == 2 and isinstance(v[0], int) and isinstance(v[1], str)
        ),
    )
    return None if value is None else (value[0], value[1])
