"""Opaque pagination cursors: base64url of a small JSON value, signed.

A cursor is `<value>.<signature>`, the signature an HMAC over the collection it pages (its
"scope", such as `lists` or `uploads:<list id>`) and the value, with a secret the store keeps
for every process of the service. A cursor this API did not hand out for that collection, a
forged or edited one included, is a 422 naming `cursor`. Cursors stay valid across restarts of
the service; a store restored from a snapshot gets a new secret, and earlier cursors are 422s.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import orjson

from app.domain.errors import validation_error

SIGNATURE_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _is_position(v: Any) -> bool:
    return isinstance(v, list) and len(v) == 2 and isinstance(v[0], int) and isinstance(v[1], str)


class Cursors:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, scope: str, payload: bytes) -> bytes:
        message = scope.encode() + b"\0" + payload
        return hmac.digest(self._secret, message, hashlib.sha256)[:SIGNATURE_BYTES]

    def encode(self, scope: str, value: Any) -> str:
        payload = orjson.dumps(value)
        return f"{_b64(payload)}.{_b64(self._sign(scope, payload))}"

    def decode(self, scope: str, cursor: str | None, valid: Callable[[Any], bool]) -> Any:
        """The value behind a cursor (None for no cursor); a 422 naming `cursor` when it is not
        one this API returned for `scope`."""
        if cursor is None:
            return None
        value: Any = None
        try:
            text, _, signature = cursor.partition(".")
            payload = _unb64(text)
            if hmac.compare_digest(_unb64(signature), self._sign(scope, payload)):
                value = orjson.loads(payload)
        except (binascii.Error, ValueError):
            value = None
        if value is None or not valid(value):
            raise validation_error("cursor", "is not a cursor this API returned")
        return value

    def name(self, scope: str, cursor: str | None) -> str | None:
        """A cursor holding the last name (or id) of the previous page."""
        value = self.decode(scope, cursor, lambda v: isinstance(v, str))
        return None if value is None else str(value)

    def position(self, scope: str, cursor: str | None) -> tuple[int, str] | None:
        """A cursor holding the (score, id) of the last item of the previous page."""
        value = self.decode(scope, cursor, _is_position)
        return None if value is None else (value[0], value[1])

    def sequence(self, scope: str, cursor: str | None) -> int | None:
        """A cursor holding the (positive) sequence number of the previous page's last item."""
        value = self.decode(scope, cursor, lambda v: isinstance(v, int) and v > 0)
        return None if value is None else int(value)

    def index(self, scope: str, cursor: str | None) -> int:
        """A cursor holding the index of the next item (0 without a cursor)."""
        value = self.decode(scope, cursor, lambda v: isinstance(v, int) and v >= 0)
        return 0 if value is None else int(value)
