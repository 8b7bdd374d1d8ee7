"""Campaign links: which campaigns may draw codes from a list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from app.domain.lists import LINKABLE, ListId
from app.store.connection import Client
from app.store.keys import Keys
from app.store.scripts import Scripts, raise_for


@dataclass(frozen=True)
class Link:
    list_id: str
    campaign_id: str
    linked_at: int


class CampaignStore:
    def __init__(self, redis: Client, keys: Keys, scripts: Scripts) -> None:
        self._redis, self._keys, self._scripts = redis, keys, scripts

    async def link(self, list_id: ListId, campaign_id: str) -> Link:
        keys = self._keys.list(list_id)
        (linked_at,) = raise_for(
            await self._scripts.run(
                "link_campaign",
                [keys.meta, keys.links, keys.link_index],
                [",".join(s.value for s in LINKABLE), campaign_id],
            )
        )
        return Link(list_id.value, campaign_id, int(linked_at))

    async def unlink(self, list_id: ListId, campaign_id: str) -> None:
        keys = self._keys.list(list_id)
        raise_for(
            await self._scripts.run(
                "unlink_campaign", [keys.meta, keys.links, keys.link_index], [campaign_id]
            )
        )

    async def page(
        self, list_id: ListId, limit: int, after: str | None
    ) -> tuple[list[Link], str | None]:
        """Links in byte order of the campaign ids, after the id `after`: a range of the link
        index, so a page costs its own size however many links the list has."""
        keys = self._keys.list(list_id)
        start = "-" if after is None else "(" + after
        ids = cast(
            list[str],
            await self._redis.zrangebylex(keys.link_index, start, "+", start=0, num=limit + 1),
        )
        shown = ids[:limit]
        linked_at = (
            cast(list[str | None], await self._redis.hmget(keys.links, shown)) if shown else []
        )
        links = [
            Link(list_id.value, cid, int(at))
            for cid, at in zip(shown, linked_at, strict=True)
            if at is not None
        ]
        return links, (shown[-1] if len(ids) > limit else None)
