"""At the limits a long-lived store reaches: one user with 50,000 codes, a list with 10,000
uploads or 10,000 campaign links, 100,000 lists. Everything works and costs Redis what the
request itself asks for; `loadtests/limits_bench.py` prints what each costs."""

from __future__ import annotations

from typing import Any, cast

import pytest

from app.domain.lists import ListId
from app.store.allocations import MAX_BATCH, Allocation, Request
from app.store.keys import Keys
from app.store.lists import ListStore
from app.store.store import Store
from loadtests import seeding
from tests.conftest import Api, all_pages
from tests.state import dump

KEYS = Keys("pv")


def store(api: Api) -> Store:
    found: Store = api.app.state.store
    return found


async def test_one_user_with_50000_codes(api: Api) -> None:
    """A user who earns a reward 50,000 times (a key each): every allocation writes a few
    fields of constant size (no ever-growing value), and their allocations page in order."""
    await api.make_partner()
    made = await api.make_list()
    lid = ListId(made["id"])
    codes = b"\n".join(b"U-%06d" % n for n in range(50_000))
    assert (await api.upload(lid.value, codes))["codes_uploaded"] == 50_000
    await api.put(f"/v1/lists/{lid.value}/campaigns/c1")
    handed_out: list[str] = []
    for start in range(0, 50_000, 1000):
        requests = [Request("c1", "u1", "promo", f"k{start + i}") for i in range(1000)]
        results = await store(api).allocations.allocate_many(lid, requests)
        handed_out += [r.code for r in results if isinstance(r, Allocation) and not r.replayed]
    assert len(set(handed_out)) == 50_000
    by_user = KEYS.list(lid).by_user
    longest = max([len(value) async for _, value in api.redis.hscan_iter(by_user, count=1000)])
    assert longest == len("U-000000")  # a code (or a count) per field: nothing grows
    mine = await all_pages(api, f"/v1/lists/{lid.value}/allocations", 500, user_id="u1")
    assert [a["voucher_code"] for a in mine] == handed_out  # every one, in order
    body = (await api.get(f"/v1/lists/{lid.value}")).json()
    assert (body["codes_distributed"], body["codes_available"]) == (50_000, 0)


@pytest.mark.parametrize("size", [0, MAX_BATCH + 1])
async def test_a_batch_past_the_script_bound_is_refused_before_redis(api: Api, size: int) -> None:
    """allocate.lua unpacks a few values per request: a caller asking for more than MAX_BATCH
    (or for none) in one call is a bug, refused before anything is sent."""
    await api.make_partner()
    lid = ListId((await api.make_list())["id"])
    await api.upload(lid.value, b"\n".join(b"C-%05d" % n for n in range(1001)))
    await api.put(f"/v1/lists/{lid.value}/campaigns/c1")
    before = await dump(api.redis)
    requests = [Request("c1", f"u{n}", "promo", None) for n in range(size)]
    with pytest.raises(ValueError, match=f"{size} requests in one allocate call"):
        await store(api).allocations.allocate_many(lid, requests)
    assert await dump(api.redis) == before


async def test_a_list_with_10000_uploads_is_deleted(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    lid = ListId(made["id"])
    await seeding.uploads(store(api), lid, 10_000)
    page = (await api.get(f"/v1/lists/{lid.value}/uploads", params={"limit": 500})).json()
    assert len(page["items"]) == 500
    response = await api.delete(f"/v1/lists/{lid.value}")
    assert response.status_code == 204, response.text
    assert [k async for k in api.redis.scan_iter(match=f"*{lid.value.split('.', 1)[1]}*")] == []
    assert await api.redis.zcard(KEYS.purging) == 0
    assert (await api.get(f"/v1/lists/{lid.value}")).status_code == 404


async def test_a_crash_between_delete_and_purge_is_finished_by_the_janitor(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The list goes in one atomic step; its upload records after it. A process that dies in
    between leaves a purge mark, which the janitor's round finishes."""
    await api.make_partner()
    made = await api.make_list()
    lid = ListId(made["id"])
    await seeding.uploads(store(api), lid, 1500)

    async def dies(_self: ListStore, _list_id: ListId) -> None:
        raise ConnectionError("the process died here")

    monkeypatch.setattr(ListStore, "_purge", dies)
    with pytest.raises(ConnectionError):
        await store(api).lists.delete(lid, await store(api).lists.get(lid))  # type: ignore[arg-type]
    monkeypatch.undo()
    assert (await api.get(f"/v1/lists/{lid.value}")).status_code == 404
    assert await api.redis.zcard(KEYS.list(lid).uploads) == 1500  # left behind ...
    assert await api.redis.zrange(KEYS.purging, 0, -1) == [lid.value]  # ... and marked
    await store(api).lists.purge_pending()
    assert [k async for k in api.redis.scan_iter(match=f"*{lid.value.split('.', 1)[1]}*")] == []
    assert await api.redis.zcard(KEYS.purging) == 0


async def test_a_list_with_10000_campaign_links(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    lid = ListId(made["id"])
    campaigns = await seeding.links(store(api), lid, 10_000)
    before = await dump(api.redis)
    refused = await api.delete(f"/v1/lists/{lid.value}")
    assert refused.status_code == 409
    error = refused.json()["error"]
    assert error["code"] == "list_linked"
    assert error["details"] == {"campaign_ids": campaigns[:100], "linked_campaigns": 10_000}
    assert await dump(api.redis) == before
    linked = await all_pages(api, f"/v1/lists/{lid.value}/campaigns", 500)
    assert [link["campaign_id"] for link in linked] == campaigns
    assert (await api.get(f"/v1/lists/{lid.value}")).json()["linked_campaigns"] == 10_000


async def test_100000_lists_page_by_cursor(api: Api) -> None:
    ids = await seeding.lists(store(api), "Acme", 100_000)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/lists", params=params)).json()
        seen += [item["id"] for item in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(seen) == len(set(seen)) == 100_000
    assert set(seen) == set(ids)
    # newest updated_at first, ties (lists of one millisecond) by id, highest first
    assert seen == cast(list[str], await api.redis.zrevrange(KEYS.lists, 0, -1))


async def test_a_cursor_stays_good_when_its_list_changes_or_goes(api: Api) -> None:
    """Paging by rank finds its place again when the cursor's list was edited (it moved to
    the top) or deleted since: the rest of the walk has every other list once."""
    ids = await seeding.lists(store(api), "Acme", 30)
    first = (await api.get("/v1/lists", params={"limit": 10})).json()
    shown = [item["id"] for item in first["items"]]
    last = shown[-1]
    await api.patch(f"/v1/lists/{last}", json={"name": "edited"})  # moves to the top
    rest = await all_pages(api, "/v1/lists", 7, cursor=first["next_cursor"])
    assert sorted(shown + [item["id"] for item in rest]) == sorted(ids)
    second = (await api.get("/v1/lists", params={"limit": 10})).json()
    assert (await api.delete(f"/v1/lists/{second['items'][-1]['id']}")).status_code == 204
    rest = await all_pages(api, "/v1/lists", 7, cursor=second["next_cursor"])
    remaining = [item["id"] for item in second["items"][:-1]] + [item["id"] for item in rest]
    assert sorted(remaining) == sorted(set(ids) - {second["items"][-1]["id"]})
