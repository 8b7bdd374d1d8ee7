"""Health, readiness, metrics and the OpenAPI document: no token needed."""

from __future__ import annotations

from starlette.responses import Response

from app.api.json import json_response
from app.api.routing import Ctx, Router
from app.api.schemas import Health, Ready
from app.jobs.webhooks import lag_s
from app.store.connection import UNAVAILABLE

router = Router()


@router.add(
    "GET", "/healthz", summary="The process is alive", role=None, response=Health, uses_store=False
)
async def healthz(_ctx: Ctx) -> Response:
    return json_response({"status": "ok"})


@router.add(
    "GET",
    "/readyz",
    summary="Redis answers and every Lua script is loaded",
    role=None,
    response=Ready,
    errors=((503, "not_ready"),),
)
async def readyz(ctx: Ctx) -> Response:
    try:
        reloaded = await ctx.store.ready()
    except UNAVAILABLE:
        body = Ready(status="unavailable", redis=False, scripts_loaded=False)
        return json_response(body.model_dump(), 503, {"Retry-After": "1"})
    body = Ready(status="ready", redis=True, scripts_loaded=True, scripts_reloaded=reloaded)
    return json_response(body.model_dump())


@router.add(
    "GET",
    "/metrics",
    summary="Prometheus metrics",
    role=None,
    uses_store=False,
    media_type="text/plain",
)
async def metrics(ctx: Ctx) -> Response:
    state = ctx.request.app.state
    figures = state.metrics.webhooks
    try:
        figures.counters = await ctx.store.webhooks.counters()
        figures.lag_s = await lag_s(ctx.store)
    except UNAVAILABLE:
        figures.counters = None  # the store's figures are left out while it is away
    return Response(state.metrics.render(), media_type=state.metrics.content_type)


@router.add("GET", "/openapi.json", summary="This document", role=None, uses_store=False)
async def openapi(ctx: Ctx) -> Response:
    return Response(ctx.request.app.state.openapi, media_type="application/json")
