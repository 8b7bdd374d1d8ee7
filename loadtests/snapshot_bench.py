"""Snapshot and restore of a store holding one 1,000,000-code list, and allocation latency
while snapshots run (open loop; only requests scheduled during a snapshot count), beside the
same schedule with no snapshot.

    python -m loadtests.snapshot_bench                 # --codes N --rate R --runs 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

import httpx
import redis

from loadtests.harness import HEADERS, stack
from loadtests.loadgen import Requests, open_loop, seed, summary


def take_snapshot(url: str) -> tuple[float, float, dict[str, object]]:
    """POST a snapshot and poll until it is done: (start, end) on perf_counter, and the
    snapshot."""
    with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client:
        started = time.perf_counter()
        snap = client.post("/v1/admin/snapshots").json()
        while True:
            items = client.get("/v1/admin/snapshots").json()["items"]
            mine = next((s for s in items if s["id"] == snap["id"]), None)
            if mine is not None and mine["status"] != "in_progress":
                return started, time.perf_counter(), mine
            time.sleep(0.2)


async def latency_during(
    port: int, requests: Requests, rate: float, url: str
) -> tuple[list[float], float, dict[str, object]]:
    """Allocations on a schedule from 0.5 s before a snapshot to 0.5 s after it; the latencies
    of those scheduled while it ran."""
    loop = asyncio.get_running_loop()
    sent_at: list[float] = []
    stop = asyncio.Event()
    load = asyncio.create_task(
        open_loop(port, requests.allocation, rate, 600, 16, sent_at=sent_at, stop=stop)
    )
    await asyncio.sleep(0.5)
    start, end, info = await loop.run_in_executor(None, take_snapshot, url)
    await asyncio.sleep(0.5)
    stop.set()
    latencies, _ = await load
    during = [lat for lat, at in zip(latencies, sent_at, strict=True) if start <= at <= end]
    return during, end - start, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--codes", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--runs", type=int, default=3, help="snapshots to measure")
    args = parser.parse_args()
    with stack() as running:
        list_id = seed(running.url, args.codes)
        port = int(running.url.rsplit(":", 1)[1])
        requests = Requests(f"127.0.0.1:{port}", list_id)
        idle: list[float] = []
        during: list[float] = []
        took: list[float] = []
        for _ in range(args.runs):  # idle and during, alternately, for enough samples
            idle += asyncio.run(open_loop(port, requests.allocation, args.rate, 3, 16))[0]
            lat, seconds, info = asyncio.run(latency_during(port, requests, args.rate, running.url))
            during += lat
            took.append(seconds)
        snap_path = running.data_dir / "snapshots" / f"{info['id']}.jsonl"
        r = redis.Redis(port=running.redis_port)
        r.flushall()
        env = {**os.environ, "VOUCHERS_REDIS_URL": f"redis://127.0.0.1:{running.redis_port}/0"}
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "app.cli", "restore", str(snap_path), "--force"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        restore_s = time.perf_counter() - started
    print(
        json.dumps(
            {
                "codes": args.codes,
                "snapshot_s": [round(t, 2) for t in took],
                "snapshot_bytes": info["size_bytes"],
                "restore_s": round(restore_s, 2),
                "allocation_rate_rps": args.rate,
                "idle": {"requests": len(idle)}
                | {k: round(v, 2) for k, v in summary(idle).items()},
                "during_snapshot": {"requests": len(during)}
                | {k: round(v, 2) for k, v in summary(during).items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
