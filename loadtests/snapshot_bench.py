"""Snapshot and restore of a store holding one 1,000,000-code list, and allocation latency
while the snapshot runs (open loop, beside the same schedule with no snapshot).

    python -m loadtests.snapshot_bench                 # --codes N --rate R
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

from loadtests.alloc_bench import Requests, open_loop, seed, summary
from loadtests.harness import HEADERS, stack


def take_snapshot(url: str) -> tuple[float, dict[str, object]]:
    with httpx.Client(base_url=url, headers=HEADERS, timeout=60) as client:
        started = time.perf_counter()
        snap = client.post("/v1/admin/snapshots").json()
        while True:
            items = client.get("/v1/admin/snapshots").json()["items"]
            mine = next((s for s in items if s["id"] == snap["id"]), None)
            if mine is not None and mine["status"] != "in_progress":
                return time.perf_counter() - started, mine
            time.sleep(0.02)


async def latency_during(
    port: int, requests: Requests, rate: float, seconds: float, url: str
) -> tuple[list[float], float, dict[str, object]]:
    loop = asyncio.get_running_loop()
    snapshot = loop.run_in_executor(None, take_snapshot, url)
    latencies, _ = await open_loop(port, requests.allocation, rate, seconds, 16)
    took, info = await snapshot
    return latencies, took, info


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--codes", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=500.0)
    args = parser.parse_args()
    with stack() as running:
        list_id = seed(running.url, args.codes)
        port = int(running.url.rsplit(":", 1)[1])
        requests = Requests(f"127.0.0.1:{port}", list_id)
        idle, _ = asyncio.run(open_loop(port, requests.allocation, args.rate, 5, 16))
        during, took, info = asyncio.run(latency_during(port, requests, args.rate, 5, running.url))
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
                "snapshot_s": round(took, 2),
                "snapshot_bytes": info["size_bytes"],
                "restore_s": round(restore_s, 2),
                "allocation_rate_rps": args.rate,
                "idle": {k: round(v, 2) for k, v in summary(idle).items()},
                "during_snapshot": {k: round(v, 2) for k, v in summary(during).items()},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
