"""The script registry and the one enum of script return codes.

Scripts live in `lua/*.lua` (package `app.lua`). A line `-- @include NAME` is replaced by
`lua/includes/NAME.lua` (whose own includes are expanded too, each part once) when the script
is loaded. Each script is called through a redis-py `Script` object, which runs EVALSHA and on
NOSCRIPT (Redis restarted, failed over or had its script cache flushed) loads the script and
retries. A refusal is raised as `Refused` (an outcome with its code); the API words it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from enum import IntEnum
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from redis.asyncio.cluster import RedisCluster
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from app.store.connection import Client
from app.store.replication import ReplicaAcks

# Scripts that only read: never waited on for replicas.
READ_ONLY = frozenset({"cut_list", "page_index", "read_list", "server_time"})
CLUSTER_IN_FLIGHT = 32  # a batch's script calls sent at once on a cluster
Call = tuple[str, Sequence[str], Sequence[Any]]  # a script's name, its keys, its arguments

_INCLUDE = re.compile(r"^-- @include (\w+)$", re.MULTILINE)


class Code(IntEnum):
    """Every code a script returns (each script's header says which). The store raises
    `Refused` with the negative ones; the API words them for clients (app/api/refusals.py)."""

    REPLAYED = 1  # allocate.lua: the scope's earlier allocation
    OK = 0
    PARTNER_NOT_FOUND = -1
    PARTNER_EXISTS = -2
    TAG_IN_USE = -3
    LIST_NOT_FOUND = -4
    STATUS_REFUSED = -5
    LIST_LINKED = -6
    LINK_NOT_FOUND = -7
    # Codes the background jobs handle themselves; never seen by a client.
    LEASE_LOST = -8
    LIST_ARCHIVED = -9
    UPLOAD_NOT_FOUND = -10
    UPLOAD_FINISHED = -11
    LIST_FULL = -12
    IDEMPOTENCY_CONFLICT = -14
    CAMPAIGN_NOT_LINKED = -15
    LIST_NOT_ACTIVE = -16
    OUT_OF_CODES = -17
    EVENTS_PENDING = -18
    FENCED = -19
    EXPIRY_NOT_FUTURE = -21
    LIST_ABANDONED = -22
    WEBHOOK_NOT_FOUND = -23
    TOO_MANY_WEBHOOKS = -24
    CURSOR_MOVED = -25  # the webhook engine handles it itself
    DELIVERY_NOT_FOUND = -26
    DELIVERY_NOT_FAILED = -27
    ENDPOINTS_CHANGED = -28  # the webhook engine handles it itself


class Refused(Exception):
    """A script refused: its code and the values that came with it (see the script's
    header). An outcome, not a message: the API layer words it for clients."""

    def __init__(self, code: Code, payload: Sequence[Any] = ()) -> None:
        super().__init__(code.name)
        self.code = code
        self.payload = list(payload)


def outcome(raw_code: Any, payload: Sequence[Any] = ()) -> Refused | None:
    """None for success (OK, REPLAYED), else the refusal the code stands for."""
    code = Code(int(raw_code))
    return None if code >= Code.OK else Refused(code, payload)


def raise_for(reply: Sequence[Any]) -> list[Any]:
    """The payload of a successful reply; raises Refused otherwise."""
    refused = outcome(reply[0], reply[1:])
    if refused is not None:
        raise refused
    return list(reply[1:])


def _lua_root() -> Traversable:
    try:
        return resources.files("app.lua")
    except ModuleNotFoundError:  # a source checkout on sys.path: lua/ sits beside app/
        return Path(__file__).resolve().parents[2] / "lua"


def expand(text: str) -> str:
    """Lua text with its includes (and theirs) in place, each included once."""
    root = _lua_root()
    included: set[str] = set()

    def include(match: re.Match[str]) -> str:
        part = match.group(1)
        if part in included:
            return ""
        included.add(part)
        return _INCLUDE.sub(
            include, (root / "includes" / f"{part}.lua").read_text(encoding="utf-8")
        )

    return _INCLUDE.sub(include, text)


def source(name: str) -> str:
    """The script `lua/<name>.lua` as Redis runs it."""
    return expand((_lua_root() / f"{name}.lua").read_text(encoding="utf-8"))


SCRIPT_NAMES = (
    "create_partner",
    "create_list",
    "claim_tag",
    "confirm_claim",
    "release_claim",
    "abandon_list",
    "server_time",
    "read_list",
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
    "release_upload",
    "allocate",
    "hold_lock",
    "read_outbox",
    "append_events",
    "cut_list",
    "page_index",
    "release_lock",
    "webhook_create",
    "webhook_update",
    "webhook_delete",
    "webhook_fanout",
    "webhook_settle",
    "webhook_retry",
)


class Scripts:
    """One `Script` object per `lua/*.lua` file, registered on one client."""

    def __init__(self, redis: Client, acks: ReplicaAcks | None = None) -> None:
        """With `acks`, a script that writes is answered once that many replicas have it."""
        self._redis, self._acks = redis, acks
        self.acked = acks is not None
        self._sources = {name: source(name) for name in SCRIPT_NAMES}
        self._scripts: dict[str, AsyncScript] = {
            name: redis.register_script(source) for name, source in self._sources.items()
        }

    async def run(self, name: str, keys: Sequence[str], args: Sequence[Any]) -> Any:
        """The script's reply: a list for most scripts (see each file's Output). EVALSHA first;
        the Script object reloads once on NOSCRIPT, and if the cache was flushed again in
        between (a flush storm, a failover), EVAL sends the body itself, which cannot miss."""
        script = self._scripts[name]
        if self._acks is not None and name not in READ_ONLY:
            return await self._acks.run(self._redis, script.sha, self._sources[name], keys, args)
        try:
            return await script(keys=list(keys), args=list(args))
        except NoScriptError:
            return await self._redis.eval(self._sources[name], len(keys), *keys, *args)

    async def run_many(self, calls: Sequence[Call]) -> list[Any]:
        """Several script calls in one round trip, their replies in order. Only for calls that
        are safe to send twice (reads, idempotent writes): on NOSCRIPT (a server restarted or
        failed over) the scripts are loaded and the whole batch is sent again. A cluster
        pipeline refuses scripts, and a write waited on for replicas goes with its own WAIT:
        there the calls go at once, each on its own."""
        acked = self._acks is not None and any(name not in READ_ONLY for name, _, _ in calls)
        if isinstance(self._redis, RedisCluster) or acked:
            replies: list[Any] = []
            for start in range(0, len(calls), CLUSTER_IN_FLIGHT):
                chunk = calls[start : start + CLUSTER_IN_FLIGHT]
                replies += await asyncio.gather(*(self.run(*call) for call in chunk))
            return replies
        for attempt in range(2):
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for name, keys, args in calls:
                        pipe.evalsha(self._scripts[name].sha, len(keys), *keys, *args)
                    found: list[Any] = await pipe.execute()
                    return found
            except NoScriptError:
                if attempt:
                    raise
                await self.load_missing()
        raise AssertionError("unreachable")

    async def load_missing(self) -> int:
        """Load every script Redis does not hold; return how many had to be loaded."""
        shas = [script.sha for script in self._scripts.values()]
        present = await self._redis.script_exists(*shas)
        missing = [s for s, ok in zip(self._scripts.values(), present, strict=True) if not ok]
        for script in missing:
            await self._redis.script_load(script.script)
        return len(missing)
