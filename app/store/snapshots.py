"""Snapshots: the whole state written to one file, and read back into an empty store.

File format (version 2), UTF-8 JSON lines:
- line 1: {"format": "partner-vouchers-snapshot", "version": 2, "created_at": ms, "prefix"}
- then records, each {"type": ..., ...}: "sequence", "partner", "list" (metadata and links),
  "avail" and "issued" (a list's codes, in chunks), "outbox" (events not yet relayed),
  "upload" (an upload's record and progress), "events" with "entries" (the retained event
  stream, in chunks of [position, event id, event JSON]), then "events" with "last_id",
  then (version 3) "webhooks" (the delivery engine's cursor and sequence), "webhook" (an
  endpoint's fields, each JSON, its secrets included) and "deliveries" (an endpoint's
  delivery records, in chunks; a delivery still to send carries its event as `event`)
- last line: {"type": "end", "sha256": <hex of every byte before this line>, "lists",
  "codes"}
Versions 1 (no event entries) and 2 (no webhooks) are read too. What can be derived is not
stored, and restore rebuilds it: the (partner, tag) claims, each partner's list count, dedupe
(avail + issued of a non-archived list), the idempotency, by-user and link indexes, the
allocation log (from the issued records), the list counters, the webhook delivery indexes.

Each list is read consistently without stalling anyone: a fence holds its uploads back (they
wait and retry), its available codes and issued records are scanned in small steps while
allocations go on, then one atomic read takes the cut (metadata, last log and outbox ids).
Codes allocated during the scan are exactly the log entries between the first and the cut,
so every code ends up either available or issued, never both. Every read is a step whose cost
is bounded (a scan step, a page of a range), never a whole key at once.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, cast

import orjson

from app.domain.events import json_lines
from app.domain.lists import ListId
from app.store import ranged, records
from app.store.allocations import user_fields
from app.store.connection import Client
from app.store.events import EventStore, entries_of, events_of
from app.store.keys import Keys, ListKeys, claim_field
from app.store.scripts import Scripts
from app.store.uploads import read_bitmap

FORMAT = "partner-vouchers-snapshot"
VERSION = 3
READABLE = (1, 2, 3)  # versions this one restores
CHUNK = 1000  # members per batched command: restore writes, HMGETs of the cut, UNLINKs of clear()
# Members per SSCAN/HSCAN step: 1,000 cost Redis about 0.5 ms a step, 250 about 0.13 ms, and
# an allocation may wait behind one step.
SCAN_COUNT = 250
LISTS_STEP = 100  # list ids per ZSCAN step: their cuts go in one round trip
# After each step the scan rests PAUSE_RATIO times as long as the step took, so a snapshot
# takes at most about half of Redis's time and allocations keep the rest.
PAUSE_RATIO = 1.0
# Event stream entries per XRANGE: an entry holds up to a batch's events (about 100, some
# 30 KB), so a step's reply stays a few MB.
EVENT_ROWS = 100
LINE_CODES = 10_000  # codes per "avail"/"issued" line
FENCE_MS = 120_000  # a crashed snapshot's fence lapses by itself
PIPELINED = 10  # restore writes sent per round trip


class SnapshotError(Exception):
    """A file that is not a snapshot this version can read, or a damaged one."""


@dataclass
class Counts:
    lists: int = 0
    codes: int = 0


@dataclass
class _ListCut:
    meta: dict[str, str]
    links: dict[str, str]
    avail: set[str]  # may still hold codes issued during the scan: skip those in `issued`
    issued: dict[str, str]
    outbox: list[tuple[str, str]]
    uploads: list[dict[str, Any]] = field(default_factory=list)


class _Out:
    """Writes lines and hashes them."""

    def __init__(self, out: IO[bytes]) -> None:
        self.out, self.hash, self.lines = out, hashlib.sha256(), 0

    def write(self, record: dict[str, Any]) -> None:
        line = orjson.dumps(record) + b"\n"
        self.out.write(line)
        self.hash.update(line)
        self.lines += 1


async def _paced(step: Callable[[int], Awaitable[tuple[int, Any]]]) -> AsyncIterator[Any]:
    """The items of a SCAN-family command, step by step, resting between steps as long as
    each step took (not counting what the caller does with the items)."""
    cursor = 0
    while True:
        started = time.perf_counter()
        cursor, items = await step(cursor)
        took = time.perf_counter() - started
        yield items
        if cursor == 0:
            return
        await asyncio.sleep(took * PAUSE_RATIO)


def _pairs(flat: list[str]) -> dict[str, str]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _cut_keys(k: ListKeys) -> list[str]:
    return [k.meta, k.log, k.outbox, k.avail, k.issued, k.links, k.uploads]


async def _write_cut(w: _Out, list_id: str, cut: _ListCut, counts: Counts) -> None:
    counts.lists += 1
    counts.codes += len(cut.issued)
    w.write({"type": "list", "id": list_id, "meta": cut.meta, "links": cut.links})
    codes = iter(cut.avail)
    while part := [c for c in itertools.islice(codes, LINE_CODES) if c not in cut.issued]:
        counts.codes += len(part)
        w.write({"type": "avail", "id": list_id, "codes": part})
        await asyncio.sleep(0)  # a line at a time: allocations run in between
    for part in _chunks(list(cut.issued.items()), LINE_CODES):
        w.write({"type": "issued", "id": list_id, "records": part})
        await asyncio.sleep(0)
    if cut.outbox:
        w.write({"type": "outbox", "id": list_id, "entries": cut.outbox})
    for upload in cut.uploads:
        w.write({"type": "upload", "id": list_id, **upload})


def _outbox_entry(entry_id: str, header: str, joined: str) -> tuple[str, str]:
    """An outbox entry as the file holds it: its events as JSON lines."""
    return entry_id, "\n".join(json_lines(header, joined))


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SnapshotStore:
    def __init__(self, redis: Client, keys: Keys, scripts: Scripts, events: EventStore) -> None:
        self._redis, self._keys, self._scripts, self._events = redis, keys, scripts, events

    # --- writing -----------------------------------------------------------------------------

    async def write(self, out: IO[bytes], now: int) -> Counts:
        w = _Out(out)
        w.write(
            {"format": FORMAT, "version": VERSION, "created_at": now, "prefix": self._keys.prefix}
        )
        r = self._redis
        w.write({"type": "sequence", "lists": int(await r.get(self._keys.list_sequence) or 0)})
        async for names in self._ranked(self._keys.partners):
            async with r.pipeline(transaction=False) as pipe:
                for name in names:
                    pipe.hget(self._keys.partner(name), "created_at")
                created: list[str | None] = await pipe.execute()
            for name, at in zip(names, created, strict=True):
                if at is not None:
                    w.write({"type": "partner", "name": name, "created_at": int(at)})
        counts = Counts()
        async for list_ids in self._list_ids():
            for list_id, cut in await self._cuts(list_ids):
                await _write_cut(w, list_id, cut, counts)
        # The event stream last: an event relayed while the lists were read is then in the
        # stream, in its list's outbox, or both (a copy with the same id), never in neither.
        last_id = None
        async for rows in self._stream(self._keys.events, "+", count=EVENT_ROWS):
            found = events_of(rows)  # an entry per event: the file says what each one is
            for part in _chunks(found, CHUNK):
                w.write(
                    {
                        "type": "events",
                        "entries": [[p, e.fields["id"], e.fields["e"]] for p, e in part],
                    }
                )
            last_id = found[-1][0]
        w.write({"type": "events", "last_id": last_id or await self._events.last_position()})
        await self._write_webhooks(w)
        end = {
            "type": "end",
            "sha256": w.hash.hexdigest(),
            "lists": counts.lists,
            "codes": counts.codes,
        }
        out.write(orjson.dumps(end) + b"\n")
        return counts

    async def _write_webhooks(self, w: _Out) -> None:
        """The engine's cursor first, then the deliveries: a delivery made in between is in
        the file and made again after a restore (at least once), never in neither."""
        state = cast(dict[str, str], await self._redis.hgetall(self._keys.webhook_state))
        if not state:
            return  # no endpoint was ever made
        w.write({"type": "webhooks", "cursor": state.get("cursor", ""), "seq": state.get("seq")})
        async for ids in self._ranked(self._keys.webhooks):
            for endpoint_id in ids:
                k = self._keys.webhook(endpoint_id)
                fields = cast(dict[str, str], await self._redis.hgetall(k.endpoint))
                if not fields:
                    continue
                w.write({"type": "webhook", "id": endpoint_id, "fields": fields})
                seen: set[str] = set()

                def scan(cursor: int, key: str = k.deliveries) -> Awaitable[tuple[int, Any]]:
                    return self._redis.hscan(key, cursor, count=SCAN_COUNT)

                async for rows in _paced(scan):
                    fresh = {i: r for i, r in rows.items() if i not in seen}
                    seen.update(rows)
                    if fresh:
                        records = await self._with_events(k.bodies, fresh)
                        w.write({"type": "deliveries", "id": endpoint_id, "records": records})

    async def _with_events(self, bodies: str, records: dict[str, str]) -> list[str]:
        """Delivery records as the file holds them: each with the event it still has to send
        (`event`), as one record."""
        events = cast(list[str | None], await self._redis.hmget(bodies, list(records)))
        out = []
        for raw, event in zip(records.values(), events, strict=True):
            if event is None:
                out.append(raw)
            else:
                out.append(orjson.dumps({**orjson.loads(raw), "event": event}).decode())
        return out

    async def _ranked(self, key: str) -> AsyncIterator[list[str]]:
        """A sorted set's members in order, CHUNK at a time (by rank: each step costs its size)."""
        start = 0
        while members := cast(list[str], await self._redis.zrange(key, start, start + CHUNK - 1)):
            yield members
            start += len(members)

    async def _list_ids(self) -> AsyncIterator[list[str]]:
        """Every list id once, a step at a time. ZSCAN, because edits reorder the index while
        a snapshot runs: it returns every entry present throughout (some twice, skipped)."""
        seen: set[str] = set()
        async for rows in _paced(
            lambda c: self._redis.zscan(self._keys.lists, c, count=LISTS_STEP)
        ):
            fresh = [list_id for list_id, _ in rows if list_id not in seen]
            seen.update(fresh)
            yield fresh

    async def _cuts(self, list_ids: list[str]) -> list[tuple[str, _ListCut]]:
        """The lists' cuts: one round trip for the small ones (most lists), each read whole
        in one atomic step; a larger one is read in steps (`_cut`)."""
        replies = await self._scripts.run_many(
            [("cut_list", _cut_keys(self._keys.list(ListId(i))), [SCAN_COUNT]) for i in list_ids]
        )
        cuts: list[tuple[str, _ListCut]] = []
        for list_id, reply in zip(list_ids, replies, strict=True):
            k = self._keys.list(ListId(list_id))
            cut: _ListCut | None = None
            if len(reply) == 4 and reply[0]:  # too large to read at once
                cut = await self._cut(k)
            elif reply[0]:  # (no meta: deleted since it was listed)
                meta, _, _, uploads, avail, issued, links, outbox = reply
                cut = _ListCut(_pairs(meta), _pairs(links), set(avail), _pairs(issued), [])
                cut.outbox = [
                    _outbox_entry(entry_id, header, joined)
                    for entry_id, header, joined in zip(
                        outbox[::3], outbox[1::3], outbox[2::3], strict=True
                    )
                ]
                cut.uploads = await self._uploads(k) if int(uploads) else []
            if cut is not None:
                cuts.append((list_id, cut))
        return cuts

    async def _stream(
        self, key: str, last: str, first: str | None = None, count: int = CHUNK
    ) -> AsyncIterator[list[tuple[str, dict[str, str]]]]:
        """A stream's entries after `first` (from the start without one) up to `last`, `count`
        at a time."""
        start = "-" if first is None else f"({first}"
        while rows := cast(
            list[tuple[str, dict[str, str]]],
            await self._redis.xrange(key, start, last, count=count),
        ):
            yield rows
            start = f"({rows[-1][0]}"

    async def _cut(self, k: ListKeys) -> _ListCut | None:
        """A list too large to read at once: a fence holds its uploads back, its codes are
        scanned in paced steps while allocations go on, then the cut is taken."""
        r = self._redis
        await r.set(k.fence, "snapshot", px=FENCE_MS)
        try:
            first = cast(list[tuple[str, Any]], await r.xrevrange(k.log, count=1))
            avail: set[str] = set()
            async for codes in _paced(lambda c: r.sscan(k.avail, c, count=SCAN_COUNT)):
                avail.update(codes)
            issued: dict[str, str] = {}
            async for records in _paced(lambda c: r.hscan(k.issued, c, count=SCAN_COUNT)):
                issued.update(records)
            links: dict[str, str] = {}  # not changed by allocations: read beside the cut
            async for found in _paced(lambda c: r.hscan(k.links, c, count=SCAN_COUNT)):
                links.update(found)
            meta_flat, last_log, last_outbox, _ = await self._scripts.run(
                "cut_list", _cut_keys(k), [0]
            )
            if not meta_flat:
                return None
            if last_log:
                async for rows in self._stream(k.log, last_log, first[0][0] if first else None):
                    logged = [code for _, code in ranged.values(rows, "c")]
                    await self._add_issued(k, logged, issued)
            outbox = []
            if last_outbox:
                async for rows in self._stream(k.outbox, last_outbox, count=EVENT_ROWS):
                    outbox += [
                        _outbox_entry(entry_id, fields.get("h", ""), fields["e"])
                        for entry_id, fields in rows
                    ]
            return _ListCut(
                meta=_pairs(meta_flat),
                links=links,
                avail=avail,
                issued=issued,
                outbox=outbox,
                uploads=await self._uploads(k),
            )
        finally:
            await r.delete(k.fence)

    async def _add_issued(self, k: ListKeys, logged: list[str], issued: dict[str, str]) -> None:
        """Codes allocated while the scan ran (log entries between its start and the cut)."""
        missing = [code for code in logged if code not in issued]
        if missing:
            records = cast(list[str | None], await self._redis.hmget(k.issued, missing))
            issued.update({c: rec for c, rec in zip(missing, records, strict=True) if rec})

    async def _uploads(self, k: ListKeys) -> list[dict[str, Any]]:
        found = []
        async for upload_ids in self._ranked(k.uploads):
            for upload_id in upload_ids:
                record = cast(dict[str, str], await self._redis.hgetall(k.upload(upload_id)))
                if not record:
                    continue
                dups: list[str] = []
                key = k.upload_duplicates(upload_id)
                while part := cast(
                    list[str], await self._redis.lrange(key, len(dups), len(dups) + CHUNK - 1)
                ):
                    dups += part
                bitmap = await read_bitmap(self._redis, k.upload_batches(upload_id))
                found.append(
                    {
                        "upload_id": upload_id,
                        "record": record,
                        "duplicates": dups,
                        "batches": bitmap.hex(),
                    }
                )
        return found


