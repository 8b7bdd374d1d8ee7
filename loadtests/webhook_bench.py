"""Webhook delivery figures, printed as JSON.

    python -m loadtests.webhook_bench          # --seconds S --events N --connections C

On its own redis-server and `vouchers serve` (one worker), with a receiver process that
answers 200 at once and records, per request, now minus the event's timestamp:
1. HTTP clients: POSTs/s of aiohttp and httpx to the receiver, 16 in flight (how the
   service's client was picked);
2. allocations/s (closed loop) with no endpoint, then with one subscribed endpoint;
3. delivery lag (receive time minus event time) p50/p99 while allocations run open loop at
   half the peak rate, with one subscribed endpoint;
4. deliveries/s: the receiver is stopped (SIGSTOP) while N events are allocated, then
   resumed; the time until it has them all.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from typing import Any

import aiohttp
import httpx

from loadtests.harness import HEADERS, free_port, percentile, stack
from loadtests.loadgen import Requests, closed_loop, open_loop, seed

RECEIVER = """
import asyncio, sys, time, orjson
from aiohttp import web
count, lags = 0, []
async def hook(request):
    global count
    body = await request.read()
    count += 1
    try:
        ts = orjson.loads(body)["timestamp"]
        from datetime import datetime
        at = datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()
        lags.append(time.time() - at)
    except Exception:
        pass
    return web.Response(text="ok")
async def stats(request):
    return web.json_response({"count": count, "lags": lags})
async def reset(request):
    global count, lags
    count, lags = 0, []
    return web.json_response({})
app = web.Application()
app.router.add_post("/hook", hook)
app.router.add_get("/stats", stats)
app.router.add_post("/reset", reset)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


def receiver(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port)])
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


def stats(port: int) -> dict[str, Any]:
    found: dict[str, Any] = httpx.get(f"http://127.0.0.1:{port}/stats", timeout=30).json()
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=64)
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
            list_id = seed(s.url, 200_000)
            make = Requests(f"127.0.0.1:{port}", list_id).allocation
            rate0, _, _ = asyncio.run(closed_loop(port, make, args.connections, args.seconds))
            made = httpx.post(
                f"{s.url}/v1/webhooks",
                headers=HEADERS,
                json={"url": f"http://127.0.0.1:{hook_port}/hook"},
            )
            assert made.status_code == 201, made.text
            rate1, _, _ = asyncio.run(closed_loop(port, make, args.connections, args.seconds))
            results["allocations_per_s"] = {
                "no_endpoint": round(rate0),
                "one_endpoint": round(rate1),
                "change": round(rate1 / rate0 - 1, 3),
            }
            while stats(hook_port)["count"] < 0.99 * rate1 * args.seconds:
                time.sleep(0.5)  # the closed loop's backlog drains first
            time.sleep(2)
            httpx.post(f"http://127.0.0.1:{hook_port}/reset")
            half = rate0 / 2
            asyncio.run(open_loop(port, make, half, args.seconds, args.connections))
            expected = int(half * args.seconds)
            deadline = time.monotonic() + 60
            while stats(hook_port)["count"] < expected and time.monotonic() < deadline:
                time.sleep(0.2)
            lags = stats(hook_port)["lags"]
            results["lag_at_half_peak"] = {
                "allocations_per_s": round(half),
                "delivered": len(lags),
                "p50_s": round(percentile(lags, 0.5), 3),
                "p99_s": round(percentile(lags, 0.99), 3),
                "max_s": round(max(lags), 3),
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
