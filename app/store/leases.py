"""Leases: a lock key that one process at a time holds for a while (the event relay, the
scheduled snapshots). Each holding has a token of its own; steps fenced by it check it in the
same atomic step as their write (see lua/append_events.lua), and a holder gives the lease up
at shutdown so another process takes over at once."""

from __future__ import annotations

import os
import secrets

from app.store.scripts import Scripts


class Lease:
    def __init__(self, scripts: Scripts, key: str, ttl_ms: int) -> None:
        self._scripts, self.key, self.ttl_ms = scripts, key, ttl_ms
        self.token: str | None = None  # while this process holds the lease

    async def hold(self) -> bool:
        """Take the lease, or keep it for another `ttl_ms`; False when another holds it."""
        token = self.token or f"{os.getpid()}-{secrets.token_hex(8)}"
        held = bool(await self._scripts.run("hold_lock", [self.key], [token, self.ttl_ms]))
        self.token = token if held else None
        return held

    def lost(self) -> None:
        """A fenced step said the lease is another's: take it again with a new token."""
        self.token = None

    async def release(self) -> None:
        if self.token is not None:
            await self._scripts.run("release_lock", [self.key], [self.token])
            self.token = None
