"""Events as clients see them. The scripts write each event as JSON without its id (the id is
"<list id>-<its outbox position>", stable through the relay) and with its timestamp in epoch ms."""

from __future__ import annotations

from typing import Any

import orjson

from app.domain.clock import rfc3339


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
