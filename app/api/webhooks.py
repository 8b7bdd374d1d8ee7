"""Webhook endpoints, their delivery log, and template previews. Admin only: URLs and templates
may carry secrets of their own."""

from __future__ import annotations

import re
from typing import Any

from app.api.routing import Ctx, Router
from app.api.schemas import (
    Accepted,
    DeliveryOut,
    DeliveryPage,
    DeliveryQuery,
    PreviewIn,
    PreviewOut,
    SecretOut,
    WebhookCreate,
    WebhookCreated,
    WebhookEdit,
    WebhookList,
    WebhookOut,
)
from app.config import Settings
from app.domain import templates
from app.domain.clock import rfc3339
from app.domain.errors import NotFound, Unprocessable
from app.domain.webhooks import EVENT_NAMES, Endpoint, new_endpoint_id, new_secret
from app.jobs.webhook_http import UrlNotAllowed
from app.jobs.webhooks import guard_of

router = Router()

ENDPOINT_ID = re.compile(r"wh_[0-9a-f]{16}")
NOT_FOUND = ((404, "webhook_not_found"),)
SAVE_ERRORS = ((422, "url_not_allowed"), (422, "template_invalid"))


def _render(e: Endpoint) -> WebhookOut:
    shown = e.public()
    shown["created_at"], shown["updated_at"] = rfc3339(e.created_at), rfc3339(e.updated_at)
    return WebhookOut.model_validate(shown)


def _endpoint_id(ctx: Ctx) -> str:
    endpoint_id = ctx.path("webhook_id")
    if not ENDPOINT_ID.fullmatch(endpoint_id):
        raise NotFound("No such webhook endpoint.", code="webhook_not_found")
    return endpoint_id


async def _check_url(ctx: Ctx, url: str) -> None:
    settings: Settings = ctx.request.app.state.settings
    try:
        await guard_of(settings).check(url)
    except UrlNotAllowed as exc:
        raise Unprocessable(
            f"url: {exc}",
            code="url_not_allowed",
            fields=[{"field": "url", "message": str(exc)}],
        ) from None


async def _checked(ctx: Ctx, fields: dict[str, Any]) -> dict[str, Any]:
    """The fields to save, after the checks that need more than their shape."""
    if "url" in fields:
        await _check_url(ctx, fields["url"])
    if fields.get("template") is not None:
        templates.check(fields["template"])
    if "list_ids" in fields and fields["list_ids"] is not None:
        fields["list_ids"] = sorted(set(fields["list_ids"]))
    if "events" in fields and fields["events"] is not None:
        fields["events"] = [name for name in EVENT_NAMES if name in fields["events"]]
    return fields


@router.add(
    "POST",
    "/v1/webhooks/preview",
    summary="Render a template with an event (or a sample reward event)",
    role="admin",
    body=PreviewIn,
    response=PreviewOut,
    errors=((422, "template_invalid"), (422, "template_render_failed")),
    uses_store=False,
)
async def preview(ctx: Ctx) -> PreviewOut:
    body = ctx.body(PreviewIn)
    templates.check(body.template)
    event = templates.SAMPLE_EVENT if body.event is None else body.event
    if not isinstance(event.get("properties", {}), dict):
        raise Unprocessable(
            "event.properties: must be an object",
            fields=[{"field": "event.properties", "message": "must be an object"}],
        )
    try:
        return PreviewOut(body=templates.render(body.template, event))
    except templates.RenderError as exc:
        raise Unprocessable(
            f"The template failed while rendering: {exc}", code="template_render_failed"
        ) from None


@router.add(
    "POST",
    "/v1/webhooks",
    summary="Add a webhook endpoint; its secret is shown only in this answer",
    role="admin",
    body=WebhookCreate,
    response=WebhookCreated,
    status=201,
    errors=(*SAVE_ERRORS, (409, "too_many_webhooks")),
)
async def create_webhook(ctx: Ctx) -> WebhookCreated:
    body = ctx.body(WebhookCreate)
    fields = await _checked(ctx, body.model_dump())
    fields["events"] = fields["events"] or list(EVENT_NAMES)
    fields["secret"] = new_secret()
    endpoint = await ctx.store.webhooks.create(new_endpoint_id(), fields)
    return WebhookCreated(**_render(endpoint).model_dump(), secret=endpoint.secret)


@router.add(
    "GET",
    "/v1/webhooks",
    summary="Every webhook endpoint, oldest first (at most 100)",
    role="admin",
    response=WebhookList,
)
async def list_webhooks(ctx: Ctx) -> WebhookList:
    return WebhookList(items=[_render(e) for e in await ctx.store.webhooks.all()])


