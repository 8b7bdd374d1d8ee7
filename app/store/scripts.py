"""The script registry and the one mapping from script return codes to typed errors.

Scripts live in `lua/*.lua` (package `app.lua`). A line `-- @include NAME` is replaced by
`lua/includes/NAME.lua` when the script is loaded. Each script is called through a redis-py
`Script` object, which runs EVALSHA and on NOSCRIPT (Redis restarted, failed over or had its
script cache flushed) loads the script and retries.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from enum import IntEnum
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from app.domain.errors import Conflict, NotFound, ServiceError, Unprocessable
from app.domain.lists import Status

_INCLUDE = re.compile(r"^-- @include (\w+)$", re.MULTILINE)


class Code(IntEnum):
    REPLAYED = 1  # allocate.lua: the scope's earlier allocation
    OK = 0
    PARTNER_NOT_FOUND = -1
    PARTNER_EXISTS = -2
    TAG_IN_USE = -3
    LIST_NOT_FOUND = -4
    STATUS_REFUSED = -5
    LIST_LINKED = -6
    LINK_NOT_FOUND = -7
    # Codes the upload job handles itself; never seen by a client.
    LEASE_LOST = -8
    LIST_ARCHIVED = -9
    UPLOAD_NOT_FOUND = -10
    UPLOAD_FINISHED = -11
    LIST_FULL = -12
    STALE = -13
    IDEMPOTENCY_CONFLICT = -14
    CAMPAIGN_NOT_LINKED = -15
    LIST_NOT_ACTIVE = -16
    OUT_OF_CODES = -17
    EVENTS_PENDING = -18
    FENCED = -19


Refusal = Callable[[Status, int], ServiceError]


def raise_for(reply: Sequence[Any], refused: Refusal | None = None) -> list[Any]:
    """Return the payload of a successful reply, or raise the error its code stands for.
    `refused` builds the error for STATUS_REFUSED, whose meaning depends on the operation."""
    error = error_for(int(reply[0]), list(reply[1:]), refused)
    if error is not None:
        raise error
    return list(reply[1:])


def error_for(
    raw_code: int, payload: list[Any], refused: Refusal | None = None
) -> ServiceError | None:
    """The client-facing error a script's return code stands for; None for success."""
    code = Code(raw_code)
    if code >= Code.OK:
        return None
    if code is Code.STATUS_REFUSED and refused is not None:
        return refused(Status(payload[0]), int(payload[1] or 0))
    errors: dict[Code, Callable[[], ServiceError]] = {
        Code.PARTNER_NOT_FOUND: lambda: Unprocessable(
            "The partner does not exist; create it first.", code="partner_not_found"
        ),
        Code.PARTNER_EXISTS: lambda: Conflict(
            "A partner with this name exists.", code="partner_exists"
        ),
        Code.TAG_IN_USE: lambda: Conflict(
            "The partner already has a non-archived list with this tag.",
            code="tag_in_use",
            list_id=payload[0],
        ),
        Code.LIST_NOT_FOUND: lambda: NotFound("No such voucher list.", code="list_not_found"),
        Code.LIST_LINKED: lambda: Conflict(
            "The list is linked to campaigns; unlink them first.",
            code="list_linked",
            campaign_ids=sorted(payload),
        ),
        Code.LINK_NOT_FOUND: lambda: NotFound(
            "The campaign is not linked to this list.", code="link_not_found"
        ),
        Code.IDEMPOTENCY_CONFLICT: lambda: Conflict(
            "This Idempotency-Key was used with another campaign or user.",
            code="idempotency_conflict",
        ),
        Code.CAMPAIGN_NOT_LINKED: lambda: Conflict(
            "The campaign is not linked to this list.", code="campaign_not_linked"
        ),
        Code.LIST_NOT_ACTIVE: lambda: Conflict(
            f"The list is {payload[0]}; only an active list hands out codes.",
            code="list_not_active",
            status=payload[0],
        ),
        Code.OUT_OF_CODES: lambda: Conflict("The list has no code left.", code="out_of_codes"),
        Code.EVENTS_PENDING: lambda: Conflict(
            "The list's last events are still being delivered; retry in a moment.",
            code="events_pending",
        ),
    }
    return errors[code]()


def _lua_root() -> Traversable:
    try:
        return resources.files("app.lua")
    except ModuleNotFoundError:  # a source checkout on sys.path: lua/ sits beside app/
        return Path(__file__).resolve().parents[2] / "lua"


def _source(name: str) -> str:
    root = _lua_root()
    text = (root / f"{name}.lua").read_text(encoding="utf-8")
    return _INCLUDE.sub(
        lambda m: (root / "includes" / f"{m.group(1)}.lua").read_text(encoding="utf-8"), text
    )


SCRIPT_NAMES = (
    "create_partner",
    "create_list",
    "edit_list",
    "transition_list",
    "delete_list",
    "link_campaign",
    "unlink_campaign",
    "create_upload",
    "claim_upload",
    "reserve_upload",
    "upload_batch",
    "finish_upload",
    "allocate",
    "hold_lock",
    "read_outbox",
    "append_events",
    "cut_list",
)


class Scripts:
    """One `Script` object per `lua/*.lua` file, registered on one client."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._sources = {name: _source(name) for name in SCRIPT_NAMES}
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(source) for name, source in self._sources.items()
        }

    async def run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """The script's reply: a list for most scripts (see each file's Output). EVALSHA first;
        the Script object reloads once on NOSCRIPT, and if the cache was flushed again in
        between (a flush storm, a failover), EVAL sends the body itself, which cannot miss."""
        script = self._scripts[name]
        try:
            return await script(keys=list(keys), args=list(args))
        except NoScriptError:
            return await self._redis.eval(self._sources[name], len(keys), *keys, *args)

    async def load_missing(self) -> int:
        """Load every script Redis does not hold; return how many had to be loaded."""
        shas = [script.sha for script in self._scripts.values()]
        present = await self._redis.script_exists(*shas)
        missing = [s for s, ok in zip(self._scripts.values(), present, strict=True) if not ok]
        for script in missing:
            await self._redis.script_load(script.script)
        return len(missing)
