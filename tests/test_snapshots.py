"""Snapshots: write, verify, restore, and get back every key's content."""

from __future__ import annotations

import asyncio
import io
import stat
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.config import Settings
from app.domain.events import json_lines
from app.store.connection import connect
from app.store.connection import embedded as embedded_store
from app.store.events import events_of
from app.store.keys import Keys
from app.store.snapshots import SnapshotError, read_verified
from app.store.store import Store
from tests.conftest import API_KEYS, Api, all_pages, open_api
from tests.redis_cluster import RedisCluster
from tests.redis_server import RedisServer
from tests.state import Clock, dump
from tests.test_allocations import allocate, relayed_events, stocked
from tests.test_bulk import bulk

VOLATILE = (Keys("pv").dirty_outboxes,)  # the relay's work list (restore rebuilds it)


def comparable(state: dict[str, Any]) -> dict[str, Any]:
    """The dump, with allocation logs as their codes in order (restore gives their entries
    new ids, and the list its log's new last position), outboxes and the event stream as
    their events' JSON (restore writes reward events as JSON, and may hold in one stream
    entry the runs that the relay wrote in several), and without
    what a snapshot does not carry (the relay's work list)."""
    out = {}
    for key, (kind, value) in state.items():
        if key in VOLATILE or (kind == "stream" and not value):  # an emptied outbox = none
            continue
        if key.endswith(":log"):
            value = [code for _, fields in value for code in fields["c"].split("\n")]
        if key.endswith(":outbox"):  # restore writes its reward events as JSON
            value = [(i, json_lines(f.get("h", ""), f["e"])) for i, f in value]
        if key.endswith(":{events}:stream"):
            value = [(p, e.fields) for p, e in events_of(value)]
        if key.endswith(":meta"):  # the log's new ids end at a new last position
            value = {f: v for f, v in value.items() if f != "log_last"}
        out[key] = (kind, value)
    return out


async def build_state(api: Api) -> None:
    list_id = await stocked(api, 30, low_stock_threshold=20, description="multi\nline")
    await api.put(f"/v1/lists/{list_id}/campaigns/c2")
    for n in range(12):
        await allocate(
            api,
            list_id,
            f"user-{n % 5}",
            campaign="c1" if n % 2 else "c2",
            key=f"key-{n}" if n % 3 else None,
        )
    await api.app.state.relay.relay()
    await allocate(api, list_id, "late-user")  # its event waits in the outbox
    await api.upload(list_id, b"A1\nA1\nbad code\n" + b"x" * 120 + b"\n")
    await api.upload(list_id, b"A1,2\n")  # failed upload
    await api.make_partner("Other")
    paused = await api.make_list("Other", "paused")
    await api.post(f"/v1/lists/{paused['id']}/pause")
    archived = await api.make_list("Other", "archived")
    await api.upload(archived["id"], b"Z1\nZ2\n")
    await api.post(f"/v1/lists/{archived['id']}/archive")
    await api.make_list("Other", "archived")  # the tag again, now free
    await api.make_partner("Empty")


async def snapshot(api: Api) -> bytes:
    out = io.BytesIO()
    await api.app.state.store.snapshots.write(out, api.clock.ms)
    return out.getvalue()


async def test_snapshot_flush_restore_gives_back_every_key(api: Api, tmp_path: Path) -> None:
    await build_state(api)
    before = comparable(await dump(api.redis))
    path = tmp_path / "snap.jsonl"
    path.write_bytes(await snapshot(api))
    await api.redis.flushall()
    counts = await api.app.state.store.loader.load(read_verified(path))
    assert counts.lists == 4
    assert comparable(await dump(api.redis)) == before
    # and the service works on: the pending event, allocations, uploads
    assert await api.app.state.relay.relay(sweep=True) == 1


