"""The janitor: finishes what processes that died left half done, every few seconds.

- uploads left in progress are resumed (once their lease has run out);
- a deleted list's upload records whose purge a crash interrupted are unlinked;
- (partner, tag) claims left between the steps of create, archive or delete are settled once
  their deadline has passed (app/store/claims.py).
Each of these is safe to run in any number of processes at once.
"""

from __future__ import annotations

import asyncio
import logging

from app.jobs.periodic import repeat
from app.jobs.uploads import UploadWorker
from app.store.store import Store

log = logging.getLogger("vouchers.janitor")


class Janitor:
    def __init__(self, store: Store, uploads: UploadWorker, interval_s: float) -> None:
        self.store, self.uploads, self.interval_s = store, uploads, interval_s
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def round(self) -> None:
        await self.uploads.resume_all()
        await self.store.lists.purge_pending()
        settled = await self.store.claims.settle_due(
            await self.store.lists.now(self.store.keys.unsettled)
        )
        if settled:
            log.warning("settled %d claim(s) a process left between steps", settled)

    def start(self) -> None:
        """A first round now (uploads left in progress resume), then one every interval."""
        self._task = asyncio.create_task(
            repeat(self.round, self.interval_s, self._stopping, log, "janitor"), name="janitor"
        )

    async def close(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=5)
