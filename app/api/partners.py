"""Partners: create and list."""

from __future__ import annotations

from app.api.routing import Ctx, Router
from app.api.schemas import Page, PartnerCreate, PartnerItem, PartnerOut, PartnerPage
from app.domain.clock import rfc3339
from app.domain.partners import normalise_partner_name

router = Router()


@router.add(
    "POST",
    "/v1/partners",
    summary="Create a partner",
    role="admin",
    body=PartnerCreate,
    response=PartnerOut,
    status=201,
    errors=((409, "partner_exists"),),
)
async def create_partner(ctx: Ctx) -> PartnerOut:
    name = normalise_partner_name(ctx.body(PartnerCreate).name)
    partner = await ctx.store.partners.create(name)
    return PartnerOut(name=partner.name, created_at=rfc3339(partner.created_at))


@router.add(
    "GET",
    "/v1/partners",
    summary="Partners sorted by name",
    role="viewer",
    query=Page,
    response=PartnerPage,
)
async def list_partners(ctx: Ctx) -> PartnerPage:
    page, cursors = ctx.query(Page), await ctx.cursors()
    partners, last = await ctx.store.partners.page(
        page.limit, cursors.name("partners", page.cursor)
    )
    return PartnerPage(
        items=[
            PartnerItem(name=p.name, created_at=rfc3339(p.created_at), lists=p.lists)
            for p in partners
        ],
        next_cursor=None if last is None else cursors.encode("partners", last),
    )
