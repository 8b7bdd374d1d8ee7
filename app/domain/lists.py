"""Voucher lists: statuses, the actions each allows, field rules and list ids."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from app.domain.errors import Conflict, ServiceError, validation_error
from app.domain.text import has_control_characters, has_whitespace, slug

TAG_MAX = 64
NAME_MAX = 200
DESCRIPTION_MAX = 2000
MAX_CODES_PER_LIST = 1_000_000


class Status(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    EXPIRED = "expired"
    ARCHIVED = "archived"


class Action(StrEnum):
    PAUSE = "pause"
    ACTIVATE = "activate"
    EDIT = "edit"
    UPLOAD_CODES = "upload_codes"
    ARCHIVE = "archive"
    DELETE = "delete"


# The contract's table. `delete` is added when no campaign is linked (see allowed_actions).
ACTIONS: dict[Status, tuple[Action, ...]] = {
    Status.ACTIVE: (Action.PAUSE, Action.EDIT, Action.UPLOAD_CODES, Action.ARCHIVE),
    Status.PAUSED: (Action.ACTIVATE, Action.EDIT, Action.UPLOAD_CODES, Action.ARCHIVE),
    Status.EXPIRED: (Action.EDIT, Action.ARCHIVE),
    Status.ARCHIVED: (),
}

# Where each status-changing action leads.
TARGET: dict[Action, Status] = {
    Action.PAUSE: Status.PAUSED,
    Action.ACTIVATE: Status.ACTIVE,
    Action.ARCHIVE: Status.ARCHIVED,
}

# Statuses from which a campaign may be linked (archived or expired lists are not linkable).
LINKABLE: tuple[Status, ...] = (Status.ACTIVE, Status.PAUSED)
# Statuses from which a list may be deleted (the link check is separate).
DELETABLE: tuple[Status, ...] = (Status.ACTIVE, Status.PAUSED, Status.EXPIRED)


def effective_status(stored: Status, expires_at_ms: int, now_ms: int) -> Status:
    """`expired` is derived: an active or paused list whose expiry has passed."""
    if stored in (Status.ACTIVE, Status.PAUSED) and now_ms >= expires_at_ms:
        return Status.EXPIRED
    return stored


def allowed_actions(status: Status, linked_campaigns: int) -> list[Action]:
    actions = list(ACTIONS[status])
    if linked_campaigns == 0 and status in DELETABLE:
        actions.append(Action.DELETE)
    return actions


def statuses_allowing(action: Action) -> tuple[Status, ...]:
    return tuple(status for status, actions in ACTIONS.items() if action in actions)


def refusal(action: Action, status: Status, linked_campaigns: int) -> ServiceError:
    """The error for an action the list's current status does not allow."""
    if action is Action.ACTIVATE and status is Status.EXPIRED:
        return Conflict(
            "The list has expired; extend expires_at before activating it.",
            code="list_expired",
            status=status.value,
        )
    return Conflict(
        f"Cannot {action.value} a list that is {status.value}.",
        code="invalid_transition",
        status=status.value,
        allowed_actions=[a.value for a in allowed_actions(status, linked_campaigns)],
    )


def normalise_tag(raw: str) -> str:
    """Tags are stored lowercase; 1..64 characters, no whitespace or control characters."""
    if not 1 <= len(raw) <= TAG_MAX:
        raise validation_error("tag", f"must be 1 to {TAG_MAX} characters")
    if has_whitespace(raw):
        raise validation_error("tag", "must not contain whitespace")
    if has_control_characters(raw):
        raise validation_error("tag", "must not contain control characters")
    return raw.lower()


LIST_ID_PATTERN = r"^[a-z0-9-]{1,24}\.[a-z0-9-]{1,32}\.[0-9a-z]{1,13}$"
_LIST_ID = re.compile(LIST_ID_PATTERN)
_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"


def _base36(number: int) -> str:
    out = ""
    while True:
        number, rest = divmod(number, 36)
        out = _DIGITS[rest] + out
        if number == 0:
            return out


def partner_slot(partner: str) -> str:
    """The hash tag a partner's record and claims share, and the first part of its lists' ids
    (partners whose names slug alike share a slot, nothing else)."""
    return slug(partner, 24, "p")


@dataclass(frozen=True)
class ListId:
    """`<partner slug>.<tag slug>.<sequence in base 36>`: URL-safe, never reused because the
    sequence comes from a counter that only grows."""

    value: str

    @classmethod
    def generate(cls, partner: str, tag: str, sequence: int) -> ListId:
        return cls(f"{partner_slot(partner)}.{slug(tag, 32, 't')}.{_base36(sequence)}")

    @classmethod
    def parse(cls, value: str) -> ListId | None:
        return cls(value) if _LIST_ID.match(value) else None


@dataclass(frozen=True)
class VoucherList:
    id: str
    partner: str
    tag: str
    name: str
    description: str
    expires_at: int  # epoch ms
    stored_status: Status  # active, paused or archived; `expired` is derived
    created_at: int
    updated_at: int
    codes_uploaded: int
    codes_distributed: int
    linked_campaigns: int
    low_stock_threshold: int | None
    read_at: int  # the store's clock (epoch ms) when this was read: the status is as of then

    @property
    def status(self) -> Status:
        return effective_status(self.stored_status, self.expires_at, self.read_at)

    @property
    def codes_available(self) -> int:
        return self.codes_uploaded - self.codes_distributed
