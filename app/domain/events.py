"""Events as clients see them. The scripts write each event without its id (the id is
"<list id>-<its outbox position>", stable through the relay) and with its timestamp in epoch
ms: a reward event as a compact line beside its batch's header (lua/allocate.lua), any other
event as JSON."""

from __future__ import annotations

from typing import Any

import orjson

from app.domain.clock import rfc3339

REWARDED = "Partner Voucher Rewarded"


def json_lines(header: str, joined: str) -> list[str]:
    """Each event of an outbox (or event stream) entry as its JSON, in order: a reward line
    ("\t<user>\t<campaign>\t<source>\t<code>") with the entry's header (JSON: the batch's
    timestamp and list properties), any other line as it is."""
    lines = joined.split("\n")
    if not header:
        return lines
    shared: dict[str, str] = orjson.loads(header)
    timestamp = shared.pop("timestamp")
    out = []
    for line in lines:
        if line.startswith("\t"):
            _, user, campaign, source, code = line.split("\t")
            event = {
                "name": REWARDED,
                "timestamp": timestamp,
                "user_id": user,
                "properties": {
                    "campaignID": campaign,
                    "source": source,
                    "voucherCode": code,
                    **shared,
                },
            }
            line = orjson.dumps(event).decode()
        out.append(line)
    return out


def render(event_id: str, blob: str) -> dict[str, Any]:
    """`{"id", "name", "timestamp", "user_id", "properties"}`."""
    event: dict[str, Any] = orjson.loads(blob)
    return {
        "id": event_id,
        "name": event["name"],
        "timestamp": rfc3339(int(event["timestamp"])),
        "user_id": event["user_id"],
        "properties": event["properties"],
    }
