"""Events: the relay (at least once, stable ids, restarts) and GET /v1/events."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, cast

import pytest
import redis

from app.api.allocations import BULK_CHUNK
from app.domain.events import json_lines
from app.domain.lists import ListId
from app.jobs.relay import EventRelay
from app.store import ranged
from app.store.events import EventStore
from app.store.keys import Keys, ListKeys
from app.store.store import Store
from tests.conftest import Api, open_api
from tests.redis_server import RedisServer
from tests.service import Service, all_events, running_service, stock_list, wait_for
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

    async def dying_read(self: EventStore, keys: ListKeys, copied: str) -> list[str]:
        if copied:
            monkeypatch.setattr(EventStore, "_read", real_read)
            raise RelayCrash
        return await real_read(self, keys, copied)

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


def in_order_once(events: list[dict[str, Any]]) -> list[str]:
    """The reward events' ids, each once, in stream order; fails on a duplicate."""
    ids = [e["id"] for e in events if e["name"] == "Partner Voucher Rewarded"]
    assert len(ids) == len(set(ids)), "an event was copied twice"
    return ids


def allocation_order(event_id: str) -> tuple[int, int]:
    return tuple(int(p) for p in event_id.rsplit("-", 2)[1:])  # type: ignore[return-value]


async def until_lease_lapsed(api: Api) -> None:
    """Wait until the relay lease's key has expired in Redis (its time to live, not a task)."""
    while await api.redis.exists(Keys("pv").relay_lock):  # noqa: ASYNC110
        await asyncio.sleep(0.01)


async def test_a_relay_that_lost_its_lease_cannot_append_a_stale_page(api: Api) -> None:
    list_id = await stocked(api, 1200)
    ids = [(await allocate(api, list_id, f"u{n}")).json()["event_id"] for n in range(1100)]
    await api.app.state.relay.lease.release()  # the app's own relay steps aside
    stalled, others = Store(api.redis, "pv"), Store(api.redis, "pv")
    read, resume = asyncio.Event(), asyncio.Event()
    real_read = stalled.events._read

    async def read_then_stall(keys: ListKeys, copied: str) -> list[str]:
        page = await real_read(keys, copied)
        read.set()
        await resume.wait()  # paused past its lease, between reading a page and copying it
        return page

    stalled.events._read = read_then_stall  # type: ignore[method-assign]
    first = asyncio.create_task(EventRelay(stalled, lease_ms=150).relay(sweep=True))
    await read.wait()
    await until_lease_lapsed(api)
    second = EventRelay(others, lease_ms=60_000)
    assert await second.relay(sweep=True) == 1100
    ids += [(await allocate(api, list_id, f"v{n}")).json()["event_id"] for n in range(20)]
    assert await second.relay() == 20
    resume.set()
    assert await first is None  # its copy was refused: it lost the lease
    assert in_order_once(await read_all(api)) == ids


def event_ids(svc: Service, list_id: str, users: list[str]) -> list[str]:
    """Allocate a code to each user through the service; the reward events' ids."""
    body = {"list_id": list_id, "campaign_id": "c1"}
    return [
        svc.call("POST", "/v1/allocations", json={**body, "user_id": u}).json()["event_id"]
        for u in users
    ]


