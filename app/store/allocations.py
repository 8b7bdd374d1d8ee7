"""Allocations: the one-script hand-out, and reads of what was handed out."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import NamedTuple, cast

from app.domain.lists import ListId
from app.store import ranged, records
from app.store.connection import Client
from app.store.keys import Keys, ListKeys
from app.store.scripts import Code, Refused, Scripts, outcome

LOG_PAGE = 1000  # allocation log entries read per round trip
LOGGED = ranged.field("c")  # the allocation log's codes
# Requests per allocate.lua call: the script unpacks up to four values per request, far below
# Lua's ~8,000; callers keep to much fewer (64 coalesced requests, 250 items of a bulk call).
MAX_BATCH = 1000


class Allocation(NamedTuple):  # a tuple: one is made per code, and a tuple is made fastest
    code: str
    list_id: str
    campaign_id: str
    user_id: str
    issued_at: int
    event_id: str
    source: str
    replayed: bool = False


class Request(NamedTuple):
    campaign_id: str
    user_id: str
    source: str
    # The Idempotency-Key header. Without a key a user gets one code per (list, campaign);
    # with one, one per key (lua/allocate.lua names the scopes).
    key: str | None


def _allocation(list_id: str, code: str, raw: str) -> Allocation:
    rec = records.decode(raw)
    return Allocation(
        code, list_id, rec.campaign_id, rec.user_id, rec.issued_at, rec.event_id, rec.source
    )


def user_fields(user_id: str, start: int, stop: int, step: int = 1) -> list[str]:
    """The by-user index fields of a user's codes range(start, stop, step) (see
    lua/allocate.lua)."""
    return [user_id if i == 0 else f"{user_id}\n{i}" for i in range(start, stop, step)]


def script_input(
    k: ListKeys, list_id: ListId, requests: Sequence[Request]
) -> tuple[list[str], list[str | int]]:
    """allocate.lua's KEYS and ARGV for a batch of requests to one list: the (campaign,
    source) pairs once, then the users, the keys (and, when there are several pairs, each
    request's pair) each joined into one value."""
    if not 0 < len(requests) <= MAX_BATCH:
        raise ValueError(f"{len(requests)} requests in one allocate call (1 to {MAX_BATCH})")
    pairs: dict[tuple[str, str], int] = {}
    for r in requests:
        pairs.setdefault((r.campaign_id, r.source), len(pairs) + 1)
    args: list[str | int] = [list_id.value, len(requests), len(pairs)]
    for campaign_id, source in pairs:
        args += (campaign_id, source)
    args.append("\n".join([r.user_id for r in requests]))
    args.append("\n".join([r.key or "" for r in requests]))
    if len(pairs) > 1:
        args.append("\n".join([str(pairs[r.campaign_id, r.source]) for r in requests]))
    keys = [k.meta, k.avail, k.issued, k.idem, k.links, k.outbox, k.log, k.by_user]
    return keys, args


class AllocationStore:
    def __init__(self, redis: Client, keys: Keys, scripts: Scripts) -> None:
        self._redis, self._keys, self._scripts = redis, keys, scripts

    async def allocate_many(
        self, list_id: ListId, requests: Sequence[Request]
    ) -> list[Allocation | Refused]:
        """One script call for a batch of requests to one list; a result per request."""
        keys, args = script_input(self._keys.list(list_id), list_id, requests)
        reply = await self._scripts.run("allocate", keys, args)
        results: list[Allocation | Refused] = []
        allocated = False
        lid = list_id.value
        for n, r in enumerate(requests):
            code, a, b, c = reply[1 + 4 * n : 5 + 4 * n]
            if code == Code.OK:
                allocated = True
                results.append(Allocation(a, lid, r.campaign_id, r.user_id, b, c, r.source))
            elif code == Code.REPLAYED:
                c, source = c.split("\n", 1)  # the original allocation's event id and source
                results.append(
                    Allocation(a, lid, r.campaign_id, r.user_id, int(b), c, source, True)
                )
            else:
                results.append(cast(Refused, outcome(code, [a])))
        if allocated and int(reply[0]) == 0:  # the outbox was empty: tell the relay
            await self._redis.sadd(self._keys.dirty_outboxes, list_id.value)
        return results

    async def issued(self, list_id: ListId, code: str) -> Allocation | None:
        raw = await self._redis.hget(self._keys.list(list_id).issued, code)
        return None if raw is None else _allocation(list_id.value, code, str(raw))

    async def is_available(self, list_id: ListId, code: str) -> bool:
        return bool(await self._redis.sismember(self._keys.list(list_id).avail, code))

    async def _records(self, list_id: ListId, codes: list[str]) -> list[Allocation]:
        if not codes:
            return []
        raws = cast(
            list[str | None], await self._redis.hmget(self._keys.list(list_id).issued, codes)
        )
        return [_allocation(list_id.value, c, r) for c, r in zip(codes, raws, strict=True) if r]

    async def page(
        self, list_id: ListId, limit: int, after: str | None, newest: bool = False
    ) -> tuple[list[Allocation], str | None]:
        """Allocations in the order they happened (with `newest`, the other way), after the
        log position `after`."""
        log = self._keys.list(list_id).log
        read = ranged.backward if newest else ranged.forward
        logged = await read(self._redis, log, LOGGED, after, limit + 1)
        shown = logged[:limit]
        found = await self._records(list_id, [code for _, code in shown])
        return found, (shown[-1][0] if len(logged) > limit else None)

    async def of_user(
        self, list_id: ListId, user_id: str, limit: int, start: int, newest: bool = False
    ) -> tuple[list[Allocation], int | None]:
        """A user's allocations in order (with `newest`, the other way), from their `start`th:
        reads only the page's entries of the by-user index, however many codes the user has."""
        by_user = self._keys.list(list_id).by_user
        first, more = cast(
            list[str | None], await self._redis.hmget(by_user, [user_id, f"{user_id}\n#"])
        )
        total = 0 if first is None else 1 + int(more or 0)
        stop = min(start + limit, total)
        fields = (
            user_fields(user_id, total - 1 - start, total - 1 - stop, -1)
            if newest
            else user_fields(user_id, start, stop)
        )
        codes = cast(list[str | None], await self._redis.hmget(by_user, fields)) if fields else []
        found = await self._records(list_id, [c for c in codes if c is not None])
        return found, (stop if stop < total else None)

    async def every(self, list_id: ListId) -> AsyncIterator[list[Allocation]]:
        """Every allocation in order, a round trip's worth at a time."""
        after: str | None = None
        while True:
            found, after = await self.page(list_id, LOG_PAGE, after)
            if found:
                yield found
            if after is None:
                return
