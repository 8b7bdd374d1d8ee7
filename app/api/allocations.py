"""Allocations: the promo engine's hot path, and reads of what was handed out."""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response, StreamingResponse

from app.api.json import json_response
from app.api.lists import NOT_FOUND, list_id, load
from app.api.refusals import error_for
from app.api.routing import Ctx, Router
from app.api.schemas import (
    AllocationCreate,
    AllocationItem,
    AllocationOut,
    AllocationPage,
    AllocationQuery,
    BulkCreate,
    BulkOut,
    CodeOut,
)
from app.domain.clock import rfc3339
from app.domain.errors import NotFound, validation_error
from app.domain.lists import ListId
from app.domain.text import has_control_characters
from app.store.allocations import Allocation, Request
from app.store.scripts import Code, Refused

router = Router()

IDEMPOTENCY_HEADER = "idempotency-key"
KEY_MAX = 200


def _refuse_control(field: str, value: str | None) -> None:
    """User ids, sources and keys hold no control characters: a 422 naming the field."""
    if value is not None and has_control_characters(value):
        raise validation_error(field, "must not contain control characters")


def _key(ctx: Ctx) -> str | None:
    key = ctx.header(IDEMPOTENCY_HEADER)
    if key is not None and not 1 <= len(key) <= KEY_MAX:
        raise validation_error("Idempotency-Key", f"must be 1 to {KEY_MAX} characters")
    _refuse_control("Idempotency-Key", key)
    return key


def _item(a: Allocation) -> AllocationItem:
    return AllocationItem(
        voucher_code=a.code,
        list_id=a.list_id,
        campaign_id=a.campaign_id,
        user_id=a.user_id,
        issued_at=rfc3339(a.issued_at),
        event_id=a.event_id,
        source=a.source,
    )


@router.add(
    "POST",
    "/v1/allocations",
    summary="Hand out one unique code (201), or replay (200)",
    role="allocator",
    hot=True,
    body=AllocationCreate,
    response=AllocationOut,
    status=201,
    errors=(
        (200, "replayed"),
        NOT_FOUND,
        (409, "campaign_not_linked"),
        (409, "list_not_active"),
        (409, "out_of_codes"),
        (409, "idempotency_conflict"),
    ),
)
async def allocate(ctx: Ctx) -> Response:
    body = ctx.body(AllocationCreate)
    key = _key(ctx)
    _refuse_control("user_id", body.user_id)
    _refuse_control("source", body.source)
    lid = ListId.parse(body.list_id)
    if lid is None:
        raise NotFound("No such voucher list.", code="list_not_found")
    request = Request(body.campaign_id, body.user_id, body.source, key)
    a = await ctx.store.batcher.allocate(lid, request)
    return json_response(
        {
            "voucher_code": a.code,
            "list_id": a.list_id,
            "campaign_id": a.campaign_id,
            "user_id": a.user_id,
            "issued_at": rfc3339(a.issued_at),
            "event_id": a.event_id,
            "replayed": a.replayed,
        },
        200 if a.replayed else 201,
    )


@router.add(
    "GET",
    "/v1/lists/{list_id}/allocations",
    summary="The list's allocations in order, oldest or newest first (or one user's)",
    role="allocator",
    query=AllocationQuery,
    response=AllocationPage,
    errors=(NOT_FOUND,),
)
async def list_allocations(ctx: Ctx) -> AllocationPage:
    lid, query, cursors = list_id(ctx), ctx.query(AllocationQuery), await ctx.cursors()
    await load(ctx.store, lid)
    more: int | str | None  # the next page's start: an index among the user's, or a log position
    newest = query.order == "newest"
    order = ":newest" if newest else ""  # a cursor of one order is refused by the other
    store = ctx.store.allocations
    if query.user_id is not None:
        scope = f"allocations:{lid.value}:{query.user_id}{order}"
        start = cursors.index(scope, query.cursor)
        mine, more = await store.of_user(lid, query.user_id, query.limit, start, newest)
    else:
        scope = f"allocations:{lid.value}{order}"
        after = cursors.name(scope, query.cursor)
        mine, more = await store.page(lid, query.limit, after, newest)
    return AllocationPage(
        items=[_item(a) for a in mine],
        next_cursor=None if more is None else cursors.encode(scope, more),
    )


