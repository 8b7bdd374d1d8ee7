"""Webhook endpoints and their deliveries, all on the hash tag `{webhooks}`.

An endpoint is a hash whose values are JSON (its secrets included: they sit in Redis as the
rest of the state does, so protect Redis as you protect the service). A delivery is a small
JSON record in its endpoint's `deliveries` hash, indexed by sorted sets: `due` (pending, by
next attempt), `log` and one per status (by sequence number, for the delivery log's pages).
The event it sends waits in the endpoint's `bodies` hash until it is delivered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import orjson

from app.domain.webhooks import MAX_ENDPOINTS, Endpoint
from app.store.connection import Client
from app.store.keys import Keys
from app.store.scripts import Code, Refused, Scripts, raise_for

FIELDS = (
    "url",
    "events",
    "list_ids",
    "description",
    "template",
    "content_type",
    "enabled",
    "secret",
)


@dataclass(frozen=True)
class Delivery:
    endpoint_id: str
    record: dict[str, Any]  # the stored record (id, seq, event_id, event_name, status...)
    event: str  # the event's JSON, as the stream holds it

    @property
    def id(self) -> str:
        return str(self.record["id"])

    @property
    def token(self) -> str:
        return str(self.record.get("token", ""))

    @property
    def attempts(self) -> int:
        return int(self.record.get("attempts", 0))


@dataclass(frozen=True)
class EngineState:
    cursor: str  # the stream position deliveries were created up to ("" for none)
    version: str  # moves on with every change to an endpoint
    endpoints: int  # how many there are


@dataclass(frozen=True)
class Outcome:
    """One attempt's result, for `finish`."""

    delivery: Delivery
    outcome: str  # "delivered", "failed" or "retry"
    status_code: int | None
    error: str
    wait_ms: int = 0


def _endpoint(endpoint_id: str, raw: dict[str, str]) -> Endpoint:
    v = {k: orjson.loads(x) for k, x in raw.items()}
    return Endpoint(
        id=endpoint_id,
        url=v["url"],
        events=tuple(v["events"]),
        list_ids=None if v["list_ids"] is None else tuple(v["list_ids"]),
        description=v["description"],
        template=v["template"],
        content_type=v["content_type"],
        enabled=v["enabled"],
        created_at=v["created_at"],
        updated_at=v["updated_at"],
        secret=v["secret"],
        previous_secret=v.get("previous_secret"),
        previous_until=v.get("previous_until", 0),
    )


def _encoded(fields: dict[str, Any]) -> list[str]:
    flat: list[str] = []
    for name, value in fields.items():
        assert name in FIELDS, name
        flat += [name, orjson.dumps(value).decode()]
    return flat