# --- reading ---------------------------------------------------------------------------------


def read_verified(source: Path) -> Iterator[dict[str, Any]]:
    """The records of a snapshot file whose format, version and checksum are right; raises
    SnapshotError before yielding anything otherwise."""
    digest = hashlib.sha256()
    header: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    with source.open("rb") as f:
        for line in f:
            if end is not None:
                raise SnapshotError("data after the end record")
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise SnapshotError("a line is not JSON: the file is damaged") from None
            if header is None:
                header = record
                if record.get("format") != FORMAT:
                    raise SnapshotError("not a Partner Vouchers snapshot")
                if record.get("version") not in READABLE:
                    raise SnapshotError(
                        f"snapshot version {record.get('version')} is not one this version "
                        f"reads ({', '.join(map(str, READABLE))})"
                    )
            elif record.get("type") == "end":
                end = record
                continue
            digest.update(line)
    if header is None or end is None:
        raise SnapshotError("the file is cut short: no end record")
    if end.get("sha256") != digest.hexdigest():
        raise SnapshotError("checksum mismatch: the file is damaged")
    with source.open("rb") as f:
        for line in f:
            record = orjson.loads(line)
            if record.get("type") not in (None, "end"):
                yield record


@dataclass
class _ListState:
    id: ListId
    meta: dict[str, str]
    links: dict[str, str]
    avail: list[str] = field(default_factory=list)
    issued: list[tuple[str, str]] = field(default_factory=list)
    outbox: list[tuple[str, str]] = field(default_factory=list)
    uploads: list[dict[str, Any]] = field(default_factory=list)

    @property
    def archived(self) -> bool:
        return self.meta["status"] == "archived"


