"""Events: per-list outboxes (written by the scripts) relayed into one global stream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from app.domain.lists import ListId
from app.store import ranged
from app.store.connection import Client
from app.store.keys import Keys, ListKeys
from app.store.leases import Lease
from app.store.scripts import Scripts, raise_for

RELAY_PAGE = 50  # outbox entries read per round trip (an entry holds a batch's events)
APPEND_CHUNK = 500  # events appended to the global stream per script call


@dataclass(frozen=True)
class StoredEvent:
    position: str  # the global stream's entry id: the cursor
    fields: dict[str, str]


class EventStore:
    def __init__(self, redis: Client, keys: Keys, scripts: Scripts, retention: int) -> None:
        self._redis, self._keys, self._scripts = redis, keys, scripts
        self._retention = retention

    def lease(self, ttl_ms: int) -> Lease:
        """The relay's lease: one process at a time relays, and only while it holds it."""
        return Lease(self._scripts, self._keys.relay_lock, ttl_ms)

    async def dirty(self) -> list[str]:
        return sorted(cast(set[str], await self._redis.smembers(self._keys.dirty_outboxes)))

    async def pending(self, list_ids: list[str]) -> list[str]:
        """Those of the lists whose outbox holds events."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for list_id in list_ids:
                pipe.xlen(self._keys.list(ListId(list_id)).outbox)
            lengths: list[int] = await pipe.execute()
        return [list_id for list_id, n in zip(list_ids, lengths, strict=True) if n]

    async def relay(self, list_id: ListId, lease: Lease) -> int:
        """Move the list's outbox into the global stream, oldest first; return how many.
        At least once: a crash between copying a page and dropping it from the outbox (the
        next read drops it) copies it again, with the same event ids. Each copy is fenced by
        the lease: raises Refused (LEASE_LOST) once another process holds it."""
        await self._redis.srem(self._keys.dirty_outboxes, list_id.value)
        keys = self._keys.list(list_id)
        moved, copied = 0, ""
        while True:
            flat = await self._read(keys, copied)
            if not flat:
                return moved
            events = [
                part
                for entry_id, joined in zip(flat[::2], flat[1::2], strict=True)
                for pair in ranged.expand(entry_id, joined)
                for part in pair
            ]
            for start in range(0, len(events), 2 * APPEND_CHUNK):
                raise_for(
                    await self._scripts.run(
                        "append_events",
                        [self._keys.events, lease.key],
                        [
                            lease.token or "",
                            lease.ttl_ms,
                            self._retention,
                            list_id.value,
                            *events[start : start + 2 * APPEND_CHUNK],
                        ],
                    )
                )
            copied = flat[-2]
            moved += len(events) // 2

    async def _read(self, keys: ListKeys, copied: str) -> list[str]:
        """Drop the entries up to `copied` (copied already), then the next page, flat."""
        reply = await self._scripts.run(
            "read_outbox",
            [keys.outbox, keys.relayed],
            [copied, RELAY_PAGE, "1" if self._scripts.acked else ""],
        )
        return cast(list[str], reply)

    async def last_position(self) -> str | None:
        """The newest event's position, None when the stream is empty."""
        last = cast(list[tuple[str, Any]], await self._redis.xrevrange(self._keys.events, count=1))
        return last[0][0] if last else None

    async def page(self, after: str | None, limit: int) -> list[StoredEvent]:
        """Up to `limit` events after the position `after` (from the oldest retained without)."""
        rows = cast(
            list[tuple[str, dict[str, str]]],
            await self._redis.xrange(
                self._keys.events, f"({after}" if after else "-", "+", count=limit
            ),
        )
        return [StoredEvent(entry_id, fields) for entry_id, fields in rows]

    async def read(
        self, after: str | None, limit: int, wait_ms: int, blocking: Client
    ) -> list[StoredEvent]:
        """Events after the position `after` (from the oldest retained without one); with
        `wait_ms`, wait that long for the first one on the `blocking` client."""
        start = after or "0-0"
        found = await self.page(after, limit)
        if found or wait_ms <= 0:
            return found
        reply = cast(
            list[tuple[str, list[tuple[str, dict[str, str]]]]],
            await blocking.xread({self._keys.events: start}, count=limit, block=wait_ms),
        )
        rows = reply[0][1] if reply else []
        return [StoredEvent(entry_id, fields) for entry_id, fields in rows]
