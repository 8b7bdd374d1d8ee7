"""Request and response bodies. Requests are strict (no coercion, no unknown fields) and are
validated straight from the JSON bytes; the OpenAPI document is generated from these models."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field

from app.domain.lists import (
    DESCRIPTION_MAX,
    LIST_ID_PATTERN,
    NAME_MAX,
    TAG_MAX,
    Action,
    Status,
)
from app.domain.partners import PARTNER_MAX
from app.domain.uploads import UploadStatus
from app.domain.webhooks import DESCRIPTION_MAX as WEBHOOK_DESCRIPTION_MAX
from app.domain.webhooks import MAX_LIST_FILTER, TEMPLATE_MAX, URL_MAX, ContentType, EventName

Timestamp = Field(description="RFC 3339 UTC with milliseconds, e.g. 2026-12-31T23:59:59.000Z")

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
LATEST = datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)  # the last time shown


def _rfc3339_text(value: object) -> datetime:
    """Only RFC 3339 text with an offset: not a number, nor a string of digits."""
    if not isinstance(value, str) or not _RFC3339.fullmatch(value):
        raise ValueError("must be an RFC 3339 date-time with an offset, e.g. 2026-12-31T23:59:59Z")
    return datetime.fromisoformat(value.upper())  # a ValueError (hour 25...) is a 422 too


def _showable(value: datetime) -> datetime:
    try:
        if value.astimezone(UTC) <= LATEST:
            return value
    except OverflowError:  # past the year 9999 once in UTC
        pass
    raise ValueError("must be no later than 9999-12-31T23:59:59.999Z")


# An input time: RFC 3339 with an offset, and one the API can show (in UTC, before year 10000).
InputTime = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text), AfterValidator(_showable)]


class Request(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid")


class Query(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Page(Query):
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, max_length=1024)


# --- errors ---------------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="snake_case error code")
    message: str
    details: dict[str, Any]


class ErrorBody(BaseModel):
    error: ErrorDetail


# --- health ---------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"]


class Me(BaseModel):
    user: str
    role: Literal["viewer", "allocator", "admin"]


class Ready(BaseModel):
    status: Literal["ready", "unavailable"]
    redis: bool
    scripts_loaded: bool
    scripts_reloaded: int = 0


# --- partners -------------------------------------------------------------------------------


class PartnerCreate(Request):
    name: str = Field(max_length=PARTNER_MAX * 4, description="1..100 characters after trimming")


class PartnerOut(BaseModel):
    name: str
    created_at: str = Timestamp


class PartnerItem(PartnerOut):
    lists: int = Field(description="non-archived lists of this partner")


class PartnerPage(BaseModel):
    items: list[PartnerItem]
    next_cursor: str | None


# --- voucher lists --------------------------------------------------------------------------


class ListCreate(Request):
    partner: str = Field(max_length=PARTNER_MAX * 4)
    tag: str = Field(
        max_length=TAG_MAX * 4, description="1..64 characters, no whitespace; stored lowercase"
    )
    name: str = Field(min_length=1, max_length=NAME_MAX)
    description: str = Field(default="", max_length=DESCRIPTION_MAX)
    expires_at: InputTime = Field(description="RFC 3339 with an offset; in the future")
    low_stock_threshold: int | None = Field(default=None, ge=0, le=1_000_000)


class ListEdit(Request):
    name: str = Field(default=None, min_length=1, max_length=NAME_MAX)  # type: ignore[assignment]
    description: str = Field(default=None, max_length=DESCRIPTION_MAX)  # type: ignore[assignment]
    expires_at: InputTime = Field(default=None)  # type: ignore[assignment]
    low_stock_threshold: int | None = Field(default=None, ge=0, le=1_000_000)


class ListQuery(Page):
    status: Status | None = None
    partner: str | None = Field(default=None, max_length=PARTNER_MAX * 4)


class ListOut(BaseModel):
    id: str
    partner: str
    tag: str
    name: str
    description: str
    expires_at: str = Timestamp
    status: Status
    created_at: str = Timestamp
    updated_at: str = Timestamp
    codes_uploaded: int
    codes_distributed: int
    codes_available: int
    linked_campaigns: int
    low_stock_threshold: int | None
    allowed_actions: list[Action]


class ListPage(BaseModel):
    items: list[ListOut]
    next_cursor: str | None


# --- campaign links -------------------------------------------------------------------------


class LinkOut(BaseModel):
    list_id: str
    campaign_id: str
    linked_at: str = Timestamp


class LinkPage(BaseModel):
    items: list[LinkOut]
    next_cursor: str | None


# --- uploads --------------------------------------------------------------------------------


class ErrorCount(BaseModel):
    code: str
    count: int


class UploadOut(BaseModel):
    id: str
    list_id: str
    status: UploadStatus
    uploaded_by: str
    file_name: str
    created_at: str = Timestamp
    finished_at: str | None = Timestamp
    codes_total: int = Field(description="data rows in the file")
    codes_uploaded: int = Field(description="rows added to the list")
    error_count: int = Field(description="rows rejected")
    errors: list[ErrorCount]


class UploadPage(BaseModel):
    items: list[UploadOut]
    next_cursor: str | None


# --- allocations and events -----------------------------------------------------------------


class AllocationCreate(Request):
    list_id: str = Field(min_length=1, max_length=100)
    campaign_id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")
    user_id: str = Field(min_length=1, max_length=256)
    source: str = Field(default="promo", min_length=1, max_length=64)


BULK_MAX = 1000  # items in one POST /v1/allocations/bulk


class BulkItemIn(Request):
    user_id: str = Field(min_length=1, max_length=256)
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=200)


class BulkCreate(Request):
    list_id: str = Field(min_length=1, max_length=100)
    campaign_id: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,128}$")
    source: str = Field(default="promo", min_length=1, max_length=64)
    items: list[BulkItemIn] = Field(min_length=1, max_length=BULK_MAX)


class BulkError(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class BulkResult(BaseModel):
    """One item's result: what POST /v1/allocations would have answered for it."""

    status: int = Field(description="201 allocated, 200 replayed, 404 or 409 refused")
    voucher_code: str | None = None
    issued_at: str | None = Field(default=None, description=Timestamp.description)
    event_id: str | None = None
    replayed: bool | None = None
    error: BulkError | None = None


