"""Processing uploads in the background, resumable after a crash.

An upload goes through two phases, both driven from the file on disk:
- checking: read every row (domain rules), count rows and row errors, collect the candidates
  (valid codes, first in their file), then reserve room for the fresh ones in the list. No
  code is added; a file-level error fails the upload here. A crash in this phase redoes it.
- adding: feed the candidates to `upload_batch.lua` a batch at a time. Each call adds the fresh
  codes and commits the upload's progress atomically; a crash resumes after the last
  committed batch (the check is redone to rebuild the candidates, which is deterministic).

One process at a time holds an upload's lease (Redis server time); a process that stops gives
it up, one that dies loses it when it runs out, and any process then resumes the upload: at
start-up and on the janitor's rounds (app/jobs/janitor.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import heapq
import logging
import os
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field

from app.config import Settings
from app.domain.csv_rows import (
    MAX_CODE_LENGTH,
    MESSAGES,
    FileError,
    FileRejected,
    RowError,
    RowReader,
    Rows,
    row_error,
)
from app.domain.lists import ListId
from app.domain.uploads import UploadStatus
from app.store.connection import UNAVAILABLE
from app.store.files import FileStore, UploadFiles, open_private
from app.store.scripts import Code
from app.store.store import Store
from app.store.uploads import Batch

log = logging.getLogger("vouchers.uploads")

READ_CHUNK = 32 * 1024  # bytes parsed between two yields to the event loop (~0.8 ms)
BATCH = 1000  # candidates per upload_batch.lua call: about 1.4 ms of Redis time
IN_FLIGHT = 2  # batches sent before the first answer is awaited
FENCE_RETRY_S = 0.05  # wait before sending a batch a snapshot held back
FRESH_PROBE = 10_000  # codes per SMISMEMBER while estimating fresh codes
SHOWN_CODE = 120  # characters of a code shown in the error file
ERROR_HEADER = ("row", "code", "error_code", "message")


def shown(code: str) -> str:
    """A code as the error file shows it: printable, and cut when very long."""
    text = "".join(ch if ch.isprintable() else "\ufffd" for ch in code[: SHOWN_CODE + 1])
    return text if len(code) <= SHOWN_CODE else text[:SHOWN_CODE] + "…"


def write_file_error(files: UploadFiles, error: FileError, line: int | None) -> None:
    with open_private(files.errors, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(ERROR_HEADER)
        writer.writerow(("" if line is None else line, "", error.value, MESSAGES[error]))


RELEASE_STEP = 5_000  # entries freed between two yields to the event loop (~0.4 ms)


async def empty_set(big: set[str], members: list[str]) -> None:
    """Empty `big`, whose members are all in `members`, a step at a time, letting requests run
    in between: freeing a million-entry set at once holds the event loop for tens of ms."""
    for start in range(0, len(members), RELEASE_STEP):
        big.difference_update(members[start : start + RELEASE_STEP])
        await asyncio.sleep(0)
    big.clear()


async def empty_lists(*lists: list[str] | list[int]) -> None:
    """Empty big lists a step at a time (see empty_set)."""
    for items in lists:
        while items:
            del items[-RELEASE_STEP:]
            await asyncio.sleep(0)


class Lost(Exception):
    """The upload is no longer ours to work on (lease lost, upload or list gone)."""


class Ended(Exception):
    """The upload must end as failed with this file-level or list error."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class Checked:
    codes: list[str] = field(default_factory=list)  # candidates, in file order
    lines: list[int] = field(default_factory=list)
    codes_total: int = 0
    row_errors: Counter[str] = field(default_factory=Counter)


def _all_fresh_and_valid(rows: Rows, seen: set[str]) -> bool:
    """True when no row of the chunk has an error: plain codes, none too long, none repeated
    within the chunk or seen earlier in the file."""
    codes = rows.codes
    return (
        rows.plain
        and max(map(len, codes), default=0) <= MAX_CODE_LENGTH
        and len(set(codes)) == len(codes)
        and seen.isdisjoint(codes)
    )


