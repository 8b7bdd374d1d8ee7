"""The loop every periodic background job shares."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from app.store.connection import UNAVAILABLE


async def repeat(
    step: Callable[[], Awaitable[object]],
    interval_s: float,
    stopping: asyncio.Event,
    log: logging.Logger,
    what: str,
) -> None:
    """Run `step`, then again every `interval_s`, until `stopping` is set. A store that does
    not answer is waited out quietly (the routes say so with 503s); any other failure is
    logged and the step tried again. An Event, not cancellation alone, ends the loop: a client
    library that swallows a CancelledError must not keep the job (and shutdown) alive."""
    while not stopping.is_set():
        try:
            await step()
        except UNAVAILABLE:
            pass
        except Exception:
            log.exception("%s round failed; retrying", what)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), interval_s)
