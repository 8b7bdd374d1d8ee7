"""VOUCHERS_REDIS_REPLICA_ACKS: a change is answered only once replicas confirm it, on one
Redis with a replica (here) and on a cluster (test_failover.py)."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from app.config import Settings
from app.store.connection import connect
from tests.conftest import Api, open_api
from tests.redis_server import RedisServer
from tests.state import Clock
from tests.test_allocations import allocate, stocked


@pytest.fixture
def master_and_replica(tmp_path: Path) -> Iterator[tuple[RedisServer, RedisServer]]:
    with RedisServer(tmp_path / "master") as master:
        replica = RedisServer(tmp_path / "replica", "--replicaof", "127.0.0.1", str(master.port))
        with replica:
            replica.wait_replicating()
            yield master, replica


@pytest.fixture
async def acked(
    master_and_replica: tuple[RedisServer, RedisServer], settings: Settings, clock: Clock
) -> AsyncIterator[Api]:
    master, _ = master_and_replica
    acks = settings.model_copy(
        update={
            "redis_url": master.url,
            "redis_replica_acks": 1,
            "redis_replica_timeout_ms": 300,
        }
    )
    client = connect(acks)
    try:
        async with open_api(client, acks, clock) as api:
            yield api
    finally:
        await client.aclose()


async def test_changes_are_answered_once_the_replica_has_them(
    acked: Api, master_and_replica: tuple[RedisServer, RedisServer]
) -> None:
    _, replica = master_and_replica
    list_id = await stocked(acked, 5)
    first = await allocate(acked, list_id, "u1", key="reward-1")
    assert first.status_code == 201
    with replica.client() as client:  # the replica has it, as it was answered
        issued = client.hgetall(f"pv:{{{list_id}}}:issued")
    assert first.json()["voucher_code"] in {k.decode() for k in issued}


async def test_a_replica_that_stalls_makes_changes_503_and_the_replay_tells(
    acked: Api, master_and_replica: tuple[RedisServer, RedisServer]
) -> None:
    """The replica is connected but frozen (SIGSTOP), so it confirms nothing: the change is
    made on the master, WAIT times out, the client hears 503, and its retry replays."""
    _, replica = master_and_replica
    list_id = await stocked(acked, 5)
    assert replica.process is not None
    os.kill(replica.process.pid, signal.SIGSTOP)
    try:
        refused = await allocate(acked, list_id, "u1", key="reward-1")
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "replication_timeout"
        assert refused.headers["retry-after"] == "1"
        link = await acked.put(f"/v1/lists/{list_id}/campaigns/c9")
        assert link.json()["error"]["code"] == "replication_timeout"
    finally:
        os.kill(replica.process.pid, signal.SIGCONT)
    replay = await allocate(acked, list_id, "u1", key="reward-1")
    assert replay.status_code == 200  # it was made on the master, and stood
    assert replay.json()["replayed"] is True
    body = (await acked.get(f"/v1/lists/{list_id}")).json()
    assert (body["codes_distributed"], body["codes_available"]) == (1, 4)
