"""Events: the relay (at least once, stable ids, restarts) and GET /v1/events."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from app.domain.lists import ListId
from app.store.events import EventStore
from app.store.keys import Keys
from tests.conftest import Api
from tests.test_allocations import allocate, stocked


class RelayCrash(Exception):
    pass


async def read_all(api: Api, limit: int = 500) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/events", role="allocator", params=params)).json()
        assert page["next_cursor"]
        events += page["items"]
        if not page["items"]:
            return events
        cursor = page["next_cursor"]


async def test_every_allocation_one_event_after_the_relay_dies_mid_way(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    list_id = await stocked(api, 1200)
    codes = {(await allocate(api, list_id, f"u{n}")).json()["event_id"] for n in range(1100)}
    # the relay dies after copying its first page into the stream, before dropping it from
    # the outbox (which the next read does)
    real_read = EventStore._read

    async def dying_read(self: EventStore, outbox: str, copied: str) -> list[str]:
        if copied:
            monkeypatch.setattr(EventStore, "_read", real_read)
            raise RelayCrash
        return await real_read(self, outbox, copied)

    monkeypatch.setattr(EventStore, "_read", dying_read)
    relay = api.app.state.relay
    with pytest.raises(RelayCrash):
        await relay.relay(sweep=True)
    assert await relay.relay(sweep=True) is not None  # the restarted relay (sweeps at start)
    events = [e for e in await read_all(api) if e["name"] == "Partner Voucher Rewarded"]
    assert len(events) > 1100  # the first page went out twice: at least once ...
    assert {e["id"] for e in events} == codes  # ... with stable ids: one event per allocation
    keys = Keys("pv").list(ListId(list_id))
    assert await api.redis.xlen(keys.outbox) == 0
    first_seen: dict[str, int] = {}
    for position, event in enumerate(events):
        first_seen.setdefault(event["id"], position)
    ordered = sorted(first_seen, key=first_seen.__getitem__)
    assert ordered == sorted(codes, key=lambda i: tuple(int(p) for p in i.rsplit("-", 2)[1:]))


async def test_a_lost_dirty_mark_is_caught_by_the_sweep(api: Api) -> None:
    list_id = await stocked(api, 5)
    event_id = (await allocate(api, list_id, "u1")).json()["event_id"]
    await api.redis.delete(Keys("pv").dirty_outboxes)  # as if the process died before marking
    assert await api.app.state.relay.relay() == 0
    assert await api.app.state.relay.relay(sweep=True) == 1
    assert [e["id"] for e in await read_all(api)] == [event_id]


async def test_only_one_process_relays(api: Api) -> None:
    list_id = await stocked(api, 5)
    await allocate(api, list_id, "u1")
    await api.redis.set(Keys("pv").relay_lock, "another-process", px=60_000)
    assert await api.app.state.relay.relay(sweep=True) is None
    assert await read_all(api) == []


async def test_cursor_paging_and_an_empty_page_keeps_the_cursor(api: Api) -> None:
    list_id = await stocked(api, 10)
    ids = [(await allocate(api, list_id, f"u{n}")).json()["event_id"] for n in range(5)]
    await api.app.state.relay.relay()
    assert [e["id"] for e in await read_all(api, limit=2)] == ids
    first = (await api.get("/v1/events", params={"limit": 5})).json()
    empty = (await api.get("/v1/events", params={"cursor": first["next_cursor"]})).json()
    assert empty == {"items": [], "next_cursor": first["next_cursor"]}


async def test_long_poll_returns_when_an_event_arrives(api: Api) -> None:
    list_id = await stocked(api, 10)
    start = (await api.get("/v1/events")).json()["next_cursor"]
    poll = asyncio.create_task(
        api.get("/v1/events", role="allocator", params={"cursor": start, "wait_ms": 10_000})
    )
    await asyncio.sleep(0)  # let the poll start waiting (ordering, not timing)
    event_id = (await allocate(api, list_id, "u1")).json()["event_id"]
    await api.app.state.relay.relay()
    page = (await asyncio.wait_for(poll, 10)).json()
    assert [e["id"] for e in page["items"]] == [event_id]


async def test_long_poll_with_nothing_new_answers_empty(api: Api) -> None:
    page = (await api.get("/v1/events", params={"wait_ms": 50})).json()
    assert page == {"items": [], "next_cursor": "0-0"}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("cursor", "abc"),
        ("cursor", "1-2-3"),
        ("cursor", "34691345827742089882-833832"),  # past Redis's 2**64: was a 500
        ("wait_ms", "30001"),
        ("wait_ms", "-1"),
        ("limit", "0"),
    ],
)
async def test_bad_event_queries(api: Api, name: str, value: str) -> None:
    response = await api.get("/v1/events", params={name: value})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["fields"][0]["field"] == name


async def test_events_need_the_allocator_role(api: Api) -> None:
    assert (await api.get("/v1/events", role="viewer")).status_code == 403
    assert (await api.get("/v1/events", role=None)).status_code == 401


async def test_a_list_is_deleted_only_once_its_events_are_relayed(api: Api) -> None:
    list_id = await stocked(api, 5)
    event_id = (await allocate(api, list_id, "u1")).json()["event_id"]
    await api.delete(f"/v1/lists/{list_id}/campaigns/c1")
    pending = await api.delete(f"/v1/lists/{list_id}")
    assert (pending.status_code, pending.json()["error"]["code"]) == (409, "events_pending")
    assert (await api.get(f"/v1/lists/{list_id}")).status_code == 200
    await api.app.state.relay.relay()
    assert (await api.delete(f"/v1/lists/{list_id}")).status_code == 204
    assert [e["id"] for e in await read_all(api)] == [event_id]


async def test_reward_event_properties_survive_any_text(api: Api) -> None:
    """The reward event's JSON is put together in Lua from parts: quotes, backslashes,
    slashes and non-ASCII text in every field come back exactly."""
    user, source = 'Zoë "q" \\ / \u2603', 'app/"v2"\\'
    list_id = await stocked(api, 3, name='Acme "Summer" \\ sale', description="<b>50%</b>\u00e9")
    made = (await allocate(api, list_id, user, source=source)).json()
    await api.app.state.relay.relay()
    (event,) = [e for e in await read_all(api) if e["name"] == "Partner Voucher Rewarded"]
    assert event["user_id"] == user
    assert event["properties"] == {
        "campaignID": "c1",
        "codeDescription": "<b>50%</b>\u00e9",
        "codeProvider": "Acme",
        "codeSnippetName": 'Acme "Summer" \\ sale',
        "source": source,
        "voucherCode": made["voucher_code"],
        "voucherListID": list_id,
    }
