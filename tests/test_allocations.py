"""Allocation: exactly once under concurrency, idempotency, every refusal, reads."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import Counter
from typing import Any, cast
from urllib.parse import quote

import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.app import create_app
from app.config import Settings
from app.domain.lists import ListId
from app.store import records
from app.store.connection import Client
from app.store.keys import Keys
from tests.conftest import Api, all_pages, running
from tests.state import Clock, dump, iso


async def stocked(api: Api, codes: int, campaign: str = "c1", **fields: Any) -> str:
    """A list with `codes` codes, linked to `campaign` (of partner `fields["partner"]`, made
    here, Acme by default)."""
    await api.make_partner(fields.get("partner", "Acme"))
    made = await api.make_list(**fields)
    content = "\n".join(f"CODE-{n:06d}" for n in range(codes)).encode()
    if codes:
        assert (await api.upload(made["id"], content))["codes_uploaded"] == codes
    assert (await api.put(f"/v1/lists/{made['id']}/campaigns/{campaign}")).status_code == 200
    return str(made["id"])


async def allocate(
    api: Api, list_id: str, user: str, campaign: str = "c1", key: str | None = None, **extra: Any
) -> Any:
    headers = {"Idempotency-Key": key} if key is not None else {}
    return await api.post(
        "/v1/allocations",
        role="allocator",
        headers=headers,
        json={"list_id": list_id, "campaign_id": campaign, "user_id": user, **extra},
    )


async def relayed_events(api: Api) -> list[dict[str, Any]]:
    assert await api.app.state.relay.relay(sweep=True) is not None
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/events", role="allocator", params=params)).json()
        events += page["items"]
        if not page["items"]:
            return events
        cursor = page["next_cursor"]


async def check_consistent(api: Api, list_id: str) -> None:
    """Counters, sets, issued records and events all agree."""
    keys = Keys("pv").list(ListId(list_id))
    body = (await api.get(f"/v1/lists/{list_id}")).json()
    issued = cast(dict[str, str], await api.redis.hgetall(keys.issued))
    avail = cast(set[str], await api.redis.smembers(keys.avail))
    assert body["codes_distributed"] == len(issued)
    assert body["codes_available"] == len(avail)
    assert body["codes_uploaded"] == await api.redis.scard(keys.dedupe)
    assert body["codes_uploaded"] == len(avail) + len(issued)
    assert not avail & set(issued)
    events = [
        e
        for e in await relayed_events(api)
        if e["properties"]["voucherListID"] == list_id and e["name"] == "Partner Voucher Rewarded"
    ]
    assert sorted(e["properties"]["voucherCode"] for e in events) == sorted(issued)
    assert len({e["id"] for e in events}) == len(events)
    assert {e["id"] for e in events} == {r.split("\n")[3] for r in issued.values()}


async def test_allocate_hands_out_a_code_with_its_event(api: Api) -> None:
    list_id = await stocked(api, 3, description="10% off shoes")
    response = await allocate(api, list_id, "user-1", source="app")
    assert response.status_code == 201
    body = response.json()
    assert body["replayed"] is False
    assert body["voucher_code"].startswith("CODE-")
    assert (body["list_id"], body["campaign_id"], body["user_id"]) == (list_id, "c1", "user-1")
    events = await relayed_events(api)
    assert events == [
        {
            "id": body["event_id"],
            "name": "Partner Voucher Rewarded",
            "timestamp": body["issued_at"],
            "user_id": "user-1",
            "properties": {
                "campaignID": "c1",
                "codeDescription": "10% off shoes",
                "codeProvider": "Acme",
                "codeSnippetName": "Acme summer",
                "source": "app",
                "voucherCode": body["voucher_code"],
                "voucherListID": list_id,
            },
        }
    ]
    looked_up = (await api.get(f"/v1/lists/{list_id}/codes/{body['voucher_code']}")).json()
    assert looked_up == {
        "code": body["voucher_code"],
        "state": "issued",
        "user_id": "user-1",
        "campaign_id": "c1",
        "issued_at": body["issued_at"],
    }
    await check_consistent(api, list_id)


async def test_hundreds_of_concurrent_allocations_never_issue_a_code_twice(api: Api) -> None:
    list_id = await stocked(api, 150)
    responses = await asyncio.gather(*(allocate(api, list_id, f"u{n}") for n in range(200)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 150, 409: 50}
    assert {r.json()["error"]["code"] for r in responses if r.status_code == 409} == {
        "out_of_codes"
    }
    codes = [r.json()["voucher_code"] for r in responses if r.status_code == 201]
    assert len(set(codes)) == 150
    await check_consistent(api, list_id)


async def test_concurrent_identical_requests_get_one_code(api: Api) -> None:
    list_id = await stocked(api, 10)
    for key in (None, "retry-key-1"):
        responses = await asyncio.gather(
            *(allocate(api, list_id, "same-user", key=key) for _ in range(20))
        )
        assert Counter(r.status_code for r in responses) == {201: 1, 200: 19}
        assert len({r.json()["voucher_code"] for r in responses}) == 1
        assert len({r.json()["event_id"] for r in responses}) == 1
        assert [r.json()["replayed"] for r in responses].count(False) == 1
    await check_consistent(api, list_id)
    assert (await api.get(f"/v1/lists/{list_id}")).json()["codes_distributed"] == 2


async def test_idempotency_semantics(api: Api) -> None:
    list_id = await stocked(api, 10)
    first = (await allocate(api, list_id, "u1")).json()
    # without a key: one code per (list, campaign) for a user, whatever the source
    again = await allocate(api, list_id, "u1", source="other")
    assert (again.status_code, again.json()["voucher_code"]) == (200, first["voucher_code"])
    # with keys: one code per key, the per-campaign limit does not apply
    k1 = (await allocate(api, list_id, "u1", key="k1")).json()
    k2 = (await allocate(api, list_id, "u1", key="k2")).json()
    assert len({first["voucher_code"], k1["voucher_code"], k2["voucher_code"]}) == 3
    # the same key with another user or campaign is a conflict, and changes nothing
    await api.put(f"/v1/lists/{list_id}/campaigns/c2")
    before = await dump(api.redis)
    for user, campaign in (("u2", "c1"), ("u1", "c2")):
        conflict = await allocate(api, list_id, user, campaign=campaign, key="k1")
        assert conflict.status_code == 409
        assert conflict.json()["error"]["code"] == "idempotency_conflict"
    assert await dump(api.redis) == before
    # a replay answers whatever the list's state is now
    await api.post(f"/v1/lists/{list_id}/pause")
    replay = await allocate(api, list_id, "u1", key="k1", source="ignored")
    assert (replay.status_code, replay.json()) == (200, {**k1, "replayed": True})


@pytest.mark.parametrize(
    "case", ["unknown", "not_linked", "paused", "expired", "archived", "out_of_codes", "unlinked"]
)
async def test_every_refusal_changes_nothing(api: Api, case: str) -> None:
    list_id = await stocked(api, 0 if case == "out_of_codes" else 5)
    campaign, target = "c1", list_id
    if case == "unknown":
        target = "acme.nothing.9"
    elif case == "not_linked":
        campaign = "c-other"
    elif case == "paused":
        await api.post(f"/v1/lists/{list_id}/pause")
    elif case == "archived":
        await api.post(f"/v1/lists/{list_id}/archive")
    elif case == "expired":  # expires_at reached at this very millisecond of the server
        meta = Keys("pv").list(ListId(list_id)).meta
        await api.redis.hset(meta, "expires_at", await api.store_ms())
    elif case == "unlinked":
        await api.delete(f"/v1/lists/{list_id}/campaigns/c1")
    before = await dump(api.redis)
    response = await allocate(api, target, "u1", campaign=campaign)
    expected = {
        "unknown": (404, "list_not_found", {}),
        "not_linked": (409, "campaign_not_linked", {}),
        "unlinked": (409, "campaign_not_linked", {}),
        "paused": (409, "list_not_active", {"status": "paused"}),
        "expired": (409, "list_not_active", {"status": "expired"}),
        "archived": (409, "list_not_active", {"status": "archived"}),
        "out_of_codes": (409, "out_of_codes", {}),
    }[case]
    error = response.json()["error"]
    assert (response.status_code, error["code"], error["details"]) == expected
    assert await dump(api.redis) == before


async def test_a_list_expiring_a_minute_later_still_allocates(api: Api) -> None:
    list_id = await stocked(api, 2)
    meta = Keys("pv").list(ListId(list_id)).meta
    await api.redis.hset(meta, "expires_at", await api.store_ms() + 60_000)
    assert (await allocate(api, list_id, "u1")).status_code == 201


async def test_checks_run_in_the_contract_order(api: Api) -> None:
    list_id = await stocked(api, 0)
    await api.post(f"/v1/lists/{list_id}/pause")
    # not linked beats not active beats out of codes
    response = await allocate(api, list_id, "u1", campaign="nope")
    assert response.json()["error"]["code"] == "campaign_not_linked"
    response = await allocate(api, list_id, "u1")
    assert response.json()["error"]["code"] == "list_not_active"


async def test_low_stock_fires_once_per_crossing_and_exhausted_once(api: Api) -> None:
    list_id = await stocked(api, 4, low_stock_threshold=2)
    for n in range(3):  # 4 -> 3 -> 2 (Low) -> 1
        assert (await allocate(api, list_id, f"u{n}")).status_code == 201
    await api.upload(list_id, b"TOP-1\nTOP-2\n")  # 1 -> 3: above the threshold again
    for n in range(3, 6):  # 3 -> 2 (Low again) -> 1 -> 0 (Exhausted)
        assert (await allocate(api, list_id, f"u{n}")).status_code == 201
    assert (await allocate(api, list_id, "late")).json()["error"]["code"] == "out_of_codes"
    alerts = [
        (e["name"], e["properties"], e["user_id"])
        for e in await relayed_events(api)
        if e["name"] != "Partner Voucher Rewarded"
    ]
    low = {"voucherListID": list_id, "codesAvailable": 2, "lowStockThreshold": 2}
    assert alerts == [
        ("Voucher List Low", low, None),
        ("Voucher List Low", low, None),
        (
            "Voucher List Exhausted",
            {"voucherListID": list_id, "codesAvailable": 0, "lowStockThreshold": 2},
            None,
        ),
    ]


async def test_a_top_up_that_stays_below_the_threshold_does_not_re_arm(api: Api) -> None:
    list_id = await stocked(api, 3, low_stock_threshold=5)
    await allocate(api, list_id, "u0")  # 3 -> 2: already below, no crossing
    await api.upload(list_id, b"T1\n")  # 2 -> 3, still below
    await allocate(api, list_id, "u1")
    names = [e["name"] for e in await relayed_events(api)]
    assert "Voucher List Low" not in names


async def test_allocation_reads(api: Api) -> None:
    list_id = await stocked(api, 10)
    await api.put(f"/v1/lists/{list_id}/campaigns/c2")
    made = [
        (await allocate(api, list_id, user, campaign=c)).json()
        for user, c in (("u1", "c1"), ("u2", "c1"), ("u1", "c2"), ('we,ird"user', "c1"))
    ]
    page = (
        await api.get(f"/v1/lists/{list_id}/allocations", role="allocator", params={"limit": 3})
    ).json()
    assert [a["voucher_code"] for a in page["items"]] == [m["voucher_code"] for m in made[:3]]
    rest = (
        await api.get(
            f"/v1/lists/{list_id}/allocations", params={"limit": 3, "cursor": page["next_cursor"]}
        )
    ).json()
    assert [a["voucher_code"] for a in rest["items"]] == [made[3]["voucher_code"]]
    assert rest["next_cursor"] is None
    mine = (await api.get(f"/v1/lists/{list_id}/allocations", params={"user_id": "u1"})).json()
    assert [(a["voucher_code"], a["campaign_id"]) for a in mine["items"]] == [
        (made[0]["voucher_code"], "c1"),
        (made[2]["voucher_code"], "c2"),
    ]
    csv = (await api.get(f"/v1/lists/{list_id}/allocations.csv", role="allocator")).text
    quoted = {'we,ird"user': '"we,ird""user"'}
    assert csv.splitlines() == ["voucher_code,user_id,campaign_id,issued_at"] + [
        f"{m['voucher_code']},{quoted.get(m['user_id'], m['user_id'])},"
        f"{m['campaign_id']},{m['issued_at']}"
        for m in made
    ]
    assert (await api.get(f"/v1/lists/{list_id}/allocations", role="viewer")).status_code == 403
    available = (await api.get(f"/v1/lists/{list_id}/codes/CODE-000000")).json()
    assert available["state"] in ("available", "issued")
    missing = await api.get(f"/v1/lists/{list_id}/codes/NOPE")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "code_not_found")
    assert (await api.get(f"/v1/lists/{list_id}/codes/NOPE", role="allocator")).status_code == 403


BAD = [
    ({"user_id": ""}, "user_id"),
    ({"user_id": "x" * 257}, "user_id"),
    ({"user_id": "a\nb"}, "user_id"),
    ({"source": ""}, "source"),
    ({"source": "s" * 65}, "source"),
    ({"source": "a\tb"}, "source"),
    ({"campaign_id": "bad id"}, "campaign_id"),
    ({"campaign_id": 5}, "campaign_id"),
    ({"list_id": ""}, "list_id"),
    ({"extra": 1}, "extra"),
]


@pytest.mark.parametrize(("patch", "field"), BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
async def test_bad_allocation_requests(api: Api, patch: dict[str, Any], field: str) -> None:
    list_id = await stocked(api, 2)
    before = await dump(api.redis)
    body = {"list_id": list_id, "campaign_id": "c1", "user_id": "u1", **patch}
    response = await api.post("/v1/allocations", role="allocator", json=body)
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["error"]["details"]["fields"]]
    assert await dump(api.redis) == before


@pytest.mark.parametrize("key", ["", "k" * 201, "tab\tin key", "nul\x01"])
async def test_bad_idempotency_keys(api: Api, key: str) -> None:
    list_id = await stocked(api, 2)
    before = await dump(api.redis)
    response = await allocate(api, list_id, "u1", key=key)
    assert response.status_code == 422
    assert response.json()["error"]["details"]["fields"][0]["field"] == "Idempotency-Key"
    assert await dump(api.redis) == before


PRINTABLE = [f"X{chr(c)}Y" for c in range(0x21, 0x7F)] + [
    ".",
    "..",
    "/",
    "a/../b",
    "%2F",
    "100%",
    "?x=1&y=2#z",
    "caf\u00e9\u20ac",
    "\u65e5\u672c",
]


async def test_codes_with_any_printable_character_are_reachable(api: Api) -> None:
    """Every printable code uploads, and its lookup finds it, available or issued: the code
    is one path segment, percent-encoded ("/" as %2F, and "." as %2E, which keeps a client
    from dropping a "." or ".." segment)."""
    await api.make_partner()
    made = await api.make_list()
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([c] for c in PRINTABLE)
    done = await api.upload(made["id"], out.getvalue().encode())
    assert done["codes_uploaded"] == len(PRINTABLE), done
    await api.put(f"/v1/lists/{made['id']}/campaigns/c1")
    issued = (await allocate(api, made["id"], "u1")).json()["voucher_code"]
    for code in PRINTABLE:
        segment = quote(code, safe="").replace(".", "%2E")
        found = await api.get(f"/v1/lists/{made['id']}/codes/{segment}")
        assert found.status_code == 200, code
        body = found.json()
        assert body["code"] == code
        assert body["state"] == ("issued" if code == issued else "available")


async def test_one_users_allocations_page_through_the_by_user_index(api: Api) -> None:
    list_id = await stocked(api, 20)
    mine = [(await allocate(api, list_id, "u1", key=f"k{n}")).json() for n in range(7)]
    other = (await allocate(api, list_id, "u2")).json()
    path = f"/v1/lists/{list_id}/allocations"
    pages = await all_pages(api, path, 3, user_id="u1")
    assert [a["voucher_code"] for a in pages] == [m["voucher_code"] for m in mine]
    assert [a["event_id"] for a in pages] == [m["event_id"] for m in mine]
    first = (await api.get(path, params={"user_id": "u1", "limit": 3})).json()
    borrowed = await api.get(path, params={"user_id": "u2", "cursor": first["next_cursor"]})
    assert borrowed.status_code == 422  # a cursor of u1's pages is not one of u2's
    theirs = (await api.get(path, params={"user_id": "u2"})).json()
    assert [a["voucher_code"] for a in theirs["items"]] == [other["voucher_code"]]
    assert theirs["next_cursor"] is None
    nobody = (await api.get(path, params={"user_id": "nobody"})).json()
    assert nobody == {"items": [], "next_cursor": None}


async def test_allocations_page_newest_first_when_asked(api: Api) -> None:
    list_id = await stocked(api, 20)
    given = [(await allocate(api, list_id, "u1", key=f"k{n}")).json() for n in range(7)]
    given += [(await allocate(api, list_id, f"v{n}")).json() for n in range(4)]
    path = f"/v1/lists/{list_id}/allocations"
    newest = await all_pages(api, path, 3, order="newest")
    assert [a["voucher_code"] for a in newest] == [g["voucher_code"] for g in reversed(given)]
    mine = await all_pages(api, path, 3, order="newest", user_id="u1")
    assert [a["voucher_code"] for a in mine] == [g["voucher_code"] for g in reversed(given[:7])]
    oldest = (await api.get(path, params={"limit": 3})).json()
    crossed = await api.get(path, params={"order": "newest", "cursor": oldest["next_cursor"]})
    assert crossed.status_code == 422  # a cursor of one order is not one of the other
    wrong = await api.get(path, params={"order": "sideways"})
    assert wrong.status_code == 422
    assert wrong.json()["error"]["details"]["fields"][0]["field"] == "order"


@pytest.mark.parametrize("skew_ms", [-3_600_000, 3_600_000])
async def test_every_route_judges_expiry_on_the_store_clock(api: Api, skew_ms: int) -> None:
    """The app's own clock an hour off the store's: every route still agrees with the
    allocations on the store's clock, before expiry and from its very millisecond on."""
    api.clock.ms = await api.store_ms() + skew_ms
    list_id = await stocked(api, 5)
    meta = Keys("pv").list(ListId(list_id)).meta
    await api.redis.hset(meta, "expires_at", await api.store_ms() + 60_000)
    assert (await api.get(f"/v1/lists/{list_id}")).json()["status"] == "active"
    assert (await allocate(api, list_id, "u1")).status_code == 201
    assert (await api.put(f"/v1/lists/{list_id}/campaigns/c2")).status_code == 200
    assert (await api.upload(list_id, b"MORE-1\n"))["status"] == "completed"
    await api.redis.hset(meta, "expires_at", await api.store_ms())  # expires this millisecond
    assert (await api.get(f"/v1/lists/{list_id}")).json()["status"] == "expired"
    listed = (await api.get("/v1/lists", params={"status": "expired"})).json()["items"]
    assert [i["id"] for i in listed] == [list_id]
    refused = (await allocate(api, list_id, "u2")).json()["error"]
    assert (refused["code"], refused["details"]) == ("list_not_active", {"status": "expired"})
    link = await api.put(f"/v1/lists/{list_id}/campaigns/c3")
    assert link.json()["error"]["code"] == "list_not_linkable"
    upload = await api.post(
        f"/v1/lists/{list_id}/uploads", files={"file": ("a.csv", b"X\n", "text/csv")}
    )
    assert upload.json()["error"]["code"] == "list_not_uploadable"
    pause = await api.post(f"/v1/lists/{list_id}/pause")
    assert pause.json()["error"]["details"]["status"] == "expired"
    past = {"expires_at": iso(await api.store_ms() - 1000)}
    assert (await api.patch(f"/v1/lists/{list_id}", json=past)).status_code == 422


