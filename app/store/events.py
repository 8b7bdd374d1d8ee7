"""Events: per-list outboxes (written by the scripts) relayed into one global stream."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from app.domain.events import json_lines
from app.domain.lists import ListId
from app.store import ranged
from app.store.connection import Client
from app.store.keys import Keys, ListKeys
from app.store.leases import Lease
from app.store.scripts import Scripts, raise_for

RELAY_PAGE = 50  # outbox entries read per round trip (an entry holds a batch's events)
APPEND_CHUNK = 500  # about the most events appended to the global stream per script call


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
            for call in _calls(flat):
                appended = raise_for(
                    await self._scripts.run(
                        "append_events",
                        [self._keys.events, lease.key, self._keys.events_meta],
                        [
                            lease.token or "",
                            lease.ttl_ms,
                            self._retention,
                            list_id.value,
                            *call,
                        ],
                    )
                )
                moved += int(appended[0])
            copied = flat[-3]

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
        last = await self._redis.hget(self._keys.events_meta, "last")
        if last is not None:
            return str(last)
        # a stream written before ranges: an event per entry
        rows = cast(list[tuple[str, Any]], await self._redis.xrevrange(self._keys.events, count=1))
        return rows[0][0] if rows else None

    async def page(self, after: str | None, limit: int) -> list[StoredEvent]:
        """Up to `limit` events after the position `after` (from the oldest retained without)."""
        found = await ranged.forward(self._redis, self._keys.events, events_of, after, limit)
        return [event for _, event in found]

    async def read(
        self, after: str | None, limit: int, wait_ms: int, blocking: Client
    ) -> list[StoredEvent]:
        """Events after the position `after` (from the oldest retained without one); with
        `wait_ms`, wait that long for the first one on the `blocking` client."""
        found = await self.page(after, limit)
        if found or wait_ms <= 0:
            return found
        # every position of an entry past `after` is past it: page() read what was left of
        # the entry holding it
        reply = cast(
            list[tuple[str, list[tuple[str, dict[str, str]]]]],
            await blocking.xread({self._keys.events: after or "0-0"}, count=limit, block=wait_ms),
        )
        return [event for _, event in events_of(reply[0][1])][:limit] if reply else []


def events_of(rows: ranged.Rows) -> list[tuple[str, StoredEvent]]:
    """The events of global stream entries, in order (see lua/append_events.lua)."""
    found: list[tuple[str, StoredEvent]] = []
    for entry_id, fields in rows:
        first = fields["id"]
        blobs = json_lines(fields.get("h", ""), fields["e"])
        if len(blobs) == 1:
            found.append((entry_id, StoredEvent(entry_id, {"id": first, "e": blobs[0]})))
            continue
        list_id, ms, seq = first.rsplit("-", 2)
        start_ms, start_seq = ranged.parse(entry_id)
        for i, blob in enumerate(blobs):
            position = f"{start_ms}-{start_seq + i}"
            event_id = f"{list_id}-{ms}-{int(seq) + i}"
            found.append((position, StoredEvent(position, {"id": event_id, "e": blob})))
    return found


def entries_of(events: Sequence[Sequence[str]]) -> list[tuple[str, dict[str, str | int]]]:
    """Global stream entries (id, fields) for events [position, event id, JSON] in order: one
    entry per run of events whose positions, and whose ids' positions in one list, follow
    each other (as the relay wrote them)."""
    entries: list[tuple[str, dict[str, str | int]]] = []
    run: list[Sequence[str]] = []

    def close() -> None:
        if run:
            fields: dict[str, str | int] = {"id": run[0][1], "n": len(run)}
            fields["e"] = "\n".join(blob for _, _, blob in run)
            entries.append((run[0][0], fields))
            run.clear()

    for event in events:
        if run and not _follows(run[-1], event):
            close()
        run.append(event)
    close()
    return entries


def _follows(before: Sequence[str], event: Sequence[str]) -> bool:
    (ms, seq), (next_ms, next_seq) = ranged.parse(before[0]), ranged.parse(event[0])
    if (next_ms, next_seq) != (ms, seq + 1) or not before[2] or not event[2]:
        return False
    list_id, id_ms, id_seq = before[1].rsplit("-", 2)
    return event[1] == f"{list_id}-{id_ms}-{int(id_seq) + 1}"


def _calls(flat: list[str]) -> list[list[str | int]]:
    """append_events arguments for read_outbox's entries (id, header, events, ...): per entry
    its id, how many events, its header and events; a call's entries hold about APPEND_CHUNK
    events at most."""
    calls: list[list[str | int]] = []
    call: list[str | int] = []
    held = 0
    for entry_id, header, joined in zip(flat[::3], flat[1::3], flat[2::3], strict=True):
        n = joined.count("\n") + 1
        if call and held + n > APPEND_CHUNK:
            calls.append(call)
            call, held = [], 0
        call += (entry_id, n, header, joined)
        held += n
    if call:
        calls.append(call)
    return calls
