"""Partners: a per-partner record (in the partner's slot) and a global registry sorted by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from app.store.connection import Client
from app.store.keys import Keys
from app.store.scripts import Scripts, raise_for


@dataclass(frozen=True)
class Partner:
    name: str
    created_at: int
    lists: int  # non-archived lists


class PartnerStore:
    def __init__(self, redis: Client, keys: Keys, scripts: Scripts) -> None:
        self._redis, self._keys, self._scripts = redis, keys, scripts

    async def create(self, name: str) -> Partner:
        # Registry first: a crash between the two steps leaves a name without a record, which
        # readers skip and a retried create completes.
        await self._redis.zadd(self._keys.partners, {name: 0}, nx=True)
        (created_at,) = raise_for(
            await self._scripts.run("create_partner", [self._keys.partner(name)], [])
        )
        return Partner(name=name, created_at=int(created_at), lists=0)

    async def page(self, limit: int, after: str | None) -> tuple[list[Partner], str | None]:
        """Partners in byte order of their names, starting after `after`."""
        start = "-" if after is None else "(" + after
        names = cast(
            list[str],
            await self._redis.zrangebylex(self._keys.partners, start, "+", start=0, num=limit + 1),
        )
        more = len(names) > limit
        names = names[:limit]
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.hgetall(self._keys.partner(name))
            records: list[dict[str, str]] = await pipe.execute()
        partners = [
            Partner(name=name, created_at=int(rec["created_at"]), lists=int(rec["lists"]))
            for name, rec in zip(names, records, strict=True)
            if rec
        ]
        return partners, (names[-1] if more and names else None)
