"""One Redis against a Redis Cluster (3 masters, 3 replicas, on this machine), and what replica
acknowledgements cost, through the HTTP API of one service worker:

- allocations/s in a closed loop over 30 lists of one partner: on one Redis, on the cluster,
  and on the cluster with VOUCHERS_REDIS_REPLICA_ACKS=1 (the three alternate in rounds, since
  this machine's speed drifts; medians);
- Redis CPU and script time per allocation on each master (INFO cpu and commandstats), and
  the scale model they give;
- seconds from kill -9 of a list's master to that list's first allocation answered again (with
  acknowledgements on; the killed node is restarted as soon as its replica has taken over).

    python -m loadtests.cluster_bench      # --seconds S --rounds R --connections C --codes N
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import redis

from loadtests.harness import HEADERS, Stack, stack
from loadtests.lean_http import prepare
from loadtests.loadgen import Requests, closed_loop, seed
from tests.redis_cluster import RedisCluster

LISTS = 30


class Spread(Requests):
    """Allocations for a fresh user each time, over the lists in turn."""

    def __init__(self, host: str, list_ids: list[str]) -> None:
        super().__init__(host, list_ids[0])
        self.lists = itertools.cycle(list_ids)

    def allocation(self) -> bytes:
        body = json.dumps(
            {"list_id": next(self.lists), "campaign_id": "bench", "user_id": f"u{next(self.users)}"}
        ).encode()
        return prepare("POST", "/v1/allocations", self.host, self.auth, body)


def redis_stats(port: int) -> tuple[float, int]:
    """(CPU seconds used, microseconds spent in scripts) of one Redis node so far."""
    with redis.Redis(port=port) as node:
        cpu = node.info("cpu")
        stats = node.info("commandstats")
    usec = sum(int(v["usec"]) for k, v in stats.items() if k in ("cmdstat_evalsha", "cmdstat_eval"))
    return float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]), usec


def masters(cluster: RedisCluster) -> list[int]:
    found = []
    for node in cluster.nodes:
        with redis.Redis(port=node.port) as client:
            if client.info("replication")["role"] == "master":
                found.append(node.port)
    return found


@contextlib.contextmanager
def running(name: str, codes: int, **options: Any) -> Iterator[tuple[Stack, list[str]]]:
    with stack(**options) as running_stack:
        list_ids = [seed(running_stack.url, codes) for _ in range(LISTS)]
        print(f"{name}: {LISTS} lists seeded", flush=True)
        yield running_stack, list_ids


def round_of(
    running_stack: Stack, list_ids: list[str], nodes: list[int], seconds: float, connections: int
) -> dict[str, Any]:
    port = int(running_stack.url.rsplit(":", 1)[1])
    before = {n: redis_stats(n) for n in nodes}
    rps, latencies, errors = asyncio.run(
        closed_loop(port, Spread(f"127.0.0.1:{port}", list_ids).allocation, connections, seconds)
    )
    after = {n: redis_stats(n) for n in nodes}
    return {
        "rps": rps,
        "allocations": len(latencies) - errors,
        "errors": errors,
        "cpu_s": {n: after[n][0] - before[n][0] for n in nodes},
        "script_us": {n: after[n][1] - before[n][1] for n in nodes},
    }


def per_master(
    rounds: list[dict[str, Any]], list_ids: list[str], owner: dict[str, int]
) -> dict[str, Any]:
    """Redis CPU and script µs per allocation on each master, over every round."""
    share = {
        n: sum(1 for i in list_ids if owner[i] == n) / len(list_ids) for n in set(owner.values())
    }
    out: dict[str, Any] = {}
    for node, part in sorted(share.items()):
        allocations = sum(r["allocations"] for r in rounds) * part
        cpu = sum(r["cpu_s"][node] for r in rounds)
        script = sum(r["script_us"][node] for r in rounds)
        out[str(node)] = {
            "lists": round(part * len(list_ids)),
            "allocations": int(allocations),
            "cpu_us_per_allocation": round(cpu * 1e6 / allocations, 1) if allocations else None,
            "script_us_per_allocation": round(script / allocations, 1) if allocations else None,
        }
    return out


def failover_seconds(cluster: RedisCluster, url: str, list_id: str) -> float:
    """kill -9 the list's master under a steady trickle of allocations (a new key each, every
    20 ms, retried like a client would); seconds until one sent after the kill is answered."""
    body = {"list_id": list_id, "campaign_id": "bench"}
    with httpx.Client(base_url=url, headers=HEADERS, timeout=5) as client:
        master = cluster.master_of(f"pv:{{{list_id}}}:meta")
        for n in range(20):  # warm: allocations answered before the kill
            assert client.post("/v1/allocations", json={**body, "user_id": f"f{n}"}).is_success
        killed = time.monotonic()
        master.kill()
        restarted = False
        for n in itertools.count():
            if not restarted and cluster.slots_moved_from(master):
                master.start()  # its supervisor brings it back, as a replica
                restarted = True
            sent = time.monotonic()
            try:
                ok = client.post("/v1/allocations", json={**body, "user_id": f"g{n}"}).is_success
            except httpx.TransportError:
                ok = False
            if ok and sent > killed:
                return time.monotonic() - killed
            assert time.monotonic() - killed < 120, "no allocation answered in 2 minutes"
            time.sleep(0.02)
    raise AssertionError("unreachable")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=8.0, help="per round and setup")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=128)
    parser.add_argument("--codes", type=int, default=20_000, help="codes per list")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, RedisCluster(Path(tmp) / "cluster") as cluster:
        acks = {"redis_replica_acks": "1", "redis_replica_timeout_ms": "500"}
        with (
            running("one Redis", codes=args.codes) as (single, single_lists),
            running("cluster", redis_url=cluster.url, codes=args.codes) as (clus, clus_lists),
            running("cluster, acks 1", redis_url=cluster.url, settings=acks, codes=args.codes) as (
                acked,
                acked_lists,
            ),
        ):
            nodes = masters(cluster)
            owner = {i: cluster.master_of(f"pv:{{{i}}}:meta").port for i in clus_lists}
            setups = {
                "one_redis": (single, single_lists, [single.redis_port]),
                "cluster": (clus, clus_lists, nodes),
                "cluster_acks_1": (acked, acked_lists, nodes),
            }
            results: dict[str, list[dict[str, Any]]] = {name: [] for name in setups}
            for _ in range(args.rounds):
                for name, (running_stack, lists, ports) in setups.items():
                    results[name].append(
                        round_of(running_stack, lists, ports, args.seconds, args.connections)
                    )
            rps = {
                name: statistics.median(r["rps"] for r in rounds)
                for name, rounds in results.items()
            }
            spread = per_master(results["cluster"], clus_lists, owner)
            kill_s = failover_seconds(cluster, acked.url, acked_lists[0])
    cpu = [m["cpu_us_per_allocation"] for m in spread.values() if m["cpu_us_per_allocation"]]
    master_rps = round(1e6 / statistics.median(cpu)) if cpu else None
    report = {
        "allocations_rps": {k: round(v) for k, v in rps.items()},
        "rounds_rps": {k: [round(r["rps"]) for r in v] for k, v in results.items()},
        "errors": {k: sum(r["errors"] for r in v) for k, v in results.items()},
        "cluster_vs_one_redis": round(rps["cluster"] / rps["one_redis"], 3),
        "acks_1_vs_0": round(rps["cluster_acks_1"] / rps["cluster"], 3),
        "per_master": spread,
        "one_master_allocations_per_s_at_full_cpu": master_rps,
        "one_worker_allocations_per_s": round(rps["cluster"]),
        "failover_kill_to_first_allocation_s": round(kill_s, 2),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
