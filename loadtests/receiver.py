"""A lean webhook receiver for benchmarks: HTTP/1.1 keep-alive on uvloop with httptools'
parser, answering every POST 200 at once and recording, per request, its arrival time minus
the event's `timestamp`. It stands in for a receiver on another machine, so it should cost this
one's shared cores as little as it can (aiohttp's server costs about three times as much).

    python -m loadtests.receiver PORT      # GET /stats[?lags=1], POST /reset, POST anything
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime

import httptools
import orjson
import uvloop

OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"


class Figures:
    count = 0
    lags: list[float] = []  # noqa: RUF012 - one receiver per process


def _lag(body: bytes) -> float | None:
    try:
        stamp = orjson.loads(body)["timestamp"]
        return time.time() - datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()
    except (ValueError, KeyError, TypeError):
        return None


class Receiver(asyncio.Protocol):
    def __init__(self) -> None:
        self.parser = httptools.HttpRequestParser(self)
        self.body: list[bytes] = []
        self.url = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.parser.feed_data(data)

    def on_url(self, url: bytes) -> None:
        self.url = url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        body, self.body = b"".join(self.body), []
        method = self.parser.get_method()
        if method == b"GET" and self.url.startswith(b"/stats"):
            shown: dict[str, object] = {"count": Figures.count}
            if b"lags=1" in self.url:
                shown["lags"] = Figures.lags
            payload = orjson.dumps(shown)
            head = f"HTTP/1.1 200 OK\r\ncontent-length: {len(payload)}\r\n\r\n".encode()
            self.transport.write(head + payload)
            return
        if self.url == b"/reset":
            Figures.count, Figures.lags = 0, []
        else:
            Figures.count += 1
            lag = _lag(body)
            if lag is not None:
                Figures.lags.append(lag)
        self.transport.write(OK)


async def serve(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(Receiver, "127.0.0.1", port)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    uvloop.run(serve(int(sys.argv[1])))
