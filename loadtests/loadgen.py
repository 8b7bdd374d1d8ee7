"""The load generator's parts: seeding a list, prepared requests, the closed loop (peak rate)
and the open loop (latency without coordinated omission), on the lean HTTP client."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import httpx
import redis

from loadtests.harness import HEADERS, new_list, percentile
from loadtests.lean_http import Connection, prepare


def make_file(codes: int) -> bytes:
    """`codes` distinct 19-character codes, one a line."""
    return b"".join(b"PV-%016d\n" % n for n in range(codes))


def seed(url: str, codes: int) -> str:
    """A new list holding `codes` codes (through the upload API), linked to campaign "bench"."""
    with httpx.Client(base_url=url, headers=HEADERS, timeout=300) as client:
        list_id = new_list(client)
        upload = client.post(
            f"/v1/lists/{list_id}/uploads",
            files={"file": ("seed.csv", make_file(codes), "text/csv")},
        ).json()
        while (
            client.get(f"/v1/lists/{list_id}/uploads/{upload['id']}").json()["status"]
            == "in_progress"
        ):
            time.sleep(0.1)
        client.put(f"/v1/lists/{list_id}/campaigns/bench")
        return str(list_id)


class Requests:
    """Prepared request bytes: /healthz, or an allocation for a fresh user each time."""

    def __init__(self, host: str, list_id: str) -> None:
        self.host, self.list_id = host, list_id
        self.users = itertools.count()
        self.auth = {"Authorization": HEADERS["Authorization"], "Content-Type": "application/json"}

    def healthz(self) -> bytes:
        return prepare("GET", "/healthz", self.host)

    def allocation(self) -> bytes:
        body = json.dumps(
            {"list_id": self.list_id, "campaign_id": "bench", "user_id": f"user-{next(self.users)}"}
        ).encode()
        return prepare("POST", "/v1/allocations", self.host, self.auth, body)


async def closed_loop(
    port: int, make: object, connections: int, seconds: float
) -> tuple[float, list[float], int]:
    """Each connection sends its next request as soon as the last answer arrives."""
    assert callable(make)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        conn = await Connection.open("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                raw = make()
                started = time.perf_counter()
                status, _ = await conn.request(raw)
                latencies.append(time.perf_counter() - started)
                if status >= 300:
                    errors += 1
        finally:
            conn.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    return len(latencies) / (time.perf_counter() - started), latencies, errors


async def open_loop(
    port: int,
    make: object,
    rate: float,
    seconds: float,
    connections: int,
    sent_at: list[float] | None = None,
    stop: asyncio.Event | None = None,
) -> tuple[list[float], int]:
    """Requests start on a fixed schedule, whatever came back; latency counts from the
    scheduled start, so time spent waiting for a free connection counts too. `sent_at`, if
    given, gets each request's scheduled start (perf_counter), in the order of the latencies;
    `stop`, once set, ends the schedule early."""
    assert callable(make)
    latencies: list[float] = []
    errors = 0
    slots = itertools.count()
    total = int(rate * seconds)
    opened = await asyncio.gather(*(Connection.open("127.0.0.1", port) for _ in range(connections)))
    start = time.perf_counter()

    async def connection(conn: Connection) -> None:
        """One connection takes the next slot of the schedule whenever it is free: a slot
        whose time came while every connection was busy is sent late, and the wait counts."""
        nonlocal errors
        try:
            while (n := next(slots)) < total and not (stop is not None and stop.is_set()):
                scheduled = start + n / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                status, _ = await conn.request(make())
                latencies.append(time.perf_counter() - scheduled)
                if sent_at is not None:
                    sent_at.append(scheduled)
                if status >= 300:
                    errors += 1
        finally:
            conn.close()

    await asyncio.gather(*(connection(conn) for conn in opened))
    return latencies, errors


def summary(latencies: list[float]) -> dict[str, float]:
    return {
        f"p{int(q * 1000) / 10:g}_ms": percentile(latencies, q) * 1000
        for q in (0.5, 0.95, 0.99, 0.999)
    }


Timed = tuple[float, float, Any]  # (start, end) on perf_counter, and what the action returned


async def latency_while(
    port: int,
    make: object,
    rate: float,
    action: Callable[..., Timed],
    *args: Any,
    executor: Executor | None = None,
) -> tuple[list[float], int, Timed]:
    """Requests on an open-loop schedule from 0.5 s before `action(*args)` (run in `executor`,
    a thread by default) to 0.5 s after it; the latencies of those scheduled while it ran, the
    errors among all, and what it returned. perf_counter is system-wide monotonic, so an action
    in another process can time itself."""
    sent_at: list[float] = []
    stop = asyncio.Event()
    load = asyncio.create_task(open_loop(port, make, rate, 600, 16, sent_at=sent_at, stop=stop))
    await asyncio.sleep(0.5)
    timed = await asyncio.get_running_loop().run_in_executor(executor, action, *args)
    await asyncio.sleep(0.5)
    stop.set()
    latencies, errors = await load
    start, end, _ = timed
    during = [lat for lat, at in zip(latencies, sent_at, strict=True) if start <= at <= end]
    return during, errors, timed


def script_stats(r: redis.Redis) -> tuple[int, int]:
    """(calls, microseconds) of scripts so far (INFO commandstats). Commands a script runs are
    also counted on their own lines, so the scripts' time (which includes them) is the figure,
    not the sum over every command."""
    stats = r.info("commandstats")
    scripts = [v for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval")]
    return sum(int(v["calls"]) for v in scripts), sum(int(v["usec"]) for v in scripts)
