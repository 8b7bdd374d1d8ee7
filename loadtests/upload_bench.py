"""Upload a 1,000,000-code file through the HTTP API and report:
- the time from POST to `completed`,
- Redis memory per uploaded code (INFO memory before and after; MEMORY USAGE of the sets),
- Redis time spent in scripts (INFO commandstats),
- latency of the reads the promo path makes (GET /v1/lists/{id}) while the upload runs,
  measured from a separate process so the load generator's own work does not count.

    python -m loadtests.upload_bench            # starts its own redis-server and service
    python -m loadtests.upload_bench --codes 200000
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
from multiprocessing.synchronize import Event

import httpx
import redis

from loadtests.harness import HEADERS, new_list, percentile, stack
from loadtests.loadgen import make_file, script_stats


def read_while(url: str, path: str, stop: Event, out: multiprocessing.Queue[list[float]]) -> None:
    latencies: list[float] = []
    with httpx.Client(base_url=url, headers=HEADERS) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(path)
            latencies.append(time.perf_counter() - started)
            time.sleep(0.002)
    out.put(latencies)


def read_for(url: str, path: str, seconds: float) -> list[float]:
    """The same reads with nothing else running: the baseline."""
    latencies: list[float] = []
    with httpx.Client(base_url=url, headers=HEADERS) as client:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            client.get(path)
            latencies.append(time.perf_counter() - started)
            time.sleep(0.002)
    return latencies


def run(url: str, redis_port: int, codes: int) -> dict[str, float | int]:
    r = redis.Redis(port=redis_port)
    with httpx.Client(base_url=url, headers=HEADERS, timeout=120) as client:
        list_id = new_list(client)
        content = make_file(codes)
        idle = read_for(url, f"/v1/lists/{list_id}", 2.0)
        r.memory_purge()
        before, usec_before = int(r.info("memory")["used_memory"]), script_stats(r)[1]
        stop = multiprocessing.Event()
        results: multiprocessing.Queue[list[float]] = multiprocessing.Queue()
        reader = multiprocessing.Process(
            target=read_while, args=(url, f"/v1/lists/{list_id}", stop, results)
        )
        reader.start()
        time.sleep(0.5)  # let the reader warm up before the upload starts
        started = time.perf_counter()
        accepted = client.post(
            f"/v1/lists/{list_id}/uploads", files={"file": ("bench.csv", content, "text/csv")}
        ).json()
        posted = time.perf_counter()
        while True:
            upload = client.get(f"/v1/lists/{list_id}/uploads/{accepted['id']}").json()
            if upload["status"] != "in_progress":
                break
            time.sleep(0.01)
        finished = time.perf_counter()
        stop.set()
        latencies = results.get()
        reader.join()
    after, usec_after = int(r.info("memory")["used_memory"]), script_stats(r)[1]
    slot, rest = list_id.split(".", 1)
    sets = sum(
        int(r.memory_usage(f"pv:{{{slot}}}.{rest}:{name}", samples=0) or 0)
        for name in ("avail", "dedupe")
    )
    if upload["status"] != "completed" or upload["codes_uploaded"] != codes:
        raise RuntimeError(f"the upload did not complete as expected: {upload}")
    return {
        "codes": codes,
        "post_to_completed_s": finished - started,
        "post_request_s": posted - started,
        "redis_script_time_s": (usec_after - usec_before) / 1e6,
        "redis_bytes_per_code_info": (after - before) / codes,
        "redis_bytes_per_code_sets": sets / codes,
        "read_p50_idle_ms": percentile(idle, 0.50) * 1000,
        "read_p99_idle_ms": percentile(idle, 0.99) * 1000,
        "reads_during_upload": len(latencies),
        "read_p50_ms": percentile(latencies, 0.50) * 1000,
        "read_p99_ms": percentile(latencies, 0.99) * 1000,
        "read_max_ms": max(latencies) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--codes", type=int, default=1_000_000)
    args = parser.parse_args()
    with stack() as running:
        results = run(running.url, running.redis_port, args.codes)
    for name, value in results.items():
        print(f"{name:28} {value:,.3f}" if isinstance(value, float) else f"{name:28} {value:,}")


if __name__ == "__main__":
    main()
