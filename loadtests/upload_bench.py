"""Upload a 1,000,000-code file through the HTTP API and report:
- the time from POST to `completed`,
- Redis memory per uploaded code (INFO memory before and after; MEMORY USAGE of the sets),
- latency of reads the promo path makes (GET /v1/lists/{id}) while the upload runs.

    python -m loadtests.upload_bench            # starts its own redis-server and service
    python -m loadtests.upload_bench --codes 200000
"""

from __future__ import annotations

import argparse
import asyncio
import time

import httpx
import redis

from loadtests.harness import HEADERS, percentile, stack


def make_file(codes: int) -> bytes:
    return b"".join(b"PV-%016d\n" % n for n in range(codes))


async def run(url: str, redis_port: int, codes: int) -> dict[str, float]:
    r = redis.Redis(port=redis_port)
    async with httpx.AsyncClient(base_url=url, headers=HEADERS, timeout=120) as client:
        await client.post("/v1/partners", json={"name": "Bench"})
        made = (
            await client.post(
                "/v1/lists",
                json={
                    "partner": "Bench",
                    "tag": f"t{time.time_ns()}",
                    "name": "bench",
                    "expires_at": "2099-01-01T00:00:00Z",
                },
            )
        ).json()
        content = make_file(codes)
        r.memory_purge()
        before = int(r.info("memory")["used_memory"])
        latencies: list[float] = []
        done = asyncio.Event()

        async def reader() -> None:
            async with httpx.AsyncClient(base_url=url, headers=HEADERS) as own:
                while not done.is_set():
                    started = time.perf_counter()
                    await own.get(f"/v1/lists/{made['id']}")
                    latencies.append(time.perf_counter() - started)
                    await asyncio.sleep(0.002)

        reading = asyncio.create_task(reader())
        started = time.perf_counter()
        accepted = (
            await client.post(
                f"/v1/lists/{made['id']}/uploads",
                files={"file": ("bench.csv", content, "text/csv")},
            )
        ).json()
        posted = time.perf_counter()
        while True:
            upload = (await client.get(f"/v1/lists/{made['id']}/uploads/{accepted['id']}")).json()
            if upload["status"] != "in_progress":
                break
            await asyncio.sleep(0.01)
        finished = time.perf_counter()
        done.set()
        await reading
    after = int(r.info("memory")["used_memory"])
    base = f"pv:{{{made['id'].split('.')[0]}}}.{made['id'].split('.', 1)[1]}"
    sets = sum(
        int(r.memory_usage(f"{base}:{name}", samples=0) or 0) for name in ("avail", "dedupe")
    )
    assert upload["status"] == "completed" and upload["codes_uploaded"] == codes, upload
    return {
        "codes": codes,
        "post_to_completed_s": finished - started,
        "post_request_s": posted - started,
        "redis_bytes_per_code_info": (after - before) / codes,
        "redis_bytes_per_code_sets": sets / codes,
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
        results = asyncio.run(run(running.url, running.redis_port, args.codes))
    for name, value in results.items():
        print(f"{name:28} {value:,.3f}" if isinstance(value, float) else f"{name:28} {value:,}")


if __name__ == "__main__":
    main()
