"""A real Redis Cluster: masters and replicas, each a redis-server on free ports in a temp dir,
joined by `redis-cli --cluster create`. Tests may kill a master (kill -9) and watch its replica
take over."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from tests.redis_server import RedisServer

NODE_TIMEOUT_MS = 1000  # how long a master may be silent before its replica takes over


def _free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free too."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port < 55_000 and _free(port + 10_000):
            return port


class RedisCluster:
    def __init__(self, directory: Path, masters: int = 3, *extra: str) -> None:
        self.directory = directory
        self.nodes = [
            RedisServer(
                directory / f"node{n}",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                str(NODE_TIMEOUT_MS),
                *extra,
                port=cluster_port(),
            )
            for n in range(masters * 2)
        ]
        self.masters = masters

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        cli = shutil.which("redis-cli")
        assert cli is not None, "redis-cli is not on the PATH"
        subprocess.run(
            [
                cli,
                "--cluster",
                "create",
                *(f"127.0.0.1:{node.port}" for node in self.nodes),
                "--cluster-replicas",
                "1",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )
        self.wait_healthy()

    def wait_healthy(self, timeout_s: float = 60) -> None:
        """Poll until every live node says the cluster is ok, with a replica per master
        (start-up and recovery readiness, not synchronisation)."""
        deadline = time.monotonic() + timeout_s
        while not self._healthy():
            assert time.monotonic() < deadline, "the cluster did not become healthy"
            time.sleep(0.05)

    def _healthy(self) -> bool:
        live = [node for node in self.nodes if node.process is not None]
        masters_with_replica = 0
        for node in live:
            with redis.Redis(port=node.port, socket_timeout=1) as client:
                try:
                    if client.cluster("info")["cluster_state"] != "ok":
                        return False
                    info = client.info("replication")
                except redis.RedisError:
                    return False
                online = [
                    value
                    for key, value in info.items()
                    if key.startswith("slave")
                    and isinstance(value, dict)
                    and value.get("state") == "online"
                ]
                if info["role"] == "master" and online:
                    masters_with_replica += 1
        return masters_with_replica >= min(self.masters, len(live) - self.masters)

    def master_of(self, key: str) -> RedisServer:
        """The node serving `key`'s slot now."""
        with redis.Redis(port=self.nodes[0].port) as client:
            slot = client.cluster("keyslot", key)
        for node in self.nodes:
            if node.process is None:
                continue
            with redis.Redis(port=node.port) as client:
                for start, end, *owners in client.execute_command("CLUSTER", "SLOTS"):
                    if start <= slot <= end:
                        port = owners[0][1]
                        return next(n for n in self.nodes if n.port == port)
        raise AssertionError(f"no node serves {key}")

    def slots_moved_from(self, dead: RedisServer) -> bool:
        """Another node (its replica, promoted) serves every slot of a killed master now."""
        live = next(node for node in self.nodes if node.process is not None)
        with redis.Redis(port=live.port, socket_timeout=1) as client:
            owners = {owners[0][1] for _, _, *owners in client.execute_command("CLUSTER", "SLOTS")}
        return dead.port not in owners and len(owners) == self.masters

    def wait_for_failover(self, dead: RedisServer, timeout_s: float = 60) -> None:
        """Poll until the slots of a killed master are served by another node: observation of
        the cluster, not synchronisation."""
        deadline = time.monotonic() + timeout_s
        while not self.slots_moved_from(dead):
            assert time.monotonic() < deadline, "no replica took over"
            time.sleep(0.05)

    def flush(self) -> None:
        """Empty every master (their replicas follow)."""
        for node in self.nodes:
            if node.process is None:
                continue
            with redis.Redis(port=node.port) as client:
                if client.info("replication")["role"] == "master":
                    client.flushall()

    def stop(self) -> None:
        for node in self.nodes:
            node.kill()

    def __enter__(self) -> RedisCluster:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()
