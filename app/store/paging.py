"""Walking a sorted set newest first, after a (score, member) cursor, by rank (no offset)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from app.store.scripts import Scripts

Position = tuple[int, str]


async def newest_first(
    scripts: Scripts, key: str, after: Position | None, batch: int
) -> AsyncIterator[list[Position]]:
    """Members with their integer scores, highest score first (ties: highest member first),
    strictly after `after`, a round trip's worth at a time. Each step costs Redis the size of
    the step (`lua/page_index.lua`), so the last page of a large set costs what the first does."""
    while True:
        flat = await scripts.run(
            "page_index",
            [key],
            ["", "", batch] if after is None else [after[0], after[1], batch],
        )
        rows = [
            (int(float(score)), member) for member, score in zip(flat[::2], flat[1::2], strict=True)
        ]
        if not rows:
            return
        yield rows
        after = rows[-1]
