"""The one place key names are built.

Every key of one partner shares the hash tag `{<partner slot>}`, so each Lua script (which may
touch a partner record, its (partner, tag) claims and one list's keys) runs on one Redis Cluster
slot. A list id `acme.summer.1z` maps to keys `pv:{acme}.summer.1z:<suffix>`: the familiar
`pv:{L}:<suffix>` layout with the braces narrowed to the partner part of the id.

Global keys (each on its own slot): the partner registry, the list index, the list sequence and
the set of uploads in progress.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.domain.lists import ListId, partner_slot


@dataclass(frozen=True)
class ListKeys:
    base: str
    meta: str  # hash: fields of the list and its counters
    avail: str  # set: unissued codes
    dedupe: str  # set: every code uploaded while the list is not archived
    issued: str  # hash: code -> allocation record
    idem: str  # hash: idempotency scope -> code
    links: str  # hash: campaign id -> linked_at ms
    outbox: str  # stream: events written with the change that caused them
    uploads: str  # zset: upload id scored by created_at ms
    log: str  # stream: field c = code, one entry per allocation, in order
    users: str  # hash: user id -> the codes issued to them, "\n"-separated
    fence: str  # string with a time to live: a snapshot is reading the list's codes

    def fixed(self) -> tuple[str, ...]:
        """Every key of the list but its upload records (one per upload, see `upload`)."""
        return (
            self.meta,
            self.avail,
            self.dedupe,
            self.issued,
            self.idem,
            self.links,
            self.outbox,
            self.uploads,
            self.log,
            self.users,
        )

    def upload(self, upload_id: str) -> str:
        """Hash: one upload's record and its committed progress."""
        return f"{self.base}:upload:{upload_id}"

    def upload_duplicates(self, upload_id: str) -> str:
        """List: indexes (among the upload's candidates) of its duplicate_code rows, kept
        until the error file is written."""
        return f"{self.base}:upload:{upload_id}:dups"

    def upload_batches(self, upload_id: str) -> str:
        """String bitmap: bit i set once the upload's batch i is committed."""
        return f"{self.base}:upload:{upload_id}:batches"

    def upload_keys(self, upload_id: str) -> tuple[str, str, str]:
        return (
            self.upload(upload_id),
            self.upload_duplicates(upload_id),
            self.upload_batches(upload_id),
        )


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.partners = f"{prefix}:partners"  # zset, score 0: partner names in byte order
        self.lists = f"{prefix}:lists"  # zset: list id scored by updated_at ms
        self.list_sequence = f"{prefix}:seq:lists"  # counter behind list ids
        self.active_uploads = f"{prefix}:uploads:active"  # set: "<list id>/<upload id>"
        self.events = f"{prefix}:events"  # stream: every list's events, fed by the relay
        self.dirty_outboxes = f"{prefix}:events:dirty"  # set: list ids with events to relay
        self.relay_lock = f"{prefix}:events:relay"  # string: the relaying process's token
        self.snapshot_lock = f"{prefix}:snapshots:lock"  # string: who writes scheduled ones

    def partner(self, name: str) -> str:
        """Hash: created_at, lists (non-archived list count)."""
        return f"{self.prefix}:{{{partner_slot(name)}}}:partner:{name}"

    def claims(self, partner: str) -> str:
        """Hash: `<partner>\\n<tag>` -> id of the one non-archived list holding that tag."""
        return f"{self.prefix}:{{{partner_slot(partner)}}}:claims"

    def list(self, list_id: ListId) -> ListKeys:
        base = f"{self.prefix}:{{{list_id.slot}}}.{list_id.rest}"
        return ListKeys(
            base=base,
            meta=f"{base}:meta",
            avail=f"{base}:avail",
            dedupe=f"{base}:dedupe",
            issued=f"{base}:issued",
            idem=f"{base}:idem",
            links=f"{base}:links",
            outbox=f"{base}:outbox",
            uploads=f"{base}:uploads",
            log=f"{base}:log",
            users=f"{base}:users",
            fence=f"{base}:fence",
        )


def claim_field(partner: str, tag: str) -> str:
    return f"{partner}\n{tag}"
