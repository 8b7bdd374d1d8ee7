"""The benchmark driver: every peak figure of the service in one run, against the targets,
written to loadtests/results/bench-<UTC time>.json.

    python -m loadtests.bench          # --workers N --seconds S --connections C --rounds R

On its own redis-server and `vouchers serve` (free loopback ports), with the lean asyncio
client on uvloop (`lean_http.py`) as the load generator, on the same machine:
1. seed a list with 1,000,000 codes through the upload API and link a campaign;
2. /healthz and allocations closed loops, alternating in rounds: the peak rates, their ratio
   (the median of the rounds'), CPU time per request of the service, Redis and this
   generator, and Redis time per allocation (INFO commandstats: script time over allocations);
3. allocations open loop at half the peak rate (latency from each request's scheduled start,
   so queueing counts), and /healthz on the same schedule (the floor the machine sets);
4. a 1,000,000-code upload into a second list while allocations run on the first (open loop,
   --upload-alloc-rate): POST to `completed`, allocation latency of the requests scheduled
   while it ran, and Redis memory per uploaded code.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis
import uvloop

from loadtests.harness import HEADERS, Stack, cpu_seconds, new_list, stack
from loadtests.loadgen import (
    Requests,
    closed_loop,
    latency_while,
    make_file,
    open_loop,
    script_stats,
    seed,
    summary,
)

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


def rounded(latencies: list[float]) -> dict[str, float | int]:
    return {"requests": len(latencies)} | {k: round(v, 2) for k, v in summary(latencies).items()}


class CpuMeter:
    """CPU seconds of the service, Redis and this load generator."""

    names = ("service", "redis", "load_generator")

    def __init__(self, running: Stack) -> None:
        self.running = running

    def read(self) -> list[float]:
        times = os.times()
        return [
            cpu_seconds(self.running.service_pid, group=True),
            cpu_seconds(self.running.redis_pid),
            times.user + times.system,
        ]


@dataclass
class Phase:
    """Closed-loop totals of one kind of request over several rounds."""

    requests: int = 0
    seconds: float = 0.0
    errors: int = 0
    latencies: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])

    async def run(
        self, port: int, make: Any, connections: int, seconds: float, meter: CpuMeter
    ) -> float:
        before = meter.read()
        started = time.perf_counter()
        rps, latencies, errors = await closed_loop(port, make, connections, seconds)
        self.seconds += time.perf_counter() - started
        self.cpu = [c + b - a for c, a, b in zip(self.cpu, before, meter.read(), strict=True)]
        self.requests += len(latencies)
        self.latencies += latencies
        self.errors += errors
        return rps

    def cpu_us(self) -> dict[str, float]:
        return {
            f"{name}_cpu_us": round(spent * 1e6 / self.requests, 1)
            for name, spent in zip(CpuMeter.names, self.cpu, strict=True)
        }


async def peak(
    port: int,
    requests: Requests,
    r: redis.Redis,
    connections: int,
    seconds: float,
    rounds: int,
    meter: CpuMeter,
) -> dict[str, Any]:
    """/healthz and allocations, closed loop, alternating in `rounds` rounds so that drift in
    the machine's speed (a shared VM's varies by 10 % and more) hits both alike; the ratio is
    the median of the rounds' ratios."""
    await closed_loop(port, requests.healthz, connections, 1.0)  # warm up
    await closed_loop(port, requests.allocation, connections, 1.0)
    health, alloc = Phase(), Phase()
    ratios: list[float] = []
    script_calls, script_usec = 0, 0
    for _ in range(rounds):
        health_rps = await health.run(port, requests.healthz, connections, seconds / rounds, meter)
        before = script_stats(r)
        alloc_rps = await alloc.run(port, requests.allocation, connections, seconds / rounds, meter)
        calls, usec = (a - b for a, b in zip(script_stats(r), before, strict=True))
        script_calls, script_usec = script_calls + calls, script_usec + usec
        ratios.append(alloc_rps / health_rps)
    half = alloc.requests / alloc.seconds / 2
    open_lat, open_errors = await open_loop(port, requests.allocation, half, seconds, connections)
    floor_lat, _ = await open_loop(port, requests.healthz, half, seconds, connections)
    return {
        "healthz_rps": round(health.requests / health.seconds),
        "allocations_rps": round(alloc.requests / alloc.seconds),
        "allocations_vs_healthz": round(statistics.median(ratios), 3),
        "allocations_vs_healthz_rounds": [round(x, 3) for x in ratios],
        "closed_loop_errors": alloc.errors,
        # CPU per request in each closed loop: where the two cores went.
        "cpu_per_healthz": health.cpu_us(),
        "cpu_per_allocation": alloc.cpu_us(),
        "closed_loop": rounded(alloc.latencies),
        # Time in scripts (allocations and the event relay's copies) per allocation.
        "redis_us_per_allocation": round(script_usec / alloc.requests, 2),
        "script_calls": script_calls,
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
    with ProcessPoolExecutor(1) as uploader:
        during, errors, (start, end, upload) = await latency_while(
            port, requests.allocation, rate, timed_upload, url, target, codes, executor=uploader
        )
    if upload["status"] != "completed" or upload["codes_uploaded"] != codes:
        raise RuntimeError(f"the upload did not complete as expected: {upload}")
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
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=12.0, help="per closed-loop kind")
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
        meter = CpuMeter(running)
        results |= uvloop.run(
            peak(port, requests, r, args.connections, args.seconds, args.rounds, meter)
        )
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
