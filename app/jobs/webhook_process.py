"""The delivery engine as a process of its own: `vouchers webhooks`, which `vouchers serve`
keeps running beside its workers (lower in the CPU's priorities than they are, so deliveries
take what allocations leave and catch up when they ease)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading

import uvloop

from app.config import Settings
from app.jobs.webhooks import WebhookEngine
from app.store.connection import UNAVAILABLE, connect
from app.store.store import Store

log = logging.getLogger("vouchers.webhooks")

PARENT_CHECK_S = 1.0
RESTART_WAIT_S = 1.0


async def _run(settings: Settings, parent: int | None) -> None:
    client = connect(settings)
    store = Store.of(client, settings)
    with contextlib.suppress(*UNAVAILABLE):
        await store.ready()  # the engine waits out a store that is away, as workers do
    engine = WebhookEngine(store, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await engine.start()
    log.info("webhook delivery process started")
    try:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PARENT_CHECK_S)
            if parent is not None and os.getppid() != parent:
                log.warning("the serving process is gone; stopping")
                break
    finally:
        await engine.close()
        await client.aclose()


def run(settings: Settings, parent: int | None = None) -> int:
    """Deliver until SIGTERM or SIGINT (or, with `parent`, until that process is gone)."""
    os.nice(settings.webhooks_nice)
    uvloop.run(_run(settings, parent))
    return 0


class Child:
    """`vouchers webhooks` as a child of the serving process: started again when it exits,
    stopped with the service."""

    def __init__(self) -> None:
        self._stopping = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._watch, name="webhooks-child", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _watch(self) -> None:
        command = [sys.executable, "-m", "app.cli", "webhooks", "--parent", str(os.getpid())]
        while not self._stopping.is_set():
            self._proc = subprocess.Popen(command)
            code = self._proc.wait()
            if self._stopping.is_set() or code == 0:
                return  # stopped, or told to stop (SIGTERM to the whole process group)
            log.warning("the webhook process exited with %s; starting it again", code)
            self._stopping.wait(RESTART_WAIT_S)

    def stop(self) -> None:
        self._stopping.set()
        proc = self._proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        self._thread.join(5)