async def test_the_hot_route_goes_through_any_middleware_added_to_the_app(
    redis_client: Client, settings: Settings, clock: Clock
) -> None:
    """POST /v1/allocations skips Starlette's routing for speed, but never what the rest of
    the app does: with a middleware added, it goes through it like every route."""
    seen: list[str] = []

    class Recorder:
        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                seen.append(f"{scope['method']} {scope['path']}")
            await self.app(scope, receive, send)

    app = create_app(settings, redis=redis_client, clock=clock)
    app.add_middleware(Recorder)
    async with running(app) as client:
        api = Api(client, app, redis_client, clock)
        list_id = await stocked(api, 2)
        assert (await allocate(api, list_id, "u1")).status_code == 201
    assert "POST /v1/allocations" in seen
    assert f"PUT /v1/lists/{list_id}/campaigns/c1" in seen


async def test_the_issued_record_allocate_lua_writes_is_the_one_records_reads(api: Api) -> None:
    list_id = await stocked(api, 3)
    made = [
        (await allocate(api, list_id, "u1", key="reward-1", source="app")).json(),
        (await allocate(api, list_id, "u1")).json(),
    ]
    issued = Keys("pv").list(ListId(list_id)).issued

    async def record_of(code: str) -> records.IssuedRecord:
        return records.decode(str(await api.redis.hget(issued, code)))

    for got, scope in zip(made, ["k:reward-1", "u:c1\nu1"], strict=True):
        record = await record_of(got["voucher_code"])
        assert record.user_id == "u1"
        assert record.campaign_id == "c1"
        assert iso(record.issued_at) == got["issued_at"]
        assert record.event_id == got["event_id"]
        assert record.scope == scope
    assert (await record_of(made[0]["voucher_code"])).source == "app"
    order = [(await record_of(m["voucher_code"])).order for m in made]
    assert order == sorted(order)


