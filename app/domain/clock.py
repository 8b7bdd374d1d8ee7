"""Time as the service shows it: integer milliseconds since the epoch, rendered RFC 3339 UTC.

Statuses are judged and stored times taken on one clock, the store's (the Redis server's: see
lua/includes/clock.lua); `now_ms` is this host's, for ids and file names only.
"""

from __future__ import annotations

import functools
import time
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_ms(value: datetime) -> int:
    """An aware datetime to epoch milliseconds; digits below the millisecond are dropped."""
    delta = value - _EPOCH
    return delta.days * 86_400_000 + delta.seconds * 1000 + delta.microseconds // 1000


EARLIEST_MS = to_ms(datetime(1, 1, 1, tzinfo=UTC))
LATEST_MS = to_ms(datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC))


def rfc3339(ms: int) -> str:
    """Epoch milliseconds as `2026-12-31T23:59:59.000Z`. RFC 3339 shows the years 1 to 9999:
    a time outside them (which no input can set) is shown as the nearest it can show, so no
    stored value can make a read fail."""
    seconds, millis = divmod(min(max(ms, EARLIEST_MS), LATEST_MS), 1000)
    return f"{_second(seconds)}.{millis:03d}Z"


@functools.lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    """The formatted second (hot: every response shows a time, mostly of the same second)."""
    t = _EPOCH + timedelta(seconds=seconds)
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