@router.add(
    "GET",
    "/v1/lists/{list_id}/allocations.csv",
    summary="Every issued code: voucher_code,user_id,campaign_id,issued_at (streamed)",
    role="allocator",
    errors=(NOT_FOUND,),
    media_type="text/csv",
)
async def export_allocations(ctx: Ctx) -> Response:
    lid = list_id(ctx)
    await load(ctx.store, lid)
    store = ctx.store.allocations

    async def rows() -> AsyncIterator[bytes]:
        yield b"voucher_code,user_id,campaign_id,issued_at\r\n"
        async for chunk in store.every(lid):
            out = io.StringIO()
            csv.writer(out).writerows(
                (a.code, a.user_id, a.campaign_id, rfc3339(a.issued_at)) for a in chunk
            )
            yield out.getvalue().encode()

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{lid.value}-allocations.csv"'},
    )


@router.add(
    "GET",
    "/v1/lists/{list_id}/codes/{code:path}",  # a code may hold "/" (sent as %2F)
    summary="Look up one code",
    role="admin",
    response=CodeOut,
    errors=(NOT_FOUND, (404, "code_not_found")),
)
async def lookup_code(ctx: Ctx) -> CodeOut:
    lid, code = list_id(ctx), ctx.path("code")
    await load(ctx.store, lid)
    issued = await ctx.store.allocations.issued(lid, code)
    if issued is not None:
        return CodeOut(
            code=code,
            state="issued",
            user_id=issued.user_id,
            campaign_id=issued.campaign_id,
            issued_at=rfc3339(issued.issued_at),
        )
    if await ctx.store.allocations.is_available(lid, code):
        return CodeOut(code=code, state="available")
    raise NotFound("The code is not in this list.", code="code_not_found")


# Items per script call: each call holds Redis about 2 ms at most (250 new users 1.6 ms, 250
# replays 1.4 ms on the 2-core VM), while every other list's allocations wait.
BULK_CHUNK = 250
# The largest valid bulk body: 1,000 items of a 256-character user id and a 200-character key,
# each character escaped (\uXXXX), with room to spare; larger is a 413.
BULK_BODY_BYTES = 4 * 1024 * 1024


def _bulk_input(body: BulkCreate) -> None:
    """Control characters anywhere: a 422 naming the first such field, nothing allocated."""
    _refuse_control("source", body.source)
    for i, item in enumerate(body.items):
        _refuse_control(f"items[{i}].user_id", item.user_id)
        _refuse_control(f"items[{i}].idempotency_key", item.idempotency_key)


def _bulk_results(results: list[Allocation | Refused]) -> tuple[list[dict[str, Any]], Counter[int]]:
    """Each result as its item of the answer, and how many of each status."""
    items: list[dict[str, Any]] = []
    counts: Counter[int] = Counter()
    times: dict[int, str] = {}  # issued_at -> its RFC 3339 (a script call's codes share it)
    for result in results:
        if isinstance(result, Refused):
            error = error_for(result)
            status = error.status
            item: dict[str, Any] = {
                "status": status,
                "error": {"code": error.code, "message": error.message, "details": error.details},
            }
        else:
            status = 200 if result.replayed else 201
            if (issued_at := times.get(result.issued_at)) is None:
                issued_at = times[result.issued_at] = rfc3339(result.issued_at)
            item = {
                "status": status,
                "voucher_code": result.code,
                "issued_at": issued_at,
                "event_id": result.event_id,
                "replayed": result.replayed,
            }
        counts[status] += 1
        items.append(item)
    return items, counts


@router.add(
    "POST",
    "/v1/allocations/bulk",
    summary="Hand out codes to up to 1,000 users of one list and campaign, each as POST "
    "/v1/allocations would (a result per item)",
    role="allocator",
    body=BulkCreate,
    response=BulkOut,
    body_bytes=BULK_BODY_BYTES,
)
async def allocate_bulk(ctx: Ctx) -> Response:
    body = ctx.body(BulkCreate)
    _bulk_input(body)
    requests = [
        Request(body.campaign_id, item.user_id, body.source, item.idempotency_key)
        for item in body.items
    ]
    lid = ListId.parse(body.list_id)
    results: list[Allocation | Refused] = []
    if lid is None:  # not an id this service makes: no such list, for every item
        results = [Refused(Code.LIST_NOT_FOUND, [])] * len(requests)
    else:
        for start in range(0, len(requests), BULK_CHUNK):
            results += await ctx.store.allocations.allocate_many(
                lid, requests[start : start + BULK_CHUNK]
            )
    items, counts = _bulk_results(results)
    return json_response(
        {
            "items": items,
            "allocated": counts[201],
            "replayed": counts[200],
            "failed": len(items) - counts[201] - counts[200],
        }
    )
