"""POST /v1/allocations/bulk: each item gets exactly what POST /v1/allocations would give it.
On a real redis-server, fakeredis and the cluster (the `api` fixture)."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from tests.conftest import Api
from tests.state import dump
from tests.test_allocations import allocate, relayed_events, stocked

BULK = "/v1/allocations/bulk"


async def bulk(
    api: Api, list_id: str, items: list[dict[str, Any]], campaign: str = "c1", **extra: Any
) -> dict[str, Any]:
    response = await api.post(
        BULK,
        role="allocator",
        json={"list_id": list_id, "campaign_id": campaign, "items": items, **extra},
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert len(body["items"]) == len(items)
    return body


def as_single(response: Any) -> dict[str, Any]:
    """A single call's answer in the shape of a bulk item."""
    body = response.json()
    if response.status_code >= 400:
        return {"status": response.status_code, "error": body["error"]}
    return {
        "status": response.status_code,
        **{k: body[k] for k in ("voucher_code", "issued_at", "event_id", "replayed")},
    }


async def test_items_are_allocated_in_order_with_their_events(api: Api) -> None:
    list_id = await stocked(api, 10)
    done = await bulk(api, list_id, [{"user_id": f"u{n}"} for n in range(6)], source="segment")
    assert (done["allocated"], done["replayed"], done["failed"]) == (6, 0, 0)
    codes = [item["voucher_code"] for item in done["items"]]
    assert len(set(codes)) == 6
    assert all(item["status"] == 201 and item["replayed"] is False for item in done["items"])
    listed = (await api.get(f"/v1/lists/{list_id}")).json()
    assert (listed["codes_distributed"], listed["codes_available"]) == (6, 4)
    rewards = [e for e in await relayed_events(api) if e["name"] == "Partner Voucher Rewarded"]
    assert [e["id"] for e in rewards] == [item["event_id"] for item in done["items"]]
    assert [e["properties"]["voucherCode"] for e in rewards] == codes
    assert [e["user_id"] for e in rewards] == [f"u{n}" for n in range(6)]
    assert {e["properties"]["source"] for e in rewards} == {"segment"}
    page = (await api.get(f"/v1/lists/{list_id}/allocations", role="allocator")).json()
    assert [a["voucher_code"] for a in page["items"]] == codes


async def test_every_outcome_matches_a_single_call(api: Api) -> None:
    """Two lists in the same state; one gets single calls, the other the same items in bulk:
    every result (status, error code, message and details) is the same."""
    results = []
    for how in ("single", "bulk"):
        list_id = await stocked(api, 3, partner=f"Acme {how}")
        await allocate(api, list_id, "taken", key="kept")  # a key to replay, and a conflict
        cases: list[tuple[str, str | None]] = [
            ("a", None),  # allocated
            ("a", None),  # the same user and campaign again: replay
            ("taken", "kept"),  # replay by key
            ("someone-else", "kept"),  # the key with another user: idempotency_conflict
            ("b", "k2"),  # allocated: the last code
            ("c", None),  # out_of_codes
        ]
        if how == "single":
            got = [as_single(await allocate(api, list_id, u, key=k)) for u, k in cases]
        else:
            items = [{"user_id": u, **({"idempotency_key": k} if k else {})} for u, k in cases]
            got = (await bulk(api, list_id, items))["items"]
        results.append(
            [
                {k: v for k, v in r.items() if k not in ("voucher_code", "issued_at", "event_id")}
                for r in got
            ]
        )
    single, in_bulk = results
    assert in_bulk == single
    assert [r["status"] for r in in_bulk] == [201, 200, 200, 409, 201, 409]
    assert [r.get("error", {}).get("code") for r in in_bulk] == [
        None,
        None,
        None,
        "idempotency_conflict",
        None,
        "out_of_codes",
    ]


async def test_list_level_refusals_answer_every_item(api: Api) -> None:
    list_id = await stocked(api, 5)
    one = [{"user_id": "u1"}, {"user_id": "u2"}]
    for target, campaign, _code, single in (
        ("acme.nope.9", "c1", "list_not_found", 404),
        ("not an id", "c1", "list_not_found", 404),
        (list_id, "unlinked", "campaign_not_linked", 409),
    ):
        alone = await allocate(api, target, "u1", campaign=campaign)
        assert alone.status_code == single
        done = await bulk(api, target, one, campaign=campaign)
        assert [i["status"] for i in done["items"]] == [single, single]
        assert [i["error"] for i in done["items"]] == [alone.json()["error"]] * 2
        assert (done["allocated"], done["failed"]) == (0, 2)
    await api.post(f"/v1/lists/{list_id}/pause")
    alone = await allocate(api, list_id, "u1")
    done = await bulk(api, list_id, one)
    assert [i["error"] for i in done["items"]] == [alone.json()["error"]] * 2
    assert alone.json()["error"]["details"] == {"status": "paused"}
    assert (await api.get(f"/v1/lists/{list_id}")).json()["codes_distributed"] == 0


