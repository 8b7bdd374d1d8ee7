"""A Redis Cluster losing a master (kill -9) under allocation load, with replica
acknowledgements: no acknowledged allocation is lost, no code goes to two keys, and the service
recovers by itself. Also: one partner's lists spread over the masters."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.redis_cluster import RedisCluster
from tests.service import ADMIN, all_events, running_service, stock_list, wait_for

KEYS_SENT = 600  # allocations with their own Idempotency-Key
KILL_AFTER = 150  # acknowledged allocations before the master dies
WORKERS = 8
GIVE_UP_S = 120  # a guard against hanging, not a speed assertion


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[RedisCluster]:
    with RedisCluster(tmp_path / "cluster") as cluster:
        yield cluster


@dataclass
class Load:
    """Clients that send each key until it is acknowledged, retrying 503s and dropped
    connections with the same key, as the promo engine does."""

    url: str
    list_id: str
    log: Path  # the service's log, named when something fails
    acked: dict[str, dict[str, Any]] = field(default_factory=dict)
    unavailable: int = 0
    first_after_kill: float | None = None
    killed_at: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, keys: list[str]) -> None:
        with httpx.Client(base_url=self.url, headers=ADMIN, timeout=5) as client:
            for key in keys:
                self._until_acknowledged(client, key)

    def _until_acknowledged(self, client: httpx.Client, key: str) -> None:
        body = {"list_id": self.list_id, "campaign_id": "c1", "user_id": f"user-{key}"}
        deadline = time.monotonic() + GIVE_UP_S
        while time.monotonic() < deadline:
            sent = time.monotonic()
            try:
                response = client.post(
                    "/v1/allocations", json=body, headers={"Idempotency-Key": key}
                )
            except httpx.TransportError:
                response = None
            if response is not None and response.status_code in (200, 201):
                with self.lock:
                    self.acked[key] = response.json()
                    after_kill = self.killed_at is not None and sent > self.killed_at
                    if after_kill and self.first_after_kill is None:
                        self.first_after_kill = time.monotonic()
                return
            assert response is None or response.status_code == 503, (response.text, self.log)
            with self.lock:
                self.unavailable += 1
            time.sleep(0.05)  # a client's back-off before it retries
        raise AssertionError(f"{key} was never acknowledged")


def test_a_master_killed_under_load_loses_no_acknowledged_allocation(
    own_cluster: RedisCluster, tmp_path: Path
) -> None:
    settings = {"redis_replica_acks": "1", "redis_replica_timeout_ms": "500"}
    with running_service(own_cluster.url, tmp_path / "data", **settings) as svc:
        list_id = stock_list(svc, 3000, "HOT")
        load = Load(svc.url, list_id, svc.log)
        keys = [f"k{n:04d}" for n in range(KEYS_SENT)]
        threads = [
            threading.Thread(target=load.send, args=(keys[w::WORKERS],)) for w in range(WORKERS)
        ]
        for thread in threads:
            thread.start()
        wait_for(lambda: len(load.acked) >= KILL_AFTER, "allocations before the kill")
        master = own_cluster.master_of(f"pv:{{{list_id}}}:meta")
        load.killed_at = time.monotonic()
        master.kill()  # kill -9
        own_cluster.wait_for_failover(master)
        master.start()  # its supervisor brings it back: it rejoins as a replica
        for thread in threads:
            thread.join(timeout=GIVE_UP_S)
        assert len(load.acked) == KEYS_SENT
        assert load.unavailable > 0  # the failover was felt ...
        assert load.first_after_kill is not None  # ... and the service came back by itself
        print(f"kill -9 to first allocation: {load.first_after_kill - load.killed_at:.2f} s")

        # Every acknowledged key replays its code, to its user; no code went to two keys.
        for key, first in load.acked.items():
            replay = svc.call(
                "POST",
                "/v1/allocations",
                json={"list_id": list_id, "campaign_id": "c1", "user_id": f"user-{key}"},
                headers={"Idempotency-Key": key},
            )
            assert replay.status_code == 200, replay.text
            assert replay.json()["voucher_code"] == first["voucher_code"]
            assert replay.json()["user_id"] == f"user-{key}"
        codes = [a["voucher_code"] for a in load.acked.values()]
        assert len(set(codes)) == KEYS_SENT
        body = svc.call("GET", f"/v1/lists/{list_id}").json()
        assert body["codes_distributed"] == KEYS_SENT
        assert body["codes_distributed"] + body["codes_available"] == body["codes_uploaded"]
        # One reward event per allocation, and none for an allocation the failover lost.
        wait_for(
            lambda: len(_reward_events(all_events(svc))) >= KEYS_SENT, "the relay", timeout_s=60
        )
        events = _reward_events(all_events(svc))
        assert {e["id"] for e in events} == {a["event_id"] for a in load.acked.values()}
        assert sorted(e["properties"]["voucherCode"] for e in events) == sorted(codes)


def _reward_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Reward events, each once (delivery is at least once: consumers dedupe on id)."""
    seen: dict[str, dict[str, Any]] = {}
    for event in events:
        if event["name"] == "Partner Voucher Rewarded":
            seen.setdefault(event["id"], event)
    return list(seen.values())


def test_one_partners_lists_spread_over_the_masters(
    redis_cluster: RedisCluster, tmp_path: Path
) -> None:
    redis_cluster.flush()
    with running_service(redis_cluster.url, tmp_path / "data") as svc:
        svc.call("POST", "/v1/partners", json={"name": "Acme"})
        ids = []
        for n in range(30):
            body = {"partner": "Acme", "tag": f"t{n}", "name": "n"}
            body["expires_at"] = "2099-01-01T00:00:00Z"
            ids.append(svc.call("POST", "/v1/lists", json=body).json()["id"])
    masters = {redis_cluster.master_of(f"pv:{{{list_id}}}:meta").port for list_id in ids}
    assert len(masters) >= 2


def test_readiness_follows_the_cluster_through_a_failover(
    own_cluster: RedisCluster, tmp_path: Path
) -> None:
    """/readyz says 503 while a master's slots are not served, and 200 again once its replica
    took over, with no restart of the service."""
    with running_service(own_cluster.url, tmp_path / "data") as svc:
        list_id = stock_list(svc, 10, "READY")
        seen: list[int] = []

        def ready() -> int:
            seen.append(httpx.get(f"{svc.url}/readyz", timeout=5).status_code)
            return seen[-1]

        assert ready() == 200
        own_cluster.master_of(f"pv:{{{list_id}}}:meta").kill()
        wait_for(lambda: ready() == 503, "readiness to notice the dead master")
        wait_for(lambda: ready() == 200, "readiness after the failover")
        allocated = svc.call(
            "POST",
            "/v1/allocations",
            json={"list_id": list_id, "campaign_id": "c1", "user_id": "after-failover"},
        )
        assert allocated.status_code == 201, allocated.text
