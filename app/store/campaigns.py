"""Campaign links: which campaigns may draw codes from a list."""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from redis.asyncio import Redis

from app.domain.errors import Conflict
from app.domain.lists import LINKABLE, ListId, Status
from app.store.keys import Keys
from app.store.scripts import Scripts, raise_for


@dataclass(frozen=True)
class Link:
    list_id: str
    campaign_id: str
    linked_at: int


def _not_linkable(status: Status, _linked: int) -> Conflict:
    return Conflict(
        f"A list that is {status.value} cannot be linked to a campaign.",
        code="list_not_linkable",
        status=status.value,
    )


class CampaignStore:
    def __init__(self, redis: Redis, keys: Keys, scripts: Scripts) -> None:
        self._redis, self._keys, self._scripts = redis, keys, scripts

    async def link(self, list_id: ListId, campaign_id: str, now: int) -> Link:
        keys = self._keys.list(list_id)
        payload = raise_for(
            await self._scripts.run(
                "link_campaign",
                [keys.meta, keys.links],
                [now, ",".join(s.value for s in LINKABLE), campaign_id],
            ),
            _not_linkable,
        )
        return Link(list_id.value, campaign_id, int(payload[0]))

    async def unlink(self, list_id: ListId, campaign_id: str) -> None:
        keys = self._keys.list(list_id)
        raise_for(
            await self._scripts.run("unlink_campaign", [keys.meta, keys.links], [campaign_id])
        )

    async def links(self, list_id: ListId) -> list[Link]:
        raw = cast(dict[str, str], await self._redis.hgetall(self._keys.list(list_id).links))
        return [Link(list_id.value, cid, int(at)) for cid, at in sorted(raw.items())]
