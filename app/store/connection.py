"""Redis clients: one Redis or a Redis Cluster from VOUCHERS_REDIS_URL, or the embedded
in-process store."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import fakeredis
import redis
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
    parse_url,
)
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    AskError,
    ClusterError,
    ConnectionError,
    ReadOnlyError,
    RedisClusterException,
    TimeoutError,
    TryAgainError,
)

from app.config import Settings

log = logging.getLogger("vouchers.store")

Client = Redis | RedisCluster  # one Redis (the embedded store is one too) or a Redis Cluster

# Errors meaning "the store is not reachable right now": Redis down (BusyLoadingError is a
# ConnectionError), or a cluster in the middle of a failover: a slot not served
# (ClusterDownError, MasterDownError, SlotNotCoveredError), redirections that did not settle
# (MOVED, ASK, TRYAGAIN), a write that reached a node demoted to replica (READONLY), or no node
# answering at all (RedisClusterException).
UNAVAILABLE = (
    ConnectionError,
    TimeoutError,
    OSError,
    ClusterError,
    RedisClusterException,
    AskError,
    TryAgainError,
    ReadOnlyError,
)
CLUSTER_POOL_FACTOR = 8  # a cluster node's connections: this times VOUCHERS_REDIS_POOL_SIZE
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


def is_cluster(settings: Settings) -> bool:
    """VOUCHERS_REDIS_CLUSTER: true, false, or auto (ask the node whether it runs in cluster
    mode; a node that does not answer is taken for one Redis, and the log says so)."""
    if settings.redis_cluster != "auto":
        return settings.redis_cluster == "true"
    assert settings.redis_url is not None
    timeout = settings.redis_timeout_s
    try:
        with redis.Redis.from_url(
            settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout
        ) as node:
            return bool(node.info("cluster").get("cluster_enabled"))
    except redis.RedisError as exc:
        log.warning(
            "Redis did not answer whether it runs a cluster (%s): taken for one Redis; set "
            "VOUCHERS_REDIS_CLUSTER=true for a cluster",
            type(exc).__name__,
        )
        return False


class _ResetWrites(AbstractConnection):
    """uvloop raises RuntimeError (not OSError, as asyncio's own loop does) when a write meets
    a transport the peer already reset, e.g. a Redis killed while a connection opens: make it
    the OSError redis-py turns into a ConnectionError (the store is unavailable: a 503, a
    retry on a fresh connection), not an unexpected error."""

    async def _send_packed_command(self, command: Iterable[bytes]) -> None:
        try:
            await super()._send_packed_command(command)
        except RuntimeError as exc:
            if self._writer is None or not self._writer.transport.is_closing():
                raise
            raise ConnectionResetError(str(exc)) from exc


_WITH_RESET_WRITES = {
    base: type(base.__name__, (_ResetWrites, base), {})
    for base in (Connection, SSLConnection, UnixDomainSocketConnection)
}


def _url_options(url: str) -> dict[str, Any]:
    """What the URL says (host, port, password, TLS...), its connection class with
    _ResetWrites."""
    options: dict[str, Any] = dict(parse_url(url))
    options["connection_class"] = _WITH_RESET_WRITES[options.get("connection_class", Connection)]
    return options


def connect(settings: Settings, read_timeout_s: float | None = None) -> Client:
    """The store's client. `read_timeout_s` overrides the read timeout (long polls)."""
    if settings.redis_url is None:
        return embedded()
    timeout = settings.redis_timeout_s
    options: dict[str, Any] = {
        "socket_timeout": read_timeout_s or settings.read_timeout_s,
        "socket_connect_timeout": timeout,
        # One immediate retry on a fresh connection covers a pooled socket that died with a
        # Redis restart; more would push a 503 for a Redis that is down past one second.
        "retry": Retry(NoBackoff(), 1),
        "decode_responses": True,
    }
    if is_cluster(settings):
        return RedisCluster.from_url(
            settings.redis_url,
            # per node; the cluster client opens connections as it needs them and does not
            # wait for a free one, so it gets room for bursts of concurrent requests
            max_connections=settings.redis_pool_size * CLUSTER_POOL_FACTOR,
            require_full_coverage=True,
            **options,
        )
    pool = BlockingConnectionPool(
        **{
            **options,
            "max_connections": settings.redis_pool_size,
            "timeout": timeout,  # wait for a free connection at most this long
            **_url_options(settings.redis_url),  # what the URL says wins, as with from_url
        }
    )
    return Redis.from_pool(pool)  # the client owns the pool: aclose() closes it


def node_client(settings: Settings) -> Callable[[str, int], Redis]:
    """Clients of single nodes of the cluster VOUCHERS_REDIS_URL names (its password, TLS and
    timeouts), for calls that must share one connection with their WAIT."""
    assert settings.redis_url is not None
    options = _url_options(settings.redis_url)

    def client(host: str, port: int) -> Redis:
        node: dict[str, Any] = {**options, "host": host, "port": port}
        pool = BlockingConnectionPool(
            **node,
            max_connections=settings.redis_pool_size,
            timeout=settings.redis_timeout_s,
            socket_timeout=settings.read_timeout_s,
            socket_connect_timeout=settings.redis_timeout_s,
            retry=Retry(NoBackoff(), 1),
            decode_responses=True,
        )
        return Redis.from_pool(pool)

    return client


def connect_blocking(settings: Settings, shared: Client) -> Client:
    """A client for long polls (XREAD BLOCK up to 30 s): its own connections with a read
    timeout longer than any wait; connecting still fails fast when Redis is down."""
    if settings.redis_url is None:
        return shared  # the embedded store serves blocking reads in-process
    return connect(settings.model_copy(update={"redis_pool_size": 32}), read_timeout_s=31.0)


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
