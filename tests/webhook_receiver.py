"""A real HTTP receiver on 127.0.0.1 for webhook tests: it records every request, answers with
the statuses it is told to (then 200), and can hang until released."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from aiohttp import web
from standardwebhooks.webhooks import Webhook


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    hang: asyncio.Event | None = None  # set: answer; unset: wait (a hanging receiver)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        async with self.arrived:
            headers = {k.lower(): v for k, v in request.headers.items()}
            self.requests.append(Received(request.path, headers, body))
            self.arrived.notify_all()
        if self.hang is not None:
            await self.hang.wait()
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="ok" if status < 300 else "no")

    async def until(self, count: int, path: str | None = None, within_s: float = 20) -> None:
        """Wait until `count` requests (to `path`) arrived."""

        def enough() -> bool:
            return len(self.on(path)) >= count

        async with self.arrived:
            await asyncio.wait_for(self.arrived.wait_for(enough), within_s)

    def on(self, path: str | None) -> list[Received]:
        return [r for r in self.requests if path is None or r.path == path]


@contextlib.asynccontextmanager
async def receiver() -> AsyncIterator[Receiver]:
    got = Receiver()
    app = web.Application()
    app.router.add_route("POST", "/{tail:.*}", got.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    got.port = int(runner.addresses[0][1])
    try:
        yield got
    finally:
        if got.hang is not None:
            got.hang.set()
        await runner.cleanup()


def verify(secret: str, received: Received) -> None:
    """As a receiver would, with the standardwebhooks library (raises when it does not)."""
    Webhook(secret).verify(received.body, received.headers, json_parse=False)
