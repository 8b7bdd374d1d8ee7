"""The one place a store refusal (a script's outcome code) becomes the error a client sees."""

from __future__ import annotations

import logging
from collections.abc import Callable

from app.domain.errors import (
    Conflict,
    NotFound,
    ServiceError,
    StoreUnavailable,
    Unprocessable,
    validation_error,
)
from app.domain.lists import Action, Status, refusal
from app.domain.webhooks import MAX_ENDPOINTS
from app.store.scripts import Code, Refused

log = logging.getLogger("vouchers.api")

# Words a refusal by status (STATUS_REFUSED), whose meaning depends on what was asked.
StatusRefusal = Callable[[Status, int], ServiceError]


def for_action(action: Action) -> StatusRefusal:
    return lambda status, linked: refusal(action, status, linked)


def not_linkable(status: Status, _linked: int) -> ServiceError:
    return Conflict(
        f"A list that is {status.value} cannot be linked to a campaign.",
        code="list_not_linkable",
        status=status.value,
    )


def not_uploadable(status: Status, _linked: int) -> ServiceError:
    return Conflict(
        f"Codes cannot be uploaded to a list that is {status.value}.",
        code="list_not_uploadable",
        status=status.value,
    )


def _linked(payload: list[str]) -> ServiceError:
    count, shown = int(payload[0]), payload[1:]
    return Conflict(
        f"The list is linked to {count} campaign(s); unlink them first.",
        code="list_linked",
        campaign_ids=shown,
        linked_campaigns=count,
    )


_ERRORS: dict[Code, Callable[[list[str]], ServiceError]] = {
    Code.PARTNER_NOT_FOUND: lambda _: Unprocessable(
        "The partner does not exist; create it first.", code="partner_not_found"
    ),
    Code.PARTNER_EXISTS: lambda _: Conflict(
        "A partner with this name exists.", code="partner_exists"
    ),
    Code.TAG_IN_USE: lambda p: Conflict(
        "The partner already has a non-archived list with this tag.",
        code="tag_in_use",
        list_id=p[0],
    ),
    Code.LIST_NOT_FOUND: lambda _: NotFound("No such voucher list.", code="list_not_found"),
    Code.LIST_LINKED: _linked,
    Code.LINK_NOT_FOUND: lambda _: NotFound(
        "The campaign is not linked to this list.", code="link_not_found"
    ),
    Code.IDEMPOTENCY_CONFLICT: lambda _: Conflict(
        "This Idempotency-Key was used with another campaign or user.",
        code="idempotency_conflict",
    ),
    Code.CAMPAIGN_NOT_LINKED: lambda _: Conflict(
        "The campaign is not linked to this list.", code="campaign_not_linked"
    ),
    Code.LIST_NOT_ACTIVE: lambda p: Conflict(
        f"The list is {p[0]}; only an active list hands out codes.",
        code="list_not_active",
        status=p[0],
    ),
    Code.OUT_OF_CODES: lambda _: Conflict("The list has no code left.", code="out_of_codes"),
    Code.EVENTS_PENDING: lambda _: Conflict(
        "The list's last events are still being delivered; retry in a moment.",
        code="events_pending",
    ),
    Code.EXPIRY_NOT_FUTURE: lambda _: validation_error("expires_at", "must be in the future"),
    Code.LIST_ABANDONED: lambda _: StoreUnavailable(
        "The list could not be created in time (the store was slow or failing over); retry."
    ),
    Code.WEBHOOK_NOT_FOUND: lambda _: NotFound(
        "No such webhook endpoint.", code="webhook_not_found"
    ),
    Code.TOO_MANY_WEBHOOKS: lambda _: Conflict(
        f"The store holds {MAX_ENDPOINTS} webhook endpoints, the most it keeps; delete one first.",
        code="too_many_webhooks",
    ),
    Code.DELIVERY_NOT_FOUND: lambda _: NotFound(
        "No such delivery of this endpoint (it may have been dropped from the log).",
        code="delivery_not_found",
    ),
    Code.DELIVERY_NOT_FAILED: lambda p: Conflict(
        f"The delivery is {p[0]}; only a failed delivery can be retried.",
        code="delivery_not_failed",
        status=p[0],
    ),
}


NOT_REPLICATED = StoreUnavailable(
    "The change was made but too few replicas confirmed it in time; retry with the same "
    "Idempotency-Key (or user and campaign): the replay tells whether it stood.",
    code="replication_timeout",
)


def error_for(refused: Refused, by_status: StatusRefusal | None = None) -> ServiceError:
    """The client-facing error for a refusal; `by_status` words STATUS_REFUSED."""
    if refused.code is Code.STATUS_REFUSED and by_status is not None:
        return by_status(Status(refused.payload[0]), int(refused.payload[1] or 0))
    words = _ERRORS.get(refused.code)
    if words is None:  # a job-internal code reaching a route is a bug, not the client's doing
        log.error("no client error for the store's refusal %s", refused.code.name)
        return ServiceError("An unexpected error occurred.")
    return words(refused.payload)
