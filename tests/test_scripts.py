"""The Lua scripts against their own headers and the Python side that reads their replies."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from app.domain.lists import Status, effective_status
from app.store.connection import Client
from app.store.scripts import SCRIPT_NAMES, Code, expand

LUA = Path(__file__).resolve().parents[1] / "lua"
NEGATIVE = re.compile(r"(?<![\w.])-(\d+)\b")
INCLUDE = re.compile(r"^-- @include (\w+)$", re.MULTILINE)


def header(text: str) -> str:
    return text[text.index("--[[") : text.index("]]")]


def documented_codes(name: str) -> set[int]:
    """The negative codes the script's header lists under Output."""
    output = header((LUA / f"{name}.lua").read_text()).split("Output:", 1)[1]
    return {-int(n) for n in NEGATIVE.findall(output)}


def include_functions() -> dict[str, set[int]]:
    """Each helper of lua/includes/ with the codes its header says it returns."""
    found: dict[str, set[int]] = {}
    for path in (LUA / "includes").glob("*.lua"):
        for entry in re.split(r"\n  (?=\w+\()", header(path.read_text())):
            if match := re.match(r"(\w+)\(", entry):
                found[match.group(1)] = {-int(n) for n in NEGATIVE.findall(entry)}
    return found


def returned_codes(name: str) -> set[int]:
    """The negative codes the script's own code returns, and those of the helpers it calls."""
    body = (LUA / f"{name}.lua").read_text()
    body = body[body.index("]]") :]
    codes = {-int(n) for n in re.findall(r"return \{?-(\d+)", body)}
    codes |= {-int(n) for n in re.findall(r"table\.insert\(reply, 1, -(\d+)\)", body)}
    # allocate.lua answers per request: answer(-N, ...), or a fate {'refused', -N} answered so
    answered = re.findall(r"answer\(-(\d+)|'refused', -(\d+)", body)
    codes |= {-int(n) for groups in answered for n in groups if n}
    for function, theirs in include_functions().items():
        if re.search(rf"\b{function}\(", body):
            codes |= theirs
    return codes


@pytest.mark.parametrize("name", SCRIPT_NAMES)
def test_each_script_returns_exactly_the_codes_its_header_documents(name: str) -> None:
    assert returned_codes(name) == documented_codes(name)
    assert all(code in Code._value2member_map_ for code in documented_codes(name))


def test_every_refusal_code_is_returned_by_some_script() -> None:
    returned = set().union(*(returned_codes(name) for name in SCRIPT_NAMES))
    assert {code.value for code in Code if code < Code.OK} == returned


def test_every_lua_file_is_registered() -> None:
    assert {p.stem for p in LUA.glob("*.lua")} == set(SCRIPT_NAMES)


BOUNDARY = """-- @include list_status
return effective_status(KEYS[1], tonumber(ARGV[1])) or ''"""


@pytest.mark.parametrize("stored", [Status.ACTIVE, Status.PAUSED, Status.ARCHIVED])
async def test_lua_and_python_judge_expiry_alike_to_the_millisecond(
    redis_client: Client, stored: Status
) -> None:
    """The scripts (lua/includes/list_status.lua) and the rendering (app/domain/lists.py) put
    the boundary in the same place: at expires_at exactly, a list is expired."""
    expires_at = 1_795_000_000_000
    await redis_client.hset("meta", mapping={"status": stored.value, "expires_at": expires_at})
    for now in (expires_at - 1, expires_at, expires_at + 1):
        in_lua = await redis_client.eval(expand(BOUNDARY), 1, "meta", now)
        assert in_lua == effective_status(stored, expires_at, now).value, now
