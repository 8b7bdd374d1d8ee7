"""Walking a sorted set newest first, after a (score, member) cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import cast

from redis.asyncio import Redis

Position = tuple[int, str]


async def newest_first(
    redis: Redis, key: str, after: Position | None, batch: int
) -> AsyncIterator[list[Position]]:
    """Members with their integer scores, highest score first (ties: highest member first),
    strictly after `after`, a round trip's worth at a time."""
    top: str | int = "+inf" if after is None else after[0]
    offset = 0
    while True:
        rows = cast(
            list[tuple[str, float]],
            await redis.zrevrangebyscore(
                key, top, "-inf", start=offset, num=batch, withscores=True
            ),
        )
        if not rows:
            return
        offset += len(rows)
        fresh = [(int(score), member) for member, score in rows]
        yield [p for p in fresh if after is None or p < after]
