"""Time as the service sees it: integer milliseconds since the epoch, rendered RFC 3339 UTC."""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_ms(value: datetime) -> int:
    """An aware datetime to epoch milliseconds; digits below the millisecond are dropped."""
    delta = value - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


def rfc3339(ms: int) -> str:
    """Epoch milliseconds as `2026-12-31T23:59:59.000Z`."""
    seconds, millis = divmod(ms, 1000)
    return f"{_second(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    """The formatted second (hot: every response shows a time, mostly of the same second)."""
    return f"{datetime.fromtimestamp(seconds, tz=UTC):%Y-%m-%dT%H:%M:%S}"
