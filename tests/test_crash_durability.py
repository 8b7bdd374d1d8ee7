"""kill -9 under load: with appendfsync always no acknowledged allocation is lost, and no code
is ever handed out twice; a killed service leaves every invariant intact."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import redis

from app.domain.lists import ListId
from app.store.events import events_of
from app.store.keys import Keys
from tests.redis_server import RedisServer
from tests.service import ADMIN, Service, running_service, stock_list, wait_for

CODES = 3000


async def _hammer(url: str, list_id: str, ledger: dict[str, str], stop: threading.Event) -> None:
    """Allocate for fresh users until told to stop; remember every 201."""
    async with httpx.AsyncClient(base_url=url, headers=ADMIN, timeout=5) as client:
        n = 0

        async def one(user: str) -> None:
            try:
                response = await client.post(
                    "/v1/allocations",
                    json={"list_id": list_id, "campaign_id": "c1", "user_id": user},
                )
            except httpx.TransportError:
                return
            if response.status_code == 201:
                ledger[user] = response.json()["voucher_code"]

        while not stop.is_set():
            await asyncio.gather(*(one(f"user-{n + i}") for i in range(20)))
            n += 20


@contextlib.contextmanager
def hammering(url: str, list_id: str) -> Iterator[dict[str, str]]:
    """Allocation load from a thread while the block runs; yields the ledger of 201s."""
    ledger: dict[str, str] = {}
    stop = threading.Event()
    load = threading.Thread(target=lambda: asyncio.run(_hammer(url, list_id, ledger, stop)))
    load.start()
    try:
        yield ledger
    finally:
        stop.set()
        load.join()


def test_redis_killed_under_load_loses_no_acknowledged_allocation(
    durable_redis: RedisServer, tmp_path: Path
) -> None:
    with running_service(durable_redis.url, tmp_path / "data") as svc:
        list_id = stock_list(svc, CODES, "K")
        with hammering(svc.url, list_id) as ledger:
            wait_for(lambda: len(ledger) >= 300, "allocations before the crash")
            durable_redis.kill()  # kill -9, mid-load
            acknowledged = dict(ledger)
            durable_redis.start()  # the same append-only file
            wait_for(lambda: len(ledger) >= len(acknowledged) + 300, "allocations after it")
        keys = Keys("pv").list(ListId(list_id))
        r = redis.Redis(port=durable_redis.port, decode_responses=True)
        issued = cast(dict[str, str], r.hgetall(keys.issued))
        avail = cast(set[str], r.smembers(keys.avail))
        holder = {code: rec.split("\n")[0] for code, rec in issued.items()}
        for user, code in ledger.items():  # every 201 the clients got is on the server
            assert holder.get(code) == user, (user, code)
            assert code not in avail
        assert len(set(ledger.values())) == len(ledger)  # no code handed out twice
        assert len(issued) + len(avail) == CODES
        assert int(r.hget(keys.meta, "codes_distributed") or 0) == len(issued)
        r.close()


def test_service_killed_during_uploads_and_allocations(
    durable_redis: RedisServer, tmp_path: Path
) -> None:
    svc = Service(durable_redis.url, tmp_path / "data", upload_lease_s=1)
    svc.start()
    try:
        list_id = stock_list(svc, CODES, "K")
        big = "\n".join(f"T-{n:07d}" for n in range(400_000)).encode()
        upload = svc.call(
            "POST", f"/v1/lists/{list_id}/uploads", files={"file": ("top-up.csv", big, "text/csv")}
        ).json()
        with hammering(svc.url, list_id) as ledger:
            wait_for(lambda: len(ledger) >= 200, "allocations")
            svc.kill()  # kill -9 mid-upload, mid-allocations
        svc.start()
        wait_for(
            lambda: (
                svc.call("GET", f"/v1/lists/{list_id}/uploads/{upload['id']}").json()["status"]
                == "completed"
            ),
            "the resumed upload",
        )
        keys = Keys("pv").list(ListId(list_id))
        r = redis.Redis(port=durable_redis.port, decode_responses=True)
        wait_for(lambda: r.xlen(keys.outbox) == 0, "the relay")
        meta = r.hgetall(keys.meta)
        issued = cast(dict[str, str], r.hgetall(keys.issued))
        assert int(meta["codes_uploaded"]) == r.scard(keys.dedupe) == CODES + 400_000
        assert int(meta["codes_uploaded"]) == r.scard(keys.avail) + int(meta["codes_distributed"])
        assert int(meta["codes_distributed"]) == len(issued)
        for user, code in ledger.items():
            assert issued[code].split("\n")[0] == user
        stream = [(p, e.fields) for p, e in events_of(cast(Any, r.xrange(Keys("pv").events)))]
        event_ids = {fields["id"] for _, fields in stream}
        assert {rec.split("\n")[3] for rec in issued.values()} <= event_ids
        rewarded = [f for _, f in stream if '"Partner Voucher Rewarded"' in f["e"]]
        assert len({f["id"] for f in rewarded}) == len(issued)
        r.close()
    finally:
        svc.kill()
