"""Partners and campaign links."""

from __future__ import annotations

from tests.conftest import Api, all_pages, until_store_time
from tests.state import dump


async def test_partner_names_are_trimmed_case_sensitive_and_unique(api: Api) -> None:
    created = await api.post("/v1/partners", json={"name": "  Acme Corp  "})
    assert created.status_code == 201
    assert created.json()["name"] == "Acme Corp"
    assert (await api.post("/v1/partners", json={"name": "acme corp"})).status_code == 201
    before = await dump(api.redis)
    again = await api.post("/v1/partners", json={"name": "Acme Corp"})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "partner_exists"
    assert await dump(api.redis) == before


async def test_partners_page_in_name_order(api: Api) -> None:
    names = ["delta", "Alpha", "charlie", "Bravo", "échelle", "a b"]
    for name in names:
        await api.make_partner(name)
    partners = await all_pages(api, "/v1/partners", 4)
    assert all(p["lists"] == 0 for p in partners)
    seen = [p["name"] for p in partners]
    assert seen == sorted(names, key=lambda n: n.encode())


async def test_link_is_idempotent_and_listed(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    first = await api.put(f"/v1/lists/{made['id']}/campaigns/promo:2026.q1-x_y")
    assert first.status_code == 200
    assert first.json()["list_id"] == made["id"]
    assert first.json()["campaign_id"] == "promo:2026.q1-x_y"
    await until_store_time(api, await api.store_ms() + 2)  # linking again later
    second = await api.put(f"/v1/lists/{made['id']}/campaigns/promo:2026.q1-x_y")
    assert second.json() == first.json()
    await api.put(f"/v1/lists/{made['id']}/campaigns/a1")
    listed = (await api.get(f"/v1/lists/{made['id']}/campaigns", role="viewer")).json()
    assert [i["campaign_id"] for i in listed["items"]] == ["a1", "promo:2026.q1-x_y"]
    assert (await api.get(f"/v1/lists/{made['id']}")).json()["linked_campaigns"] == 2
    page = (await api.get(f"/v1/lists/{made['id']}/campaigns", params={"limit": 1})).json()
    assert [i["campaign_id"] for i in page["items"]] == ["a1"]
    rest = (
        await api.get(
            f"/v1/lists/{made['id']}/campaigns", params={"limit": 1, "cursor": page["next_cursor"]}
        )
    ).json()
    assert [i["campaign_id"] for i in rest["items"]] == ["promo:2026.q1-x_y"]
    assert rest["next_cursor"] is None


async def test_unlink(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    await api.put(f"/v1/lists/{made['id']}/campaigns/c1")
    assert (await api.delete(f"/v1/lists/{made['id']}/campaigns/c1")).status_code == 204
    missing = await api.delete(f"/v1/lists/{made['id']}/campaigns/c1")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "link_not_found"
    assert (await api.get(f"/v1/lists/{made['id']}")).json()["linked_campaigns"] == 0
    assert (await api.delete(f"/v1/lists/{made['id']}")).status_code == 204


async def test_archived_or_expired_lists_are_not_linkable(api: Api) -> None:
    await api.make_partner()
    archived = await api.make_list("Acme", "a")
    await api.post(f"/v1/lists/{archived['id']}/archive")
    expiring = await api.make_list("Acme", "e")
    await api.expire(expiring["id"])
    for made, status in ((archived, "archived"), (expiring, "expired")):
        before = await dump(api.redis)
        response = await api.put(f"/v1/lists/{made['id']}/campaigns/c1")
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "list_not_linkable"
        assert response.json()["error"]["details"] == {"status": status}
        assert await dump(api.redis) == before


async def test_links_on_unknown_list_and_bad_campaign_ids(api: Api) -> None:
    for method in ("PUT", "DELETE"):
        response = await api.call(method, "/v1/lists/acme.x.1/campaigns/c1")
        assert response.status_code == 404
        assert response.json()["error"]["code"] == "list_not_found"
    await api.make_partner()
    made = await api.make_list()
    before = await dump(api.redis)
    for bad in ("with space", "x" * 129, "semi;colon", "%E2%82%AC"):
        response = await api.put(f"/v1/lists/{made['id']}/campaigns/{bad}")
        assert response.status_code == 422, bad
        assert response.json()["error"]["details"]["fields"][0]["field"] == "campaign_id"
    assert await dump(api.redis) == before
    assert (await api.get("/v1/lists/acme.x.1/campaigns")).status_code == 404
