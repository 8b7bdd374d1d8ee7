"""Events: read the global stream with a cursor, long-polling when there is nothing new."""

from __future__ import annotations

from app.api.routing import Ctx, Router
from app.api.schemas import EventOut, EventPage, EventQuery
from app.domain.events import render

router = Router()


@router.add(
    "GET",
    "/v1/events",
    summary="Events after the cursor; wait_ms long-polls",
    role="allocator",
    query=EventQuery,
    response=EventPage,
)
async def list_events(ctx: Ctx) -> EventPage:
    query = ctx.query(EventQuery)
    found = await ctx.store.events.read(
        query.cursor, query.limit, query.wait_ms, ctx.request.app.state.blocking
    )
    return EventPage(
        items=[EventOut.model_validate(render(e.fields["id"], e.fields["e"])) for e in found],
        next_cursor=found[-1].position if found else (query.cursor or "0-0"),
    )
