"""Ranged streams: one entry holds a batch's values and stands for a position per value.

An entry with id "ms-s" whose field holds n values joined by "\\n" holds the values at the
positions "ms-s" .. "ms-(s+n-1)"; the next entry's id is past them (lua/includes/ranges.lua
writes them). A position is a stream id, so it serves as a cursor and as an event id's tail,
while the writer pays one XADD per batch. An entry of one value is the plain case: streams
written before ranges read the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar, cast

from app.store.connection import Client

STEP = 16  # entries read per round trip (an entry holds up to a batch's values)

T = TypeVar("T")
Rows = Sequence[tuple[str, dict[str, str]]]  # XRANGE's entries: (id, fields)
Split = Callable[[Rows], list[tuple[str, T]]]  # entries -> (position, value) in order


def parse(position: str) -> tuple[int, int]:
    """A position (any stream id) as (ms, seq), which order as positions do."""
    ms, _, seq = position.partition("-")
    return int(ms), int(seq)


def expand(entry_id: str, joined: str) -> list[tuple[str, str]]:
    """(position, value) of each value of one entry, in order."""
    ms, seq = parse(entry_id)
    return [(f"{ms}-{seq + i}", value) for i, value in enumerate(joined.split("\n"))]


def values(rows: Rows, field: str) -> list[tuple[str, str]]:
    """(position, value) of each value of XRANGE rows, in their order."""
    return [pair for entry_id, fields in rows for pair in expand(entry_id, fields[field])]


def field(name: str) -> Split[str]:
    """The split of entries whose values are the field `name`'s lines."""
    return lambda rows: values(rows, name)


async def forward(
    redis: Client, key: str, split: Split[T], after: str | None, want: int
) -> list[tuple[str, T]]:
    """Up to `want` (position, value) pairs after the position `after` (from the start
    without), oldest first."""
    found: list[tuple[str, T]] = []
    start = "-"
    if after is not None:
        # the entry holding `after` may hold later positions too
        rows = cast(Any, await redis.xrevrange(key, after, "-", count=1))
        found = later(split(rows), after)
        start = f"({after}"
    while len(found) < want:
        rows = cast(Any, await redis.xrange(key, start, "+", count=STEP))
        found += split(rows)
        if len(rows) < STEP:
            break
        start = f"({rows[-1][0]}"
    return found[:want]


def later(pairs: list[tuple[str, T]], after: str) -> list[tuple[str, T]]:
    """The pairs past the position `after`."""
    bound = parse(after)
    return [p for p in pairs if parse(p[0]) > bound]


async def backward(
    redis: Client, key: str, split: Split[T], before: str | None, want: int
) -> list[tuple[str, T]]:
    """Up to `want` (position, value) pairs before the position `before` (from the end
    without), newest first."""
    found: list[tuple[str, T]] = []
    end = "+" if before is None else f"({before}"
    bound = None if before is None else parse(before)
    while len(found) < want:
        rows = cast(Any, await redis.xrevrange(key, end, "-", count=STEP))
        for row in rows:
            found += [p for p in reversed(split([row])) if bound is None or parse(p[0]) < bound]
        if len(rows) < STEP:
            break
        end = f"({rows[-1][0]}"
    return found[:want]
