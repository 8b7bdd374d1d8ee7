"""Write one snapshot file of the Redis store: `python -m app.jobs.snapshot_writer PATH MS`.

The snapshot job runs this as a child process, so reading a million codes costs the serving
process nothing (not even the GIL). Settings come from the environment, as for the service.
Exit status 0 and the counts on stdout, or non-zero and one line on stderr.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from app.config import Settings
from app.store.connection import UNAVAILABLE, connect
from app.store.files import open_private
from app.store.store import Store


async def write(path: Path, created: int) -> str:
    settings = Settings()
    client = connect(settings)
    try:
        store = Store.of(client, settings)
        with open_private(path) as out:
            counts = await store.snapshots.write(out, created)
            out.flush()
            os.fsync(out.fileno())
    finally:
        await client.aclose()
    return f"{counts.lists} lists, {counts.codes} codes"


def _yield_the_cpu() -> None:
    """The serving process and Redis come first; a snapshot can take longer. SCHED_IDLE runs
    this process only on an otherwise idle core, and any woken task preempts it at once."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except (AttributeError, OSError):  # not Linux: the next best thing
        os.nice(19)


def main(argv: list[str]) -> int:
    _yield_the_cpu()
    if len(argv) != 2:
        print("usage: python -m app.jobs.snapshot_writer PATH CREATED_MS", file=sys.stderr)
        return 2
    try:
        print(asyncio.run(write(Path(argv[0]), int(argv[1]))))
    except UNAVAILABLE as exc:
        print(f"Redis is unreachable ({type(exc).__name__})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
