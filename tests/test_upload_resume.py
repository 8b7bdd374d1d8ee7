"""Crash safety: an upload interrupted at any step resumes and ends with exact counts and the
exact error file."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from app.config import Settings
from app.domain.lists import ListId
from app.jobs import uploads as upload_jobs
from app.store.connection import Client
from app.store.keys import Keys
from app.store.uploads import Batch
from tests.conftest import Api, open_api
from tests.state import Clock


class Crash(Exception):
    """Stands for the process dying at this point."""


def _file() -> tuple[bytes, int, int]:
    """12,000 rows: 3,000 known codes, 500 repeats within the file."""
    rows = [f"K{n}" for n in range(3_000)] + [f"N{n}" for n in range(8_500)]
    rows += [f"N{n}" for n in range(500)]
    return "\n".join(rows).encode(), 8_500, 3_500


async def _setup(api: Api) -> str:
    await api.make_partner()
    made = await api.make_list()
    known = "\n".join(f"K{n}" for n in range(3_000)).encode()
    assert (await api.upload(made["id"], known))["codes_uploaded"] == 3_000
    return str(made["id"])


async def _reference(api: Api) -> tuple[dict[str, Any], str]:
    """The same upload, uninterrupted, into a list of another partner."""
    await api.make_partner("Ref")
    ref = await api.make_list("Ref", "ref")
    known = "\n".join(f"K{n}" for n in range(3_000)).encode()
    await api.upload(ref["id"], known)
    done = await api.upload(ref["id"], _file()[0])
    return done, await api.errors_file(ref["id"], done["id"])


def _crash_on(store: Any, name: str, after_calls: int, before: bool) -> None:
    """Make store method `name` die on call number `after_calls` + 1, before or after the
    real call reached Redis."""
    real: Callable[..., Awaitable[Any]] = getattr(store, name)
    calls = {"n": 0}

    async def dying(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] <= after_calls:
            return await real(*args, **kwargs)
        setattr(store, name, real)  # the next process has the real thing
        if before:
            raise Crash
        await real(*args, **kwargs)
        raise Crash

    setattr(store, name, dying)


async def _stuck(
    api: Api,
    list_id: str,
    content: bytes,
    method: str = "add_batch",
    after_calls: int = 0,
    before: bool = True,
) -> str:
    """An upload whose process died at `method`: it stays in progress; its id."""
    _crash_on(api.app.state.store.uploads, method, after_calls, before)
    accepted = await api.upload(list_id, content, wait=False)
    await api.app.state.uploads.drain()
    return str(accepted["id"])


async def _resume_after_lease(api: Api, list_id: str, upload_id: str) -> None:
    """The dead process's lease runs out; the janitor (here: called directly) resumes it."""
    keys = Keys("pv").list(ListId(list_id))
    await api.redis.hset(keys.upload(upload_id), mapping={"lease_until": 0, "owner": "dead"})
    await api.app.state.uploads.resume_all()
    await api.app.state.uploads.drain()


@pytest.mark.parametrize(
    ("method", "after_calls", "before"),
    [
        ("reserve", 0, True),
        ("reserve", 0, False),
        ("add_batch", 0, True),
        ("add_batch", 1, False),  # committed batch 2, its duplicates not yet written
        ("add_batch", 2, False),  # the last batch committed, nothing after it
        ("finish", 0, True),
    ],
)
async def test_resume_after_a_crash_at_each_step(
    api: Api, monkeypatch: pytest.MonkeyPatch, method: str, after_calls: int, before: bool
) -> None:
    monkeypatch.setattr(upload_jobs, "BATCH", 5_000)  # 11,500 candidates: three batches
    reference, reference_errors = await _reference(api)
    list_id = await _setup(api)
    upload_id = await _stuck(api, list_id, _file()[0], method, after_calls, before)
    stuck = (await api.get(f"/v1/lists/{list_id}/uploads/{upload_id}")).json()
    assert stuck["status"] == "in_progress"
    await _resume_after_lease(api, list_id, upload_id)

    keys = Keys("pv").list(ListId(list_id))
    done = (await api.get(f"/v1/lists/{list_id}/uploads/{upload_id}")).json()
    same = ("status", "codes_total", "codes_uploaded", "error_count", "errors")
    assert {k: done[k] for k in same} == {k: reference[k] for k in same}
    assert done["codes_uploaded"] == _file()[1]
    assert await api.errors_file(list_id, upload_id) == reference_errors
    body = (await api.get(f"/v1/lists/{list_id}")).json()
    assert body["codes_uploaded"] == 3_000 + _file()[1]
    assert body["codes_uploaded"] == await api.redis.scard(keys.dedupe)
    assert body["codes_uploaded"] == await api.redis.scard(keys.avail) + body["codes_distributed"]
    assert await api.redis.hget(keys.meta, "reserved") == "0"
    assert not await api.redis.smembers(Keys("pv").active_uploads)


