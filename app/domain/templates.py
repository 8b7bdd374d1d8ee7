"""Liquid templates (python-liquid: the Shopify language) that shape a webhook's body.

A template is parsed when it is saved and rendered once per delivery, sandboxed: no file system
(no loader: `include` and `render` find nothing), loops and output bounded. The template sees
the event as `event` and each of its properties by name (`{{ voucherCode }}`).
"""

from __future__ import annotations

import functools
from typing import Any

from liquid import BoundTemplate, Environment
from liquid.exceptions import LiquidError, UnknownFilterError

from app.domain.errors import Unprocessable

OUTPUT_LIMIT = 64 * 1024  # characters a render may write
LOOP_LIMIT = 10_000  # iterations of all loops of one render together


class SandboxedLiquid(Environment):
    loop_iteration_limit = LOOP_LIMIT
    output_stream_limit = OUTPUT_LIMIT
    context_depth_limit = 20
    local_namespace_limit = 64 * 1024


ENV = SandboxedLiquid()

SAMPLE_EVENT: dict[str, Any] = {
    "id": "acme.summer.1-1795647197469-0",
    "name": "Partner Voucher Rewarded",
    "timestamp": "2026-11-25T22:53:17.469Z",
    "user_id": "user-1",
    "properties": {
        "campaignID": "c1",
        "codeDescription": "10% off everything",
        "codeProvider": "Acme",
        "codeSnippetName": "Summer sale",
        "source": "promo",
        "voucherCode": "CODE-1",
        "voucherListID": "acme.summer.1",
    },
}


class RenderError(Exception):
    """A template failed while rendering one event: the delivery fails with this reason."""


def _line(exc: LiquidError, source: str) -> int:
    token = getattr(exc, "token", None)
    start = getattr(token, "start_index", None)
    return source[:start].count("\n") + 1 if isinstance(start, int) else 1


def _invalid(exc: LiquidError, source: str) -> Unprocessable:
    line = _line(exc, source)
    return Unprocessable(
        f"template: line {line}: {exc.message}",
        code="template_invalid",
        line=line,
        fields=[{"field": "template", "message": f"line {line}: {exc.message}"}],
    )


def check(source: str) -> None:
    """A 422 `template_invalid` (with `details.line`) for a template that does not parse or
    names a filter Liquid does not have."""
    try:
        template = ENV.from_string(source)
    except LiquidError as exc:
        raise _invalid(exc, source) from None
    try:
        render_with(template, SAMPLE_EVENT)
    except RenderError as exc:
        if isinstance(exc.__cause__, UnknownFilterError):
            raise _invalid(exc.__cause__, source) from None


@functools.lru_cache(maxsize=256)
def parsed(source: str) -> BoundTemplate:
    """A saved template, parsed once per process."""
    return ENV.from_string(source)


def render_with(template: BoundTemplate, event: dict[str, Any]) -> str:
    names = {k: v for k, v in event.get("properties", {}).items() if k != "event"}
    try:
        return template.render(**names, event=event)
    except LiquidError as exc:
        raise RenderError(exc.message or type(exc).__name__) from exc


def render(source: str, event: dict[str, Any]) -> str:
    """The template rendered with the event; RenderError when it fails."""
    return render_with(parsed(source), event)
