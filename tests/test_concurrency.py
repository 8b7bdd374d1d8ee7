"""Admins racing each other cannot break the state machine or the (partner, tag) rule."""

from __future__ import annotations

import asyncio
import random
from collections import Counter

from tests.conftest import Api


async def test_fifty_concurrent_creates_of_one_partner_and_tag(api: Api) -> None:
    await api.make_partner()
    body = api.list_body("Acme", "Race", name="r")
    responses = await asyncio.gather(*(api.post("/v1/lists", json=body) for _ in range(50)))
    statuses = Counter(r.status_code for r in responses)
    assert statuses == {201: 1, 409: 49}
    winner = next(r.json() for r in responses if r.status_code == 201)
    assert {r.json()["error"]["details"]["list_id"] for r in responses if r.status_code == 409} == {
        winner["id"]
    }
    listed = (await api.get("/v1/lists")).json()["items"]
    assert [item["id"] for item in listed] == [winner["id"]]
    partners = (await api.get("/v1/partners")).json()["items"]
    assert partners[0]["lists"] == 1


async def test_fifty_concurrent_status_changes_leave_a_consistent_list(api: Api) -> None:
    await api.make_partner()
    made = await api.make_list()
    rng = random.Random(7)
    actions = [rng.choice(["pause", "activate"]) for _ in range(44)] + ["archive"] * 6
    rng.shuffle(actions)
    responses = await asyncio.gather(
        *(api.post(f"/v1/lists/{made['id']}/{action}") for action in actions)
    )
    ok = Counter(a for a, r in zip(actions, responses, strict=True) if r.status_code == 200)
    refused = [r for r in responses if r.status_code != 200]
    assert all(r.status_code == 409 for r in refused)
    assert all(r.json()["error"]["code"] == "invalid_transition" for r in refused)
    assert ok["archive"] == 1
    assert ok["pause"] - ok["activate"] in (0, 1)
    final = (await api.get(f"/v1/lists/{made['id']}")).json()
    assert final["status"] == "archived"
    assert final["allowed_actions"] == []
    assert (await api.get("/v1/partners")).json()["items"][0]["lists"] == 0
    # the tag is free exactly once: one new list may take it
    again = await asyncio.gather(
        *(api.post("/v1/lists", json=api.list_body("Acme", "summer", name="n")) for _ in range(10))
    )
    assert Counter(r.status_code for r in again) == {201: 1, 409: 9}
    assert (await api.get("/v1/partners")).json()["items"][0]["lists"] == 1


async def test_concurrent_partner_creates(api: Api) -> None:
    responses = await asyncio.gather(
        *(api.post("/v1/partners", json={"name": "Same"}) for _ in range(30))
    )
    assert Counter(r.status_code for r in responses) == {201: 1, 409: 29}


async def test_concurrent_link_and_delete_never_deletes_a_linked_list(api: Api) -> None:
    await api.make_partner()
    for round_ in range(10):
        made = await api.make_list("Acme", f"t{round_}")
        link, delete = await asyncio.gather(
            api.put(f"/v1/lists/{made['id']}/campaigns/c1"), api.delete(f"/v1/lists/{made['id']}")
        )
        if delete.status_code == 204:
            assert link.status_code == 404
            assert (await api.get(f"/v1/lists/{made['id']}")).status_code == 404
            assert not await api.redis.keys(f"*{made['id'].split('.', 1)[1]}:links")
        else:
            assert delete.json()["error"]["code"] == "list_linked"
            assert link.status_code == 200
