"""The event relay: moves per-list outboxes into the global event stream.

One process at a time relays, while it holds the relay lease, so the events of one list reach
the stream in allocation order. Every copy into the stream checks the lease's token in the same
atomic step: a relay that paused past its lease (a long GC pause, a SIGSTOP, a VM freeze)
cannot append a stale page after another process took over. Lists whose outbox went from empty
to non-empty are on a "dirty" set; a sweep over every list at start-up and every `sweep_s`
catches an outbox whose dirty mark was lost (the process died between the allocation and the
mark). The lease is given up at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from app.domain.lists import ListId
from app.jobs.periodic import repeat
from app.store.connection import UNAVAILABLE
from app.store.scripts import Code, Refused
from app.store.store import Store

log = logging.getLogger("vouchers.relay")


class EventRelay:
    def __init__(
        self,
        store: Store,
        interval_s: float = 0.05,
        sweep_s: float = 30.0,
        lease_ms: int | None = None,
    ) -> None:
        self.store = store
        self.interval_s, self.sweep_s = interval_s, sweep_s
        self.lease = store.events.lease(lease_ms or int(max(5.0, interval_s * 20) * 1000))
        self._stopping = asyncio.Event()
        self._round = asyncio.Lock()
        self._last_sweep = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    async def relay(self, sweep: bool = False) -> int | None:
        """One round: relay every dirty outbox (every non-empty outbox with `sweep`) while this
        process holds the relay lease; return how many events moved, or None when another
        process holds it. Rounds never overlap, so each list's events keep their order."""
        async with self._round:
            if not await self.lease.hold():
                return None
            moved = 0
            try:
                if sweep:
                    async for ids in self.store.lists.all_ids():
                        for list_id in await self.store.events.pending(ids):
                            moved += await self.store.events.relay(ListId(list_id), self.lease)
                else:
                    for list_id in await self.store.events.dirty():
                        if ListId.parse(list_id):
                            moved += await self.store.events.relay(ListId(list_id), self.lease)
            except Refused as refused:
                if refused.code is not Code.LEASE_LOST:
                    raise
                log.warning("event relay lost its lease mid-round; another process relays")
                self.lease.lost()
                return None
            return moved

    async def _tick(self) -> None:
        """A round of the background loop: a sweep every `sweep_s`, else the dirty lists."""
        sweep = time.monotonic() - self._last_sweep > self.sweep_s
        if await self.relay(sweep) is not None and sweep:
            self._last_sweep = time.monotonic()

    async def start(self) -> None:
        """A first round (a sweep of every outbox, so nothing left from before a crash waits),
        then a round every `interval_s` in the background."""
        with contextlib.suppress(*UNAVAILABLE):
            await self.relay(sweep=True)
        self._last_sweep = time.monotonic()
        self._task = asyncio.create_task(
            repeat(self._tick, self.interval_s, self._stopping, log, "event relay"),
            name="event relay",
        )

    async def close(self) -> None:
        """Stop relaying and give the lease up, so another process takes over at once."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=5)
        async with self._round:
            with contextlib.suppress(*UNAVAILABLE):
                await self.lease.release()
