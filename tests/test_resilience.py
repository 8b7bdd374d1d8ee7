"""The store going away: SCRIPT FLUSH, Redis killed and restarted, Redis down at start-up;
and the Redis version the service accepts."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import struct
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvloop

from app.api.app import ENDPOINTS, create_app
from app.config import Settings
from app.store.connection import UnsupportedStore, connect, server_supported
from tests.conftest import API_KEYS, TOKENS, Api, running, sample_path
from tests.redis_server import RedisServer

ADMIN = {"Authorization": f"Bearer {TOKENS['admin']}"}
HANG_GUARD_S = 5  # a guard against hanging, not a speed assertion


async def test_calls_and_readiness_survive_script_flush(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    await api.redis.script_flush()
    ready = await api.get("/readyz", role=None)
    assert ready.status_code == 200
    assert ready.json()["scripts_reloaded"] > 0
    assert (await api.get("/readyz", role=None)).json()["scripts_reloaded"] == 0
    await api.redis.script_flush()
    paused = await api.post(f"/v1/lists/{made['id']}/pause")  # NOSCRIPT, reload, retry
    assert paused.status_code == 200
    assert paused.json()["status"] == "paused"


@pytest.fixture
async def real_client(
    durable_redis: RedisServer, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, RedisServer]]:
    settings = Settings(
        redis_url=durable_redis.url,
        api_keys=API_KEYS,
        data_dir=tmp_path / "d",
        webhooks_allowed_hosts="127.0.0.1",  # no test sends a webhook off this machine
    )
    async with running(create_app(settings)) as client:
        yield client, durable_redis


async def _expect_unavailable(
    client: httpx.AsyncClient, method: str, path: str, json: object = None
) -> None:
    response = await asyncio.wait_for(
        client.request(method, path, headers=ADMIN, json=json), HANG_GUARD_S
    )
    assert response.status_code == 503, response.text
    assert response.json()["error"]["code"] == "store_unavailable"
    assert response.headers["retry-after"] == "1"


async def _make_list(client: httpx.AsyncClient) -> dict[str, Any]:
    await client.post("/v1/partners", json={"name": "Acme"}, headers=ADMIN)
    response = await client.post(
        "/v1/lists",
        headers=ADMIN,
        json={"partner": "Acme", "tag": "t", "name": "n", "expires_at": "2099-01-01T00:00:00Z"},
    )
    made: dict[str, Any] = response.json()
    return made


async def test_redis_killed_and_restarted(
    real_client: tuple[httpx.AsyncClient, RedisServer],
) -> None:
    client, server = real_client
    made = await _make_list(client)

    server.kill()
    await _expect_unavailable(client, "GET", f"/v1/lists/{made['id']}")
    await _expect_unavailable(client, "POST", f"/v1/lists/{made['id']}/pause")
    await _expect_unavailable(client, "POST", "/v1/partners", json={"name": "B"})
    await _expect_unavailable(client, "GET", "/v1/lists")
    ready = await asyncio.wait_for(client.get("/readyz"), HANG_GUARD_S)
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "redis": False,
        "scripts_loaded": False,
        "scripts_reloaded": 0,
    }
    assert (await client.get("/healthz")).status_code == 200

    server.start()  # same port, same append-only file, empty script cache
    paused = await client.post(f"/v1/lists/{made['id']}/pause", headers=ADMIN)
    assert paused.status_code == 200, paused.text
    assert paused.json()["status"] == "paused"
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["scripts_loaded"] is True


async def test_starts_while_redis_is_down_and_recovers(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    settings = Settings(redis_url=server.url, api_keys=API_KEYS, data_dir=tmp_path / "d")
    async with running(create_app(settings)) as client:
        await _expect_unavailable(client, "GET", "/v1/partners")
        assert (await client.get("/readyz")).status_code == 503
        server.start()
        try:
            assert (await client.get("/readyz")).status_code == 200
            created = await client.post("/v1/partners", json={"name": "Acme"}, headers=ADMIN)
            assert created.status_code == 201
        finally:
            server.kill()


async def test_a_hung_redis_gives_503_and_recovery(
    real_client: tuple[httpx.AsyncClient, RedisServer],
) -> None:
    client, server = real_client
    assert (await client.post("/v1/partners", json={"name": "A"}, headers=ADMIN)).status_code == 201
    assert server.process is not None
    server.process.send_signal(signal.SIGSTOP)  # accepts connections, never answers
    try:
        await _expect_unavailable(client, "GET", "/v1/partners")
        assert (await asyncio.wait_for(client.get("/readyz"), HANG_GUARD_S)).status_code == 503
    finally:
        server.process.send_signal(signal.SIGCONT)
    listed = await client.get("/v1/partners", headers=ADMIN)
    assert listed.status_code == 200
    assert [p["name"] for p in listed.json()["items"]] == ["A"]


BODIES: dict[tuple[str, str], dict[str, object]] = {
    ("POST", "/v1/partners"): {"json": {"name": "B"}},
    ("POST", "/v1/allocations/bulk"): {
        "json": {"list_id": "{list_id}", "campaign_id": "c1", "items": [{"user_id": "u"}]}
    },
    ("POST", "/v1/lists"): {
        "json": {"partner": "Acme", "tag": "t2", "name": "n", "expires_at": "2099-01-01T00:00:00Z"}
    },
    ("PATCH", "/v1/lists/{list_id}"): {"json": {"name": "x"}},
    ("POST", "/v1/allocations"): {
        "json": {"list_id": "{list_id}", "campaign_id": "c1", "user_id": "u1"}
    },
    ("POST", "/v1/lists/{list_id}/uploads"): {"files": {"file": ("a.csv", b"A\n", "text/csv")}},
    ("POST", "/v1/webhooks"): {"json": {"url": "http://127.0.0.1:9/hook"}},
    ("PATCH", "/v1/webhooks/{webhook_id}"): {"json": {"description": "x"}},
}


async def test_every_route_that_needs_the_store_answers_503_when_it_is_down(
    real_client: tuple[httpx.AsyncClient, RedisServer],
) -> None:
    client, server = real_client
    made = await _make_list(client)
    server.kill()
    for e in ENDPOINTS:
        if not e.uses_store:
            continue
        path = sample_path(e.path, made["id"])
        options = dict(BODIES.get((e.method, e.path), {}))
        if "json" in options:
            body = dict(options["json"])  # type: ignore[call-overload]
            options["json"] = {k: made["id"] if v == "{list_id}" else v for k, v in body.items()}
        response = await asyncio.wait_for(
            client.request(e.method, path, headers=ADMIN, **options),  # type: ignore[arg-type]
            HANG_GUARD_S,
        )
        assert response.status_code == 503, (e.method, e.path, response.text)
        if e.path != "/readyz":
            assert response.json()["error"]["code"] == "store_unavailable"
            assert response.headers["retry-after"] == "1"


async def test_script_flush_under_load_fails_no_request(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    await api.upload(made["id"], "\n".join(f"F{n}" for n in range(400)).encode())
    await api.put(f"/v1/lists/{made['id']}/campaigns/c1")

    async def flusher() -> None:
        for _ in range(20):
            await api.redis.script_flush()
            await asyncio.sleep(0)  # let requests run between flushes (ordering, not timing)

    async def one(n: int) -> int:
        response = await api.post(
            "/v1/allocations",
            role="allocator",
            json={"list_id": made["id"], "campaign_id": "c1", "user_id": f"u{n}"},
        )
        return response.status_code

    statuses, _ = await asyncio.gather(asyncio.gather(*(one(n) for n in range(300))), flusher())
    assert set(statuses) == {201}
    body = (await api.get(f"/v1/lists/{made['id']}")).json()
    assert (body["codes_distributed"], body["codes_available"]) == (300, 100)


@pytest.mark.parametrize(
    ("version", "supported"),
    [
        ("7.0.0", True),
        ("7.0.15", True),
        ("7.4.2", True),
        ("8.2.1", True),
        ("10.0.0", True),
        ("6.2.14", False),
        ("5.0.7", False),
        ("seven", False),
    ],
)
def test_only_redis_7_or_newer_is_accepted(version: str, supported: bool) -> None:
    if supported:
        server_supported(version)
    else:
        with pytest.raises(UnsupportedStore):
            server_supported(version)


async def test_start_up_logs_the_redis_version(
    redis_server: RedisServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(api_keys=API_KEYS, data_dir=tmp_path, redis_url=redis_server.url)
    client = redis.Redis.from_url(redis_server.url)
    version = client.info("server")["redis_version"]
    client.close()
    with caplog.at_level(logging.INFO, logger="vouchers"):
        async with running(create_app(settings)):
            pass
    assert f"store: Redis {version}" in caplog.text


def test_a_write_after_redis_reset_the_connection_is_a_connection_error(tmp_path: Path) -> None:
    """On uvloop (the service's loop) a write to a transport the peer reset raises RuntimeError,
    where asyncio's own loop raises OSError; the store's connections make it redis-py's
    ConnectionError, so a request answers 503 (seen as a 500 while a cluster master was killed
    under load)."""

    async def reset(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        linger = struct.pack("ii", 1, 0)  # close with a RST, as a killed peer's kernel may
        writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        writer.transport.abort()

    async def main() -> None:
        server = await asyncio.start_server(reset, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = connect(Settings(redis_url=f"redis://127.0.0.1:{port}/0", data_dir=tmp_path))
        assert isinstance(client, redis.asyncio.Redis)
        pool = client.connection_pool
        conn = pool.connection_class(**pool.connection_kwargs)
        try:
            async with asyncio.timeout(HANG_GUARD_S):
                # The socket as connect() opens it, without its handshake
                conn._reader, conn._writer = await asyncio.open_connection("127.0.0.1", port)
                with pytest.raises(ConnectionResetError):
                    await conn._reader.read()  # the reset arrived: uvloop closed the transport
                with pytest.raises(redis.ConnectionError):
                    await conn.send_packed_command(b"PING\r\n", check_health=False)
        finally:
            server.close()
            await client.aclose()

    uvloop.run(main())