class UploadJob:
    """One upload, from claim to finish."""

    def __init__(self, worker: UploadWorker, list_id: ListId, upload_id: str) -> None:
        self.w, self.list_id, self.upload_id = worker, list_id, upload_id
        self.files = worker.files.upload(list_id, upload_id)
        self._renewed = time.monotonic()

    async def run(self) -> None:
        uploads = self.w.store.uploads
        code, record = await uploads.claim(
            self.list_id, self.upload_id, self.w.owner, self.w.lease_ms
        )
        if code in (Code.UPLOAD_FINISHED, Code.UPLOAD_NOT_FOUND):
            await uploads.forget(self.list_id, self.upload_id)
            return
        if code is not Code.OK:
            return  # another process holds it
        try:
            await self._process(record)
        except Lost:
            return
        except Ended as ended:
            await self._finish(UploadStatus.FAILED, {"failure": ended.code})
        except FileRejected as rejected:
            write_file_error(self.files, rejected.error, rejected.line)
            totals = {"codes_total": 0, "error_count": 0}
            await self._finish(UploadStatus.FAILED, {"failure": rejected.error.value, **totals})
        await uploads.forget(self.list_id, self.upload_id)
        for path in self.files.scratch():
            path.unlink(missing_ok=True)

    async def _process(self, record: dict[str, str]) -> None:
        started = time.perf_counter()
        if not self.files.original.exists():  # e.g. a restore on a host without the data dir
            raise Ended("file_missing")
        checked = await self._check()
        checked_at = time.perf_counter()
        if record.get("phase", "checking") == "checking":
            if checked.codes_total == 0:
                raise FileRejected(FileError.EMPTY_FILE)
            await self._reserve(checked)
            record = {"batch_size": str(BATCH)}
        reserved_at = time.perf_counter()
        await self._add(checked, record)
        added_at = time.perf_counter()
        await self._write_error_file(checked)
        await self._finish(UploadStatus.COMPLETED, {})
        await empty_lists(checked.codes, checked.lines)
        log.info(
            "upload %s: %d rows checked in %.2fs, reserved in %.2fs, added in %.2fs, "
            "finished in %.2fs",
            self.upload_id,
            checked.codes_total,
            checked_at - started,
            reserved_at - checked_at,
            added_at - reserved_at,
            time.perf_counter() - added_at,
        )

    async def _check(self) -> Checked:
        checked = Checked()
        seen: set[str] = set()
        reader = RowReader()
        with (
            self.files.original.open("rb") as source,
            open_private(self.files.row_errors, "w", newline="", encoding="utf-8") as out,
        ):
            writer = csv.writer(out)
            while True:
                chunk = source.read(READ_CHUNK)
                rows = reader.feed(chunk, final=not chunk)
                checked.codes_total += len(rows.codes)
                if _all_fresh_and_valid(rows, seen):  # the common case, at C speed
                    seen.update(rows.codes)
                    checked.codes += rows.codes
                    checked.lines += rows.lines
                    rows = Rows()
                for line, code in zip(rows.lines, rows.codes, strict=True):
                    error = row_error(code)
                    if error is None and code in seen:
                        error = RowError.DUPLICATE_IN_FILE
                    if error is not None:
                        checked.row_errors[error] += 1
                        writer.writerow((line, shown(code), error.value, MESSAGES[error]))
                        continue
                    seen.add(code)
                    checked.codes.append(code)
                    checked.lines.append(line)
                if not chunk:
                    await empty_set(seen, checked.codes)
                    return checked
                await self._breathe()

    async def _breathe(self) -> None:
        """Let requests run between chunks, and keep the lease while checking."""
        await asyncio.sleep(0)
        if time.monotonic() - self._renewed > self.w.lease_ms / 3000:
            code, _ = await self.w.store.uploads.claim(
                self.list_id, self.upload_id, self.w.owner, self.w.lease_ms
            )
            if code is not Code.OK:
                raise Lost
            self._renewed = time.monotonic()

    async def _reserve(self, checked: Checked) -> None:
        uploads = self.w.store.uploads
        fresh = len(checked.codes)
        if fresh and await uploads.dedupe_size(self.list_id):
            for start in range(0, len(checked.codes), FRESH_PROBE):
                known = await uploads.known(
                    self.list_id, checked.codes[start : start + FRESH_PROBE]
                )
                fresh -= sum(known)
        errors = checked.row_errors
        totals = {
            "batch_size": BATCH,
            "codes_total": checked.codes_total,
            "error_count": sum(errors.values()),
            **{f"err:{code}": count for code, count in errors.items()},
        }
        code = await uploads.reserve(
            self.list_id,
            self.upload_id,
            self.w.owner,
            self.w.lease_ms,
            fresh,
            self.w.max_codes,
            totals,
        )
        if code is Code.LIST_FULL:
            raise FileRejected(FileError.LIST_FULL)
        self._check_code(code)

    def _check_code(self, code: Code) -> None:
        if code is Code.LIST_ARCHIVED:
            raise Ended("list_not_uploadable")
        if code is not Code.OK:
            raise Lost

    async def _add(self, checked: Checked, record: dict[str, str]) -> None:
        """Send every batch not committed yet, two at a time, so Redis runs one while this
        process prepares the next (batches commit independently of their order)."""
        size = int(record["batch_size"])
        uploads = self.w.store.uploads
        committed = await uploads.committed_batches(self.list_id, self.upload_id)
        todo = [n for n in range(-(-len(checked.codes) // size)) if n not in committed]
        window: deque[asyncio.Future[Batch]] = deque()
        try:
            for number in todo:
                if len(window) == IN_FLIGHT:
                    self._check_code((await window.popleft()).code)
                start = number * size
                batch = checked.codes[start : start + size]
                window.append(asyncio.ensure_future(self._commit(number, start, batch)))
            while window:
                self._check_code((await window.popleft()).code)
        finally:
            for pending in window:
                pending.cancel()

    async def _commit(self, number: int, start: int, codes: list[str]) -> Batch:
        """Commit one batch; while a snapshot reads the list, wait and send it again."""
        while True:
            result = await self.w.store.uploads.add_batch(
                self.list_id, self.upload_id, self.w.owner, self.w.lease_ms, number, start, codes
            )
            if result.code is not Code.FENCED:
                return result
            await asyncio.sleep(FENCE_RETRY_S)

    async def _write_error_file(self, checked: Checked) -> None:
        """Merge the row errors (from the check) and the duplicate_code rows (kept in Redis
        batch by batch), both in row order, into the error file."""
        tmp = self.files.errors.with_suffix(".tmp")
        with (
            self.files.row_errors.open(newline="", encoding="utf-8") as rows,
            open_private(tmp, "w", newline="", encoding="utf-8") as out,
        ):
            writer = csv.writer(out)
            writer.writerow(ERROR_HEADER)
            duplicate = RowError.DUPLICATE_CODE
            indexes: list[int] = []
            async for chunk in self.w.store.uploads.duplicates(self.list_id, self.upload_id):
                indexes += chunk
            indexes.sort()  # batches commit in any order
            message = MESSAGES[duplicate]
            dups = (
                (str(checked.lines[i]), shown(checked.codes[i]), duplicate.value, message)
                for i in indexes
            )
            merged = heapq.merge(csv.reader(rows), dups, key=lambda r: int(r[0]))
            writer.writerows(merged)
        tmp.replace(self.files.errors)

    async def _finish(self, status: UploadStatus, fields: dict[str, str | int]) -> None:
        code = await self.w.store.uploads.finish(
            self.list_id, self.upload_id, self.w.owner, status, fields
        )
        if code not in (Code.OK, Code.UPLOAD_FINISHED):
            raise Lost


class UploadWorker:
    """Runs upload jobs in this process; `resume_all` picks up uploads left in progress."""

    def __init__(
        self,
        store: Store,
        files: FileStore,
        settings: Settings,
    ) -> None:
        self.store, self.files = store, files
        self.max_codes = settings.max_codes_per_list
        lease_s, concurrency = settings.upload_lease_s, settings.upload_concurrency
        self.owner = f"{os.getpid()}-{secrets.token_hex(6)}"
        self.lease_ms = int(lease_s * 1000)
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def submit(self, list_id: ListId, upload_id: str) -> None:
        key = f"{list_id.value}/{upload_id}"
        if key not in self._tasks:
            task = asyncio.create_task(self._run(list_id, upload_id), name=f"upload {key}")
            self._tasks[key] = task
            task.add_done_callback(lambda _t: self._tasks.pop(key, None))

    async def _run(self, list_id: ListId, upload_id: str) -> None:
        async with self._slots:
            try:
                await UploadJob(self, list_id, upload_id).run()
            except UNAVAILABLE as exc:
                log.warning(
                    "upload %s paused: store unavailable (%s)", upload_id, type(exc).__name__
                )
            except Exception:
                log.exception("upload %s stopped; it resumes when its lease runs out", upload_id)

    async def resume_all(self) -> None:
        for list_id, upload_id in await self.store.uploads.active():
            self.submit(list_id, upload_id)

    async def drain(self) -> None:
        """Wait until every job this process runs has ended (tests, shutdown)."""
        while self._tasks:
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop: jobs still running stop and give their lease up, so another process resumes
        them at once (a process that dies instead loses its lease when it runs out)."""
        running = list(self._tasks)
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace_s)
        with contextlib.suppress(*UNAVAILABLE):
            for key in running:
                list_part, _, upload_id = key.partition("/")
                await self.store.uploads.release(ListId(list_part), upload_id, self.owner)
