"""Voucher lists: create, read, page through, edit, change status, delete."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import cast

from redis.asyncio import Redis

from app.domain.lists import (
    DELETABLE,
    TARGET,
    Action,
    ListId,
    Status,
    VoucherList,
    refusal,
    statuses_allowing,
)
from app.store.keys import Keys, claim_field
from app.store.paging import Position, newest_first
from app.store.scripts import Code, Scripts, raise_for

SCAN_BATCH = 200  # index entries read per round trip when paging with filters

ListFilter = Callable[[VoucherList], bool]


def _csv(statuses: tuple[Status, ...]) -> str:
    return ",".join(s.value for s in statuses)


def _threshold(value: int | None) -> str:
    return "" if value is None else str(value)


def parse_meta(list_id: str, meta: Mapping[str, str]) -> VoucherList:
    threshold = meta.get("low_stock_threshold", "")
    return VoucherList(
        id=list_id,
        partner=meta["partner"],
        tag=meta["tag"],
        name=meta["name"],
        description=meta["description"],
        expires_at=int(meta["expires_at"]),
        stored_status=Status(meta["status"]),
        created_at=int(meta["created_at"]),
        updated_at=int(meta["updated_at"]),
        codes_uploaded=int(meta.get("codes_uploaded", 0)),
        codes_distributed=int(meta.get("codes_distributed", 0)),
        linked_campaigns=int(meta.get("linked_campaigns", 0)),
        low_stock_threshold=int(threshold) if threshold else None,
    )


class ListStore:
    def __init__(self, redis: Redis, keys: Keys, scripts: Scripts) -> None:
        self._redis, self._keys, self._scripts = redis, keys, scripts

    async def create(
        self,
        *,
        partner: str,
        tag: str,
        name: str,
        description: str,
        expires_at: int,
        low_stock_threshold: int | None,
        now: int,
    ) -> VoucherList:
        sequence = int(await self._redis.incr(self._keys.list_sequence))
        list_id = ListId.generate(partner, tag, sequence)
        fields: dict[str, str | int] = {
            "partner": partner,
            "tag": tag,
            "name": name,
            "description": description,
            "expires_at": expires_at,
            "status": Status.ACTIVE.value,
            "created_at": now,
            "updated_at": now,
            "codes_uploaded": 0,
            "codes_distributed": 0,
            "linked_campaigns": 0,
            "low_stock_threshold": _threshold(low_stock_threshold),
        }
        # Index first, so a list that exists is always listed; a failed create removes the
        # entry again, and readers skip an entry whose list is gone.
        await self._redis.zadd(self._keys.lists, {list_id.value: now})
        try:
            raise_for(
                await self._scripts.run(
                    "create_list",
                    [
                        self._keys.partner(partner),
                        self._keys.claims(partner),
                        self._keys.list(list_id).meta,
                    ],
                    [
                        claim_field(partner, tag),
                        list_id.value,
                        *(x for pair in fields.items() for x in pair),
                    ],
                )
            )
        except BaseException:
            await self._redis.zrem(self._keys.lists, list_id.value)
            raise
        return parse_meta(list_id.value, {k: str(v) for k, v in fields.items()})

    async def get(self, list_id: ListId) -> VoucherList | None:
        meta = cast(dict[str, str], await self._redis.hgetall(self._keys.list(list_id).meta))
        return parse_meta(list_id.value, meta) if meta else None

    async def page(
        self,
        *,
        limit: int,
        after: Position | None,
        keep: ListFilter,
        max_scanned: int = 5000,
    ) -> tuple[list[VoucherList], Position | None]:
        """Lists newest `updated_at` first, starting after the (score, id) cursor `after`.
        `keep` filters; at most `max_scanned` index entries are read per page, so a selective
        filter may return a short page with a cursor to continue from."""
        found: list[VoucherList] = []
        scanned = 0
        last: Position | None = None
        async for rows in newest_first(self._redis, self._keys.lists, after, SCAN_BATCH):
            async with self._redis.pipeline(transaction=False) as pipe:
                for _, lid in rows:
                    pipe.hgetall(self._keys.list(ListId(lid)).meta)
                metas: list[dict[str, str]] = await pipe.execute()
            for position, meta in zip(rows, metas, strict=True):
                scanned += 1
                last = position
                if meta and keep(vl := parse_meta(position[1], meta)):
                    found.append(vl)
                    if len(found) == limit:
                        return found, last
                if scanned >= max_scanned:
                    return found, last
        return found, None

    async def edit(
        self, list_id: ListId, changes: Mapping[str, str | int | None], now: int
    ) -> None:
        # Only low_stock_threshold may be null: stored as "" (no alert).
        fields: dict[str, str | int] = {k: "" if v is None else v for k, v in changes.items()}
        fields["updated_at"] = now
        raise_for(
            await self._scripts.run(
                "edit_list",
                [self._keys.list(list_id).meta],
                [
                    now,
                    _csv(statuses_allowing(Action.EDIT)),
                    *(x for pair in fields.items() for x in pair),
                ],
            ),
            lambda status, linked: refusal(Action.EDIT, status, linked),
        )
        await self._touch(list_id, now)

    async def transition(
        self, list_id: ListId, action: Action, current: VoucherList, now: int
    ) -> None:
        keys = self._keys.list(list_id)
        raise_for(
            await self._scripts.run(
                "transition_list",
                [
                    keys.meta,
                    self._keys.claims(current.partner),
                    self._keys.partner(current.partner),
                    keys.dedupe,
                ],
                [
                    now,
                    _csv(statuses_allowing(action)),
                    TARGET[action].value,
                    claim_field(current.partner, current.tag),
                    list_id.value,
                ],
            ),
            lambda status, linked: refusal(action, status, linked),
        )
        await self._touch(list_id, now)

    async def delete(self, list_id: ListId, current: VoucherList, now: int) -> None:
        keys = self._keys.list(list_id)
        fixed = (keys.meta, keys.links, keys.uploads, keys.outbox)
        others = [k for k in keys.fixed() if k not in fixed]
        while True:  # an upload recorded between reading the index and deleting: read again
            uploads = cast(list[str], await self._redis.zrange(keys.uploads, 0, -1))
            reply = await self._scripts.run(
                "delete_list",
                [
                    keys.meta,
                    self._keys.claims(current.partner),
                    self._keys.partner(current.partner),
                    keys.links,
                    keys.uploads,
                    keys.outbox,
                    *others,
                    *(key for u in uploads for key in keys.upload_keys(u)),
                ],
                [
                    now,
                    _csv(DELETABLE),
                    claim_field(current.partner, current.tag),
                    list_id.value,
                    len(uploads),
                ],
            )
            if Code(int(reply[0])) is not Code.STALE:
                break
        raise_for(reply, lambda status, linked: refusal(Action.DELETE, status, linked))
        await self._redis.zrem(self._keys.lists, list_id.value)

    async def all_ids(self) -> list[str]:
        return cast(list[str], await self._redis.zrange(self._keys.lists, 0, -1))

    async def _touch(self, list_id: ListId, now: int) -> None:
        # GT: of two racing changes, the later updated_at wins whatever order these land in.
        await self._redis.zadd(self._keys.lists, {list_id.value: now}, xx=True, gt=True)