class BulkOut(BaseModel):
    items: list[BulkResult]
    allocated: int
    replayed: int
    failed: int


class AllocationBase(BaseModel):
    voucher_code: str
    list_id: str
    campaign_id: str
    user_id: str
    issued_at: str = Timestamp
    event_id: str


class AllocationOut(AllocationBase):
    replayed: bool


class AllocationItem(AllocationBase):
    source: str


class AllocationPage(BaseModel):
    items: list[AllocationItem]
    next_cursor: str | None


class AllocationQuery(Page):
    user_id: str | None = Field(default=None, min_length=1, max_length=256)
    order: Literal["oldest", "newest"] = Field(
        default="oldest", description="oldest first (the default) or newest first"
    )


class CodeOut(BaseModel):
    code: str
    state: Literal["available", "issued"]
    user_id: str | None = None
    campaign_id: str | None = None
    issued_at: str | None = None


class EventOut(BaseModel):
    id: str
    name: str
    timestamp: str = Timestamp
    user_id: str | None
    properties: dict[str, str | int | None]


class EventPage(BaseModel):
    items: list[EventOut]
    next_cursor: str = Field(description="never null: pass it back to continue")


class EventQuery(Page):
    # A stream position; 19 digits a part keeps it below Redis's 2**64 limit.
    cursor: str | None = Field(default=None, pattern=r"^\d{1,19}-\d{1,19}$")
    wait_ms: int = Field(default=0, ge=0, le=30_000)


# --- snapshots ------------------------------------------------------------------------------


class SnapshotStarted(BaseModel):
    id: str
    status: Literal["in_progress", "completed", "failed"]
    created_at: str = Timestamp


class SnapshotOut(SnapshotStarted):
    finished_at: str | None = Timestamp
    size_bytes: int | None
    lists: int | None
    codes: int | None


class SnapshotPage(BaseModel):
    items: list[SnapshotOut]
    next_cursor: str | None


# --- webhooks -------------------------------------------------------------------------------

WebhookUrl = Annotated[str, Field(min_length=1, max_length=URL_MAX)]
ListIdText = Annotated[str, Field(pattern=LIST_ID_PATTERN)]
ListIds = Annotated[list[ListIdText], Field(max_length=MAX_LIST_FILTER)]
Events = Annotated[list[EventName], Field(min_length=1)]


class WebhookCreate(Request):
    url: WebhookUrl
    events: Events | None = None  # every event name
    list_ids: ListIds | None = None  # every list
    description: str = Field(default="", max_length=WEBHOOK_DESCRIPTION_MAX)
    template: str | None = Field(default=None, min_length=1, max_length=TEMPLATE_MAX)
    content_type: ContentType = "application/json"
    enabled: bool = True


class WebhookEdit(Request):
    url: WebhookUrl | None = None
    events: Events | None = None
    list_ids: ListIds | None = None
    description: str | None = Field(default=None, max_length=WEBHOOK_DESCRIPTION_MAX)
    template: str | None = Field(default=None, min_length=1, max_length=TEMPLATE_MAX)
    content_type: ContentType | None = None
    enabled: bool | None = None


class WebhookOut(BaseModel):
    id: str
    url: str
    events: list[str]
    list_ids: list[str] | None
    description: str
    template: str | None
    content_type: str
    enabled: bool
    created_at: str = Timestamp
    updated_at: str = Timestamp


class WebhookCreated(WebhookOut):
    secret: str = Field(description="whsec_ + base64; shown only here and on rotation")


class WebhookList(BaseModel):
    items: list[WebhookOut]


class SecretOut(BaseModel):
    secret: str


class DeliveryOut(BaseModel):
    id: str
    event_id: str
    event_name: str
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    created_at: str = Timestamp
    last_attempt_at: str | None = Timestamp
    next_attempt_at: str | None = Timestamp
    last_status_code: int | None
    last_error: str | None


class DeliveryPage(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None


class DeliveryQuery(Page):
    status: Literal["pending", "delivered", "failed"] | None = None


class PreviewIn(Request):
    template: str = Field(min_length=1, max_length=TEMPLATE_MAX)
    event: dict[str, Any] | None = None  # default: a sample reward event


class PreviewOut(BaseModel):
    body: str


class Accepted(BaseModel):
    status: Literal["pending"]
