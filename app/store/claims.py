"""(partner, tag) claims: at most one non-archived list holds a partner's tag.

A list's keys and its partner's claims live on different slots (of a Redis Cluster), so
creating, archiving and deleting a list are steps on two slots, never one atomic step:

    create:  mark unsettled -> claim_tag (pending, with a deadline) -> create_list
             -> confirm_claim -> unmark
    archive: mark unsettled -> transition_list -> release_claim -> unmark
    delete:  mark unsettled -> delete_list -> release_claim -> unmark

Invariants, whatever step a crash stops at:
- A list is created only while its claim is pending for it: settling a claim whose list does
  not exist marks the list abandoned first (abandon_list.lua), and create_list.lua refuses an
  abandoned list, so two non-archived lists never hold one tag.
- A claim is never blocked for good: a pending claim past its deadline, or a confirmed one
  whose list is archived or gone, is settled (confirmed for a list that exists and is not
  archived, freed otherwise) by the next create that meets it, and by the janitor, which
  settles every mark in `unsettled` past its deadline.
- A partner's `lists` counts its confirmed claims: confirm adds one, releasing a confirmed
  claim takes one off.
"""

from __future__ import annotations

from typing import cast

from app.domain.lists import ListId, Status
from app.store.connection import Client
from app.store.keys import Keys, claim_field
from app.store.scripts import Code, Refused, Scripts, raise_for

SETTLE_TRIES = 3  # times a create settles a stale holder and claims again


def _mark(partner: str, tag: str, list_id: ListId) -> str:
    return f"{partner}\n{tag}\n{list_id.value}"


class ClaimStore:
    def __init__(self, redis: Client, keys: Keys, scripts: Scripts, lease_ms: int) -> None:
        """`lease_ms`: how long a create may take between its first step and its last; a
        claim left pending longer (its process died) is settled by whoever meets it next."""
        self._redis, self._keys, self._scripts = redis, keys, scripts
        self.lease_ms = lease_ms

    def _claim_keys(self, partner: str) -> list[str]:
        return [self._keys.partner(partner), self._keys.claims(partner)]

    async def mark(self, partner: str, tag: str, list_id: ListId, now: int) -> None:
        """Note a claim about to change, until `unmark`: the janitor settles it after the
        lease if the process dies in between."""
        deadline = now + self.lease_ms
        await self._redis.zadd(self._keys.unsettled, {_mark(partner, tag, list_id): deadline})

    async def unmark(self, partner: str, tag: str, list_id: ListId) -> None:
        await self._redis.zrem(self._keys.unsettled, _mark(partner, tag, list_id))

    async def claim(self, partner: str, tag: str, list_id: ListId) -> None:
        """Claim the tag for a new list (pending). A holder whose claim is stale (its list
        archived, gone, or never created before the deadline) is settled first. Raises
        Refused: PARTNER_NOT_FOUND, or TAG_IN_USE naming the list that holds it."""
        field = claim_field(partner, tag)
        for _ in range(SETTLE_TRIES):
            reply = await self._scripts.run(
                "claim_tag", self._claim_keys(partner), [field, list_id.value, self.lease_ms]
            )
            if int(reply[0]) != Code.TAG_IN_USE:
                raise_for(reply)
                return
            holder, deadline, now = ListId(reply[1]), reply[2], int(reply[3])
            if deadline and now <= int(deadline):
                break  # another create of this tag is under way
            if not deadline and await self._alive(holder):
                break  # held, confirmed, by a list that is not archived
            await self.settle(partner, tag, holder)  # stale: finish what its process left
        raise Refused(Code.TAG_IN_USE, [reply[1]])

    async def _alive(self, list_id: ListId) -> bool:
        """The list exists and is not archived."""
        status = await self._redis.hget(self._keys.list(list_id).meta, "status")
        return status is not None and status != Status.ARCHIVED

    async def confirm(self, partner: str, tag: str, list_id: ListId) -> None:
        raise_for(
            await self._scripts.run(
                "confirm_claim",
                self._claim_keys(partner),
                [claim_field(partner, tag), list_id.value],
            )
        )

    async def release(self, partner: str, tag: str, list_id: ListId) -> None:
        await self._scripts.run(
            "release_claim", self._claim_keys(partner), [claim_field(partner, tag), list_id.value]
        )

    async def free(self, partner: str, tag: str, list_id: ListId) -> None:
        """The last steps of an archive or a delete: free the list's claim
        (if it holds it), then drop the mark. In that order: a crash in between leaves the
        mark, and the janitor frees the claim."""
        await self.release(partner, tag, list_id)
        await self.unmark(partner, tag, list_id)

    async def settle(self, partner: str, tag: str, list_id: ListId) -> None:
        """Finish whatever a process left half done with the list's claim: confirm it for a
        list that exists and is not archived, free it otherwise (a list that does not exist
        is marked abandoned first, so it can never appear later)."""
        k = self._keys.list(list_id)
        reply = await self._scripts.run("abandon_list", [k.meta, k.abandoned], [])
        exists = int(reply[0]) == 1
        if exists and reply[1] != Status.ARCHIVED:
            await self.confirm(partner, tag, list_id)
        else:
            await self.release(partner, tag, list_id)
        await self.unmark(partner, tag, list_id)

    async def settle_due(self, now: int) -> int:
        """Settle every mark whose deadline has passed (the janitor's round); how many."""
        due = cast(list[str], await self._redis.zrangebyscore(self._keys.unsettled, "-inf", now))
        for member in due:
            partner, tag, list_id = member.split("\n")
            await self.settle(partner, tag, ListId(list_id))
        return len(due)
