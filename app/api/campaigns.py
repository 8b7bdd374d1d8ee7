"""Campaign links: which campaigns may draw codes from a list."""

from __future__ import annotations

from app.api.lists import NOT_FOUND, list_id, load
from app.api.refusals import not_linkable
from app.api.routing import Ctx, Router
from app.api.schemas import LinkOut, LinkPage, Page
from app.domain.clock import rfc3339
from app.domain.errors import validation_error
from app.domain.partners import valid_campaign_id
from app.store.campaigns import Link

router = Router()

PATH = "/v1/lists/{list_id}/campaigns/{campaign_id}"


def _render(link: Link) -> LinkOut:
    return LinkOut(
        list_id=link.list_id, campaign_id=link.campaign_id, linked_at=rfc3339(link.linked_at)
    )


def _campaign_id(ctx: Ctx) -> str:
    value = ctx.path("campaign_id")
    if not valid_campaign_id(value):
        raise validation_error("campaign_id", "must be 1 to 128 of A-Z a-z 0-9 _ . : -")
    return value


@router.add(
    "PUT",
    PATH,
    summary="Link a campaign to a list (idempotent)",
    role="admin",
    response=LinkOut,
    refused=not_linkable,
    errors=(NOT_FOUND, (409, "list_not_linkable"), (422, "validation_error")),
)
async def link_campaign(ctx: Ctx) -> LinkOut:
    return _render(await ctx.store.campaigns.link(list_id(ctx), _campaign_id(ctx)))


@router.add(
    "DELETE",
    PATH,
    summary="Unlink a campaign from a list",
    role="admin",
    status=204,
    errors=(NOT_FOUND, (404, "link_not_found"), (422, "validation_error")),
)
async def unlink_campaign(ctx: Ctx) -> None:
    await ctx.store.campaigns.unlink(list_id(ctx), _campaign_id(ctx))


@router.add(
    "GET",
    "/v1/lists/{list_id}/campaigns",
    summary="Campaigns linked to a list, by campaign id",
    role="viewer",
    query=Page,
    response=LinkPage,
    errors=(NOT_FOUND,),
)
async def list_links(ctx: Ctx) -> LinkPage:
    lid, page, cursors = list_id(ctx), ctx.query(Page), await ctx.cursors()
    await load(ctx.store, lid)
    scope = f"links:{lid.value}"
    links, last = await ctx.store.campaigns.page(lid, page.limit, cursors.name(scope, page.cursor))
    return LinkPage(
        items=[_render(link) for link in links],
        next_cursor=None if last is None else cursors.encode(scope, last),
    )
