"""Fixtures: every store-touching test runs on a real redis-server and on fakeredis."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.api.app import create_app
from app.api.openapi import documented_path
from app.config import ApiKey, Role, Settings
from app.store.connection import Client, connect, embedded
from tests.redis_cluster import RedisCluster
from tests.redis_server import RedisServer, in_ci
from tests.state import DAY_MS, Clock, iso

TOKENS: dict[Role, str] = {
    "admin": "admin-token-0123456789abcdef",
    "allocator": "allocator-token-0123456789abcdef",
    "viewer": "viewer-token-0123456789abcdef",
}
API_KEYS = [ApiKey(token=t, role=role, user=f"{role}@example.com") for role, t in TOKENS.items()]


def _needs_redis_server() -> None:
    """Fail in CI, skip elsewhere, when redis-server is not on the PATH."""
    if shutil.which("redis-server") is None:
        if in_ci():
            pytest.fail("redis-server is not on the PATH; CI needs the real one")
        pytest.skip("redis-server is not on the PATH")


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the session; each test starts from an empty one."""
    _needs_redis_server()
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def own_redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own, to kill and restart."""
    _needs_redis_server()
    with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def durable_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own with an append-only file fsynced on every write."""
    with RedisServer(
        tmp_path / "redis", "--appendonly", "yes", "--appendfsync", "always"
    ) as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisCluster]:
    """One real Redis Cluster (3 masters, 3 replicas) for the session; each test starts from
    an empty one."""
    _needs_redis_server()
    with RedisCluster(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster


@pytest.fixture(params=["redis", "fake", "cluster"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def redis_client(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Client]:
    client: Client
    if backend == "fake":
        client = embedded()
    else:
        name = "redis_server" if backend == "redis" else "redis_cluster"
        server: RedisServer | RedisCluster = request.getfixturevalue(name)
        client = connect(Settings(redis_url=server.url, data_dir=tmp_path))
        await client.flushall(asynchronous=True)  # a 1M-code list takes longer to free
        await client.script_flush()
    try:
        yield client
    finally:
        await client.aclose()


@dataclass
class Api:
    """An HTTP client on the app, with a token per role."""

    client: httpx.AsyncClient
    app: Starlette
    redis: Client
    clock: Clock

    async def call(
        self, method: str, path: str, role: Role | None = "admin", **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if role is not None:
            headers["Authorization"] = f"Bearer {TOKENS[role]}"
        return await self.client.request(method, path, headers=headers, **kwargs)

    async def get(self, path: str, role: Role | None = "admin", **kw: Any) -> httpx.Response:
        return await self.call("GET", path, role, **kw)

    async def post(self, path: str, role: Role | None = "admin", **kw: Any) -> httpx.Response:
        return await self.call("POST", path, role, **kw)

    async def patch(self, path: str, role: Role | None = "admin", **kw: Any) -> httpx.Response:
        return await self.call("PATCH", path, role, **kw)

    async def put(self, path: str, role: Role | None = "admin", **kw: Any) -> httpx.Response:
        return await self.call("PUT", path, role, **kw)

    async def delete(self, path: str, role: Role | None = "admin", **kw: Any) -> httpx.Response:
        return await self.call("DELETE", path, role, **kw)

    async def make_partner(self, name: str = "Acme") -> dict[str, Any]:
        response = await self.post("/v1/partners", json={"name": name})
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def upload(
        self, list_id: str, content: bytes, name: str = "codes.csv", wait: bool = True
    ) -> dict[str, Any]:
        """POST a file; with `wait`, let the background job finish and return the final upload."""
        response = await self.post(
            f"/v1/lists/{list_id}/uploads", files={"file": (name, content, "text/csv")}
        )
        assert response.status_code == 202, response.text
        body: dict[str, Any] = response.json()
        if not wait:
            return body
        await self.app.state.uploads.drain()
        final = await self.get(f"/v1/lists/{list_id}/uploads/{body['id']}")
        assert final.status_code == 200
        result: dict[str, Any] = final.json()
        return result

    async def store_ms(self) -> int:
        """The store's clock (the Redis server's), which judges every status."""
        seconds, micros = await self.redis.time()
        return int(seconds) * 1000 + int(micros) // 1000

    async def expire(self, list_id: str) -> None:
        """Let the list expire as a user would: move its expiry just ahead of the store's
        clock, then wait (watching that clock) until it has passed."""
        await until_store_time(self, await self.expire_soon(list_id))

    async def expire_soon(self, list_id: str) -> int:
        """Move the list's expiry just ahead of the store's clock; the moment it was set to.
        On a busy machine the clock can pass a short lead before the PATCH lands (a 422
        "must be in the future"): the lead doubles and the PATCH is sent again."""
        for lead_ms in (20, 40, 80, 160, 320, 640, 1280, 2560):
            soon = await self.store_ms() + lead_ms
            response = await self.patch(f"/v1/lists/{list_id}", json={"expires_at": iso(soon)})
            if response.status_code != 422 or "expires_at" not in response.text:
                break
        assert response.status_code == 200, response.text
        return soon

    async def errors_file(self, list_id: str, upload_id: str) -> str:
        response = await self.get(f"/v1/lists/{list_id}/uploads/{upload_id}/errors")
        assert response.status_code == 200, response.text
        return response.text

    def list_body(
        self, partner: str = "Acme", tag: str = "summer", **fields: Any
    ) -> dict[str, Any]:
        """A valid POST /v1/lists body (expiring a day from the app's clock), with `fields`."""
        return {
            "partner": partner,
            "tag": tag,
            "name": f"{partner} {tag}",
            "expires_at": iso(self.clock.ms + DAY_MS),
            **fields,
        }

    async def make_list(
        self, partner: str = "Acme", tag: str = "summer", **fields: Any
    ) -> dict[str, Any]:
        response = await self.post("/v1/lists", json=self.list_body(partner, tag, **fields))
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


@contextlib.asynccontextmanager
async def running(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # The background relay only runs its start-up round: tests relay when they choose to.
    return Settings(
        api_keys=API_KEYS,
        data_dir=tmp_path / "data",
        events_relay_interval_s=3600,
        snapshot_on_shutdown=False,  # tests of snapshots turn it on
        webhooks_allowed_hosts="127.0.0.1",  # no test sends a webhook off this machine
    )


@contextlib.asynccontextmanager
async def open_api(
    redis: Client, settings: Settings, clock: Clock, own_store: bool = False
) -> AsyncIterator[Api]:
    """The app on `redis`; with `own_store`, the app treats it as its own (embedded) store:
    it loads the newest snapshot at start-up and closes the client at shutdown."""
    app = create_app(settings, redis=redis, clock=clock, owns_store=own_store)
    async with running(app) as client:
        yield Api(client, app, redis, clock)


@pytest.fixture
async def api(redis_client: Client, settings: Settings, clock: Clock) -> AsyncIterator[Api]:
    async with open_api(redis_client, settings, clock) as opened:
        yield opened


@pytest.fixture
async def real_api(
    redis_server: RedisServer, settings: Settings, clock: Clock
) -> AsyncIterator[Api]:
    """The API on the real redis-server only (for sizes fakeredis is not meant for)."""
    client = connect(settings.model_copy(update={"redis_url": redis_server.url}))
    await client.flushall(asynchronous=True)
    try:
        async with open_api(client, settings, clock) as opened:
            yield opened
    finally:
        await client.aclose()


async def until_store_time(api: Api, moment_ms: int) -> None:
    """Wait until the store's clock reaches `moment_ms` (waiting on a clock, not on a task)."""
    # Another process's clock: nothing to await but the time it names.
    while (left_ms := moment_ms - await api.store_ms()) > 0:  # noqa: ASYNC110
        await asyncio.sleep(left_ms / 1000)


async def all_pages(api: Api, path: str, limit: int, **params: str) -> list[dict[str, Any]]:
    """Every item of a collection, following next_cursor page by page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query: dict[str, str | int] = {"limit": limit, **params}
        if cursor:
            query["cursor"] = cursor
        page = (await api.get(path, params=query)).json()
        assert len(page["items"]) <= limit
        items += page["items"]
        if (cursor := page["next_cursor"]) is None:
            return items


def sample_path(route: str, list_id: str) -> str:
    """A route's path with its parameters filled in: `list_id`, and well-formed stand-ins."""
    return documented_path(route).format(  # {code:path} is {code}
        list_id=list_id,
        campaign_id="c1",
        upload_id="u1",
        code="X",
        webhook_id="wh_0123456789abcdef",
        delivery_id="dlv_1",
    )