async def test_a_live_lease_is_not_taken_over(api: Api) -> None:
    list_id = await _setup(api)
    upload_id = await _stuck(api, list_id, b"X1\nX2\n")
    keys = Keys("pv").list(ListId(list_id))
    await api.redis.hset(keys.upload(upload_id), "owner", "someone-alive")
    await api.app.state.uploads.resume_all()  # the lease (10 s) has not run out
    await api.app.state.uploads.drain()
    record = await api.redis.hgetall(keys.upload(upload_id))
    assert (record["status"], record["owner"]) == ("in_progress", "someone-alive")


async def test_batches_commit_only_for_the_lease_holder(api: Api) -> None:
    list_id = await _setup(api)
    upload_id = await _stuck(api, list_id, b"X1\nX2\n")
    result: Batch = await api.app.state.store.uploads.add_batch(
        ListId(list_id), upload_id, "not-the-owner", 1000, 0, 0, ["X1"]
    )
    assert result.code.name == "LEASE_LOST"
    assert (await api.get(f"/v1/lists/{list_id}")).json()["codes_uploaded"] == 3_000


async def test_an_upload_whose_file_is_gone_fails_instead_of_retrying(api: Api) -> None:
    list_id = await _setup(api)
    upload_id = await _stuck(api, list_id, b"X1\nX2\n")
    api.app.state.files.upload(ListId(list_id), upload_id).original.unlink()
    await _resume_after_lease(api, list_id, upload_id)
    keys = Keys("pv").list(ListId(list_id))
    done = (await api.get(f"/v1/lists/{list_id}/uploads/{upload_id}")).json()
    assert (done["status"], done["errors"]) == ("failed", [{"code": "file_missing", "count": 1}])
    assert await api.redis.hget(keys.meta, "reserved") == "0"


async def test_a_stopping_process_gives_its_uploads_and_leases_up(
    redis_client: Client, settings: Settings, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A process that shuts down mid-upload gives the upload's lease up (another process
    resumes it at once, without waiting for the lease to run out), and the relay's lease and
    the scheduled snapshots' too."""
    keys = Keys("pv")
    checking = asyncio.Event()
    async with open_api(redis_client, settings, clock) as first:
        list_id = await _setup(first)
        real_check = upload_jobs.UploadJob._check

        async def stalled_check(job: upload_jobs.UploadJob) -> upload_jobs.Checked:
            checking.set()
            await asyncio.Event().wait()  # until the shutdown cancels it
            return await real_check(job)

        monkeypatch.setattr(upload_jobs.UploadJob, "_check", stalled_check)
        accepted = await first.upload(list_id, _file()[0], wait=False)
        await checking.wait()
        owner = first.app.state.uploads.owner
        record = keys.list(ListId(list_id)).upload(accepted["id"])
        assert await redis_client.hget(record, "owner") == owner
        await first.app.state.snapshots.lease.hold()  # as the scheduled snapshots do
    monkeypatch.undo()
    assert await redis_client.hget(record, "owner") is None
    assert not await redis_client.exists(keys.relay_lock, keys.snapshot_lock)
    long_lease = settings.model_copy(update={"upload_lease_s": 3600})
    async with open_api(redis_client, long_lease, clock) as second:  # resumes at start-up
        await second.app.state.uploads.drain()
        done = (await second.get(f"/v1/lists/{list_id}/uploads/{accepted['id']}")).json()
        assert (done["status"], done["codes_uploaded"]) == ("completed", 8_500)
