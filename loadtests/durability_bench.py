"""Allocations per second with Redis AOF `appendfsync always` versus `everysec` (and no AOF),
each on a fresh redis-server and service, same list size and load.

    python -m loadtests.durability_bench               # --codes 200000 --seconds 8
"""

from __future__ import annotations

import argparse
import asyncio
import json

from loadtests.harness import stack
from loadtests.loadgen import Requests, closed_loop, seed, summary

MODES: dict[str, tuple[str, ...]] = {
    "aof_always": ("--appendonly", "yes", "--appendfsync", "always"),
    "aof_everysec": ("--appendonly", "yes", "--appendfsync", "everysec"),
    "no_persistence": (),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--codes", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    results = {}
    for mode, redis_args in MODES.items():
        with stack(redis_args=redis_args) as running:
            list_id = seed(running.url, args.codes)
            port = int(running.url.rsplit(":", 1)[1])
            requests = Requests(f"127.0.0.1:{port}", list_id)
            rps, latencies, errors = asyncio.run(
                closed_loop(port, requests.allocation, args.connections, args.seconds)
            )
            results[mode] = {
                "allocations_rps": round(rps),
                "errors": errors,
                **{k: round(v, 2) for k, v in summary(latencies).items()},
            }
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