class WebhookStore:
    def __init__(self, redis: Client, keys: Keys, scripts: Scripts) -> None:
        self._redis, self._keys, self._scripts = redis, keys, scripts

    # --- endpoints -------------------------------------------------------------------------

    async def create(self, endpoint_id: str, fields: dict[str, Any]) -> Endpoint:
        """Raises Refused(TOO_MANY_WEBHOOKS) when the store holds the most it keeps."""
        raise_for(
            await self._scripts.run(
                "webhook_create",
                [
                    self._keys.webhooks,
                    self._keys.webhook(endpoint_id).endpoint,
                    self._keys.webhook_state,
                ],
                [MAX_ENDPOINTS, endpoint_id, *_encoded(fields)],
            )
        )
        return await self.get(endpoint_id)

    async def find(self, endpoint_id: str) -> Endpoint | None:
        raw = cast(
            dict[str, str], await self._redis.hgetall(self._keys.webhook(endpoint_id).endpoint)
        )
        return _endpoint(endpoint_id, raw) if raw else None

    async def get(self, endpoint_id: str) -> Endpoint:
        found = await self.find(endpoint_id)
        if found is None:
            raise Refused(Code.WEBHOOK_NOT_FOUND)
        return found

    async def all(self) -> list[Endpoint]:
        """Every endpoint, oldest first (at most MAX_ENDPOINTS)."""
        ids = cast(list[str], await self._redis.zrange(self._keys.webhooks, 0, -1))
        async with self._redis.pipeline(transaction=False) as pipe:
            for endpoint_id in ids:
                pipe.hgetall(self._keys.webhook(endpoint_id).endpoint)
            raws: list[dict[str, str]] = await pipe.execute()
        return [_endpoint(i, raw) for i, raw in zip(ids, raws, strict=True) if raw]

    async def update(
        self, endpoint_id: str, fields: dict[str, Any], rotate_overlap_ms: int | None = None
    ) -> Endpoint:
        """Change fields; with `rotate_overlap_ms`, `fields` holds the new secret and the old
        one keeps signing that long. Raises Refused(WEBHOOK_NOT_FOUND)."""
        raise_for(
            await self._scripts.run(
                "webhook_update",
                [self._keys.webhook(endpoint_id).endpoint, self._keys.webhook_state],
                ["" if rotate_overlap_ms is None else rotate_overlap_ms, *_encoded(fields)],
            )
        )
        return await self.get(endpoint_id)

    async def delete(self, endpoint_id: str) -> None:
        k = self._keys.webhook(endpoint_id)
        raise_for(
            await self._scripts.run(
                "webhook_delete",
                [self._keys.webhooks, k.endpoint, self._keys.webhook_state, *k.deliveries_keys()],
                [endpoint_id],
            )
        )

    # --- the delivery engine ---------------------------------------------------------------

    async def state(self) -> EngineState:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.hmget(self._keys.webhook_state, ["cursor", "version"])
            pipe.zcard(self._keys.webhooks)
            (cursor, version), count = await pipe.execute()
        return EngineState(cursor or "", version or "0", int(count))

    async def fanout(
        self,
        seen: EngineState,
        new_cursor: str,
        room: dict[str, int],
        deliveries: list[tuple[str, str, str, int, str]],
        lease_ms: int,
    ) -> list[tuple[int, str, str]] | Code:
        """Create deliveries `(endpoint id, event id, event name, event time in epoch ms, event
        JSON)`, claiming up to
        `room[endpoint id]` of each endpoint's for this process, and move the cursor from
        `seen.cursor` to `new_cursor`. Returns the claimed ones as (index in `deliveries`,
        delivery id, token), or CURSOR_MOVED / ENDPOINTS_CHANGED when `seen` is out of date
        (nothing written)."""
        order: dict[str, int] = {}
        keys = [self._keys.webhook_state]
        for endpoint_id, *_ in deliveries:
            if endpoint_id not in order:
                order[endpoint_id] = len(order) + 1
                k = self._keys.webhook(endpoint_id)
                keys += [k.endpoint, k.deliveries, k.due, k.log, k.pending, k.bodies]
        args: list[Any] = [seen.cursor, new_cursor, seen.version, lease_ms, len(order)]
        args += [room.get(endpoint_id, 0) for endpoint_id in order]
        for endpoint_id, event_id, name, at, blob in deliveries:
            args += [order[endpoint_id], event_id, name, at, blob]
        reply = await self._scripts.run("webhook_fanout", keys, args)
        if int(reply[0]) in (Code.CURSOR_MOVED, Code.ENDPOINTS_CHANGED):
            return Code(int(reply[0]))
        flat = raise_for(reply)[1:]
        return [
            (int(flat[i]) - 1, str(flat[i + 1]), str(flat[i + 2])) for i in range(0, len(flat), 3)
        ]

    async def settle(
        self,
        outcomes: list[Outcome],
        counters: dict[str, float],
        wanted: dict[str, int],
        lease_ms: int,
        retention: int,
    ) -> list[Delivery]:
        """Record attempts' outcomes and add to the counters; then claim up to
        `wanted[endpoint id]` due deliveries of each enabled endpoint for `lease_ms`."""
        order: dict[str, int] = {}
        for endpoint_id in [*wanted, *(o.delivery.endpoint_id for o in outcomes)]:
            order.setdefault(endpoint_id, len(order) + 1)
        if not order and not counters:
            return []
        keys = [self._keys.webhook_stats]
        for endpoint_id in order:
            k = self._keys.webhook(endpoint_id)
            keys += [k.endpoint, *k.deliveries_keys()]
        args: list[Any] = [retention, lease_ms, len(order)]
        args += [wanted.get(endpoint_id, 0) for endpoint_id in order]
        args.append(len(counters))
        for name, increment in counters.items():
            args += [name, increment]
        for o in outcomes:
            code = "" if o.status_code is None else o.status_code
            args += [order[o.delivery.endpoint_id], o.delivery.id, o.delivery.token, o.outcome]
            args += [code, o.error, o.wait_ms]
        flat = raise_for(await self._scripts.run("webhook_settle", keys, args))[1:]
        ids = list(order)
        return [
            Delivery(ids[int(flat[i]) - 1], orjson.loads(flat[i + 1]), str(flat[i + 2]))
            for i in range(0, len(flat), 3)
        ]

    async def counters(self) -> dict[str, float]:
        raw = cast(dict[str, str], await self._redis.hgetall(self._keys.webhook_stats))
        return {name: float(value) for name, value in raw.items()}

    async def oldest_pending(self, endpoint_ids: list[str]) -> int | None:
        """The time (epoch ms) of the oldest event with a pending delivery to these endpoints."""
        async with self._redis.pipeline(transaction=False) as pipe:
            for endpoint_id in endpoint_ids:
                pipe.zrange(self._keys.webhook(endpoint_id).pending, 0, 0)
            firsts: list[list[str]] = await pipe.execute()
        async with self._redis.pipeline(transaction=False) as pipe:
            for endpoint_id, first in zip(endpoint_ids, firsts, strict=True):
                if first:
                    pipe.hget(self._keys.webhook(endpoint_id).deliveries, first[0])
            records: list[str | None] = await pipe.execute()
        times = [int(orjson.loads(r)["event_at"]) for r in records if r]
        return min(times) if times else None

    # --- the delivery log ------------------------------------------------------------------

    async def page(
        self, endpoint_id: str, status: str | None, limit: int, before: int | None
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Deliveries newest first, those with a sequence number below `before`; and the last
        one's sequence number when more may follow."""
        k = self._keys.webhook(endpoint_id)
        rows = cast(
            list[tuple[str, float]],
            await self._redis.zrevrangebyscore(
                k.by_status(status),
                f"({before}" if before is not None else "+inf",
                "-inf",
                start=0,
                num=limit,
                withscores=True,
            ),
        )
        if not rows:
            return [], None
        raws = cast(list[str | None], await self._redis.hmget(k.deliveries, [i for i, _ in rows]))
        found = [orjson.loads(raw) for raw in raws if raw]
        return found, int(rows[-1][1]) if len(rows) == limit else None

    async def retry(self, endpoint_id: str, delivery_id: str) -> None:
        """Raises Refused (DELIVERY_NOT_FOUND, DELIVERY_NOT_FAILED)."""
        k = self._keys.webhook(endpoint_id)
        raise_for(
            await self._scripts.run(
                "webhook_retry", [k.deliveries, k.due, k.pending, k.failed], [delivery_id]
            )
        )
