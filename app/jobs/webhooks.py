"""The webhook delivery engine, in every worker of the service.

Each round it
1. fans out: reads a page of the event stream after the engine's committed cursor, and in one
   atomic step creates a delivery per (matching endpoint, event) and moves the cursor
   (compare-and-set: of several processes, one takes each page);
2. records the outcomes of finished attempts;
3. claims due deliveries for the endpoints with free slots (each endpoint has
   `webhooks_concurrency` in this process, so a hanging receiver holds only its own) and
   starts an attempt for each.
A claim holds a delivery for longer than an attempt may take, so no two processes send one
attempt at once; a process that dies mid-attempt leaves it to be claimed again (at least once:
receivers dedupe on `webhook-id`). Retries wait in Redis, in each endpoint's `due` sorted set,
so they survive restarts. Allocations write nothing for webhooks: the engine only reads the
event stream they already feed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson

from app.api.metrics import Metrics
from app.config import Settings
from app.domain import templates
from app.domain.events import render
from app.domain.webhooks import ERROR_MAX, Endpoint, next_wait_s, signature_header
from app.jobs.webhook_http import UrlGuard, WebhookClient
from app.store.connection import UNAVAILABLE
from app.store.store import Store
from app.store.webhooks import Delivery, Outcome

log = logging.getLogger("vouchers.webhooks")

EVENTS_PER_ROUND = 1000  # (event, endpoint) pairs one fan-out step considers at most
CLAIM_MARGIN_MS = 5000  # a claim outlasts an attempt's timeout by this much
LAG_EVERY_S = 1.0


def guard_of(settings: Settings) -> UrlGuard:
    return UrlGuard(settings.webhooks_allow_private, settings.webhook_hosts)


class WebhookEngine:
    def __init__(self, store: Store, settings: Settings, metrics: Metrics) -> None:
        self.store, self.settings, self.metrics = store, settings, metrics
        self.client = WebhookClient(guard_of(settings), settings.webhooks_timeout_s)
        self.schedule = settings.retry_schedule_s
        self.claim_ms = int(settings.webhooks_timeout_s * 1000) + CLAIM_MARGIN_MS
        self.endpoints: dict[str, Endpoint] = {}
        self._in_flight: dict[str, int] = {}
        self._attempts: set[asyncio.Task[None]] = set()
        self._finished: list[Outcome] = []
        self._wake = asyncio.Event()
        self._flushed = asyncio.Condition()  # notified after outcomes are recorded
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_fanout = self._last_lag = 0.0
        self._page = EVENTS_PER_ROUND

    # --- one round -------------------------------------------------------------------------

    async def fanout(self) -> int:
        """Create the deliveries of one page of new events; return how many events the page
        held (0: nothing new)."""
        stream_end = await self.store.events.last_position()  # before reading the endpoints
        self.endpoints = {e.id: e for e in await self.store.webhooks.all()}
        cursor = await self.store.webhooks.cursor()
        enabled = [e for e in self.endpoints.values() if e.enabled]
        if not enabled:  # nothing to match: skip to the end of the stream
            if stream_end and stream_end != cursor:
                await self.store.webhooks.fanout(cursor, stream_end, [])
            return 0
        limit = self._page = max(10, EVENTS_PER_ROUND // len(enabled))
        page = await self.store.events.page(cursor or None, limit)
        if not page:
            return 0
        deliveries: list[tuple[str, str, str, str]] = []
        for event in page:
            event_id, blob = event.fields["id"], event.fields["e"]
            if not blob:
                continue
            parsed: dict[str, Any] = orjson.loads(blob)
            list_id = parsed["properties"].get("voucherListID")
            for e in enabled:
                if e.matches(parsed["name"], list_id, int(parsed["timestamp"])):
                    deliveries.append((e.id, event_id, parsed["name"], blob))
        await self.store.webhooks.fanout(cursor, page[-1].position, deliveries)
        return len(page)

    async def dispatch(self) -> int:
        """Claim due deliveries for the endpoints with free slots and start their attempts."""
        wanted = {
            e.id: self.settings.webhooks_concurrency - self._in_flight.get(e.id, 0)
            for e in self.endpoints.values()
            if e.enabled
        }
        claimed = await self.store.webhooks.claim(wanted, self.claim_ms)
        for delivery in claimed:
            endpoint = self.endpoints[delivery.endpoint_id]
            self._in_flight[endpoint.id] = self._in_flight.get(endpoint.id, 0) + 1
            task = asyncio.create_task(self._attempt(endpoint, delivery))
            self._attempts.add(task)
            task.add_done_callback(self._attempts.discard)
        return len(claimed)

    async def flush(self) -> None:
        """Record the outcomes of finished attempts."""
        if self._finished:
            outcomes, self._finished = self._finished, []
            try:
                await self.store.webhooks.finish(outcomes, self.settings.webhooks_retention)
            except BaseException:
                self._finished = outcomes + self._finished  # recorded on the next round
                raise
            async with self._flushed:
                self._flushed.notify_all()

    async def next_flush(self) -> None:
        """Wait until the next outcomes are recorded (for tests and tools watching progress)."""
        async with self._flushed:
            await self._flushed.wait()

    async def round(self) -> None:
        await self.flush()
        now = time.monotonic()
        if now - self._last_fanout >= self.settings.webhooks_interval_s:
            self._last_fanout = now
            while await self.fanout() >= self._page:
                pass  # a full page: more are waiting
        await self.dispatch()
        if now - self._last_lag >= LAG_EVERY_S:
            self._last_lag = now
            await self._measure_lag()

    # --- one attempt -----------------------------------------------------------------------

    def body(self, endpoint: Endpoint, delivery: Delivery) -> bytes:
        """The request body: the event as GET /v1/events shows it, or the template's render.
        Raises templates.RenderError."""
        event = render(delivery.record["event_id"], delivery.record["event"])
        if endpoint.template is None:
            return orjson.dumps(event)
        return templates.render(endpoint.template, event).encode()

    async def _attempt(self, endpoint: Endpoint, delivery: Delivery) -> None:
        try:
            self._finished.append(await self._send(endpoint, delivery))
        finally:
            self._in_flight[endpoint.id] -= 1
            self._wake.set()

    async def _send(self, endpoint: Endpoint, delivery: Delivery) -> Outcome:
        try:
            body = self.body(endpoint, delivery)
        except templates.RenderError as exc:
            self.metrics.webhook_attempts.labels("failed").inc()
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
        self.metrics.webhook_latency.observe(time.perf_counter() - started)
        if answer.status is not None and 200 <= answer.status < 300:
            self.metrics.webhook_attempts.labels("delivered").inc()
            return Outcome(delivery, "delivered", answer.status, "")
        error = answer.error or f"HTTP {answer.status}"
        wait = next_wait_s(self.schedule, delivery.attempts + 1)
        outcome = "failed" if wait is None else "retry"
        self.metrics.webhook_attempts.labels(outcome).inc()
        return Outcome(delivery, outcome, answer.status, error[:ERROR_MAX], int((wait or 0) * 1000))

    async def _measure_lag(self) -> None:
        enabled = [e.id for e in self.endpoints.values() if e.enabled]
        oldest = await self.store.webhooks.oldest_pending(enabled) if enabled else None
        self.metrics.webhook_lag.set(0 if oldest is None else max(0, time.time() - oldest / 1000))

    # --- running ---------------------------------------------------------------------------

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.round()
            except UNAVAILABLE:
                pass
            except Exception:
                log.exception("webhook round failed; retrying")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.webhooks_interval_s)
            self._wake.clear()

    async def start(self) -> None:
        await self.client.open()
        self._task = asyncio.create_task(self._loop(), name="webhooks")

    async def close(self) -> None:
        """Stop claiming; give attempts in flight a moment, record what finished. An attempt
        cut off is claimed again by a process once its claim lapses."""
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            await asyncio.wait([self._task], timeout=5)
        if self._attempts:
            await asyncio.wait(self._attempts, timeout=2)
            for task in self._attempts:
                task.cancel()
        with contextlib.suppress(*UNAVAILABLE):
            await self.flush()
        await self.client.close()
