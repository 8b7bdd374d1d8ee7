"""Redis clients: a real server from VOUCHERS_REDIS_URL, or the embedded in-process store."""

from __future__ import annotations

import fakeredis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError, TimeoutError

from app.config import Settings

# Errors meaning "the store is not reachable right now" (BusyLoadingError is a ConnectionError).
UNAVAILABLE = (ConnectionError, TimeoutError, OSError)
OLDEST_REDIS = (7, 0)  # the scripts use commands and semantics of Redis 7 (SMISMEMBER, XADD ...)


class UnsupportedStore(Exception):
    """The server is a Redis too old for the service."""


def server_supported(version: str) -> None:
    """Raise UnsupportedStore for a Redis older than OLDEST_REDIS (INFO's redis_version)."""
    parts = version.split(".")
    try:
        found = (int(parts[0]), int(parts[1]))
    except (IndexError, ValueError):
        raise UnsupportedStore(f"cannot read the Redis version {version!r}") from None
    if found < OLDEST_REDIS:
        oldest = ".".join(map(str, OLDEST_REDIS))
        raise UnsupportedStore(f"Redis {version} is older than {oldest}, the oldest supported")


def connect(settings: Settings) -> Redis:
    if settings.redis_url is None:
        return embedded()
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=settings.redis_pool_size,
        timeout=settings.redis_timeout_s,  # wait for a free connection at most this long
        socket_timeout=settings.redis_timeout_s,
        socket_connect_timeout=settings.redis_timeout_s,
        # One immediate retry on a fresh connection covers a pooled socket that died with a
        # Redis restart; more would push a 503 for a Redis that is down past one second.
        retry=Retry(NoBackoff(), 1),
        decode_responses=True,
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


def connect_blocking(settings: Settings, shared: Redis) -> Redis:
    """A client for long polls (XREAD BLOCK up to 30 s): its own small pool with a read
    timeout longer than any wait; connecting still fails fast when Redis is down."""
    if settings.redis_url is None:
        return shared  # the embedded store serves blocking reads in-process
    pool = BlockingConnectionPool.from_url(
        settings.redis_url,
        max_connections=32,
        timeout=settings.redis_timeout_s,
        socket_timeout=31.0,
        socket_connect_timeout=settings.redis_timeout_s,
        retry=Retry(NoBackoff(), 1),
        decode_responses=True,
    )
    return Redis.from_pool(pool)


def embedded() -> Redis:
    """An in-process Redis-compatible store (fakeredis with Lua) for one worker. Its pool
    blocks when every connection is busy, as the real one does, instead of failing."""
    client: Redis = fakeredis.FakeAsyncRedis(
        server=fakeredis.FakeServer(),
        decode_responses=True,
        connection_pool_class=BlockingConnectionPool,
        max_connections=64,
        timeout=None,
    )
    return client
