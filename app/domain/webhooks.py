"""Webhooks: the rules of an endpoint (which events it gets), of its secret and signatures
(the Standard Webhooks specification), and of when a failed attempt is tried again."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import random
import secrets
from dataclasses import dataclass
from typing import Any, Literal, get_args

EventName = Literal["Partner Voucher Rewarded", "Voucher List Low", "Voucher List Exhausted"]
EVENT_NAMES: tuple[str, ...] = get_args(EventName)
URL_MAX = 2000
DESCRIPTION_MAX = 500
TEMPLATE_MAX = 10_000  # characters: with JSON escapes (6 bytes each), still under the body limit
MAX_ENDPOINTS = 100
MAX_LIST_FILTER = 100  # list ids one endpoint may name
SECRET_PREFIX = "whsec_"  # noqa: S105 - the prefix, not a secret
SECRET_BYTES = 32
ERROR_MAX = 300  # characters of an attempt's error kept in the delivery log
ContentType = Literal["application/json", "text/plain"]
# Upper bounds (s) of the attempt latency histogram's buckets
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5, 10, 30)


def new_secret() -> str:
    """`whsec_` + base64 of random bytes (the Standard Webhooks form)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def new_endpoint_id() -> str:
    return "wh_" + secrets.token_hex(8)


@functools.lru_cache(maxsize=2 * MAX_ENDPOINTS)
def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256>` of `<id>.<timestamp>.<body>` with the secret's decoded bytes."""
    key = _key(secret)
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.digest(key, signed, hashlib.sha256)).decode()


def signature_header(secrets_: list[str], message_id: str, timestamp: int, body: bytes) -> str:
    """Every secret's signature, space-separated: the newest first during a rotation."""
    return " ".join(sign(s, message_id, timestamp, body) for s in secrets_)


@dataclass(frozen=True)
class Endpoint:
    id: str
    url: str
    events: tuple[str, ...]
    list_ids: tuple[str, ...] | None  # None: every list
    description: str
    template: str | None
    content_type: str
    enabled: bool
    created_at: int  # epoch ms, the store's clock
    updated_at: int
    secret: str
    previous_secret: str | None  # still signs until previous_until
    previous_until: int

    def matches(self, name: str, list_id: str | None, timestamp: int) -> bool:
        """Whether an event written at `timestamp` is this endpoint's to receive."""
        return (
            self.enabled
            and timestamp >= self.created_at
            and name in self.events
            and (self.list_ids is None or list_id in self.list_ids)
        )

    def signing_secrets(self, now_ms: int) -> list[str]:
        if self.previous_secret and now_ms < self.previous_until:
            return [self.secret, self.previous_secret]
        return [self.secret]

    def public(self) -> dict[str, Any]:
        """The fields the API shows (never the secrets)."""
        return {
            "id": self.id,
            "url": self.url,
            "events": list(self.events),
            "list_ids": None if self.list_ids is None else list(self.list_ids),
            "description": self.description,
            "template": self.template,
            "content_type": self.content_type,
            "enabled": self.enabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def next_wait_s(schedule: tuple[float, ...], attempts: int) -> float | None:
    """After the `attempts`-th failed attempt: the wait before the next one (±20 % at random,
    so receivers that failed together are not retried together), or None when the schedule
    is spent and the delivery has failed."""
    if attempts > len(schedule):
        return None
    return schedule[attempts - 1] * random.uniform(0.8, 1.2)
