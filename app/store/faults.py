"""Fault points for crash tests: between the steps of an operation that spans two slots.

`VOUCHERS_FAULTS` (a comma-separated list of point names, read once at start) makes the
process kill itself (SIGKILL, as a crash or an OOM kill would) when it reaches one of them,
so tests can check what a crash at that exact point leaves behind. Unset, `reached` is a set
lookup that finds nothing.
"""

from __future__ import annotations

import os
import signal

ARMED = frozenset(filter(None, os.environ.get("VOUCHERS_FAULTS", "").split(",")))


def reached(point: str) -> None:
    if point in ARMED:
        os.kill(os.getpid(), signal.SIGKILL)
