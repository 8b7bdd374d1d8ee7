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
from loadtests.loadgen import Requests, latency_while, open_loop, seed, summary


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
            lat, _, (start, end, info) = asyncio.run(
                latency_while(port, requests.allocation, args.rate, take_snapshot, running.url)
            )
            during += lat
            took.append(end - start)
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
