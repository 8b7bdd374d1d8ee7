"""Upload records, their committed progress, and the scripts that add codes in batches."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import cast

from app.domain.lists import Action, ListId, statuses_allowing
from app.domain.uploads import Upload, UploadStatus
from app.store.connection import Client
from app.store.keys import Keys
from app.store.paging import Position, newest_first
from app.store.scripts import Code, Scripts, raise_for

ERR_PREFIX = "err:"


def parse_upload(list_id: str, upload_id: str, rec: Mapping[str, str]) -> Upload:
    errors = {k[len(ERR_PREFIX) :]: int(v) for k, v in rec.items() if k.startswith(ERR_PREFIX)}
    if rec.get("failure"):
        errors[rec["failure"]] = 1
    return Upload(
        id=upload_id,
        list_id=list_id,
        status=UploadStatus(rec["status"]),
        uploaded_by=rec["uploaded_by"],
        file_name=rec["file_name"],
        created_at=int(rec["created_at"]),
        finished_at=int(rec["finished_at"]) if rec.get("finished_at") else None,
        codes_total=int(rec.get("codes_total", 0)),
        codes_uploaded=int(rec.get("codes_uploaded", 0)),
        error_count=int(rec.get("error_count", 0)),
        errors={k: v for k, v in sorted(errors.items()) if v},
    )


def _pairs(fields: Mapping[str, str | int]) -> list[str | int]:
    return [x for pair in fields.items() for x in pair]


async def read_bitmap(redis: Client, key: str) -> bytes:
    """A string key holding bits (an upload's committed batches), read undecoded."""
    raw = await redis.execute_command("GET", key, NEVER_DECODE=True)
    return bytes(raw or b"")


@dataclass(frozen=True)
class Batch:
    code: Code
    added: int = 0
    duplicates: int = 0


class UploadStore:
    def __init__(self, redis: Client, keys: Keys, scripts: Scripts) -> None:
        self._redis, self._keys, self._scripts = redis, keys, scripts

    def _active(self, list_id: ListId, upload_id: str) -> str:
        return f"{list_id.value}/{upload_id}"

    async def create(
        self, list_id: ListId, upload_id: str, fields: Mapping[str, str | int]
    ) -> Upload:
        """Record an upload (created now, on the store's clock); an in-progress one is also put
        on the set the job scans, first, so a crash between the two steps cannot leave it
        unprocessed."""
        keys = self._keys.list(list_id)
        in_progress = fields["status"] == UploadStatus.IN_PROGRESS
        if in_progress:
            await self._redis.sadd(self._keys.active_uploads, self._active(list_id, upload_id))
        try:
            (now,) = raise_for(
                await self._scripts.run(
                    "create_upload",
                    [keys.meta, keys.uploads, keys.upload(upload_id)],
                    [
                        ",".join(s.value for s in statuses_allowing(Action.UPLOAD_CODES)),
                        upload_id,
                        "" if in_progress else "1",
                        *_pairs(fields),
                    ],
                )
            )
        except BaseException:
            if in_progress:
                await self.forget(list_id, upload_id)
            raise
        record = {k: str(v) for k, v in fields.items()} | {"created_at": str(now)}
        if not in_progress:
            record["finished_at"] = str(now)
        return parse_upload(list_id.value, upload_id, record)

    async def get(self, list_id: ListId, upload_id: str) -> Upload | None:
        key = self._keys.list(list_id).upload(upload_id)
        rec = cast(dict[str, str], await self._redis.hgetall(key))
        return parse_upload(list_id.value, upload_id, rec) if rec else None

    async def page(
        self, list_id: ListId, limit: int, after: Position | None
    ) -> tuple[list[Upload], Position | None]:
        """Newest first, starting after the (created_at, id) cursor `after`."""
        keys = self._keys.list(list_id)
        shown: list[Position] = []
        async for rows in newest_first(self._scripts, keys.uploads, after, limit + 1):
            shown += rows
            if len(shown) > limit:
                break
        more = len(shown) > limit
        shown = shown[:limit]
        async with self._redis.pipeline(transaction=False) as pipe:
            for _, uid in shown:
                pipe.hgetall(keys.upload(uid))
            recs = cast(list[dict[str, str]], await pipe.execute())
        found = [
            parse_upload(list_id.value, uid, r)
            for (_, uid), r in zip(shown, recs, strict=True)
            if r
        ]
        return found, (shown[-1] if more and shown else None)

    async def active(self) -> list[tuple[ListId, str]]:
        members = cast(set[str], await self._redis.smembers(self._keys.active_uploads))
        found = []
        for member in sorted(members):
            list_part, _, upload_id = member.partition("/")
            parsed = ListId.parse(list_part)
            if parsed is not None:
                found.append((parsed, upload_id))
        return found

    async def forget(self, list_id: ListId, upload_id: str) -> None:
        await self._redis.srem(self._keys.active_uploads, self._active(list_id, upload_id))

    async def claim(
        self, list_id: ListId, upload_id: str, owner: str, lease_ms: int
    ) -> tuple[Code, dict[str, str]]:
        reply = await self._scripts.run(
            "claim_upload", [self._keys.list(list_id).upload(upload_id)], [owner, lease_ms]
        )
        code = Code(int(reply[0]))
        rec = dict(zip(reply[1::2], reply[2::2], strict=True)) if code is Code.OK else {}
        return code, rec

    async def release(self, list_id: ListId, upload_id: str, owner: str) -> Code:
        """Give the upload's lease up, if `owner` holds it."""
        key = self._keys.list(list_id).upload(upload_id)
        return Code(int((await self._scripts.run("release_upload", [key], [owner]))[0]))

    async def reserve(
        self,
        list_id: ListId,
        upload_id: str,
        owner: str,
        lease_ms: int,
        fresh: int,
        limit: int,
        totals: Mapping[str, int],
    ) -> Code:
        keys = self._keys.list(list_id)
        reply = await self._scripts.run(
            "reserve_upload",
            [keys.meta, keys.upload(upload_id)],
            [owner, lease_ms, fresh, limit, *_pairs(totals)],
        )
        return Code(int(reply[0]))

    async def add_batch(
        self,
        list_id: ListId,
        upload_id: str,
        owner: str,
        lease_ms: int,
        number: int,
        start: int,
        codes: Sequence[str],
    ) -> Batch:
        """Commit batch `number` (candidates `start`..) of an upload, once. `codes` hold no
        newline: they travel as one argument (one is cheap to send, thousands are not)."""
        keys = self._keys.list(list_id)
        reply = await self._scripts.run(
            "upload_batch",
            [
                keys.meta,
                keys.dedupe,
                keys.avail,
                keys.issued,
                *keys.upload_keys(upload_id),
                keys.fence,
            ],
            [owner, lease_ms, number, start, "\n".join(codes)],
        )
        code = Code(int(reply[0]))
        if code is not Code.OK:
            return Batch(code)
        return Batch(code, int(reply[1]), int(reply[2]))

    async def committed_batches(self, list_id: ListId, upload_id: str) -> set[int]:
        key = self._keys.list(list_id).upload_batches(upload_id)
        bits = await read_bitmap(self._redis, key)
        return {i * 8 + b for i, byte in enumerate(bits) for b in range(8) if byte & (128 >> b)}

    async def duplicates(self, list_id: ListId, upload_id: str) -> AsyncIterator[list[int]]:
        """The candidate indexes of the upload's duplicate_code rows, in order, in chunks."""
        key = self._keys.list(list_id).upload_duplicates(upload_id)
        start = 0
        while True:
            chunk = cast(list[str], await self._redis.lrange(key, start, start + 9_999))
            if not chunk:
                return
            yield [int(i) for i in chunk]
            start += len(chunk)

    async def finish(
        self,
        list_id: ListId,
        upload_id: str,
        owner: str,
        status: UploadStatus,
        fields: Mapping[str, str | int] | None = None,
    ) -> Code:
        keys = self._keys.list(list_id)
        reply = await self._scripts.run(
            "finish_upload",
            [keys.meta, *keys.upload_keys(upload_id)],
            [owner, status.value, *_pairs(fields or {})],
        )
        return Code(int(reply[0]))

    async def known(self, list_id: ListId, codes: Sequence[str]) -> list[bool]:
        """Which codes the list's dedupe set holds now (a read, for estimates only)."""
        if not codes:
            return []
        flags = cast(
            list[int], await self._redis.smismember(self._keys.list(list_id).dedupe, list(codes))
        )
        return [bool(f) for f in flags]

    async def dedupe_size(self, list_id: ListId) -> int:
        return int(await self._redis.scard(self._keys.list(list_id).dedupe))
