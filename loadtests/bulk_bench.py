"""Bulk allocation figures, printed as JSON.

    python -m loadtests.bulk_bench   # --seconds S --clients C --workers W

On its own redis-server and `vouchers serve` (W workers, default 2):
1. codes/s with 1,000-item POST /v1/allocations/bulk requests from C concurrent clients
   (default 4), each item a new user, and Redis script time per allocated code
   (INFO commandstats, the relay's scripts included);
2. the floor on the same Redis: a bare Lua script doing only SPOP + HSET + XADD per code, in
   batches of 1,000, called back to back by C clients, with its script time per code;
3. bulk as a share of the floor;
4. allocate.lua alone: called directly by one client with BULK_CHUNK-request batches on a
   list of its own, the relay's copies of its events included (no HTTP, so the service and
   the generator take little CPU from Redis, whose INFO commandstats times are wall-clock
   and grow when it shares a busy core).
Single allocations are measured by `python -m loadtests.bench` (run it in the same session).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time
from typing import Any

import orjson
import redis
import redis.asyncio as aredis

from app.api.allocations import BULK_CHUNK
from app.domain.lists import ListId
from app.store.allocations import Request, script_input
from app.store.keys import Keys
from app.store.scripts import source
from loadtests.harness import HEADERS, stack
from loadtests.lean_http import Connection, prepare
from loadtests.loadgen import script_stats, seed

ITEMS = 1000
JSON_HEADERS = {**HEADERS, "Content-Type": "application/json"}
KEYS = Keys("pv")  # the service's default prefix
FLOOR = """
local out = {}
for i = 1, tonumber(ARGV[1]) do
  local code = redis.call('SPOP', KEYS[1])
  if not code then break end
  redis.call('HSET', KEYS[2], code, ARGV[2])
  redis.call('XADD', KEYS[3], '*', 'c', code)
  out[#out + 1] = code
end
return #out
"""


async def bulk_load(url: str, list_id: str, clients: int, seconds: float) -> dict[str, float]:
    """`clients` connections, each posting 1,000-item requests back to back (a lean client
    with orjson, so that the load generator takes less of the two cores it shares with the
    service and Redis than httpx and the json module would)."""
    users = itertools.count()
    codes = 0
    deadline = time.perf_counter() + seconds
    host, port = url.removeprefix("http://").split(":")

    async def client() -> None:
        nonlocal codes
        conn = await Connection.open(host, int(port))
        try:
            while time.perf_counter() < deadline:
                items = [{"user_id": f"bulk-{next(users)}"} for _ in range(ITEMS)]
                body = {"list_id": list_id, "campaign_id": "bench", "items": items}
                raw = prepare(
                    "POST",
                    "/v1/allocations/bulk",
                    f"{host}:{port}",
                    JSON_HEADERS,
                    orjson.dumps(body),
                )
                status, reply = await conn.request(raw)
                answer = orjson.loads(reply)
                assert status == 200, answer
                assert answer["failed"] == 0, answer["items"][0]
                codes += answer["allocated"]
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    return {"codes": codes, "seconds": time.perf_counter() - started}


async def floor_load(port: int, clients: int, seconds: float) -> dict[str, float]:
    r = aredis.Redis(port=port)
    keys = ["floor:{f}:avail", "floor:{f}:issued", "floor:{f}:log"]
    members = [f"FLOOR-{n:012d}" for n in range(1_000_000)]
    for start in range(0, len(members), 10_000):
        await r.sadd(keys[0], *members[start : start + 10_000])
    script = r.register_script(FLOOR)
    codes = 0
    deadline = time.perf_counter() + seconds
    ended = deadline  # when the stock ran out, if it did first

    async def client() -> None:
        nonlocal codes, ended
        while time.perf_counter() < deadline:
            # awaited first: `codes += int(await ...)` reads `codes` before the await, and
            # concurrent clients would then overwrite each other's counts
            got = int(await script(keys=keys, args=[ITEMS, "user\ncampaign\n0\nid\nsrc"]))
            codes += got
            if got < ITEMS:  # out of codes: the time after this is not the floor's
                ended = min(ended, time.perf_counter())
                return

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    await r.aclose()
    return {"codes": codes, "seconds": min(ended, time.perf_counter()) - started}


def drain(r: redis.Redis, outbox: str) -> None:
    """Wait for the relay to empty the outbox: its copies of the events are part of the cost."""
    started = time.perf_counter()
    while r.xlen(outbox) and time.perf_counter() - started < 300:
        time.sleep(0.1)


def script_alone(r: redis.Redis, list_id: str, codes: int) -> dict[str, Any]:
    """allocate.lua called directly, BULK_CHUNK new users a call, until `codes` are out."""
    lid = ListId(list_id)
    k = KEYS.list(lid)
    script = r.register_script(source("allocate"))
    _, usec0 = script_stats(r)
    c0 = commands(r)
    started, done = time.perf_counter(), 0
    while done < codes:
        batch = [
            Request("bench", f"alone-{n}", "promo", None) for n in range(done, done + BULK_CHUNK)
        ]
        keys, args = script_input(k, lid, batch)
        script(keys=keys, args=args)
        done += BULK_CHUNK
    seconds = time.perf_counter() - started
    r.sadd(KEYS.dirty_outboxes, list_id)  # what the service does after a first batch
    drain(r, k.outbox)
    _, usec1 = script_stats(r)
    return {
        "codes_per_s": round(done / seconds),
        "redis_us_per_code": round((usec1 - usec0) / done, 2),
        "us_per_code_by_command": per_code(c0, commands(r), done),
    }


def commands(r: redis.Redis) -> dict[str, tuple[int, int]]:
    """(calls, microseconds) per command so far."""
    return {
        k.removeprefix("cmdstat_"): (int(v["calls"]), int(v["usec"]))
        for k, v in r.info("commandstats").items()
    }


def per_code(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], codes: float
) -> dict[str, float]:
    """Microseconds per code of each command a script ran (the six costliest)."""
    spent = {
        name: (calls - before.get(name, (0, 0))[0], usec - before.get(name, (0, 0))[1])
        for name, (calls, usec) in after.items()
        if name not in ("evalsha", "eval", "info")
    }
    top = sorted(spent.items(), key=lambda kv: -kv[1][1])[:6]
    return {name: round(usec / codes, 2) for name, (_, usec) in top if usec}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with stack(workers=args.workers) as s:
        list_id = seed(s.url, 1_000_000)
        r = redis.Redis(port=s.redis_port)
        calls0, usec0 = script_stats(r)
        c0 = commands(r)
        done = asyncio.run(bulk_load(s.url, list_id, args.clients, args.seconds))
        relayed = time.perf_counter()
        drain(r, KEYS.list(ListId(list_id)).outbox)
        calls1, usec1 = script_stats(r)
        c1 = commands(r)
        results["bulk"] = {
            "codes_per_s": round(done["codes"] / done["seconds"]),
            "redis_us_per_code": round((usec1 - usec0) / done["codes"], 2),
            "script_calls": calls1 - calls0,
            "relay_drained_after_s": round(time.perf_counter() - relayed, 1),
            "us_per_code_by_command": per_code(c0, c1, done["codes"]),
        }
        floor = asyncio.run(floor_load(s.redis_port, args.clients, args.seconds))
        _, usec2 = script_stats(r)
        c2 = commands(r)
        results["floor"] = {
            "codes_per_s": round(floor["codes"] / floor["seconds"]),
            "redis_us_per_code": round((usec2 - usec1) / floor["codes"], 2),
            "us_per_code_by_command": per_code(c1, c2, floor["codes"]),
        }
        alone_list = seed(s.url, 300_000)
        results["script_alone"] = script_alone(r, alone_list, 300_000)
        results["bulk_share_of_floor"] = round(
            results["bulk"]["codes_per_s"] / results["floor"]["codes_per_s"], 3
        )
        r.close()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
