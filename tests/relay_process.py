"""A relay in a process of its own that stops itself (SIGSTOP) after reading its first outbox
page, before copying it: `python -m tests.relay_process REDIS_URL LEASE_MS`. It prints
"paused" first; once continued (SIGCONT) it finishes its round and prints "moved N", or "lost"
when the round ended because its lease was another's."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from app.config import Settings
from app.jobs.relay import EventRelay
from app.store.connection import connect
from app.store.keys import ListKeys
from app.store.store import Store


async def main(url: str, lease_ms: int) -> None:
    client = connect(Settings(redis_url=url, redis_timeout_s=5))
    store = Store(client, "pv")
    real_read = store.events._read
    paused = False

    async def read_then_stop(keys: ListKeys, copied: str) -> list[str]:
        nonlocal paused
        page = await real_read(keys, copied)
        if page and not paused:
            paused = True
            print("paused", flush=True)
            os.kill(os.getpid(), signal.SIGSTOP)  # as a long GC pause or a frozen VM would
        return page

    store.events._read = read_then_stop  # type: ignore[method-assign]
    relay = EventRelay(store, lease_ms=lease_ms)
    moved = await relay.relay(sweep=True)
    print("lost" if moved is None else f"moved {moved}", flush=True)
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
