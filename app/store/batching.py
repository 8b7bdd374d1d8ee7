"""Micro-batching: concurrent allocations for one list share one script call.

The first request for a list in an event-loop turn opens a batch and schedules its flush
with `call_soon`; every request for that list arriving before the flush runs joins it. The
script handles the requests in order, each with its own result or error, so exactly-once and
per-request errors are exactly as with one call per request, for a fraction of the round
trips. A batch is also flushed as soon as it holds `max_batch` requests.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from app.domain.lists import ListId
from app.store.allocations import Allocation, AllocationStore, Request
from app.store.scripts import Refused


@dataclass
class _Batch:
    requests: list[Request] = field(default_factory=list)
    futures: list[asyncio.Future[Allocation]] = field(default_factory=list)
    flushed: bool = False


class AllocationBatcher:
    def __init__(self, store: AllocationStore, max_batch: int = 64) -> None:
        self._store, self._max = store, max_batch
        self._open: dict[str, _Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    async def allocate(self, list_id: ListId, request: Request) -> Allocation:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Allocation] = loop.create_future()
        batch = self._open.get(list_id.value)
        if batch is None:
            batch = self._open[list_id.value] = _Batch()
            loop.call_soon(self._flush, list_id, batch)
        batch.requests.append(request)
        batch.futures.append(future)
        if len(batch.requests) >= self._max:
            self._flush(list_id, batch)
        return await future

    def _flush(self, list_id: ListId, batch: _Batch) -> None:
        if batch.flushed:
            return  # it filled up and went out before its turn came
        batch.flushed = True
        if self._open.get(list_id.value) is batch:
            del self._open[list_id.value]
        task = asyncio.create_task(self._run(list_id, batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, list_id: ListId, batch: _Batch) -> None:
        try:
            results = await self._store.allocate_many(list_id, batch.requests)
        except BaseException as exc:  # the store is down: every request of the batch fails
            for future in batch.futures:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for future, result in zip(batch.futures, results, strict=True):
            if future.done():
                continue  # the client went away; the allocation stands and replays
            if isinstance(result, Refused):
                future.set_exception(result)
            else:
                future.set_result(result)
