"""The webhook delivery engine: in its own process beside the API workers (`vouchers webhooks`,
which `vouchers serve` starts), or inside a worker (the embedded store's only choice).

Two loops share the work:
- fan-out reads a page of the event stream after the engine's committed cursor and, in one
  atomic step, creates a delivery per (matching endpoint, event), moves the cursor
  (compare-and-set: of several processes, one takes each page) and claims the new deliveries
  this process has free slots for, whose attempts start at once;
- settle records the outcomes of finished attempts (with the counters behind the metrics) and
  claims due deliveries (retries, and what fan-out had no slot for) in one step, whenever an
  attempt ends and every `webhooks_interval_s`.
Each endpoint has `webhooks_concurrency` slots in a process, so a hanging receiver holds only
its own. A claim holds a delivery for longer than an attempt may take, so no two processes send
one attempt at once; a process that dies mid-attempt leaves it to be claimed again (at least
once: receivers dedupe on `webhook-id`). Retries wait in Redis, in each endpoint's `due` sorted
set, so they survive restarts. Allocations write nothing for webhooks: the engine only reads
the event stream they already feed.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
import time
from collections import Counter
from typing import Any

import orjson

from app.config import Settings
from app.domain import templates
from app.domain.events import render
from app.domain.webhooks import ERROR_MAX, LATENCY_BUCKETS, Endpoint, next_wait_s, signature_header
from app.jobs.webhook_http import UrlGuard, WebhookClient
from app.store.connection import UNAVAILABLE
from app.store.scripts import Code
from app.store.store import Store
from app.store.webhooks import Delivery, EngineState, Outcome

log = logging.getLogger("vouchers.webhooks")

EVENTS_PER_ROUND = 250  # (event, endpoint) pairs one fan-out step considers at most: a
# fan-out script holds Redis a millisecond or two, not longer
CLAIM_MARGIN_MS = 5000  # a claim outlasts an attempt's timeout by this much


def guard_of(settings: Settings) -> UrlGuard:
    return UrlGuard(settings.webhooks_allow_private, settings.webhook_hosts)


async def lag_s(store: Store) -> float:
    """Now minus the time of the oldest event not yet delivered: the oldest with a pending
    delivery, or the first the engine has not yet looked at (0 when there is none)."""
    state = await store.webhooks.state()
    if not state.endpoints:
        return 0.0
    ids = [e.id for e in await store.webhooks.all() if e.enabled]
    if not ids:
        return 0.0
    times = [await store.webhooks.oldest_pending(ids)]
    unread = await store.events.page(state.cursor or None, 1)
    if unread and unread[0].fields.get("e"):
        times.append(int(orjson.loads(unread[0].fields["e"])["timestamp"]))
    oldest = min((t for t in times if t is not None), default=None)
    return 0.0 if oldest is None else max(0.0, time.time() - oldest / 1000)


class WebhookEngine:
    def __init__(self, store: Store, settings: Settings) -> None:
        self.store, self.settings = store, settings
        self.client = WebhookClient(guard_of(settings), settings.webhooks_timeout_s)
        self.schedule = settings.retry_schedule_s
        self.lease_ms = int(settings.webhooks_timeout_s * 1000) + CLAIM_MARGIN_MS
        self.endpoints: dict[str, Endpoint] = {}
        self._version: str | None = None  # the endpoints' version `endpoints` holds
        self._busy: Counter[str] = Counter()  # slots taken (or reserved) per endpoint
        self._finished: list[Outcome] = []
        self._counters: dict[str, float] = {}  # added to the store's on the next settle
        self._attempts: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()  # an attempt ended
        self._settled = asyncio.Condition()  # notified after outcomes are recorded
        self._stopping = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []

    # --- slots -----------------------------------------------------------------------------

    def _reserve(self, endpoint_ids: list[str]) -> dict[str, int]:
        room: dict[str, int] = {}
        for endpoint_id in endpoint_ids:
            free = self.settings.webhooks_concurrency - self._busy[endpoint_id]
            if free > 0:
                room[endpoint_id] = free
                self._busy[endpoint_id] += free
        return room

    def _release(self, room: dict[str, int], used: Counter[str]) -> None:
        for endpoint_id, n in room.items():
            self._busy[endpoint_id] -= n - used[endpoint_id]

    # --- fan-out ---------------------------------------------------------------------------

    async def _refresh(self) -> EngineState:
        state = await self.store.webhooks.state()
        if state.version != self._version:
            self.endpoints = {e.id: e for e in await self.store.webhooks.all()}
            self._version = state.version  # a change in between fails fan-out's check
        return state

    async def fanout(self) -> int:
        """Create the deliveries of one page of new events; return how many events the page
        held (0: nothing new)."""
        state = await self._refresh()
        if not state.endpoints:
            return 0  # nothing to match, and nothing written
        enabled = [e for e in self.endpoints.values() if e.enabled]
        if not enabled:  # skip to the end of the stream
            end = await self.store.events.last_position()
            if end and end != state.cursor:
                await self.store.webhooks.fanout(state, end, {}, [], self.lease_ms)
            return 0
        page = await self.store.events.page(state.cursor or None, self.page_size())
        if not page:
            return 0
        deliveries: list[tuple[str, str, str, int, str]] = []
        for event in page:
            event_id, blob = event.fields["id"], event.fields["e"]
            if not blob:
                continue
            parsed: dict[str, Any] = orjson.loads(blob)
            list_id = parsed["properties"].get("voucherListID")
            at = int(parsed["timestamp"])
            for e in enabled:
                if e.matches(parsed["name"], list_id, at):
                    deliveries.append((e.id, event_id, parsed["name"], at, blob))
        room = self._reserve(list({d[0] for d in deliveries}))
        used: Counter[str] = Counter()
        try:
            claimed = await self.store.webhooks.fanout(
                state, page[-1].position, room, deliveries, self.lease_ms
            )
            if isinstance(claimed, Code):
                return 0  # another process took the page, or the endpoints changed: read again
            for index, delivery_id, token in claimed:
                endpoint_id, event_id, *_, blob = deliveries[index]
                used[endpoint_id] += 1
                record = {"id": delivery_id, "token": token, "event_id": event_id}
                self._start(Delivery(endpoint_id, record, blob))
        finally:
            self._release(room, used)
        return len(page)

    def page_size(self) -> int:
        return max(10, EVENTS_PER_ROUND // max(1, len(self.endpoints)))

    # --- settle ----------------------------------------------------------------------------

    async def settle(self) -> None:
        """Record finished attempts and claim due deliveries for the free slots."""
        outcomes, self._finished = self._finished, []
        counters, self._counters = self._counters, {}
        room = self._reserve([e.id for e in self.endpoints.values() if e.enabled])
        used: Counter[str] = Counter()
        try:
            claimed = await self.store.webhooks.settle(
                outcomes, counters, room, self.lease_ms, self.settings.webhooks_retention
            )
        except BaseException:
            self._finished = outcomes + self._finished  # recorded the next time
            for name, n in counters.items():
                self._count(name, n)
            self._release(room, used)
            raise
        for delivery in claimed:
            if delivery.endpoint_id in self.endpoints:
                used[delivery.endpoint_id] += 1
                self._start(delivery)
        self._release(room, used)
        if outcomes:
            async with self._settled:
                self._settled.notify_all()

    async def next_settle(self) -> None:
        """Wait until the next outcomes are recorded (for tests and tools watching progress)."""
        async with self._settled:
            await self._settled.wait()

    # --- one attempt -----------------------------------------------------------------------

    def _start(self, delivery: Delivery) -> None:
        task = asyncio.create_task(self._attempt(self.endpoints[delivery.endpoint_id], delivery))
        self._attempts.add(task)
        task.add_done_callback(self._attempts.discard)

    def body(self, endpoint: Endpoint, delivery: Delivery) -> bytes:
        """The request body: the event as GET /v1/events shows it, or the template's render.
        Raises templates.RenderError."""
        event = render(delivery.record["event_id"], delivery.event)
        if endpoint.template is None:
            return orjson.dumps(event)
        return templates.render(endpoint.template, event).encode()

    async def _attempt(self, endpoint: Endpoint, delivery: Delivery) -> None:
        try:
            outcome = await self._send(endpoint, delivery)
        except Exception as exc:  # a bug, not the receiver: try again later
            log.exception("webhook attempt %s failed", delivery.id)
            outcome = self._failure(delivery, None, f"internal: {type(exc).__name__}")
        finally:
            self._busy[endpoint.id] -= 1
            # Settle once a quarter of the endpoint's slots are free: outcomes recorded and
            # slots refilled in batches, a Redis call for several attempts, not one each
            free = self.settings.webhooks_concurrency - self._busy[endpoint.id]
            if free >= max(1, self.settings.webhooks_concurrency // 4):
                self._wake.set()
        self._count(outcome.outcome)
        self._finished.append(outcome)

    async def _send(self, endpoint: Endpoint, delivery: Delivery) -> Outcome:
        try:
            body = self.body(endpoint, delivery)
        except templates.RenderError as exc:
            return Outcome(delivery, "failed", None, f"template: {exc}"[:ERROR_MAX])
        now = time.time()
        stamp = int(now)
        message_id = delivery.record["event_id"]
        headers = {
            "content-type": endpoint.content_type,
            "webhook-id": message_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature_header(
                endpoint.signing_secrets(int(now * 1000)), message_id, stamp, body
            ),
        }
        started = time.perf_counter()
        answer = await self.client.post(endpoint.url, headers, body)
        self._observe(time.perf_counter() - started)
        if answer.status is not None and 200 <= answer.status < 300:
            return Outcome(delivery, "delivered", answer.status, "")
        return self._failure(delivery, answer.status, answer.error or f"HTTP {answer.status}")

    def _failure(self, delivery: Delivery, status: int | None, error: str) -> Outcome:
        wait = next_wait_s(self.schedule, delivery.attempts + 1)
        outcome = "failed" if wait is None else "retry"
        return Outcome(delivery, outcome, status, error[:ERROR_MAX], int((wait or 0) * 1000))

    def _observe(self, seconds: float) -> None:
        bucket = bisect.bisect_left(LATENCY_BUCKETS, seconds)
        le = LATENCY_BUCKETS[bucket] if bucket < len(LATENCY_BUCKETS) else "+Inf"
        self._count(f"latency:{le}")
        self._count("latency_sum", seconds)

    def _count(self, name: str, n: float = 1) -> None:
        self._counters[name] = self._counters.get(name, 0) + n

    # --- running ---------------------------------------------------------------------------

    async def _fanout_loop(self) -> None:
        while not self._stopping.is_set():
            full = False
            try:
                full = await self.fanout() >= self.page_size()
            except UNAVAILABLE:
                pass
            except Exception:
                log.exception("webhook fan-out failed; retrying")
            if not full:  # caught up: look again after the interval
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.settings.webhooks_interval_s)

    async def _settle_loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.webhooks_interval_s)
            self._wake.clear()
            try:
                await self.settle()
            except UNAVAILABLE:
                pass
            except Exception:
                log.exception("webhook settle failed; retrying")

    async def start(self) -> None:
        await self.client.open()
        self._loops = [
            asyncio.create_task(self._fanout_loop(), name="webhooks-fanout"),
            asyncio.create_task(self._settle_loop(), name="webhooks-settle"),
        ]

    async def close(self) -> None:
        """Stop claiming; give attempts in flight a moment, record what finished. An attempt
        cut off is claimed again by a process once its claim lapses."""
        self._stopping.set()
        self._wake.set()
        if self._loops:
            await asyncio.wait(self._loops, timeout=5)
        if self._attempts:
            await asyncio.wait(self._attempts, timeout=2)
            for task in self._attempts:
                task.cancel()
        self.endpoints = {}  # claim nothing more
        with contextlib.suppress(*UNAVAILABLE):
            await self.settle()
        await self.client.close()
