"""Voucher lists: create, read, page through, edit, change status, delete.

A list's keys live on its own slot, its (partner, tag) claim on its partner's: creating,
archiving and deleting a list are steps on both, ordered and settled as app/store/claims.py
describes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any, cast

from app.domain.lists import DELETABLE, TARGET, Action, ListId, Status, VoucherList
from app.domain.lists import statuses_allowing as allowing
from app.store import faults
from app.store.claims import ClaimStore
from app.store.connection import Client
from app.store.keys import Keys
from app.store.paging import Position, newest_first
from app.store.scripts import Code, Refused, Scripts, raise_for

SCAN_BATCH = 200  # index entries read per round trip when paging with filters
PURGE_BATCH = 200  # a deleted list's uploads unlinked per step (600 keys: ~0.2 ms of Redis)
PURGE_GRACE_MS = 60_000  # a purge mark on a list that still exists: a delete in flight, or lost
LINKED_SHOWN = 100  # campaign ids a refused delete names (with the count of all)

ListFilter = Callable[[VoucherList], bool]


def _csv(statuses: tuple[Status, ...]) -> str:
    return ",".join(s.value for s in statuses)


def _threshold(value: int | None) -> str:
    return "" if value is None else str(value)


def parse_meta(list_id: str, meta: Mapping[str, str], read_at: int) -> VoucherList:
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
        read_at=read_at,
    )


def _read(list_id: str, reply: list[Any]) -> VoucherList | None:
    """A read_list.lua reply: the list as of the time its server read it."""
    now, flat = reply
    return (
        parse_meta(list_id, dict(zip(flat[::2], flat[1::2], strict=True)), int(now))
        if flat
        else None
    )


class ListStore:
    def __init__(self, redis: Client, keys: Keys, scripts: Scripts, claims: ClaimStore) -> None:
        self._redis, self._keys, self._scripts, self._claims = redis, keys, scripts, claims

    async def now(self, key: str | None = None) -> int:
        """The store's clock (epoch ms), as the server of `key` (the list index) reads it."""
        reply = await self._scripts.run("server_time", [key or self._keys.lists], [])
        return int(reply[0])

    async def create(
        self,
        *,
        partner: str,
        tag: str,
        name: str,
        description: str,
        expires_at: int,
        low_stock_threshold: int | None,
    ) -> VoucherList:
        # Bad input changes nothing, not even the id sequence: the first checks are made here,
        # before anything is written (claim_tag and create_list make them again, atomically).
        now, partner_exists = await self._scripts.run(
            "server_time", [self._keys.partner(partner)], []
        )
        if expires_at <= int(now):
            raise Refused(Code.EXPIRY_NOT_FUTURE)
        if not int(partner_exists):
            raise Refused(Code.PARTNER_NOT_FOUND)
        sequence = int(await self._redis.incr(self._keys.list_sequence))
        list_id = ListId.generate(partner, tag, sequence)
        k = self._keys.list(list_id)
        fields: dict[str, str | int] = {
            "partner": partner,
            "tag": tag,
            "name": name,
            "description": description,
            "low_stock_threshold": _threshold(low_stock_threshold),
        }
        await self._claims.mark(partner, tag, list_id, int(now))
        # Index first, so a list that exists is always listed (readers skip an entry whose list
        # is gone, and a failed create removes it again). The entry's score is the store's
        # time read above, then the list's updated_at: GT keeps a later edit's if one landed.
        await self._redis.zadd(self._keys.lists, {list_id.value: int(now)})
        try:
            await self._claims.claim(partner, tag, list_id)
            faults.reached("create:claimed")
            (created,) = raise_for(
                await self._scripts.run(
                    "create_list",
                    [k.meta, k.abandoned],
                    [expires_at, *(x for pair in fields.items() for x in pair)],
                )
            )
            faults.reached("create:created")
            await self._claims.confirm(partner, tag, list_id)
        except Refused:
            await self._claims.release(partner, tag, list_id)  # a claim of ours, if any
            await self._redis.zrem(self._keys.lists, list_id.value)
            await self._claims.unmark(partner, tag, list_id)
            raise
        await self._claims.unmark(partner, tag, list_id)
        await self._touch(list_id, int(created))
        meta = {k: str(v) for k, v in fields.items()}
        meta |= {"expires_at": str(expires_at), "status": Status.ACTIVE.value}
        meta |= {"created_at": str(created), "updated_at": str(created)}
        return parse_meta(list_id.value, meta, int(created))

    async def get(self, list_id: ListId) -> VoucherList | None:
        reply = await self._scripts.run("read_list", [self._keys.list(list_id).meta], [])
        return _read(list_id.value, reply)

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
        filter may return a short page with a cursor to continue from. Each list is read with
        the time of the server that judges its status."""
        found: list[VoucherList] = []
        scanned = 0
        last: Position | None = None
        async for rows in newest_first(self._scripts, self._keys.lists, after, SCAN_BATCH):
            replies = await self._scripts.run_many(
                [("read_list", [self._keys.list(ListId(lid)).meta], []) for _, lid in rows]
            )
            for position, reply in zip(rows, replies, strict=True):
                scanned += 1
                last = position
                vl = _read(position[1], reply)
                if vl is not None and keep(vl):
                    found.append(vl)
                    if len(found) == limit:
                        return found, last
                if scanned >= max_scanned:
                    return found, last
        return found, None

    async def edit(
        self, list_id: ListId, changes: Mapping[str, str | int | None], expires_at: int | None
    ) -> None:
        # Only low_stock_threshold may be null: stored as "" (no alert).
        fields = [x for k, v in changes.items() for x in (k, "" if v is None else v)]
        (now,) = raise_for(
            await self._scripts.run(
                "edit_list",
                [self._keys.list(list_id).meta],
                [_csv(allowing(Action.EDIT)), "" if expires_at is None else expires_at, *fields],
            )
        )
        await self._touch(list_id, int(now))

    async def transition(self, list_id: ListId, action: Action, current: VoucherList) -> None:
        k = self._keys.list(list_id)
        archive = TARGET[action] is Status.ARCHIVED
        partner, tag = current.partner, current.tag
        if archive:
            await self._claims.mark(partner, tag, list_id, current.read_at)
        try:
            (now,) = raise_for(
                await self._scripts.run(
                    "transition_list",
                    [k.meta, k.dedupe],
                    [_csv(allowing(action)), TARGET[action].value],
                )
            )
        except Refused:
            if archive:
                await self._claims.unmark(partner, tag, list_id)
            raise
        if archive:
            faults.reached("archive:archived")
            await self._claims.free(partner, tag, list_id)
        await self._touch(list_id, int(now))

    async def delete(self, list_id: ListId, current: VoucherList) -> None:
        """Delete the list in one atomic step (whose cost does not grow with its history),
        free its (partner, tag), then unlink its upload records a page at a time. Marks first,
        so a crash in between leaves work that the janitor finishes (`purge_pending`, and the
        claims' `settle_due`)."""
        k = self._keys.list(list_id)
        first = (k.meta, k.links, k.link_index, k.outbox)
        partner, tag = current.partner, current.tag
        await self._redis.zadd(self._keys.purging, {list_id.value: current.read_at})
        await self._claims.mark(partner, tag, list_id, current.read_at)
        try:
            raise_for(
                await self._scripts.run(
                    "delete_list",
                    [*first, *(key for key in k.fixed() if key not in first)],
                    [_csv(DELETABLE), LINKED_SHOWN],
                )
            )
        except Refused:
            await self._redis.zrem(self._keys.purging, list_id.value)
            await self._claims.unmark(partner, tag, list_id)
            raise
        faults.reached("delete:deleted")
        await self._redis.zrem(self._keys.lists, list_id.value)
        await self._claims.free(partner, tag, list_id)
        await self._purge(list_id)

    async def _purge(self, list_id: ListId) -> None:
        """Unlink a deleted list's upload records and their index, a page at a time."""
        keys = self._keys.list(list_id)
        while uploads := cast(
            list[str], await self._redis.zrange(keys.uploads, 0, PURGE_BATCH - 1)
        ):
            await self._redis.unlink(*(k for u in uploads for k in keys.upload_keys(u)))
            await self._redis.zrem(keys.uploads, *uploads)
        await self._redis.zrem(self._keys.purging, list_id.value)

    async def purge_pending(self) -> None:
        """Finish the purges a crash interrupted; drop the marks of deletes that were refused
        or never ran (the list still exists a while after the mark)."""
        now = await self.now(self._keys.purging)
        marks = cast(
            list[tuple[str, float]],
            await self._redis.zrange(self._keys.purging, 0, -1, withscores=True),
        )
        for raw, marked in marks:
            list_id = ListId.parse(raw)
            if list_id is None:
                await self._redis.zrem(self._keys.purging, raw)
            elif not await self._redis.exists(self._keys.list(list_id).meta):
                await self._purge(list_id)
            elif now - marked > PURGE_GRACE_MS:
                await self._redis.zrem(self._keys.purging, raw)

    async def all_ids(self) -> AsyncIterator[list[str]]:
        """Every list id in the index (ZSCAN: each one present throughout is seen), a few
        hundred at a time."""
        cursor = 0
        while True:
            cursor, rows = await self._redis.zscan(self._keys.lists, cursor, count=500)
            if rows:
                yield [str(lid) for lid, _ in rows]
            if cursor == 0:
                return

    async def _touch(self, list_id: ListId, now: int) -> None:
        # GT: of two racing changes, the later updated_at wins whatever order these land in.
        await self._redis.zadd(self._keys.lists, {list_id.value: now}, xx=True, gt=True)
