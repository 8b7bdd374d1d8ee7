"""Voucher lists: create, read, page, edit, pause, activate, archive, delete."""

from __future__ import annotations

from typing import Any

from app.api.refusals import for_action
from app.api.routing import Ctx, Router
from app.api.schemas import ListCreate, ListEdit, ListOut, ListPage, ListQuery
from app.domain.clock import rfc3339, to_ms
from app.domain.errors import NotFound, Unprocessable
from app.domain.lists import Action, ListId, VoucherList, allowed_actions, normalise_tag
from app.domain.partners import normalise_partner_name
from app.store.store import Store

router = Router()

IMMUTABLE = ("partner", "tag", "status")
NOT_FOUND = (404, "list_not_found")
TRANSITION_ERRORS = (NOT_FOUND, (409, "invalid_transition"))


def render(vl: VoucherList) -> ListOut:
    """The list as of when it was read (its status judged on the store's clock then)."""
    status = vl.status
    return ListOut(
        id=vl.id,
        partner=vl.partner,
        tag=vl.tag,
        name=vl.name,
        description=vl.description,
        expires_at=rfc3339(vl.expires_at),
        status=status,
        created_at=rfc3339(vl.created_at),
        updated_at=rfc3339(vl.updated_at),
        codes_uploaded=vl.codes_uploaded,
        codes_distributed=vl.codes_distributed,
        codes_available=vl.codes_available,
        linked_campaigns=vl.linked_campaigns,
        low_stock_threshold=vl.low_stock_threshold,
        allowed_actions=allowed_actions(status, vl.linked_campaigns),
    )


def list_id(ctx: Ctx) -> ListId:
    parsed = ListId.parse(ctx.path("list_id"))
    if parsed is None:
        raise NotFound("No such voucher list.", code="list_not_found")
    return parsed


async def load(store: Store, lid: ListId) -> VoucherList:
    found = await store.lists.get(lid)
    if found is None:
        raise NotFound("No such voucher list.", code="list_not_found")
    return found


@router.add(
    "POST",
    "/v1/lists",
    summary="Create a voucher list",
    role="admin",
    body=ListCreate,
    response=ListOut,
    status=201,
    errors=((422, "partner_not_found"), (409, "tag_in_use")),
)
async def create_list(ctx: Ctx) -> ListOut:
    body = ctx.body(ListCreate)
    partner = normalise_partner_name(body.partner, field="partner")
    tag = normalise_tag(body.tag)
    created = await ctx.store.lists.create(
        partner=partner,
        tag=tag,
        name=body.name,
        description=body.description,
        expires_at=to_ms(body.expires_at),  # in the future on the store's clock: checked there
        low_stock_threshold=body.low_stock_threshold,
    )
    return render(created)


@router.add(
    "GET",
    "/v1/lists",
    summary="Voucher lists, newest updated_at first",
    role="viewer",
    query=ListQuery,
    response=ListPage,
)
async def list_lists(ctx: Ctx) -> ListPage:
    query, cursors = ctx.query(ListQuery), await ctx.cursors()
    after = cursors.position("lists", query.cursor)

    def keep(vl: VoucherList) -> bool:
        return (query.status is None or vl.status is query.status) and (
            query.partner is None or vl.partner == query.partner
        )

    found, last = await ctx.store.lists.page(limit=query.limit, after=after, keep=keep)
    return ListPage(
        items=[render(vl) for vl in found],
        next_cursor=None if last is None else cursors.encode("lists", list(last)),
    )


@router.add(
    "GET",
    "/v1/lists/{list_id}",
    summary="One voucher list",
    role="viewer",
    response=ListOut,
    errors=(NOT_FOUND,),
)
async def get_list(ctx: Ctx) -> ListOut:
    return render(await load(ctx.store, list_id(ctx)))


def _no_immutable(raw: dict[str, Any]) -> None:
    named = [f for f in IMMUTABLE if f in raw]
    if named:
        raise Unprocessable(
            f"{', '.join(named)} cannot be changed.",
            code="immutable_field",
            fields=[{"field": f, "message": "cannot be changed"} for f in named],
        )


@router.add(
    "PATCH",
    "/v1/lists/{list_id}",
    summary="Edit name, description, expiry or low-stock threshold",
    role="admin",
    body=ListEdit,
    response=ListOut,
    precheck=_no_immutable,
    refused=for_action(Action.EDIT),
    errors=(*TRANSITION_ERRORS, (422, "immutable_field")),
)
async def edit_list(ctx: Ctx) -> ListOut:
    body, lid = ctx.body(ListEdit), list_id(ctx)
    changes: dict[str, str | int | None] = {
        name: getattr(body, name)
        for name in ("name", "description", "low_stock_threshold")
        if name in body.model_fields_set
    }
    expires = to_ms(body.expires_at) if "expires_at" in body.model_fields_set else None
    if changes or expires is not None:
        await ctx.store.lists.edit(lid, changes, expires)
    return render(await load(ctx.store, lid))


def _transition(action: Action, summary: str, errors: tuple[tuple[int, str], ...]) -> None:
    @router.add(
        "POST",
        f"/v1/lists/{{list_id}}/{action.value}",
        summary=summary,
        role="admin",
        response=ListOut,
        refused=for_action(action),
        errors=(*TRANSITION_ERRORS, *errors),
    )
    async def handler(ctx: Ctx) -> ListOut:
        lid = list_id(ctx)
        current = await load(ctx.store, lid)
        await ctx.store.lists.transition(lid, action, current)
        return render(await load(ctx.store, lid))

    handler.__name__ = f"{action.value}_list"


_transition(Action.PAUSE, "Pause an active list", ())
_transition(Action.ACTIVATE, "Activate a paused list", ((409, "list_expired"),))
_transition(Action.ARCHIVE, "Archive a list and free its (partner, tag)", ())


@router.add(
    "DELETE",
    "/v1/lists/{list_id}",
    summary="Delete a list no campaign is linked to",
    role="admin",
    status=204,
    refused=for_action(Action.DELETE),
    errors=(*TRANSITION_ERRORS, (409, "list_linked"), (409, "events_pending")),
)
async def delete_list(ctx: Ctx) -> None:
    lid = list_id(ctx)
    current = await load(ctx.store, lid)
    await ctx.store.lists.delete(lid, current)
    ctx.files.remove_list(lid)
