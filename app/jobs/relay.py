"""The event relay: moves per-list outboxes into the global event stream.

One process at a time relays (a lock renewed on every round), so the events of one list
reach the stream in allocation order. Lists whose outbox went from empty to non-empty are on
a "dirty" set; a sweep over every list at start-up and every `sweep_s` catches an outbox whose
dirty mark was lost (the process died between the allocation and the mark).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time

from app.domain.lists import ListId
from app.store.connection import UNAVAILABLE
from app.store.store import Store

log = logging.getLogger("vouchers.relay")


class EventRelay:
    def __init__(self, store: Store, interval_s: float = 0.05, sweep_s: float = 30.0) -> None:
        self.store = store
        self.interval_s, self.sweep_s = interval_s, sweep_s
        self.owner = f"{os.getpid()}-{secrets.token_hex(6)}"
        self._stopping = asyncio.Event()
        self._round = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None

    async def relay(self, sweep: bool = False) -> int | None:
        """One round: relay every dirty outbox (every outbox with `sweep`) when this process
        holds the relay lock; return how many events moved, or None when another process
        relays. Rounds never overlap, so each list's events keep their order."""
        async with self._round:
            if not await self._leader():
                return None
            if sweep:
                ids = await self.store.lists.all_ids()
            else:
                ids = [i for i in await self.store.events.dirty() if ListId.parse(i)]
            moved = 0
            for list_id in ids:
                moved += await self.store.events.relay(ListId(list_id))
            return moved

    async def _leader(self) -> bool:
        ttl_ms = int(max(5.0, self.interval_s * 20) * 1000)
        reply = await self.store.scripts.run(
            "hold_lock", [self.store.keys.relay_lock], [self.owner, ttl_ms]
        )
        return bool(reply)

    async def _loop(self) -> None:
        last_sweep = time.monotonic()
        while not self._stopping.is_set():
            try:
                sweep = time.monotonic() - last_sweep > self.sweep_s
                if await self.relay(sweep) is not None and sweep:
                    last_sweep = time.monotonic()
            except UNAVAILABLE:
                pass
            except Exception:
                log.exception("event relay round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)

    async def start(self) -> None:
        """A first round (a sweep of every outbox, so nothing left from before a crash waits),
        then a round every `interval_s` in the background."""
        with contextlib.suppress(*UNAVAILABLE):
            await self.relay(sweep=True)
        self._task = asyncio.create_task(self._loop(), name="event relay")

    async def close(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=5)
