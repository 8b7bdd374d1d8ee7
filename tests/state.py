"""Helpers for assertions about the store and time."""

from __future__ import annotations

from typing import Any

from app.domain.clock import now_ms, rfc3339
from app.store.connection import Client
from app.store.keys import Keys

DAY_MS = 86_400_000


def iso(ms: int) -> str:
    return rfc3339(ms)


class Clock:
    """A settable clock (epoch ms) the app reads instead of the wall clock."""

    def __init__(self) -> None:
        self.ms = now_ms()

    def __call__(self) -> int:
        return self.ms

    def advance(self, ms: int) -> None:
        self.ms += ms


# Coordination state with a time to live, not data: the relay's lock comes and goes by itself.
NOT_DATA = {Keys("pv").relay_lock}


async def dump(redis: Client) -> dict[str, Any]:
    """Every key with its type and full content: two equal dumps mean nothing changed."""
    out: dict[str, Any] = {}
    async for key in redis.scan_iter(count=1000):
        if key in NOT_DATA:
            continue
        kind = await redis.type(key)
        if kind == "string":
            value: Any = await redis.get(key)
        elif kind == "hash":  # scanned: a whole 1M-entry read would outlast the read timeout
            value = {f: v async for f, v in redis.hscan_iter(key, count=1000)}
        elif kind == "set":
            value = sorted({m async for m in redis.sscan_iter(key, count=1000)})
        elif kind == "zset":
            value = await redis.zrange(key, 0, -1, withscores=True)
        elif kind == "list":
            value = await redis.lrange(key, 0, -1)
        elif kind == "stream":
            value = await redis.xrange(key)
        else:
            raise AssertionError(f"unexpected type {kind!r} for {key!r}")
        out[key] = (kind, value)
    return out