async def test_bulk_and_single_replay_each_other(api: Api) -> None:
    list_id = await stocked(api, 10)
    single = (await allocate(api, list_id, "s1", key="single-key")).json()
    plain = (await allocate(api, list_id, "s2")).json()
    done = await bulk(
        api,
        list_id,
        [{"user_id": "s1", "idempotency_key": "single-key"}, {"user_id": "s2"}, {"user_id": "b1"}],
    )
    assert [i["status"] for i in done["items"]] == [200, 200, 201]
    assert done["items"][0]["voucher_code"] == single["voucher_code"]
    assert done["items"][0]["event_id"] == single["event_id"]
    assert done["items"][1]["voucher_code"] == plain["voucher_code"]
    again = await allocate(api, list_id, "b1")
    assert again.status_code == 200
    assert again.json()["voucher_code"] == done["items"][2]["voucher_code"]
    assert again.json()["replayed"] is True
    assert (done["allocated"], done["replayed"]) == (1, 2)


async def test_a_repeat_inside_one_request_replays_the_earlier_item(api: Api) -> None:
    list_id = await stocked(api, 10)
    items = [{"user_id": "r", "idempotency_key": "x"}, {"user_id": "q"}] * 3
    items += [{"user_id": "other", "idempotency_key": "x"}]
    done = await bulk(api, list_id, items)
    assert [i["status"] for i in done["items"]] == [201, 201, 200, 200, 200, 200, 409]
    assert len({i["voucher_code"] for i in done["items"][:6]}) == 2
    assert (await api.get(f"/v1/lists/{list_id}")).json()["codes_distributed"] == 2


async def test_running_out_part_way_allocates_the_first_items(api: Api) -> None:
    list_id = await stocked(api, 150, low_stock_threshold=40)
    done = await bulk(api, list_id, [{"user_id": f"u{n}"} for n in range(230)])
    assert [i["status"] for i in done["items"]] == [201] * 150 + [409] * 80
    assert {i["error"]["code"] for i in done["items"][150:]} == {"out_of_codes"}
    assert (done["allocated"], done["failed"]) == (150, 80)
    events = await relayed_events(api)
    names = Counter(e["name"] for e in events)
    assert names == {
        "Partner Voucher Rewarded": 150,
        "Voucher List Low": 1,
        "Voucher List Exhausted": 1,
    }
    low = next(e for e in events if e["name"] == "Voucher List Low")
    assert low["properties"]["codesAvailable"] == 40
    listed = (await api.get(f"/v1/lists/{list_id}")).json()
    assert (listed["codes_distributed"], listed["codes_available"]) == (150, 0)


async def test_bad_input_names_the_item_and_allocates_nothing(api: Api) -> None:
    list_id = await stocked(api, 5)
    before = await dump(api.redis)
    base = {"list_id": list_id, "campaign_id": "c1"}
    cases: list[tuple[dict[str, Any], str]] = [
        ({**base, "items": []}, "items"),
        ({**base, "items": [{"user_id": "u"}] * 1001}, "items"),
        ({**base, "items": [{"user_id": "u" * 256, "idempotency_key": "k" * 200}] * 1001}, "items"),
        (
            {
                **base,
                "items": [{"user_id": "u"}, {"user_id": "u"}, {"user_id": "u"}, {"user_id": ""}],
            },
            "items[3].user_id",
        ),
        ({**base, "items": [{"user_id": "u"}, {"user_id": "a\u0007b"}]}, "items[1].user_id"),
        (
            {**base, "items": [{"user_id": "u", "idempotency_key": "k" * 201}]},
            "items[0].idempotency_key",
        ),
        (
            {**base, "items": [{"user_id": "u", "idempotency_key": "a\nb"}]},
            "items[0].idempotency_key",
        ),
        ({**base, "items": [{"user_id": "u", "extra": 1}]}, "items[0].extra"),
        ({**base, "items": [{"user_id": 7}]}, "items[0].user_id"),
        ({**base, "items": "u1"}, "items"),
        ({**base, "campaign_id": "bad id", "items": [{"user_id": "u"}]}, "campaign_id"),
        ({"campaign_id": "c1", "items": [{"user_id": "u"}]}, "list_id"),
        ({**base, "source": "", "items": [{"user_id": "u"}]}, "source"),
    ]
    for body, field in cases:
        response = await api.post(BULK, role="allocator", json=body)
        assert response.status_code == 422, (field, response.text)
        fields = [f["field"] for f in response.json()["error"]["details"]["fields"]]
        assert field in fields, (field, fields)
    assert await dump(api.redis) == before
    viewer = await api.post(BULK, role="viewer", json={**base, "items": [{"user_id": "u"}]})
    assert viewer.status_code == 403
    # the largest items there may be (about 470 KB of JSON) are read, not refused as too large
    widest = [{"user_id": f"{n:0256d}", "idempotency_key": f"{n:0200d}"} for n in range(1000)]
    unlinked = await api.post(
        BULK, role="allocator", json={**base, "campaign_id": "none", "items": widest}
    )
    assert unlinked.status_code == 200, unlinked.text
    assert unlinked.json()["failed"] == 1000