async def test_a_first_code_without_a_key_replays_through_the_by_user_index(api: Api) -> None:
    """A user's first code taken without a key has no idempotency entry of its own: its scope
    is found through the by-user index and the code's record, for every mix of campaigns,
    keys and users, in single calls and within one bulk call."""
    list_id = await stocked(api, 20)
    await api.put(f"/v1/lists/{list_id}/campaigns/c2")

    async def step(user: str, campaign: str = "c1", key: str | None = None) -> tuple[int, str]:
        done = await allocate(api, list_id, user, campaign, key)
        return done.status_code, done.json().get("voucher_code") or done.json()["error"]["code"]

    status, a = await step("u")
    assert status == 201
    assert await step("u") == (200, a)
    status, b = await step("u", "c2")
    assert status == 201
    assert b != a
    status, c = await step("u", key="k1")
    assert status == 201
    assert c not in (a, b)
    assert await step("u", "c2") == (200, b)
    assert await step("u") == (200, a)
    assert await step("u", key="k1") == (200, c)
    assert await step("v", key="k1") == (409, "idempotency_conflict")
    status, d = await step("w", key="k2")  # a first code with a key: the key's own entry
    assert status == 201
    status, e = await step("w")  # then without one: a new code, with an entry
    assert status == 201
    assert e != d
    assert await step("w") == (200, e)
    body = {
        "list_id": list_id,
        "campaign_id": "c1",
        "items": [{"user_id": "x"}, {"user_id": "u"}, {"user_id": "x"}, {"user_id": "w"}],
    }
    done = (await api.post("/v1/allocations/bulk", json=body, role="allocator")).json()
    got = [(i["status"], i["voucher_code"]) for i in done["items"]]
    assert got[1:] == [(200, a), (200, got[0][1]), (200, e)]
    assert got[0][0] == 201
    idem = await api.redis.hgetall(Keys("pv").list(ListId(list_id)).idem)
    assert sorted(idem.values()) == sorted([b, c, d, e])  # no entry for a, nor for x's code
