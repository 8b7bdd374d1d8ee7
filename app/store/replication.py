"""Replica acknowledgements: a state change answered only once N replicas of its master have it.

`WAIT n timeout` counts the writes made on the connection it is sent on, so the script call and
its WAIT go together in one pipeline on one connection: the main client's on one Redis, a
client of the slot's master on a Redis Cluster (whose own pipelines refuse scripts). A MOVED
or ASK answer means the script did not run there: the slot map is read again and the call sent
to the new master. A node that does not answer is reported as the store being unavailable,
and the slot map is read again before the next call, so calls follow a failover.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import AskError, MovedError, NoScriptError, ReadOnlyError

from app.store.connection import UNAVAILABLE, Client

REFRESH_EVERY_S = 0.1  # the slot map is read again at most this often after a failed call


class NotReplicated(Exception):
    """The change was made on the master, but fewer replicas than asked confirmed it in
    time: a failover now could lose it. The client retries with the same Idempotency-Key (or
    user and campaign): the replay tells whether it stood."""

    def __init__(self, acked: int) -> None:
        super().__init__(f"{acked} replica(s) acknowledged in time")
        self.acked = acked


@dataclass
class ReplicaAcks:
    replicas: int
    timeout_ms: int
    node_client: Callable[[str, int], Redis]  # a client of one cluster node (its own pool)
    _nodes: dict[tuple[str, int], Redis] = field(default_factory=dict)
    _refreshed: float = 0.0

    def _client_of(self, redis: Client, key: str) -> Redis:
        if not isinstance(redis, RedisCluster):
            return redis
        node = redis.get_node_from_key(key)
        assert node is not None
        address = (node.host, int(node.port))
        if address not in self._nodes:
            self._nodes[address] = self.node_client(*address)
        return self._nodes[address]

    async def _refresh(self, redis: Client) -> None:
        """Read the cluster's slot map again (at most every REFRESH_EVERY_S); a cluster that
        cannot answer now is asked again next time."""
        if not isinstance(redis, RedisCluster):
            return
        if time.monotonic() - self._refreshed > REFRESH_EVERY_S:
            self._refreshed = time.monotonic()
            with contextlib.suppress(Exception):
                await redis.nodes_manager.initialize()

    async def run(
        self, redis: Client, sha: str, source: str, keys: Sequence[str], args: Sequence[Any]
    ) -> Any:
        """The script's reply, once `replicas` replicas confirmed its writes; raises
        NotReplicated when they did not in time."""
        if isinstance(redis, RedisCluster):
            await redis.initialize()  # no-op once the slot map is known
        for attempt in range(3):
            client = self._client_of(redis, keys[0])
            try:
                async with client.pipeline(transaction=False) as pipe:
                    if attempt < 2:
                        pipe.evalsha(sha, len(keys), *keys, *args)
                    else:  # NOSCRIPT twice in a row (a flush storm): the body cannot miss
                        pipe.eval(source, len(keys), *keys, *args)
                    pipe.execute_command("WAIT", self.replicas, self.timeout_ms)
                    reply, acked = await pipe.execute()
            except (MovedError, AskError, ReadOnlyError):  # not run there: the slot moved
                await self._refresh(redis)
                continue
            except NoScriptError:  # not run: the node lost its scripts (restart, failover)
                continue
            except UNAVAILABLE:
                await self._refresh(redis)
                raise
            if int(acked) < self.replicas:
                raise NotReplicated(int(acked))
            return reply
        raise TimeoutError("the slot kept moving")  # reported as unavailable
