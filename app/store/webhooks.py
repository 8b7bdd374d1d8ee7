"""Webhook endpoints and their deliveries, all on the hash tag `{webhooks}`.

An endpoint is a hash whose values are JSON (its secrets included: they sit in Redis as the
rest of the state does, so protect Redis as you protect the service). A delivery is a JSON
record in its endpoint's `deliveries` hash, indexed by sorted sets: `due` (pending, by next
attempt), `log` and one per status (by sequence number, for the delivery log's pages).
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
    record: dict[str, Any]  # the stored record: id, seq, event_id, event_name, event, status...

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
                [self._keys.webhooks, self._keys.webhook(endpoint_id).endpoint],
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
                [self._keys.webhook(endpoint_id).endpoint],
                ["" if rotate_overlap_ms is None else rotate_overlap_ms, *_encoded(fields)],
            )
        )
        return await self.get(endpoint_id)

    async def delete(self, endpoint_id: str) -> None:
        k = self._keys.webhook(endpoint_id)
        raise_for(
            await self._scripts.run(
                "webhook_delete",
                [self._keys.webhooks, k.endpoint, *k.deliveries_keys()],
                [endpoint_id],
            )
        )

    # --- the delivery engine ---------------------------------------------------------------

    async def cursor(self) -> str:
        """The stream position the engine has created deliveries up to ("" for none)."""
        return str(await self._redis.hget(self._keys.webhook_state, "cursor") or "")

    async def fanout(
        self, expected: str, new: str, deliveries: list[tuple[str, str, str, str]]
    ) -> int | None:
        """Create deliveries `(endpoint id, event id, event name, event JSON)` and move the
        cursor from `expected` to `new`; None when another process moved it first."""
        order: dict[str, int] = {}
        keys = [self._keys.webhook_state]
        args: list[Any] = [expected, new]
        for endpoint_id, event_id, name, blob in deliveries:
            if endpoint_id not in order:
                order[endpoint_id] = len(order) + 1
                k = self._keys.webhook(endpoint_id)
                keys += [k.endpoint, k.deliveries, k.due, k.log, k.pending]
            args += [order[endpoint_id], event_id, name, blob]
        reply = await self._scripts.run("webhook_fanout", keys, args)
        if int(reply[0]) == Code.CURSOR_MOVED:
            return None
        return int(raise_for(reply)[0])

    async def claim(self, wanted: dict[str, int], lease_ms: int) -> list[Delivery]:
        """Up to `wanted[endpoint id]` due deliveries of each endpoint, claimed for one attempt
        for `lease_ms`."""
        ids = [endpoint_id for endpoint_id, n in wanted.items() if n > 0]
        if not ids:
            return []
        keys: list[str] = []
        for endpoint_id in ids:
            k = self._keys.webhook(endpoint_id)
            keys += [k.due, k.deliveries]
        flat = raise_for(
            await self._scripts.run("webhook_claim", keys, [lease_ms, *(wanted[i] for i in ids)])
        )
        return [
            Delivery(ids[int(flat[i]) - 1], orjson.loads(flat[i + 1]))
            for i in range(0, len(flat), 2)
        ]

    async def finish(self, outcomes: list[Outcome], retention: int) -> int:
        """Record attempts' outcomes; return how many still held their claim."""
        order: dict[str, int] = {}
        keys: list[str] = []
        args: list[Any] = [retention]
        for o in outcomes:
            endpoint_id = o.delivery.endpoint_id
            if endpoint_id not in order:
                order[endpoint_id] = len(order) + 1
                keys += self._keys.webhook(endpoint_id).deliveries_keys()
            code = "" if o.status_code is None else o.status_code
            args += [order[endpoint_id], o.delivery.id, o.delivery.token, o.outcome, code]
            args += [o.error, o.wait_ms]
        return int(raise_for(await self._scripts.run("webhook_finish", keys, args))[0])

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
        times = [int(orjson.loads(orjson.loads(r)["event"])["timestamp"]) for r in records if r]
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
