"""`vouchers snapshot` and `vouchers restore` against a real redis-server."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis

from app.cli import main
from app.config import Settings
from app.jobs.snapshots import SnapshotJob
from app.store.connection import connect
from app.store.snapshots import read_verified
from app.store.store import Store
from tests.redis_server import RedisServer


@pytest.fixture
def env(
    own_redis_server: RedisServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> redis.Redis:
    monkeypatch.setenv("VOUCHERS_REDIS_URL", own_redis_server.url)
    monkeypatch.setenv("VOUCHERS_DATA_DIR", str(tmp_path / "data"))
    client = redis.Redis(port=own_redis_server.port, decode_responses=True)
    client.zadd("pv:partners", {"Acme": 0})
    client.hset("pv:{acme}:partner:Acme", mapping={"created_at": 1, "lists": 0})
    client.set("pv:seq:lists", 7)
    return client


def test_snapshot_then_restore_with_and_without_force(
    env: redis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["snapshot"]) == 0
    written = capsys.readouterr().out.split(":")[0]
    assert written.endswith(".jsonl")
    assert main(["restore", written]) == 1
    assert "not empty; pass --force" in capsys.readouterr().err
    env.set("pv:seq:lists", 99)
    assert main(["restore", written, "--force"]) == 0
    assert env.get("pv:seq:lists") == "7"
    assert env.hgetall("pv:{acme}:partner:Acme") == {"created_at": "1", "lists": "0"}
    env.flushall()
    assert main(["restore", written]) == 0
    assert env.zrange("pv:partners", 0, -1) == ["Acme"]


def test_a_damaged_snapshot_is_refused_and_changes_nothing(
    env: redis.Redis, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["snapshot"]) == 0
    written = Path(capsys.readouterr().out.split(":")[0])
    damaged = tmp_path / "damaged.jsonl"
    damaged.write_bytes(written.read_bytes().replace(b"Acme", b"Acne", 1))
    env.flushall()
    assert main(["restore", str(damaged), "--force"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "checksum mismatch" in err
    assert env.dbsize() == 0
    assert main(["restore", str(tmp_path / "missing.jsonl")]) == 1


def test_snapshot_refuses_the_embedded_store(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("VOUCHERS_REDIS_URL", raising=False)
    assert main(["snapshot"]) == 2
    assert "POST /v1/admin/snapshots" in capsys.readouterr().err


async def test_the_job_writes_from_a_child_process(env: redis.Redis, tmp_path: Path) -> None:
    settings = Settings()
    client = connect(settings)
    try:
        job = SnapshotJob(
            Store(client, "pv"), settings.data_dir, 5, 0, lambda: 1_000, in_child=True
        )
        info = await job.take()
        assert (info.status, info.lists) == ("completed", 0)
        path = job.dir / f"{info.id}.jsonl"
        kinds = [record["type"] for record in read_verified(path)]
        assert kinds == ["sequence", "partner", "events"]
    finally:
        await client.aclose()
