"""The one place key names are built.

Every key of one list shares the hash tag `{<list id>}` (`pv:{acme.summer.1z}:meta`), so each
script on a list runs on one Redis Cluster slot, and one partner's lists spread over the
cluster's masters. A partner's record and its (partner, tag) claims share the hash tag
`{<partner slug>}`. Creating, archiving and deleting a list touch both slots, in steps that a
crash between them leaves safe (app/store/claims.py).

Global keys: the partner registry, the list index, the list sequence, the set of uploads in
progress, the lists whose upload records are being unlinked after a delete, and the event
stream with its relay lease. The stream and the lease share the hash tag `{events}`, so the
script that appends to the stream checks the lease in the same atomic step (a relay that
lost its lease cannot append), also on a Redis Cluster. The webhook endpoints and their
deliveries all share the hash tag `{webhooks}`: every webhook step is one script on one slot.
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
    idem: str  # hash: scope -> code, but a user's first code without a key (see allocate.lua)
    links: str  # hash: campaign id -> linked_at ms
    link_index: str  # zset, score 0: the linked campaign ids in byte order (for paging)
    outbox: str  # ranged stream (app/store/ranged.py): a batch's events per entry
    uploads: str  # zset: upload id scored by created_at ms
    log: str  # ranged stream: field c = a batch's codes, in allocation order
    by_user: str  # hash: user -> first code, "<user>\n#" -> more, "<user>\n<i>" -> (i+1)th
    fence: str  # string with a time to live: a snapshot is reading the list's codes
    abandoned: str  # string: the list's claim was settled without it; it is never created
    relayed: str  # string: the last outbox entry the relay read (with replica acks only)

    def fixed(self) -> tuple[str, ...]:
        """Every key of the list but its uploads (their index and one record per upload,
        see `upload`)."""
        return (
            self.meta,
            self.avail,
            self.dedupe,
            self.issued,
            self.idem,
            self.links,
            self.link_index,
            self.outbox,
            self.log,
            self.by_user,
            self.fence,
            self.relayed,
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


@dataclass(frozen=True)
class WebhookKeys:
    """One endpoint's keys: all on the hash tag `{webhooks}`, like every webhook key."""

    endpoint: str  # hash: the endpoint's fields, each value JSON
    deliveries: str  # hash: delivery id -> delivery record (JSON, without the event)
    due: str  # zset: pending delivery ids scored by next attempt ms (or claim end)
    log: str  # zset: every kept delivery id scored by its sequence number
    pending: str  # zset: pending delivery ids by sequence number
    delivered: str  # zset: delivered ones, by sequence number
    failed: str  # zset: failed ones, by sequence number
    bodies: str  # hash: delivery id -> the event JSON, while it may still be sent

    def deliveries_keys(self) -> tuple[str, ...]:
        return (
            self.deliveries,
            self.due,
            self.log,
            self.pending,
            self.delivered,
            self.failed,
            self.bodies,
        )

    def by_status(self, status: str | None) -> str:
        return {"pending": self.pending, "delivered": self.delivered, "failed": self.failed}.get(
            status or "", self.log
        )


class Keys:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.partners = f"{prefix}:partners"  # zset, score 0: partner names in byte order
        self.lists = f"{prefix}:lists"  # zset: list id scored by updated_at ms
        self.list_sequence = f"{prefix}:seq:lists"  # counter behind list ids
        self.active_uploads = f"{prefix}:uploads:active"  # set: "<list id>/<upload id>"
        self.purging = f"{prefix}:lists:purging"  # zset: lists being deleted, by when (ms)
        # zset: claims in the middle of create, archive or delete, by deadline (ms)
        self.unsettled = f"{prefix}:claims:unsettled"
        self.events = f"{prefix}:{{events}}:stream"  # ranged stream: every list's events
        self.events_meta = f"{prefix}:{{events}}:meta"  # hash: the stream's last position, count
        self.relay_lock = f"{prefix}:{{events}}:relay"  # string: the relay's lease token
        self.dirty_outboxes = f"{prefix}:events:dirty"  # set: list ids with events to relay
        self.snapshot_lock = f"{prefix}:snapshots:lock"  # string: who writes scheduled ones
        self.cursor_secret = f"{prefix}:secret:cursors"  # string: signs paging cursors
        # zset: webhook endpoint ids by created_at; hash: the delivery engine's cursor, seq and
        # endpoints' version
        self.webhooks = f"{prefix}:{{webhooks}}:endpoints"
        self.webhook_state = f"{prefix}:{{webhooks}}:state"
        self.webhook_stats = f"{prefix}:{{webhooks}}:stats"  # hash: the engine's counters

    def webhook(self, endpoint_id: str) -> WebhookKeys:
        base = f"{self.prefix}:{{webhooks}}:{endpoint_id}"
        return WebhookKeys(
            endpoint=base,
            deliveries=f"{base}:deliveries",
            due=f"{base}:due",
            log=f"{base}:log",
            pending=f"{base}:pending",
            delivered=f"{base}:delivered",
            failed=f"{base}:failed",
            bodies=f"{base}:bodies",
        )

    def partner(self, name: str) -> str:
        """Hash: created_at, lists (non-archived list count)."""
        return f"{self.prefix}:{{{partner_slot(name)}}}:partner:{name}"

    def claims(self, partner: str) -> str:
        """Hash: `<partner>\\n<tag>` -> id of the one non-archived list holding that tag."""
        return f"{self.prefix}:{{{partner_slot(partner)}}}:claims"

    def list(self, list_id: ListId) -> ListKeys:
        base = f"{self.prefix}:{{{list_id.value}}}"
        return ListKeys(
            base=base,
            meta=f"{base}:meta",
            avail=f"{base}:avail",
            dedupe=f"{base}:dedupe",
            issued=f"{base}:issued",
            idem=f"{base}:idem",
            links=f"{base}:links",
            link_index=f"{base}:link-index",
            outbox=f"{base}:outbox",
            uploads=f"{base}:uploads",
            log=f"{base}:log",
            by_user=f"{base}:by-user",
            fence=f"{base}:fence",
            abandoned=f"{base}:abandoned",
            relayed=f"{base}:relayed",
        )


def claim_field(partner: str, tag: str) -> str:
    return f"{partner}\n{tag}"
