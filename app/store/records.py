"""The issued record: what the `issued` hash holds for a handed-out code.

`lua/allocate.lua` writes it (in Lua, inside the atomic step); this module is the one Python
place that reads it (allocation reads, snapshot restore; a snapshot carries it as it is).
Layout, fields separated by "\\n" (no field can hold one: user ids, campaign ids, sources and
idempotency keys refuse control characters):

    user id, campaign id, issued_at (epoch ms), event id, source, idempotency scope

The event id is "<list id>-<the event's outbox position>" (app/store/ranged.py), so it also
tells the allocation order.
"""

from __future__ import annotations

from dataclasses import dataclass

SEPARATOR = "\n"


@dataclass(frozen=True)
class IssuedRecord:
    user_id: str
    campaign_id: str
    issued_at: int
    event_id: str
    source: str
    scope: str  # "k:<Idempotency-Key>" or "u:<campaign>\n<user>": see lua/allocate.lua

    @property
    def order(self) -> tuple[int, int]:
        """The allocation order: the outbox position at the end of the event id."""
        ms, seq = self.event_id.rsplit("-", 2)[1:]
        return int(ms), int(seq)


def decode(raw: str) -> IssuedRecord:
    # The scope is last and may itself hold a separator ("u:<campaign>\n<user>").
    user, campaign, issued_at, event_id, source, scope = raw.split(SEPARATOR, 5)
    return IssuedRecord(user, campaign, int(issued_at), event_id, source, scope)
