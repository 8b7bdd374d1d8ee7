"""Bad input for every field: a clear 4xx naming the field, and nothing changed in Redis."""

from __future__ import annotations

import base64
import socket
from pathlib import Path
from typing import Any

import orjson
import pytest

from app.domain.lists import ListId
from app.store.keys import Keys
from tests.conftest import Api
from tests.service import running_service
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
    ("expires_at", "1900000000"),  # digits are not a date
    ("expires_at", "9999-12-31T23:59:59-14:00"),  # the year 10000 in UTC
    ("expires_at", "10000-01-01T00:00:00Z"),
    ("expires_at", "2099-01-01T25:00:00Z"),
    ("expires_at", "2099-01-01 00:00:00Z"),
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
    now = iso(await api.store_ms())  # "the future" is the store's, whatever the app's clock
    response = await api.post("/v1/lists", json={**VALID_LIST, "expires_at": now})
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
    ("expires_at", "1900000000"),
    ("expires_at", "9999-12-31T23:59:59-14:00"),
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


async def test_a_stored_time_no_date_can_show_never_breaks_a_read(api: Api) -> None:
    """A list stored by an older version with an expiry past the year 9999 is shown, with the
    latest time RFC 3339 can show, instead of failing every read of the listing."""
    await api.make_partner()
    made = await api.make_list()
    meta = Keys("pv").list(ListId(made["id"])).meta
    await api.redis.hset(meta, "expires_at", 10**16)
    for response in (await api.get(f"/v1/lists/{made['id']}"), await api.get("/v1/lists")):
        assert response.status_code == 200
        assert "9999-12-31T23:59:59.999Z" in response.text


async def test_forged_or_borrowed_cursors_are_422(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list("Acme", "a")
    await api.make_list("Acme", "b")
    page = (await api.get("/v1/lists", params={"limit": 1})).json()
    cursor = page["next_cursor"]
    assert (await api.get("/v1/lists", params={"cursor": cursor})).status_code == 200
    value, _, signature = cursor.partition(".")
    forged = [
        value,  # unsigned
        f"{value}.{signature[::-1]}",  # signed by someone else
        base64.urlsafe_b64encode(orjson.dumps([0, "zzz"])).decode() + "." + signature,
        "WzAsInoiXQ",  # [0, "z"] without a signature, as the old cursors were
    ]
    for bad in forged:
        response = await api.get("/v1/lists", params={"cursor": bad})
        assert response.status_code == 422, bad
        assert response.json()["error"]["details"]["fields"][0]["field"] == "cursor"
    # a cursor is good only for the collection that handed it out
    borrowed = await api.get(f"/v1/lists/{made['id']}/uploads", params={"cursor": cursor})
    assert borrowed.status_code == 422


async def test_a_trailing_slash_is_a_json_404_not_a_redirect(api: Api) -> None:
    for path in ("/v1/lists/", "/v1/partners/", "/healthz/"):
        response = await api.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "route_not_found"


def test_a_request_the_server_cannot_parse_gets_the_json_error_shape(tmp_path: Path) -> None:
    """Answers uvicorn gives before the app sees the request (a Content-Length that is not a
    number, a broken request line) are JSON too."""
    with running_service(None, tmp_path / "data") as svc:
        for raw in (
            b"POST /v1/partners HTTP/1.1\r\nHost: x\r\nContent-Length: ten\r\n\r\n{}",
            b"POST /v1/partners HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
            b"GET /healthz HTTP/1.1 extra\r\n\r\n",
        ):
            with socket.create_connection(("127.0.0.1", svc.port), timeout=10) as sock:
                sock.sendall(raw)
                reply = b""
                while chunk := sock.recv(65536):
                    reply += chunk
            head, _, body = reply.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 400"), reply
            assert b"content-type: application/json" in head.lower()
            assert orjson.loads(body)["error"]["code"] == "malformed_request"
