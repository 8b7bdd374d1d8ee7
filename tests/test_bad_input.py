"""Bad input for every field: a clear 4xx naming the field, and nothing changed in Redis."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.state import dump, iso

FUTURE = "2099-01-01T00:00:00Z"
VALID_LIST = {"partner": "Acme", "tag": "t", "name": "n", "expires_at": FUTURE}
MISSING = object()

LIST_CASES: list[tuple[str, Any]] = [
    ("partner", MISSING),
    ("partner", ""),
    ("partner", "   "),
    ("partner", "x" * 101),
    ("partner", "a\u0000b"),
    ("partner", "a\nb"),
    ("partner", 7),
    ("partner", None),
    ("tag", MISSING),
    ("tag", ""),
    ("tag", "a b"),
    ("tag", "a\tb"),
    ("tag", "x" * 65),
    ("tag", "a\u200bb"),
    ("tag", ["t"]),
    ("tag", None),
    ("name", MISSING),
    ("name", ""),
    ("name", "x" * 201),
    ("name", 5),
    ("name", None),
    ("description", "x" * 2001),
    ("description", None),
    ("description", 1),
    ("expires_at", MISSING),
    ("expires_at", "2001-01-01T00:00:00Z"),
    ("expires_at", "tomorrow"),
    ("expires_at", "2099-01-01T00:00:00"),
    ("expires_at", 4102444800),
    ("expires_at", None),
    ("low_stock_threshold", -1),
    ("low_stock_threshold", "5"),
    ("low_stock_threshold", 1.5),
    ("low_stock_threshold", True),
    ("low_stock_threshold", 10**12),
    ("unknown", "field"),
]


def _body(field: str, value: Any) -> dict[str, Any]:
    body = dict(VALID_LIST)
    if value is MISSING:
        del body[field]
    else:
        body[field] = value
    return body


@pytest.mark.parametrize(
    ("field", "value"), LIST_CASES, ids=[f"{f}={v!r}"[:40] for f, v in LIST_CASES]
)
async def test_create_list_field_errors(api: Api, field: str, value: Any) -> None:
    await api.make_partner()
    before = await dump(api.redis)
    response = await api.post("/v1/lists", json=_body(field, value))
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in [f["field"] for f in error["details"]["fields"]]
    assert field in error["message"]
    assert await dump(api.redis) == before


async def test_expires_at_now_is_not_the_future(api: Api) -> None:
    await api.make_partner()
    before = await dump(api.redis)
    response = await api.post("/v1/lists", json={**VALID_LIST, "expires_at": iso(api.clock.ms)})
    assert response.status_code == 422
    assert await dump(api.redis) == before


EDIT_CASES: list[tuple[str, Any]] = [
    ("name", None),
    ("name", ""),
    ("name", "x" * 201),
    ("description", None),
    ("description", "x" * 2001),
    ("expires_at", None),
    ("expires_at", "2001-01-01T00:00:00Z"),
    ("expires_at", "2099-13-01T00:00:00Z"),
    ("low_stock_threshold", -5),
    ("low_stock_threshold", "1"),
    ("extra", 1),
]


@pytest.mark.parametrize(
    ("field", "value"), EDIT_CASES, ids=[f"{f}={v!r}"[:40] for f, v in EDIT_CASES]
)
async def test_edit_list_field_errors(api: Api, field: str, value: Any) -> None:
    await api.make_partner()
    made = await api.make_list()
    before = await dump(api.redis)
    response = await api.patch(f"/v1/lists/{made['id']}", json={field: value})
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["error"]["details"]["fields"]]
    assert await dump(api.redis) == before


PARTNER_CASES: list[Any] = [
    {},
    {"name": ""},
    {"name": "  "},
    {"name": "x" * 101},
    {"name": "a\u0007"},
    {"name": 3},
    {"name": None},
    {"name": "ok", "extra": 1},
]


@pytest.mark.parametrize("body", PARTNER_CASES, ids=[repr(b)[:40] for b in PARTNER_CASES])
async def test_create_partner_errors(api: Api, body: dict[str, Any]) -> None:
    before = await dump(api.redis)
    response = await api.post("/v1/partners", json=body)
    assert response.status_code == 422, response.text
    fields = [f["field"] for f in response.json()["error"]["details"]["fields"]]
    assert fields == ["extra"] if "extra" in body else fields == ["name"]
    assert await dump(api.redis) == before


RAW_CASES: list[tuple[str, bytes, str, int, str]] = [
    ("malformed", b'{"name": ', "application/json", 400, "malformed_body"),
    ("array", b"[1, 2]", "application/json", 400, "malformed_body"),
    ("scalar", b'"name"', "application/json", 400, "malformed_body"),
    ("empty", b"", "application/json", 400, "malformed_body"),
    ("not utf-8", b'{"name": "\xff\xfe"}', "application/json", 400, "malformed_body"),
    ("deep", b"[" * 5000 + b"]" * 5000, "application/json", 400, "malformed_body"),
    ("form", b"name=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
    ("text", b'{"name": "x"}', "text/plain", 415, "unsupported_media_type"),
    ("none", b'{"name": "x"}', "", 415, "unsupported_media_type"),
    ("huge", b'{"name": "' + b"x" * 70_000 + b'"}', "application/json", 413, "payload_too_large"),
]


@pytest.mark.parametrize("case", RAW_CASES, ids=[c[0] for c in RAW_CASES])
@pytest.mark.parametrize("path", ["/v1/partners", "/v1/lists", "PATCH"])
async def test_malformed_bodies(
    api: Api, case: tuple[str, bytes, str, int, str], path: str
) -> None:
    _, content, media, status, code = case
    method = "POST"
    if path == "PATCH":
        await api.make_partner()
        method, path = "PATCH", f"/v1/lists/{(await api.make_list())['id']}"
    before = await dump(api.redis)
    headers = {"Content-Type": media} if media else {}
    response = await api.call(method, path, content=content, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert await dump(api.redis) == before


QUERY_CASES = [
    ("limit", "0"),
    ("limit", "501"),
    ("limit", "ten"),
    ("status", "deleted"),
    ("cursor", "x" * 2000),
]


@pytest.mark.parametrize(("name", "value"), QUERY_CASES)
async def test_query_errors(api: Api, name: str, value: str) -> None:
    response = await api.get("/v1/lists", params={name: value})
    assert response.status_code == 422
    assert response.json()["error"]["details"]["fields"][0]["field"] == name


async def test_unknown_route_and_method_use_the_error_shape(api: Api) -> None:
    missing = await api.get("/v1/nothing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "route_not_found"
    wrong = await api.call("PUT", "/v1/partners")
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "method_not_allowed"
    assert set(wrong.headers["allow"].split(", ")) == {"GET", "HEAD", "POST"}
    one_list = await api.call("PUT", "/v1/lists/acme.summer.1")
    assert one_list.status_code == 405
    assert set(one_list.headers["allow"].split(", ")) == {"GET", "HEAD", "PATCH", "DELETE"}


async def test_validation_reports_every_bad_field(api: Api) -> None:
    response = await api.post(
        "/v1/lists", json={"tag": 1, "name": "", "expires_at": "x", "bogus": True}
    )
    fields = {f["field"] for f in response.json()["error"]["details"]["fields"]}
    assert fields == {"partner", "tag", "name", "expires_at", "bogus"}
