"""Large stores, fast: many lists, uploads or campaign links written in pipelines, through the
scripts the service runs (`create_upload.lua`, `link_campaign.lua`) or as copies of what one
made (`create_list.lua`). Used by the limit tests and `loadtests/limits_bench.py`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, cast

from app.domain.lists import LINKABLE, Action, ListId, statuses_allowing
from app.store.keys import claim_field
from app.store.scripts import Call
from app.store.store import Store

BATCH = 1000  # script calls per pipeline
YEAR_MS = 365 * 86_400_000


def _chunks(n: int) -> Iterator[range]:
    for start in range(0, n, BATCH):
        yield range(start, min(n, start + BATCH))


async def lists(store: Store, partner: str, n: int) -> list[str]:
    """`n` active lists of `partner` (created if new), tags t0, t1, ...; their ids, oldest
    first. The first is made by `create_list.lua`; the others copy its record (so the layout
    is the script's), each with its own id, tag, name and claim, in pipelines: fakeredis runs
    Lua too slowly to make 100,000 through the script in a test."""
    r, keys = store.redis, store.keys
    if not await r.exists(keys.partner(partner)):
        await store.partners.create(partner)
    first = await store.lists.create(
        partner=partner,
        tag="t0",
        name="list 0",
        description="",
        expires_at=await store.lists.now() + YEAR_MS,
        low_stock_threshold=None,
    )
    record = cast(dict[str, str], await r.hgetall(keys.list(ListId(first.id)).meta))
    start = int(await r.incrby(keys.list_sequence, n - 1)) - n + 1
    made = [first.id]
    for chunk in _chunks(n):
        claims: dict[str, str] = {}
        index: dict[str, int] = {}
        async with r.pipeline(transaction=False) as pipe:
            for i in chunk[1:] if chunk.start == 0 else chunk:
                lid = ListId.generate(partner, f"t{i}", start + i)
                now = int(record["updated_at"]) + i // 50  # some lists share a millisecond
                fields = {"tag": f"t{i}", "name": f"list {i}", "created_at": now, "updated_at": now}
                pipe.hset(keys.list(lid).meta, mapping=cast(Any, record | fields))
                claims[claim_field(partner, f"t{i}")] = lid.value
                index[lid.value] = now
                made.append(lid.value)
            pipe.hset(keys.claims(partner), mapping=cast(Any, claims))
            pipe.zadd(keys.lists, index)
            await pipe.execute()
    await r.hincrby(keys.partner(partner), "lists", n - 1)
    return made


async def uploads(store: Store, list_id: ListId, n: int) -> None:
    """`n` uploads of the list, each a file refused at once (not_csv): records and log
    entries only, as the service makes them."""
    k = store.keys.list(list_id)
    statuses = ",".join(s.value for s in statuses_allowing(Action.UPLOAD_CODES))
    for chunk in _chunks(n):
        calls: list[Call] = []
        for i in chunk:
            upload_id = f"seed{i:07d}"
            args = [statuses, upload_id, "1", "status", "failed", "uploaded_by", "seed"]
            args += ["file_name", f"{upload_id}.txt", "phase", "done", "failure", "not_csv"]
            calls.append(("create_upload", [k.meta, k.uploads, k.upload(upload_id)], args))
        assert all(int(reply[0]) == 0 for reply in await store.scripts.run_many(calls))


async def links(store: Store, list_id: ListId, n: int) -> list[str]:
    """`n` campaigns linked to the list, c0000000, c0000001, ...; their ids."""
    k = store.keys.list(list_id)
    statuses = ",".join(s.value for s in LINKABLE)
    campaigns = [f"c{i:07d}" for i in range(n)]
    for chunk in _chunks(n):
        calls: list[Call] = [
            ("link_campaign", [k.meta, k.links, k.link_index], [statuses, campaigns[i]])
            for i in chunk
        ]
        assert all(int(reply[0]) == 0 for reply in await store.scripts.run_many(calls))
    return campaigns
