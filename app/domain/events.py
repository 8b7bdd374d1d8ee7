"""Events as clients see them, built from the fields the scripts write."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.domain.clock import rfc3339

REWARDED = "Partner Voucher Rewarded"
LOW = "Voucher List Low"
EXHAUSTED = "Voucher List Exhausted"

REWARDED_PROPERTIES = (
    "campaignID",
    "codeDescription",
    "codeProvider",
    "codeSnippetName",
    "source",
    "voucherCode",
    "voucherListID",
)


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value else None


def render(fields: Mapping[str, str]) -> dict[str, Any]:
    """`{"id", "name", "timestamp", "user_id", "properties"}` from a stream entry's fields."""
    name = fields["name"]
    if name == REWARDED:
        properties: dict[str, Any] = {k: fields[k] for k in REWARDED_PROPERTIES}
        user: str | None = fields["user_id"]
    else:
        properties = {
            "voucherListID": fields["voucherListID"],
            "codesAvailable": int(fields["codesAvailable"]),
            "lowStockThreshold": _int_or_none(fields.get("lowStockThreshold")),
        }
        user = None
    return {
        "id": fields["id"],
        "name": name,
        "timestamp": rfc3339(int(fields["timestamp"])),
        "user_id": user,
        "properties": properties,
    }
