"""Voucher lists through the HTTP API."""

from __future__ import annotations

from app.domain.clock import rfc3339
from tests.conftest import Api, all_pages, until_store_time
from tests.state import DAY_MS, iso


async def test_create_and_get_a_list(api: Api) -> None:
    await api.make_partner("Acme")
    before = await api.store_ms()
    created = await api.make_list(
        "Acme",
        "Summer-Sale!",
        name="Summer",
        description="10% off",
        expires_at=iso(api.clock.ms + DAY_MS),
        low_stock_threshold=5,
    )
    after = await api.store_ms()
    assert iso(before) <= created["created_at"] <= iso(after)  # on the store's clock
    assert created == {
        "id": created["id"],
        "partner": "Acme",
        "tag": "summer-sale!",
        "name": "Summer",
        "description": "10% off",
        "expires_at": rfc3339(api.clock.ms + DAY_MS),
        "status": "active",
        "created_at": created["created_at"],
        "updated_at": created["created_at"],
        "codes_uploaded": 0,
        "codes_distributed": 0,
        "codes_available": 0,
        "linked_campaigns": 0,
        "low_stock_threshold": 5,
        "allowed_actions": ["pause", "edit", "upload_codes", "archive", "delete"],
    }
    assert created["id"].startswith("acme.summer-sale.")
    fetched = await api.get(f"/v1/lists/{created['id']}", role="viewer")
    assert fetched.status_code == 200
    assert fetched.json() == created


async def test_expires_at_accepts_any_offset_and_is_rendered_utc(api: Api) -> None:
    await api.make_partner()
    created = await api.make_list(expires_at="2099-06-01T12:00:00.123+02:00")
    assert created["expires_at"] == "2099-06-01T10:00:00.123Z"


async def test_unknown_list_is_404(api: Api) -> None:
    for path in ("/v1/lists/acme.summer.zz", "/v1/lists/not-an-id", "/v1/lists/A.B.C"):
        response = await api.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "list_not_found"


async def test_tag_is_unique_per_partner_among_non_archived_lists(api: Api) -> None:
    await api.make_partner("Acme")
    await api.make_partner("ACME")
    first = await api.make_list("Acme", "Summer")
    clash = await api.post("/v1/lists", json=api.list_body("Acme", "SUMMER", name="again"))
    assert clash.status_code == 409
    assert clash.json()["error"]["code"] == "tag_in_use"
    assert clash.json()["error"]["details"] == {"list_id": first["id"]}
    # another partner (names are case-sensitive) or another tag is fine
    await api.make_list("ACME", "summer")
    await api.make_list("Acme", "winter")
    # archiving frees the (partner, tag), and the new list gets a new id
    assert (await api.post(f"/v1/lists/{first['id']}/archive")).status_code == 200
    again = await api.make_list("Acme", "summer")
    assert again["id"] != first["id"]


async def test_deleted_list_frees_its_tag_and_its_id_is_never_reused(api: Api) -> None:
    await api.make_partner()
    ids = set()
    for _ in range(3):
        made = await api.make_list()
        ids.add(made["id"])
        assert (await api.delete(f"/v1/lists/{made['id']}")).status_code == 204
        assert (await api.get(f"/v1/lists/{made['id']}")).status_code == 404
    assert len(ids) == 3


async def test_partner_must_exist(api: Api) -> None:
    response = await api.post("/v1/lists", json=api.list_body("Nobody", "t", name="n"))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "partner_not_found"
    assert (await api.get("/v1/lists")).json() == {"items": [], "next_cursor": None}


async def test_partner_counts_non_archived_lists(api: Api) -> None:
    await api.make_partner("Acme")
    a = await api.make_list("Acme", "a")
    b = await api.make_list("Acme", "b")
    await api.make_list("Acme", "c")
    await api.post(f"/v1/lists/{a['id']}/archive")
    await api.delete(f"/v1/lists/{b['id']}")
    partners = (await api.get("/v1/partners")).json()["items"]
    assert [(p["name"], p["lists"]) for p in partners] == [("Acme", 1)]


