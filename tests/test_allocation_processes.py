"""No double issue across processes: two service workers, three client processes, hundreds of
concurrent requests each, over a list of fewer codes than requests."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import redis

from app.domain.events import render
from app.domain.lists import ListId
from app.store.events import events_of
from app.store.keys import Keys
from tests.redis_server import RedisServer
from tests.service import ADMIN, Service, running_service, stock_list, wait_for

CODES = 600
CLIENTS = 3
REQUESTS_PER_CLIENT = 300


def _client(url: str, list_id: str, client: int) -> list[tuple[int, str, str]]:
    """One client process: REQUESTS_PER_CLIENT concurrent allocations for distinct users."""

    async def run() -> list[tuple[int, str, str]]:
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(
            base_url=url, headers=ADMIN, limits=limits, timeout=60
        ) as http:

            async def one(n: int) -> tuple[int, str, str]:
                user = f"client{client}-user{n}"
                response = await http.post(
                    "/v1/allocations",
                    json={"list_id": list_id, "campaign_id": "c1", "user_id": user},
                )
                body = response.json()
                return response.status_code, body.get("voucher_code", ""), user

            return await asyncio.gather(*(one(n) for n in range(REQUESTS_PER_CLIENT)))

    return asyncio.run(run())


@pytest.fixture
def two_workers(own_redis_server: RedisServer, tmp_path: Path) -> Iterator[Service]:
    with running_service(own_redis_server.url, tmp_path / "data", workers=2) as svc:
        yield svc


def test_processes_times_hundreds_of_requests_issue_each_code_once(
    two_workers: Service, own_redis_server: RedisServer
) -> None:
    svc = two_workers
    list_id = stock_list(svc, CODES, "RACE")

    with multiprocessing.get_context("spawn").Pool(CLIENTS) as pool:
        results = pool.starmap(_client, [(svc.url, list_id, c) for c in range(CLIENTS)])
    flat = [r for chunk in results for r in chunk]
    assert Counter(status for status, _, _ in flat) == {
        201: CODES,
        409: CLIENTS * REQUESTS_PER_CLIENT - CODES,
    }
    issued = {code: user for status, code, user in flat if status == 201}
    assert len(issued) == CODES  # M distinct codes ...
    assert len(set(issued.values())) == CODES  # ... to M distinct users

    keys = Keys("pv").list(ListId(list_id))
    r = redis.Redis(port=own_redis_server.port, decode_responses=True)
    records = cast(dict[str, str], r.hgetall(keys.issued))
    assert {code: rec.split("\n")[0] for code, rec in records.items()} == issued
    assert r.scard(keys.avail) == 0
    assert int(r.hget(keys.meta, "codes_distributed") or 0) == CODES
    wait_for(lambda: r.xlen(keys.outbox) == 0, "the relay")
    stream = [(p, e.fields) for p, e in events_of(cast(Any, r.xrange(Keys("pv").events)))]
    events = [render(fields["id"], fields["e"]) for _, fields in stream]
    events = [e for e in events if e["name"] == "Partner Voucher Rewarded"]
    assert sorted(e["properties"]["voucherCode"] for e in events) == sorted(issued)
    assert {e["id"] for e in events} == {rec.split("\n")[3] for rec in records.values()}
    r.close()