def test_a_relay_process_stopped_past_its_lease_appends_nothing_when_it_resumes(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    """kill -STOP a relay between reading a page and copying it, let another process relay
    everything (and more), then kill -CONT it: the stream holds every event once, in order."""
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    quiet = {"events_relay_interval_s": "3600"}  # its relay runs once, at start-up
    with running_service(redis_server.url, tmp_path / "data", **quiet) as svc:
        list_id = stock_list(svc, 1200, "SIG")
        ids = event_ids(svc, list_id, [f"u{n}" for n in range(600)])
    with redis.Redis.from_url(redis_server.url) as client:
        client.delete(Keys("pv").relay_lock)  # the killed service's lease, run out
    stopped = subprocess.Popen(
        [sys.executable, "-m", "tests.relay_process", redis_server.url, "300"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert stopped.stdout is not None
        assert stopped.stdout.readline().strip() == "paused"
        with redis.Redis.from_url(redis_server.url) as client:
            wait_for(lambda: not client.exists(Keys("pv").relay_lock), "the lease to lapse")
        with running_service(redis_server.url, tmp_path / "data") as svc:  # another relay
            wait_for(lambda: len(all_events(svc)) >= 600, "the other relay")
            ids += event_ids(svc, list_id, [f"v{n}" for n in range(30)])
            wait_for(lambda: len(all_events(svc)) >= 630, "the other relay")
            os.kill(stopped.pid, signal.SIGCONT)
            assert stopped.stdout.readline().strip() == "lost"
            assert stopped.wait(timeout=30) == 0
            assert in_order_once(all_events(svc)) == ids
    finally:
        stopped.kill()
        stopped.wait()
        if stopped.stdout is not None:
            stopped.stdout.close()


async def bulk_event_ids(api: Api, list_id: str, users: list[str]) -> list[str]:
    """Codes for the users in one bulk call (a script call per BULK_CHUNK): their event ids."""
    body = {"list_id": list_id, "campaign_id": "c1", "items": [{"user_id": u} for u in users]}
    done = (await api.post("/v1/allocations/bulk", json=body, role="allocator")).json()
    return [item["event_id"] for item in done["items"]]


async def test_pages_of_events_cut_through_the_entries_of_bulk_batches(api: Api) -> None:
    """A bulk call's events sit in the stream a batch to an entry: pages of 7 (and a long
    poll from the end) still see each event once, in allocation order, with its own id."""
    list_id = await stocked(api, 400, low_stock_threshold=150)
    ids = await bulk_event_ids(api, list_id, [f"u{n}" for n in range(260)])
    await api.app.state.relay.relay()
    events = await read_all(api, limit=7)
    rewarded = [e["id"] for e in events if e["name"] == "Partner Voucher Rewarded"]
    assert rewarded == ids
    low = [e for e in events if e["name"] == "Voucher List Low"]
    assert [e["properties"]["codesAvailable"] for e in low] == [150]
    page = await api.get(f"/v1/lists/{list_id}/allocations", params={"limit": 500})
    codes = [e["properties"]["voucherCode"] for e in events if e["user_id"]]
    assert codes == [a["voucher_code"] for a in page.json()["items"]]
    end = (await api.get("/v1/events", params={"limit": 500})).json()["next_cursor"]
    poll = asyncio.create_task(
        api.get("/v1/events", role="allocator", params={"cursor": end, "wait_ms": 10_000})
    )
    await asyncio.sleep(0)  # let the poll start waiting (ordering, not timing)
    more = await bulk_event_ids(api, list_id, [f"v{n}" for n in range(3)])
    await api.app.state.relay.relay()
    page = (await asyncio.wait_for(poll, 10)).json()
    assert [e["id"] for e in page["items"]] == more


async def test_the_stream_keeps_the_newest_events_its_retention_asks_for(
    redis_client: Any, settings: Any, clock: Any
) -> None:
    """Retention counts events, not entries: about the newest 1,000 are kept, each batch's
    entry trimmed whole, oldest first; what is left reads from its oldest, in order."""
    keep = settings.model_copy(update={"events_retention": 1000})
    async with open_api(redis_client, keep, clock) as api:
        list_id = await stocked(api, 3000)
        ids: list[str] = []
        for start in range(0, 2600, 1000):
            users = [f"u{n}" for n in range(start, min(start + 1000, 2600))]
            ids += await bulk_event_ids(api, list_id, users)
            await api.app.state.relay.relay()
        events = [e["id"] for e in await read_all(api)]
        # trimmed a whole entry (a script call's events, at most BULK_CHUNK) at a time
        assert 1000 <= len(events) < 1000 + BULK_CHUNK
        assert events == ids[-len(events) :]
        meta = await api.redis.hgetall(Keys("pv").events_meta)
        assert int(meta["count"]) == len(events)
        stored = await api.app.state.store.events.page(None, 5000)
        assert [e.fields["id"] for e in stored] == events
        assert meta["last"] == stored[-1].position


async def test_a_stream_written_an_event_per_entry_reads_on_and_is_trimmed(
    redis_client: Any, settings: Any, clock: Any
) -> None:
    """A stream from before ranged entries (an event per entry, no meta) reads the same, new
    events follow it, and retention trims its old entries first."""
    keep = settings.model_copy(update={"events_retention": 1000})
    async with open_api(redis_client, keep, clock) as api:
        list_id = await stocked(api, 1500)
        old = [(await allocate(api, list_id, f"old{n}")).json()["event_id"] for n in range(3)]
        legacy = Keys("pv").events
        outbox = Keys("pv").list(ListId(list_id)).outbox
        rows = cast(list[tuple[str, dict[str, str]]], await api.redis.xrange(outbox))
        for entry_id, fields in rows:  # as the relay wrote them before ranged entries
            blobs = json_lines(fields["h"], fields["e"])
            for (position, _), blob in zip(
                ranged.expand(entry_id, fields["e"]), blobs, strict=True
            ):
                await api.redis.xadd(legacy, {"id": f"{list_id}-{position}", "e": blob})
        await api.redis.delete(outbox)
        other = {"voucherListID": "other.list.1", "codesAvailable": 0, "lowStockThreshold": None}
        stock = {"name": "Voucher List Exhausted", "timestamp": "1", "user_id": None}
        blob = json.dumps({**stock, "properties": other})
        for n in range(997):  # old events of another list, an entry each
            await api.redis.xadd(legacy, {"id": f"other.list.1-1-{n}", "e": blob})
        ids = await bulk_event_ids(api, list_id, [f"u{n}" for n in range(150)])
        await api.app.state.relay.relay()
        events = [e["id"] for e in await read_all(api, limit=40)]
        assert len(events) == 1000  # an old entry holds one event: trimmed to the count
        assert events[-150:] == ids
        assert events[:850] == [f"other.list.1-1-{n}" for n in range(147, 997)]
        assert not set(old) & set(events)  # the oldest were trimmed first
