"""Events: per-list outboxes (written by the scripts) relayed into one global stream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

from app.domain.lists import ListId
from app.store.keys import Keys
from app.store.scripts import Scripts

RELAY_PAGE = 500  # outbox entries moved per round trip


@dataclass(frozen=True)
class StoredEvent:
    position: str  # the global stream's entry id: the cursor
    fields: dict[str, str]


def _next_id(entry_id: str) -> str:
    ms, seq = entry_id.split("-")
    return f"{ms}-{int(seq) + 1}"


class EventStore:
    def __init__(self, redis: Redis, keys: Keys, scripts: Scripts, retention: int) -> None:
        self._redis, self._keys, self._scripts = redis, keys, scripts
        self._retention = retention

    async def dirty(self) -> list[str]:
        return sorted(cast(set[str], await self._redis.smembers(self._keys.dirty_outboxes)))

    async def relay(self, list_id: ListId) -> int:
        """Move the list's outbox into the global stream, oldest first; return how many.
        At least once: a crash between copying and trimming copies those entries again,
        with the same event ids."""
        await self._redis.srem(self._keys.dirty_outboxes, list_id.value)
        outbox = self._keys.list(list_id).outbox
        moved = 0
        while True:
            rows = cast(
                list[tuple[str, dict[str, str]]],
                await self._redis.xrange(outbox, "-", "+", count=RELAY_PAGE),
            )
            if not rows:
                return moved
            await self._copy(list_id, rows)
            await self._trim(outbox, rows[-1][0])
            moved += len(rows)

    async def _copy(self, list_id: ListId, rows: list[tuple[str, dict[str, str]]]) -> None:
        args: list[str | int] = [self._retention]
        for entry_id, fields in rows:
            args += (f"{list_id.value}-{entry_id}", fields["e"])
        await self._scripts.run("append_events", [self._keys.events], args)

    async def _trim(self, outbox: str, last_moved: str) -> None:
        # exact, not "~": an approximate trim leaves entries behind to be relayed again
        await self._redis.xtrim(outbox, minid=_next_id(last_moved), approximate=False)

    async def read(
        self, after: str | None, limit: int, wait_ms: int, blocking: Redis
    ) -> list[StoredEvent]:
        """Events after the position `after` (from the oldest retained without one); with
        `wait_ms`, wait that long for the first one on the `blocking` client."""
        start = after or "0-0"
        rows = cast(
            list[tuple[str, dict[str, str]]],
            await self._redis.xrange(
                self._keys.events, f"({start}" if after else "-", "+", count=limit
            ),
        )
        if not rows and wait_ms > 0:
            reply = cast(
                list[tuple[str, list[tuple[str, dict[str, str]]]]],
                await blocking.xread({self._keys.events: start}, count=limit, block=wait_ms),
            )
            rows = reply[0][1] if reply else []
        return [StoredEvent(entry_id, fields) for entry_id, fields in rows]