async def test_edit_changes_only_the_given_fields(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list(description="old", low_stock_threshold=3)
    edited_after = await api.store_ms()
    response = await api.patch(
        f"/v1/lists/{made['id']}", json={"name": "New name", "low_stock_threshold": None}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "New name"
    assert body["description"] == "old"
    assert body["low_stock_threshold"] is None
    assert iso(edited_after) <= body["updated_at"] <= iso(await api.store_ms())
    assert body["created_at"] == made["created_at"]
    assert (await api.get(f"/v1/lists/{made['id']}")).json() == body


async def test_edit_refuses_immutable_fields(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    for field, value in (("partner", "Other"), ("tag", "x"), ("status", "paused")):
        response = await api.patch(f"/v1/lists/{made['id']}", json={field: value, "name": "n"})
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "immutable_field"
        assert error["details"]["fields"][0]["field"] == field
    assert (await api.get(f"/v1/lists/{made['id']}")).json() == made


async def test_expiry_is_derived_and_extending_restores_the_status(api: Api) -> None:
    await api.make_partner()
    active = await api.make_list("Acme", "a")
    paused = await api.make_list("Acme", "p")
    await api.post(f"/v1/lists/{paused['id']}/pause")
    for made in (active, paused):
        await api.expire(made["id"])
    for made in (active, paused):
        body = (await api.get(f"/v1/lists/{made['id']}")).json()
        assert body["status"] == "expired"
        assert body["allowed_actions"] == ["edit", "archive", "delete"]
    refused = await api.post(f"/v1/lists/{paused['id']}/activate")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "list_expired"
    for made, status in ((active, "active"), (paused, "paused")):
        extended = await api.patch(
            f"/v1/lists/{made['id']}", json={"expires_at": iso(await api.store_ms() + DAY_MS)}
        )
        assert extended.json()["status"] == status


async def test_listing_filters_and_pages_newest_updated_first(api: Api) -> None:
    await api.make_partner("Acme")
    await api.make_partner("Bolt")
    made = []
    for i in range(7):
        await until_store_time(api, await api.store_ms() + 2)  # each a millisecond of its own
        made.append(await api.make_list("Acme" if i % 2 else "Bolt", f"t{i}"))
    await until_store_time(api, await api.store_ms() + 2)
    await api.post(f"/v1/lists/{made[0]['id']}/pause")  # now the newest
    expected = [made[0]["id"], *[m["id"] for m in reversed(made[1:])]]

    seen = [item["id"] for item in await all_pages(api, "/v1/lists", 3)]
    assert seen == expected

    acme = (await api.get("/v1/lists", params={"partner": "Acme"})).json()["items"]
    assert [i["id"] for i in acme] == [m["id"] for m in reversed(made) if m["partner"] == "Acme"]
    paused = (await api.get("/v1/lists", params={"status": "paused"})).json()["items"]
    assert [i["id"] for i in paused] == [made[0]["id"]]
    for m in made[3:]:
        await api.expire(m["id"])
    expired = (await api.get("/v1/lists", params={"status": "expired", "limit": 500})).json()
    assert {i["id"] for i in expired["items"]} == {m["id"] for m in made[3:]}


async def test_listing_pages_through_lists_updated_in_the_same_millisecond(api: Api) -> None:
    await api.make_partner()
    made = {(await api.make_list("Acme", f"t{i}"))["id"] for i in range(5)}
    seen = [item["id"] for item in await all_pages(api, "/v1/lists", 2)]
    assert sorted(seen) == sorted(made)
    assert len(seen) == 5


async def test_bad_cursor_is_a_clear_422(api: Api) -> None:
    for cursor in ("nonsense!", "eyJ4IjoxfQ", "WzEsMl0"):
        response = await api.get("/v1/lists", params={"cursor": cursor})
        assert response.status_code == 422
        assert response.json()["error"]["details"]["fields"][0]["field"] == "cursor"
