"""The snapshot job: on demand, on an interval and at shutdown, into DATA_DIR/snapshots/.

A snapshot is written to `<id>.jsonl.tmp`, fsynced, renamed to `<id>.jsonl` (and the folder
fsynced); a failed one leaves `<id>.failed` with the reason. The newest `snapshot_keep` are
kept. The folder is the record of snapshots: any worker lists it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import orjson

from app.store.connection import UNAVAILABLE
from app.store.files import open_private
from app.store.leases import Lease
from app.store.store import Store

log = logging.getLogger("vouchers.snapshots")

SUFFIX = ".jsonl"


@dataclass(frozen=True)
class SnapshotInfo:
    id: str
    status: Literal["in_progress", "completed", "failed"]
    created_at: int
    finished_at: int | None = None
    size_bytes: int | None = None
    lists: int | None = None
    codes: int | None = None
    error: str | None = None


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _end_record(path: Path) -> dict[str, int]:
    """The last line of a snapshot file: its counts."""
    with path.open("rb") as f:
        f.seek(max(0, path.stat().st_size - 4096))
        last: dict[str, int] = orjson.loads(f.read().splitlines()[-1])
        return last


class SnapshotJob:
    def __init__(
        self,
        store: Store,
        data_dir: Path,
        keep: int,
        interval_s: float,
        clock: Callable[[], int],
        in_child: bool = False,
    ) -> None:
        """With `in_child`, a child process writes each snapshot, so reading a large list never
        holds up this process (the embedded store lives in this process: it is read here)."""
        self.store, self.keep, self.interval_s, self.clock = store, keep, interval_s, clock
        self.in_child = in_child
        self.dir = data_dir / "snapshots"
        self._one_at_a_time = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[SnapshotInfo]] = set()
        # Of several workers, the one holding this lease writes the scheduled snapshots.
        self.lease = Lease(store.scripts, store.keys.snapshot_lock, int(max(interval_s, 60) * 2000))

    def new_id(self) -> str:
        return f"{self.clock():013d}-{secrets.token_hex(3)}"

    def start_one(self) -> SnapshotInfo:
        """Begin a snapshot in the background; return its record (in progress)."""
        snapshot_id = self.new_id()
        task = asyncio.create_task(self.take(snapshot_id))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        return SnapshotInfo(snapshot_id, "in_progress", int(snapshot_id.split("-")[0]))

    async def drain(self) -> None:
        """Wait for the snapshots started on demand (tests, shutdown)."""
        if self._running:
            await asyncio.wait(self._running)

    async def take(self, snapshot_id: str | None = None) -> SnapshotInfo:
        """Write one snapshot now; the record of how it went."""
        snapshot_id = snapshot_id or self.new_id()
        created = int(snapshot_id.split("-")[0])
        self.dir.mkdir(parents=True, exist_ok=True)
        final = self.dir / f"{snapshot_id}{SUFFIX}"
        tmp = final.with_name(final.name + ".tmp")
        async with self._one_at_a_time:
            try:
                if not self.in_child:
                    with open_private(tmp) as out:
                        await self.store.snapshots.write(out, created)
                        out.flush()
                        await asyncio.to_thread(os.fsync, out.fileno())  # not on the loop
                else:
                    open_private(tmp).close()  # listed as in progress from now on
                    await self._write_elsewhere(tmp, created)
                tmp.replace(final)
                await asyncio.to_thread(_fsync_dir, self.dir)
            except Exception as exc:
                tmp.unlink(missing_ok=True)
                reason = f"{type(exc).__name__}: {exc}"
                (self.dir / f"{snapshot_id}.failed").write_text(reason, encoding="utf-8")
                log.warning("snapshot %s failed: %s", snapshot_id, reason)
                return SnapshotInfo(snapshot_id, "failed", created, self.clock(), error=reason)
        self._prune()
        info = self._info(final)
        log.info("snapshot %s: %s lists, %s codes", snapshot_id, info.lists, info.codes)
        return info

    async def _write_elsewhere(self, path: Path, created: int) -> None:
        """A child process writes the file (see app/jobs/snapshot_writer.py)."""
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "app.jobs.snapshot_writer",
            str(path),
            str(created),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _, err = await child.communicate()
        if child.returncode != 0:
            raise RuntimeError(err.decode(errors="replace").strip() or f"exit {child.returncode}")

    def _prune(self) -> None:
        done = sorted(self.dir.glob(f"*{SUFFIX}"))
        for old in done[: -self.keep]:
            old.unlink(missing_ok=True)
        for failed in sorted(self.dir.glob("*.failed"))[: -self.keep]:
            failed.unlink(missing_ok=True)

    def _info(self, path: Path) -> SnapshotInfo:
        snapshot_id = path.name.removesuffix(SUFFIX)
        end = _end_record(path)
        return SnapshotInfo(
            snapshot_id,
            "completed",
            int(snapshot_id.split("-")[0]),
            int(path.stat().st_mtime * 1000),
            path.stat().st_size,
            end.get("lists"),
            end.get("codes"),
        )

    def list(self) -> list[SnapshotInfo]:
        """Every snapshot this folder knows, newest first."""
        found: list[SnapshotInfo] = []
        if not self.dir.exists():
            return found
        for path in self.dir.iterdir():
            name = path.name
            if name.endswith(SUFFIX):
                with contextlib.suppress(OSError, ValueError, IndexError):
                    found.append(self._info(path))
            elif name.endswith(SUFFIX + ".tmp"):
                sid = name.removesuffix(SUFFIX + ".tmp")
                found.append(SnapshotInfo(sid, "in_progress", int(sid.split("-")[0])))
            elif name.endswith(".failed"):
                sid = name.removesuffix(".failed")
                found.append(
                    SnapshotInfo(
                        sid,
                        "failed",
                        int(sid.split("-")[0]),
                        int(path.stat().st_mtime * 1000),
                        error=path.read_text(encoding="utf-8"),
                    )
                )
        return sorted(found, key=lambda s: s.id, reverse=True)

    def newest(self) -> Path | None:
        done = sorted(self.dir.glob(f"*{SUFFIX}")) if self.dir.exists() else []
        return done[-1] if done else None

    def start(self) -> None:
        if self.interval_s > 0:
            self._task = asyncio.create_task(self._loop(), name="snapshot job")

    async def _loop(self) -> None:
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval_s)
            if not self._stopping.is_set():
                with contextlib.suppress(*UNAVAILABLE):
                    if await self.lease.hold():
                        await self.take()

    async def close(self, final: bool) -> SnapshotInfo | None:
        """Stop the interval; with `final`, write one last snapshot. The lease is given up,
        so another worker writes the scheduled ones from now on."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait([self._task], timeout=5)
        if self._running:
            await asyncio.wait(self._running, timeout=60)
        info = None
        with contextlib.suppress(*UNAVAILABLE):
            if final and await self.lease.hold():
                info = await self.take()
            await self.lease.release()
        return info