async def test_damaged_or_foreign_files_are_refused(api: Api, tmp_path: Path) -> None:
    await build_state(api)
    data = await snapshot(api)
    cases = {
        "flipped": data.replace(b"user-1", b"user-9", 1),
        "cut": data[: len(data) // 2],
        "no end": b"\n".join(data.splitlines()[:-1]) + b"\n",
        "other version": data.replace(b'"version":3', b'"version":4', 1),
        "not ours": b'{"format":"something else","version":1}\n',
        "not json": b"\x00\x01garbage\n",
        "empty": b"",
    }
    for name, content in cases.items():
        path = tmp_path / f"{name}.jsonl"
        path.write_bytes(content)
        with pytest.raises(SnapshotError):
            list(read_verified(path))


async def test_allocations_during_a_snapshot_leave_each_code_in_one_place(api: Api) -> None:
    list_id = await stocked(api, 3000)
    users = iter(range(10**6))

    async def allocate_meanwhile() -> None:
        for _ in range(300):
            await allocate(api, list_id, f"u{next(users)}")

    _, data = await asyncio.gather(allocate_meanwhile(), snapshot(api))
    avail: set[str] = set()
    issued: set[str] = set()
    for line in data.splitlines()[1:-1]:
        record = orjson.loads(line)
        if record["type"] == "avail":
            avail |= set(record["codes"])
        elif record["type"] == "issued":
            issued |= {code for code, _ in record["records"]}
    assert not avail & issued
    assert len(avail) + len(issued) == 3000


async def test_snapshots_on_demand_are_listed_and_pruned(api: Api) -> None:
    await build_state(api)
    job = api.app.state.snapshots
    ids = []
    for _ in range(7):
        api.clock.advance(1)
        started = await api.post("/v1/admin/snapshots")
        assert started.status_code == 202
        assert started.json()["status"] == "in_progress"
        ids.append(started.json()["id"])
        await job.drain()
    listed = (await api.get("/v1/admin/snapshots")).json()["items"]
    assert [s["id"] for s in listed] == list(reversed(ids))[:5]  # the newest 5 are kept
    newest = listed[0]
    assert (newest["status"], newest["lists"], newest["codes"]) == ("completed", 4, 33)
    assert newest["size_bytes"] == (job.dir / f"{newest['id']}.jsonl").stat().st_size
    assert {stat.S_IMODE(f.stat().st_mode) for f in job.dir.glob("*.jsonl")} == {0o600}
    assert not list(job.dir.glob("*.tmp"))
    assert (await api.get("/v1/admin/snapshots", role="viewer")).status_code == 403
    assert [s["id"] for s in await all_pages(api, "/v1/admin/snapshots", 2)] == [
        s["id"] for s in listed
    ]
    for bad in ({"limit": 0}, {"limit": 501}, {"cursor": "forged"}):
        refused = await api.get("/v1/admin/snapshots", params=bad)
        assert refused.status_code == 422
        assert refused.json()["error"]["details"]["fields"][0]["field"] in bad


async def test_the_embedded_store_keeps_its_data_across_restarts(tmp_path: Path) -> None:
    settings = Settings(api_keys=API_KEYS, data_dir=tmp_path / "data", events_relay_interval_s=3600)
    async with open_api(embedded_store(), settings, Clock(), own_store=True) as first:
        await build_state(first)
        await first.app.state.relay.relay(sweep=True)  # else the restart relays it
        before = comparable(await dump(first.redis))
    async with open_api(embedded_store(), settings, Clock(), own_store=True) as second:
        assert comparable(await dump(second.redis)) == before  # the event stream too
        listed = (await second.get("/v1/lists")).json()["items"]
        assert len(listed) == 4
        events = (await second.get("/v1/events", params={"limit": 500})).json()["items"]
        assert len([e for e in events if e["name"] == "Partner Voucher Rewarded"]) == 13


async def test_a_million_code_list_round_trips(real_api: Api, tmp_path: Path) -> None:
    await real_api.make_partner()
    made = await real_api.make_list()
    content = b"".join(b"M-%016d\n" % n for n in range(1_000_000))
    assert (await real_api.upload(made["id"], content))["codes_uploaded"] == 1_000_000
    await real_api.put(f"/v1/lists/{made['id']}/campaigns/c1")
    for n in range(50):
        await allocate(real_api, made["id"], f"u{n}")
    await real_api.app.state.relay.relay()
    before = comparable(await dump(real_api.redis))
    path = tmp_path / "million.jsonl"
    path.write_bytes(await snapshot(real_api))
    await real_api.redis.flushall(asynchronous=True)
    counts = await real_api.app.state.store.loader.load(read_verified(path))
    assert (counts.lists, counts.codes) == (1, 1_000_000)
    assert comparable(await dump(real_api.redis)) == before


async def test_a_snapshot_moves_one_redis_onto_a_cluster_and_back(
    redis_server: RedisServer, redis_cluster: RedisCluster, settings: Settings
) -> None:
    """How a store moves to a Redis Cluster (and back): snapshot, restore. Everything comes
    back, event stream included, key for key."""
    tmp_path = settings.data_dir
    tmp_path.mkdir(parents=True, exist_ok=True)
    single = connect(settings.model_copy(update={"redis_url": redis_server.url}))
    cluster = connect(settings.model_copy(update={"redis_url": redis_cluster.url}))
    try:
        await single.flushall()
        await cluster.flushall()
        async with open_api(single, settings, Clock()) as api:
            await build_state(api)
            before = comparable(await dump(single))
            (tmp_path / "one.jsonl").write_bytes(await snapshot(api))
        counts = await Store(cluster, "pv").loader.load(read_verified(tmp_path / "one.jsonl"))
        assert counts.lists == 4
        assert comparable(await dump(cluster)) == before
        async with open_api(cluster, settings, Clock()) as on_cluster:  # relays at start-up
            served = comparable(await dump(cluster))
            (tmp_path / "cluster.jsonl").write_bytes(await snapshot(on_cluster))
        await single.flushall()
        await Store(single, "pv").loader.load(read_verified(tmp_path / "cluster.jsonl"))
        assert comparable(await dump(single)) == served
    finally:
        await single.aclose()
        await cluster.aclose()


async def test_a_restored_list_goes_on_after_its_batches(api: Api, tmp_path: Path) -> None:
    """A bulk request's events (one outbox entry, not yet relayed) and codes (one log entry)
    come back from a snapshot; allocations after the restore take new positions, so no event
    id repeats and the log pages in order."""
    list_id = await stocked(api, 30)
    first = await bulk(api, list_id, [{"user_id": f"u{n}"} for n in range(10)])
    path = tmp_path / "snap.jsonl"
    path.write_bytes(await snapshot(api))
    await api.redis.flushall()
    await api.app.state.store.loader.load(read_verified(path))
    then = await bulk(api, list_id, [{"user_id": f"v{n}"} for n in range(10)])
    single = (await allocate(api, list_id, "w")).json()
    given = [*first["items"], *then["items"], single]
    codes = [i["voucher_code"] for i in given]
    assert len(set(codes)) == 21
    logged = await all_pages(api, f"/v1/lists/{list_id}/allocations", 7)
    assert [a["voucher_code"] for a in logged] == codes
    events = await relayed_events(api)
    assert [e["id"] for e in events] == [i["event_id"] for i in given]
    assert [e["properties"]["voucherCode"] for e in events] == codes