@router.add(
    "GET",
    "/v1/webhooks/{webhook_id}",
    summary="One webhook endpoint",
    role="admin",
    response=WebhookOut,
    errors=NOT_FOUND,
)
async def get_webhook(ctx: Ctx) -> WebhookOut:
    return _render(await ctx.store.webhooks.get(_endpoint_id(ctx)))


@router.add(
    "PATCH",
    "/v1/webhooks/{webhook_id}",
    summary="Change a webhook endpoint (enable or disable it with `enabled`)",
    role="admin",
    body=WebhookEdit,
    response=WebhookOut,
    errors=(*NOT_FOUND, *SAVE_ERRORS),
)
async def edit_webhook(ctx: Ctx) -> WebhookOut:
    endpoint_id, body = _endpoint_id(ctx), ctx.body(WebhookEdit)
    nullable = ("list_ids", "template")
    changes = {name: getattr(body, name) for name in body.model_fields_set}
    for name, value in changes.items():
        if value is None and name not in nullable:
            raise Unprocessable(
                f"{name}: may not be null", fields=[{"field": name, "message": "may not be null"}]
            )
    await ctx.store.webhooks.get(endpoint_id)  # a 404 before checking the URL
    fields = await _checked(ctx, changes)
    if not fields:
        return _render(await ctx.store.webhooks.get(endpoint_id))
    return _render(await ctx.store.webhooks.update(endpoint_id, fields))


@router.add(
    "DELETE",
    "/v1/webhooks/{webhook_id}",
    summary="Delete a webhook endpoint and its delivery log",
    role="admin",
    status=204,
    errors=NOT_FOUND,
)
async def delete_webhook(ctx: Ctx) -> None:
    await ctx.store.webhooks.delete(_endpoint_id(ctx))


@router.add(
    "POST",
    "/v1/webhooks/{webhook_id}/rotate-secret",
    summary="A new secret; the old one keeps signing for VOUCHERS_WEBHOOKS_SECRET_OVERLAP_S",
    role="admin",
    response=SecretOut,
    errors=NOT_FOUND,
)
async def rotate_secret(ctx: Ctx) -> SecretOut:
    settings: Settings = ctx.request.app.state.settings
    secret = new_secret()
    await ctx.store.webhooks.update(
        _endpoint_id(ctx), {"secret": secret}, settings.webhooks_secret_overlap_s * 1000
    )
    return SecretOut(secret=secret)


def _delivery(record: dict[str, Any]) -> DeliveryOut:
    def at(name: str) -> str | None:
        value = record.get(name)
        return None if value is None else rfc3339(int(value))

    return DeliveryOut(
        id=record["id"],
        event_id=record["event_id"],
        event_name=record["event_name"],
        status=record["status"],
        attempts=int(record["attempts"]),
        created_at=rfc3339(int(record["created_at"])),
        last_attempt_at=at("last_attempt_at"),
        next_attempt_at=at("next_attempt_at"),
        last_status_code=None
        if record.get("last_status_code") is None
        else int(record["last_status_code"]),
        last_error=record.get("last_error"),
    )


@router.add(
    "GET",
    "/v1/webhooks/{webhook_id}/deliveries",
    summary="The endpoint's deliveries, newest first",
    role="admin",
    query=DeliveryQuery,
    response=DeliveryPage,
    errors=NOT_FOUND,
)
async def list_deliveries(ctx: Ctx) -> DeliveryPage:
    endpoint_id, query, cursors = _endpoint_id(ctx), ctx.query(DeliveryQuery), await ctx.cursors()
    await ctx.store.webhooks.get(endpoint_id)
    scope = f"deliveries:{endpoint_id}:{query.status or ''}"
    before = cursors.sequence(scope, query.cursor)
    found, last = await ctx.store.webhooks.page(endpoint_id, query.status, query.limit, before)
    return DeliveryPage(
        items=[_delivery(r) for r in found],
        next_cursor=None if last is None else cursors.encode(scope, last),
    )


@router.add(
    "POST",
    "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry",
    summary="Try a failed delivery again",
    role="admin",
    response=Accepted,
    status=202,
    errors=(*NOT_FOUND, (404, "delivery_not_found"), (409, "delivery_not_failed")),
)
async def retry_delivery(ctx: Ctx) -> Accepted:
    endpoint_id = _endpoint_id(ctx)
    await ctx.store.webhooks.get(endpoint_id)
    await ctx.store.webhooks.retry(endpoint_id, ctx.path("delivery_id"))
    return Accepted(status="pending")
