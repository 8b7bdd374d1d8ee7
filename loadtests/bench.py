"""The benchmark driver: every peak figure of the service in one run, against the targets,
written to loadtests/results/bench-<UTC time>.json.

    python -m loadtests.bench                    # --workers N --seconds S --connections C

On its own redis-server and `vouchers serve` (free loopback ports), with the lean asyncio
client on uvloop (`lean_http.py`) as the load generator, on the same machine:
1. seed a list with 1,000,000 codes through the upload API and link a campaign;
2. /healthz closed loop, then allocations closed loop: the peak rates, and Redis time per
   allocation (INFO commandstats: script time over allocations);
3. allocations open loop at half the peak rate (latency from each request's scheduled start,
   so queueing counts), and /healthz on the same schedule (the floor the machine sets);
4. a 1,000,000-code upload into a second list while allocations run on the first (open loop,
   --upload-alloc-rate): POST to `completed`, allocation latency of the requests scheduled
   while it ran, and Redis memory per uploaded code.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import platform
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis
import uvloop

from loadtests.harness import HEADERS, new_list, stack
from loadtests.loadgen import Requests, closed_loop, make_file, open_loop, seed, summary

RESULTS = Path(__file__).parent / "results"

# (figure, comparison, target): the targets, checked against the measured figures.
TARGETS: list[tuple[str, str, float]] = [
    ("allocations_vs_healthz", ">=", 0.60),
    ("open_loop.p50_ms", "<=", 1.0),
    ("open_loop.p99_ms", "<=", 3.0),
    ("upload.post_to_completed_s", "<=", 2.0),
    ("upload.allocations_during.p99_ms", "<=", 5.0),
    ("redis_us_per_allocation", "<=", 10.0),
    ("upload.redis_bytes_per_code", "<=", 150.0),
]


def redis_stats(r: redis.Redis) -> tuple[int, int, float]:
    """(script calls, script microseconds, Redis main-thread CPU seconds) so far. Commands a
    script runs are also counted on their own in commandstats, so the scripts' time (which
    includes them) is the figure, not the sum over every command."""
    stats = r.info("commandstats")
    scripts = [v for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval")]
    cpu = r.info("cpu")
    return (
        sum(int(v["calls"]) for v in scripts),
        sum(int(v["usec"]) for v in scripts),
        float(cpu["used_cpu_sys_main_thread"]) + float(cpu["used_cpu_user_main_thread"]),
    )


def rounded(latencies: list[float]) -> dict[str, float | int]:
    return {"requests": len(latencies)} | {k: round(v, 2) for k, v in summary(latencies).items()}


async def peak(
    port: int, requests: Requests, r: redis.Redis, connections: int, seconds: float
) -> dict[str, Any]:
    await closed_loop(port, requests.healthz, connections, 1.0)  # warm up
    await closed_loop(port, requests.allocation, connections, 1.0)
    health_rps, _, _ = await closed_loop(port, requests.healthz, connections, seconds)
    before = redis_stats(r)
    alloc_rps, alloc_lat, errors = await closed_loop(
        port, requests.allocation, connections, seconds
    )
    after = redis_stats(r)
    calls, script_usec, cpu_s = (a - b for a, b in zip(after, before, strict=True))
    half = alloc_rps / 2
    open_lat, open_errors = await open_loop(port, requests.allocation, half, seconds, connections)
    floor_lat, _ = await open_loop(port, requests.healthz, half, seconds, connections)
    return {
        "healthz_rps": round(health_rps),
        "allocations_rps": round(alloc_rps),
        "allocations_vs_healthz": round(alloc_rps / health_rps, 3),
        "closed_loop_errors": errors,
        "closed_loop": rounded(alloc_lat),
        # Time in scripts (allocations and the event relay's copies), per allocation; and
        # Redis's main-thread CPU meanwhile (commands, networking, everything), per allocation.
        "redis_us_per_allocation": round(script_usec / len(alloc_lat), 2),
        "redis_cpu_us_per_allocation": round(cpu_s * 1e6 / len(alloc_lat), 2),
        "script_calls": int(calls),
        "open_loop_rate_rps": round(half),
        "open_loop_errors": open_errors,
        "open_loop": rounded(open_lat),
        "healthz_open_loop_same_rate": rounded(floor_lat),
    }


def timed_upload(url: str, list_id: str, codes: int) -> tuple[float, float, dict[str, Any]]:
    """POST a file of `codes` codes and poll until it ends: (start, end) on perf_counter (the
    system-wide monotonic clock, so another process can compare), and the upload. Run in a
    process of its own: sending 20 MB from the load generator's process would stall its event
    loop, and the stall would count as allocation latency."""
    content = make_file(codes)
    with httpx.Client(base_url=url, headers=HEADERS, timeout=120) as client:
        started = time.perf_counter()
        accepted = client.post(
            f"/v1/lists/{list_id}/uploads", files={"file": ("bench.csv", content, "text/csv")}
        ).json()
        while True:
            upload: dict[str, Any] = client.get(
                f"/v1/lists/{list_id}/uploads/{accepted['id']}"
            ).json()
            if upload["status"] != "in_progress":
                return started, time.perf_counter(), upload
            time.sleep(0.01)


async def upload_under_load(
    url: str, port: int, requests: Requests, r: redis.Redis, codes: int, rate: float
) -> dict[str, Any]:
    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as client:
        target = new_list(client)
    r.memory_purge()
    memory_before = int(r.info("memory")["used_memory"])
    sent_at: list[float] = []
    stop = asyncio.Event()
    load = asyncio.create_task(
        open_loop(port, requests.allocation, rate, 600, 16, sent_at=sent_at, stop=stop)
    )
    await asyncio.sleep(0.5)
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(1) as uploader:
        start, end, upload = await loop.run_in_executor(uploader, timed_upload, url, target, codes)
    await asyncio.sleep(0.5)
    stop.set()
    latencies, errors = await load
    if upload["status"] != "completed" or upload["codes_uploaded"] != codes:
        raise RuntimeError(f"the upload did not complete as expected: {upload}")
    during = [lat for lat, at in zip(latencies, sent_at, strict=True) if start <= at <= end]
    slot, rest = target.split(".", 1)
    sets = sum(
        int(r.memory_usage(f"pv:{{{slot}}}.{rest}:{name}", samples=0) or 0)
        for name in ("avail", "dedupe")
    )
    return {
        "codes": codes,
        "file_bytes": len(make_file(1)) * codes,
        "post_to_completed_s": round(end - start, 2),
        "redis_bytes_per_code": round(
            (int(r.info("memory")["used_memory"]) - memory_before) / codes, 1
        ),
        "redis_bytes_per_code_sets": round(sets / codes, 1),
        "allocation_rate_rps": rate,
        "allocation_errors": errors,
        "allocations_during": rounded(during),
    }


def figure(results: dict[str, Any], path: str) -> float:
    value: Any = results
    for part in path.split("."):
        value = value[part]
    return float(value)


def verdicts(results: dict[str, Any]) -> list[dict[str, Any]]:
    compare: dict[str, Callable[[float, float], bool]] = {
        ">=": lambda a, b: a >= b,
        "<=": lambda a, b: a <= b,
    }
    return [
        {
            "figure": name,
            "measured": figure(results, name),
            "target": f"{op} {target:g}",
            "met": compare[op](figure(results, name), target),
        }
        for name, op, target in TARGETS
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--codes", type=int, default=1_000_000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--upload-alloc-rate", type=float, default=500.0)
    parser.add_argument("--out", type=Path, default=None, help="results file")
    args = parser.parse_args()
    gc.disable()  # the load generator's own collector pauses would count as latency
    with stack(workers=args.workers) as running:
        r = redis.Redis(port=running.redis_port)
        port = int(running.url.rsplit(":", 1)[1])
        list_id = seed(running.url, args.codes)
        requests = Requests(f"127.0.0.1:{port}", list_id)
        results: dict[str, Any] = {
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "workers": args.workers,
            "connections": args.connections,
            "seconds_per_phase": args.seconds,
        }
        results |= uvloop.run(peak(port, requests, r, args.connections, args.seconds))
        results["upload"] = uvloop.run(
            upload_under_load(running.url, port, requests, r, args.codes, args.upload_alloc_rate)
        )
    results["targets"] = verdicts(results)
    out = args.out or RESULTS / f"bench-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    for v in results["targets"]:
        verdict = "met    " if v["met"] else "NOT met"
        print(f"{verdict} {v['figure']:36} {v['measured']:>10g} {v['target']}")
    print(f"written to {out}")


if __name__ == "__main__":
    main()
