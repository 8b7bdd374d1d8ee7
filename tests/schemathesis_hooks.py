"""Schemathesis hooks for tests/test_schemathesis.py (loaded by the CLI through
SCHEMATHESIS_HOOKS). FUZZ_KNOWN_IDS holds real ids: path parameters and allocation bodies use
them half the time, so the fuzzer gets past the 404s."""

from __future__ import annotations

import os
from typing import Any

import hypothesis.strategies as st
import orjson
import schemathesis

KNOWN: dict[str, str] = orjson.loads(os.environ.get("FUZZ_KNOWN_IDS", "{}"))
LONG_POLL_MS = 20


def _maybe_known(name: str, value: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from([value, KNOWN[name]]) if name in KNOWN else st.just(value)


@schemathesis.hook
def flatmap_path_parameters(_ctx: Any, params: dict[str, Any] | None) -> st.SearchStrategy[Any]:
    if not params:
        return st.just(params)
    return st.fixed_dictionaries({k: _maybe_known(k, v) for k, v in params.items()})


@schemathesis.hook
def flatmap_body(_ctx: Any, body: Any) -> st.SearchStrategy[Any]:
    if not isinstance(body, dict) or "list_id" not in body:
        return st.just(body)
    return st.fixed_dictionaries({k: _maybe_known(k, v) for k, v in body.items()})


@schemathesis.hook
def before_call(_ctx: Any, case: schemathesis.Case[Any], _kwargs: dict[str, Any]) -> None:
    """A valid wait_ms long-polls for up to 30 s; tests/test_events.py covers the long poll."""
    wait = (case.query or {}).get("wait_ms")
    if isinstance(wait, int) and not isinstance(wait, bool) and 0 <= wait <= 30_000:
        case.query = {**(case.query or {}), "wait_ms": min(wait, LONG_POLL_MS)}
