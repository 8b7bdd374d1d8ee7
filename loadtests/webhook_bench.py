"""Webhook delivery figures, printed as JSON.

    python -m loadtests.webhook_bench   # --seconds S --rounds R --events N --connections C

On its own redis-server and `vouchers serve` (one worker and its delivery process), with a
lean receiver process (loadtests/receiver.py) that answers 200 at once and records, per
request, now minus the event's timestamp:
1. HTTP clients: POSTs/s of aiohttp and httpx to the receiver, 16 in flight (how the
   service's client was picked);
2. allocations/s (closed loop) with the one endpoint disabled, then enabled, then enabled
   with the delivery process stopped (SIGSTOP: what the subscription costs the allocation path
   itself, apart from the delivery work's share of the cores), alternating in R rounds (this
   VM's speed drifts between seconds: each change is the median of the rounds' ratios), with
   CPU microseconds per allocation of each process;
3. delivery lag (receive time minus event time) p50/p99 while allocations run open loop at
   half, then a quarter of the peak rate, with CPU microseconds per event;
4. deliveries/s: the receiver is stopped (SIGSTOP) while N events are allocated, then
   resumed; the time until it has them all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import httpx

from loadtests.harness import HEADERS, cpu_seconds, free_port, percentile, stack
from loadtests.loadgen import Requests, closed_loop, open_loop, seed


def receiver(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "loadtests.receiver", str(port)])
    for _ in range(100):
        try:
            httpx.get(f"http://127.0.0.1:{port}/stats")
            return proc
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("receiver did not start")


async def clients(port: int, n: int = 5000, in_flight: int = 16) -> dict[str, float]:
    url, body = f"http://127.0.0.1:{port}/hook", b'{"timestamp":"x"}'
    results: dict[str, float] = {}
    sem = asyncio.Semaphore(in_flight)

    async with aiohttp.ClientSession() as session:

        async def one_aiohttp() -> None:
            async with sem, session.post(url, data=body) as r:
                await r.read()

        started = time.perf_counter()
        await asyncio.gather(*(one_aiohttp() for _ in range(n)))
        results["aiohttp_posts_per_s"] = round(n / (time.perf_counter() - started))
    async with httpx.AsyncClient() as client:

        async def one_httpx() -> None:
            async with sem:
                await client.post(url, content=body)

        started = time.perf_counter()
        await asyncio.gather(*(one_httpx() for _ in range(n)))
        results["httpx_posts_per_s"] = round(n / (time.perf_counter() - started))
    return results


def engine_pid(service_group: int) -> int:
    """The delivery process `vouchers serve` started (in the service's process group)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"webhooks" in command and b"app.cli" in command:
                return int(entry.name)
    raise RuntimeError(f"no delivery process beside service {service_group}")


def cpu_of(name: str, pid: int) -> float:
    """CPU seconds so far; the service's figure is its process group's minus the engine's."""
    if name == "service":
        return cpu_seconds(pid, group=True) - cpu_seconds(engine_pid(pid))
    return cpu_seconds(pid)


def stats(port: int, lags: bool = False) -> dict[str, Any]:
    params = {"lags": "1"} if lags else {}
    found: dict[str, Any] = httpx.get(
        f"http://127.0.0.1:{port}/stats", params=params, timeout=30
    ).json()
    return found


def drained(port: int) -> None:
    """Wait until the receiver's count stops growing for two seconds (a backlog delivered)."""
    last, still = -1, 0
    while still < 20:
        count = stats(port)["count"]
        still = still + 1 if count == last else 0
        last = count
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    hook_port = free_port()
    proc = receiver(hook_port)
    results: dict[str, Any] = {}
    try:
        results["clients"] = asyncio.run(clients(hook_port))
        httpx.post(f"http://127.0.0.1:{hook_port}/reset")
        settings = {"webhooks_allowed_hosts": "127.0.0.1", "webhooks_timeout_s": "60"}
        with stack(workers=1, settings=settings) as s:
            port = int(s.url.rsplit(":", 1)[1])
            list_id = seed(s.url, 700_000)
            make = Requests(f"127.0.0.1:{port}", list_id).allocation
            made = httpx.post(
                f"{s.url}/v1/webhooks",
                headers=HEADERS,
                json={"url": f"http://127.0.0.1:{hook_port}/hook", "enabled": False},
            )
            assert made.status_code == 201, made.text
            endpoint = f"{s.url}/v1/webhooks/{made.json()['id']}"
            engine = engine_pid(s.service_pid)
            pids = {"service": s.service_pid, "engine": engine, "redis": s.redis_pid}
            pids["receiver"] = proc.pid
            states = ("off", "on", "on_engine_stopped")
            rounds: dict[str, list[float]] = {state: [] for state in states}
            cpu: dict[str, dict[str, float]] = {state: {} for state in states}
            made_n = dict.fromkeys(states, 0)
            for _ in range(args.rounds):
                for state in states:
                    switched = httpx.patch(
                        endpoint, headers=HEADERS, json={"enabled": state != "off"}
                    )
                    assert switched.status_code == 200, switched.text
                    if state == "on_engine_stopped":
                        drained(hook_port)  # the last round's backlog is not this one's work
                        os.kill(engine, signal.SIGSTOP)
                    before = {k: cpu_of(k, pid) for k, pid in pids.items()}
                    seconds = args.seconds / args.rounds
                    rate, _, _ = asyncio.run(closed_loop(port, make, args.connections, seconds))
                    for k, pid in pids.items():
                        used = cpu_of(k, pid) - before[k]
                        cpu[state][k] = cpu[state].get(k, 0) + used
                    if state == "on_engine_stopped":
                        os.kill(engine, signal.SIGCONT)
                    rounds[state].append(rate)
                    made_n[state] += int(rate * seconds)

            def change(state: str) -> float:
                pairs = zip(rounds[state], rounds["off"], strict=True)
                return round(statistics.median(sorted(a / b for a, b in pairs)) - 1, 3)

            results["allocations_per_s"] = {
                "no_endpoint": round(statistics.median(rounds["off"])),
                "one_endpoint": round(statistics.median(rounds["on"])),
                "change": change("on"),
                "one_endpoint_engine_stopped": round(statistics.median(rounds[states[2]])),
                "change_engine_stopped": change(states[2]),
                "_rounds": [[round(x) for x in r] for r in zip(*rounds.values(), strict=True)],
                "cpu_us_per_allocation": {
                    state: {k: round(v / made_n[state] * 1e6) for k, v in cpu[state].items()}
                    for state in cpu
                },
            }
            rate0 = statistics.median(rounds["off"])
            drained(hook_port)  # the closed loop's backlog first
            httpx.post(f"http://127.0.0.1:{hook_port}/reset")
            for share, name in ((0.5, "lag_at_half_peak"), (0.25, "lag_at_quarter_peak")):
                rate = rate0 * share
                before = {k: cpu_of(k, pid) for k, pid in pids.items()}
                asyncio.run(open_loop(port, make, rate, args.seconds, args.connections))
                expected = int(rate * args.seconds)
                deadline = time.monotonic() + 60
                while stats(hook_port)["count"] < expected and time.monotonic() < deadline:
                    time.sleep(0.2)
                spent = {k: cpu_of(k, pid) - before[k] for k, pid in pids.items()}
                lags = stats(hook_port, lags=True)["lags"]
                results[name] = {
                    "allocations_per_s": round(rate),
                    "delivered": len(lags),
                    "p50_s": round(percentile(lags, 0.5), 3),
                    "p99_s": round(percentile(lags, 0.99), 3),
                    "max_s": round(max(lags), 3),
                    "cpu_us_per_event": {k: round(v / expected * 1e6) for k, v in spent.items()},
                }
                httpx.post(f"http://127.0.0.1:{hook_port}/reset")
            os.kill(proc.pid, signal.SIGSTOP)
            asyncio.run(open_loop(port, make, 2000, args.events / 2000, args.connections))
            os.kill(proc.pid, signal.SIGCONT)
            started = time.perf_counter()
            while stats(hook_port)["count"] < args.events:
                time.sleep(0.05)
            results["deliveries_per_s"] = round(args.events / (time.perf_counter() - started))
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
        proc.wait()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