class SnapshotLoader:
    """Writes a verified snapshot into an empty store, rebuilding what was derived."""

    def __init__(self, redis: Client, keys: Keys, events: EventStore) -> None:
        self._redis, self._keys, self._events = redis, keys, events

    async def is_empty(self) -> bool:
        async for _ in self._redis.scan_iter(match=f"{self._keys.prefix}:*", count=1000):
            return False
        return True

    async def clear(self) -> None:
        batch: list[str] = []
        async for key in self._redis.scan_iter(match=f"{self._keys.prefix}:*", count=1000):
            batch.append(key)
            if len(batch) >= CHUNK:
                await self._redis.unlink(*batch)
                batch = []
        if batch:
            await self._redis.unlink(*batch)

    async def load(self, records: Iterator[dict[str, Any]]) -> Counts:
        counts = Counts()
        partner_lists: dict[str, int] = {}
        current: _ListState | None = None
        for record in records:
            kind = record["type"]
            if kind != "list" and kind not in ("avail", "issued", "outbox", "upload") and current:
                await self._write_list(current, partner_lists, counts)
                current = None
            if kind == "sequence":
                await self._redis.set(self._keys.list_sequence, record["lists"])
            elif kind == "partner":
                partner_lists.setdefault(record["name"], 0)
                await self._redis.zadd(self._keys.partners, {record["name"]: 0})
                await self._redis.hset(
                    self._keys.partner(record["name"]),
                    mapping={"created_at": record["created_at"], "lists": 0},
                )
            elif kind == "list":
                if current is not None:
                    await self._write_list(current, partner_lists, counts)
                current = _ListState(ListId(record["id"]), record["meta"], record["links"])
            elif kind == "avail" and current is not None:
                current.avail += record["codes"]
            elif kind == "issued" and current is not None:
                current.issued += [(c, r) for c, r in record["records"]]
            elif kind == "outbox" and current is not None:
                current.outbox += [(i, e) for i, e in record["entries"]]
            elif kind == "upload" and current is not None:
                current.uploads.append(record)
            elif kind == "events" and "entries" in record:
                entries = entries_of(record["entries"])
                async with self._redis.pipeline(transaction=False) as pipe:
                    for position, fields in entries:
                        pipe.xadd(self._keys.events, cast(Any, fields), id=position)
                    pipe.hincrby(self._keys.events_meta, "count", len(record["entries"]))
                    pipe.hset(self._keys.events_meta, "last", record["entries"][-1][0])
                    await pipe.execute()
            elif kind == "events" and record["last_id"]:
                await self._keep_positions_growing(record["last_id"])
            elif kind in ("webhooks", "webhook", "deliveries"):
                await self._load_webhooks(record)
        if current is not None:
            await self._write_list(current, partner_lists, counts)
        for partner, lists in partner_lists.items():
            await self._redis.hset(self._keys.partner(partner), "lists", lists)
        return counts

    async def _load_webhooks(self, record: dict[str, Any]) -> None:
        r = self._redis
        if record["type"] == "webhooks":
            if record["cursor"]:
                await r.hset(self._keys.webhook_state, "cursor", record["cursor"])
            if record["seq"] is not None:
                await r.hset(self._keys.webhook_state, "seq", record["seq"])
            # a delivery process still holding the endpoints it knew reads them again
            await r.hincrby(self._keys.webhook_state, "version", 1)
        elif record["type"] == "webhook":
            k = self._keys.webhook(record["id"])
            await r.hset(k.endpoint, mapping=record["fields"])
            await r.zadd(self._keys.webhooks, {record["id"]: int(record["fields"]["created_at"])})
        else:
            k = self._keys.webhook(record["id"])
            async with r.pipeline(transaction=False) as pipe:
                for raw in record["records"]:
                    delivery = orjson.loads(raw)
                    delivery.pop("token", None)  # an attempt in flight is tried again
                    did, seq = delivery["id"], delivery["seq"]
                    if (event := delivery.pop("event", None)) is not None:
                        delivery.setdefault("event_at", orjson.loads(event)["timestamp"])
                        if delivery["status"] != "delivered":
                            pipe.hset(k.bodies, did, event)
                    pipe.hset(k.deliveries, did, orjson.dumps(delivery).decode())
                    pipe.zadd(k.log, {did: seq})
                    pipe.zadd(k.by_status(delivery["status"]), {did: seq})
                    if delivery["status"] == "pending":
                        pipe.zadd(k.due, {did: delivery["next_attempt_at"]})
                await pipe.execute()

    async def _keep_positions_growing(self, last_id: str) -> None:
        """New events must come after every position a consumer may hold as a cursor: when the
        stream ends before `last_id` (events trimmed, or a version 1 file), move it there."""
        last = await self._events.last_position()
        if last and ranged.parse(last) >= ranged.parse(last_id):
            return
        await self._redis.hset(self._keys.events_meta, "last", last_id)

    async def _write_list(
        self, s: _ListState, partner_lists: dict[str, int], counts: Counts
    ) -> None:
        r, k = self._redis, self._keys.list(s.id)
        counts.lists += 1
        counts.codes += len(s.avail) + len(s.issued)
        reserved = sum(
            int(u["record"].get("reserved", 0))
            for u in s.uploads
            if u["record"].get("status") == "in_progress"
        )
        # The log is written again below, an entry per code, and its last position set then.
        # The outbox is written as it was, and the meta was read in the same atomic step as
        # it, so its outbox_last (absent before ranges, when every entry held one event) holds.
        meta: dict[Any, Any] = {
            **{f: v for f, v in s.meta.items() if f != "log_last"},
            "codes_uploaded": len(s.avail) + len(s.issued),
            "codes_distributed": len(s.issued),
            "linked_campaigns": len(s.links),
        }
        if reserved or "reserved" in s.meta:  # the field appears with a list's first upload
            meta["reserved"] = reserved
        await r.hset(k.meta, mapping=meta)
        for links in _chunks(list(s.links.items()), CHUNK):
            await r.hset(k.links, mapping=dict(links))
            await r.zadd(k.link_index, dict.fromkeys((cid for cid, _ in links), 0))
        await r.zadd(self._keys.lists, {s.id.value: int(s.meta["updated_at"])})
        if not s.archived:
            partner, tag = s.meta["partner"], s.meta["tag"]
            await r.hset(self._keys.claims(partner), claim_field(partner, tag), s.id.value)
            partner_lists[partner] = partner_lists.get(partner, 0) + 1
        for group in _chunks(s.avail, CHUNK * PIPELINED):
            async with r.pipeline(transaction=False) as pipe:
                for part in _chunks(group, CHUNK):
                    pipe.sadd(k.avail, *part)
                    if not s.archived:
                        pipe.sadd(k.dedupe, *part)
                await pipe.execute()
        decoded = [(code, raw, records.decode(raw)) for code, raw in s.issued]
        decoded.sort(key=lambda item: item[2].order)
        users: dict[str, list[str]] = {}
        log_last: str | None = None
        for part in _chunks(decoded, CHUNK):
            idem = {}
            for code, _, rec in part:
                # a user's first code taken without a key has no idem entry (see allocate.lua)
                if not rec.scope.startswith("u:") or rec.user_id in users:
                    idem[rec.scope] = code
                users.setdefault(rec.user_id, []).append(code)
            async with r.pipeline(transaction=False) as pipe:
                pipe.hset(k.issued, mapping={code: raw for code, raw, _ in part})
                if idem:
                    pipe.hset(k.idem, mapping=idem)
                if not s.archived:
                    pipe.sadd(k.dedupe, *(code for code, _, _ in part))
                for code, _, _ in part:
                    pipe.xadd(k.log, {"c": code})
                log_last = (await pipe.execute())[-1]
        if log_last is not None:
            await r.hset(k.meta, "log_last", log_last)
        by_user: dict[str, str | int] = {
            field: code
            for user, codes in users.items()
            for field, code in zip(user_fields(user, 0, len(codes)), codes, strict=True)
        }
        by_user |= {f"{user}\n#": len(codes) - 1 for user, codes in users.items() if len(codes) > 1}
        for part in _chunks(list(by_user.items()), CHUNK):
            await r.hset(k.by_user, mapping=dict(part))
        for entry_id, blob in s.outbox:
            await r.xadd(k.outbox, {"e": blob}, id=entry_id)
        if s.outbox:
            await r.sadd(self._keys.dirty_outboxes, s.id.value)
        for u in s.uploads:
            upload_id, record = u["upload_id"], u["record"]
            await r.hset(k.upload(upload_id), mapping=cast(dict[Any, Any], record))
            await r.zadd(k.uploads, {upload_id: int(record["created_at"])})
            if u["duplicates"]:
                await r.rpush(k.upload_duplicates(upload_id), *u["duplicates"])
            if u["batches"]:
                await r.set(k.upload_batches(upload_id), bytes.fromhex(u["batches"]))
            if record.get("status") == "in_progress":
                await r.sadd(self._keys.active_uploads, f"{s.id.value}/{upload_id}")