async def test_concurrent_overlapping_bulk_requests_give_one_code_per_key(api: Api) -> None:
    list_id = await stocked(api, 400)
    keys = [f"key-{n}" for n in range(300)]

    async def one(offset: int) -> dict[str, Any]:
        chosen = keys[offset : offset + 200]  # each overlaps the others
        items = [{"user_id": f"user-{k}", "idempotency_key": k} for k in chosen]
        return await bulk(api, list_id, items)

    answers = await asyncio.gather(*(one(offset) for offset in (0, 50, 100, 0, 100)))
    by_key: dict[str, set[str]] = {}
    for offset, answer in zip((0, 50, 100, 0, 100), answers, strict=True):
        for key, item in zip(keys[offset : offset + 200], answer["items"], strict=True):
            assert item["status"] in (200, 201), item
            by_key.setdefault(key, set()).add(item["voucher_code"])
    assert all(len(codes) == 1 for codes in by_key.values())  # one code per key
    codes = [next(iter(c)) for c in by_key.values()]
    assert len(codes) == len(set(codes)) == 300  # no code under two keys
    assert sum(a["allocated"] for a in answers) == 300
    listed = (await api.get(f"/v1/lists/{list_id}")).json()
    assert (listed["codes_distributed"], listed["codes_available"]) == (300, 100)
    rewards = [e for e in await relayed_events(api) if e["name"] == "Partner Voucher Rewarded"]
    assert len(rewards) == 300  # one event per new allocation
    assert sorted(e["properties"]["voucherCode"] for e in rewards) == sorted(codes)


async def test_a_key_reused_in_one_request_after_the_stock_ran_out(api: Api) -> None:
    """The first use of a key found no code: a second use with another user is checked as a
    new request (out_of_codes), not as a conflict, exactly as one call after another."""
    items = [
        {"user_id": "a", "idempotency_key": "k"},
        {"user_id": "b", "idempotency_key": "k"},
        {"user_id": "c", "idempotency_key": "j"},
        {"user_id": "d", "idempotency_key": "j"},
    ]
    outcomes = []
    for how in ("single", "bulk"):
        list_id = await stocked(api, 1, partner=f"Acme {how}")
        if how == "single":
            got = [
                as_single(await allocate(api, list_id, i["user_id"], key=i["idempotency_key"]))
                for i in items
            ]
        else:
            got = (await bulk(api, list_id, items))["items"]
        outcomes.append([(r["status"], r.get("error", {}).get("code")) for r in got])
    assert (
        outcomes[1]
        == outcomes[0]
        == [
            (201, None),
            (409, "idempotency_conflict"),
            (409, "out_of_codes"),
            (409, "out_of_codes"),
        ]
    )


async def test_pages_of_allocations_cut_through_a_batch_in_both_orders(api: Api) -> None:
    """A batch's codes share one allocation-log entry; pages and cursors still go code by
    code, oldest or newest first, around single allocations on either side."""
    list_id = await stocked(api, 40)
    first = (await allocate(api, list_id, "before")).json()["voucher_code"]
    done = await bulk(api, list_id, [{"user_id": f"u{n}"} for n in range(25)])
    last = (await allocate(api, list_id, "after")).json()["voucher_code"]
    order = [first, *(i["voucher_code"] for i in done["items"]), last]
    for newest, expected in ((False, order), (True, order[::-1])):
        seen: list[str] = []
        params: dict[str, Any] = {"limit": 4, **({"order": "newest"} if newest else {})}
        while True:
            page = (
                await api.get(f"/v1/lists/{list_id}/allocations", role="allocator", params=params)
            ).json()
            seen += [a["voucher_code"] for a in page["items"]]
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        assert seen == expected
    export = await api.get(f"/v1/lists/{list_id}/allocations.csv", role="allocator")
    assert [row.split(",")[0] for row in export.text.splitlines()[1:]] == order
    ids = [e["id"] for e in await relayed_events(api)]
    assert len(set(ids)) == len(ids) == 27
