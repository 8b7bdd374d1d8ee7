"""Webhooks: endpoints, signed delivery to a real receiver on 127.0.0.1, retries, the delivery
log, templates, the SSRF guard, restarts. Every service here runs with
VOUCHERS_WEBHOOKS_ALLOWED_HOSTS=127.0.0.1 (the conftest settings), except the SSRF tests'
own, which never let a delivery happen."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.api.app import create_app
from app.config import Settings
from app.store.connection import connect
from app.store.snapshots import read_verified
from tests.conftest import API_KEYS, Api, open_api, running
from tests.redis_server import RedisServer
from tests.service import Service, all_events, stock_list, wait_for
from tests.state import Clock
from tests.test_allocations import allocate, stocked
from tests.webhook_receiver import Receiver, receiver, verify

ATTEMPTS_DELIVERED = 'vouchers_webhook_attempts_total{outcome="delivered"}'
EVERY = ["Partner Voucher Rewarded", "Voucher List Low", "Voucher List Exhausted"]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A short retry schedule: 5,300 would make a test wait minutes."""
    return settings.model_copy(
        update={"webhooks_retry_schedule": "0.05,0.05", "webhooks_interval_s": 0.02}
    )


@pytest.fixture
async def hook() -> AsyncIterator[Receiver]:
    async with receiver() as got:
        yield got


async def subscribe(api: Api, url: str, **fields: Any) -> dict[str, Any]:
    response = await api.post("/v1/webhooks", json={"url": url, **fields})
    assert response.status_code == 201, response.text
    made: dict[str, Any] = response.json()
    return made


async def until(api: Api, check: Callable[[], Awaitable[bool]], within_s: float = 20) -> None:
    """Wait until `check` holds, looking again each time this app's engine records outcomes
    (or every 200 ms, for outcomes another process records)."""
    engine = api.app.state.webhooks
    async with asyncio.timeout(within_s):
        while not await check():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(engine.next_settle(), 0.2)


async def deliveries(api: Api, endpoint_id: str, **params: Any) -> list[dict[str, Any]]:
    response = await api.get(f"/v1/webhooks/{endpoint_id}/deliveries", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def all_status(
    api: Api, endpoint_id: str, status: str, count: int
) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        found = await deliveries(api, endpoint_id, limit=500)
        return len(found) == count and all(d["status"] == status for d in found)

    return check


async def test_every_event_reaches_the_receiver_signed(api: Api, hook: Receiver) -> None:
    made = await subscribe(api, hook.url())
    assert made["secret"].startswith("whsec_")
    assert made["events"] == EVERY
    assert made["list_ids"] is None
    assert made["enabled"] is True
    list_id = await stocked(api, 3, low_stock_threshold=1)
    for n in range(3):
        assert (await allocate(api, list_id, f"user-{n}")).status_code == 201
    await api.app.state.relay.relay()
    await hook.until(5)  # 3 rewards, low at 1 left, exhausted at 0
    bodies = []
    for got in hook.requests:
        verify(made["secret"], got)  # as a receiver would, with the standardwebhooks library
        assert got.headers["content-type"] == "application/json"
        body = orjson.loads(got.body)
        assert got.headers["webhook-id"] == body["id"]
        bodies.append(body)
    events = (await api.get("/v1/events", role="allocator")).json()["items"]
    assert sorted(bodies, key=lambda b: b["id"]) == sorted(events, key=lambda e: e["id"])
    assert sorted(b["name"] for b in bodies) == sorted([*[EVERY[0]] * 3, EVERY[1], EVERY[2]])
    await until(api, all_status(api, made["id"], "delivered", 5))
    log = await deliveries(api, made["id"])
    assert all(d["attempts"] == 1 and d["last_status_code"] == 200 for d in log)
    assert [d["id"] for d in log] == sorted((d["id"] for d in log), key=lambda i: -int(i[4:]))
    tampered = hook.requests[0]
    tampered.body = tampered.body.replace(b"user-", b"resu-")
    with pytest.raises(WebhookVerificationError):
        verify(made["secret"], tampered)


async def test_filters_by_event_name_and_list(api: Api, hook: Receiver) -> None:
    first = await stocked(api, 2, low_stock_threshold=1)
    second = str((await api.make_list(tag="winter"))["id"])
    await api.upload(second, b"W-1\nW-2\n")
    await api.put(f"/v1/lists/{second}/campaigns/c1")
    await subscribe(api, hook.url("/low"), events=["Voucher List Low"])
    await subscribe(api, hook.url("/second"), list_ids=[second])
    for list_id in (first, second):
        for n in range(2):
            assert (await allocate(api, list_id, f"u{n}")).status_code == 201
    await api.app.state.relay.relay()
    await hook.until(1, "/low")
    await hook.until(3, "/second")  # 2 rewards + exhausted (no threshold on the second)
    low = [orjson.loads(r.body) for r in hook.on("/low")]
    assert [(e["name"], e["properties"]["voucherListID"]) for e in low] == [
        ("Voucher List Low", first)
    ]
    assert {orjson.loads(r.body)["properties"]["voucherListID"] for r in hook.on("/second")} == {
        second
    }


async def test_events_before_the_endpoint_existed_are_not_sent(api: Api, hook: Receiver) -> None:
    list_id = await stocked(api, 3)
    await allocate(api, list_id, "early")
    await api.app.state.relay.relay()
    made = await subscribe(api, hook.url())
    await allocate(api, list_id, "late")
    await api.app.state.relay.relay()
    await hook.until(1)
    await until(api, all_status(api, made["id"], "delivered", 1))
    assert [orjson.loads(r.body)["user_id"] for r in hook.requests] == ["late"]


async def test_500_then_200_is_delivered_after_a_retry(api: Api, hook: Receiver) -> None:
    hook.statuses = [500]
    made = await subscribe(api, hook.url(), events=[EVERY[0]])
    list_id = await stocked(api, 2)
    await allocate(api, list_id, "u1")
    await api.app.state.relay.relay()
    await hook.until(2)
    await until(api, all_status(api, made["id"], "delivered", 1))
    (delivery,) = await deliveries(api, made["id"])
    assert delivery["attempts"] == 2
    assert delivery["last_status_code"] == 200
    assert delivery["last_error"] is None
    assert delivery["next_attempt_at"] is None
    assert hook.requests[0].headers["webhook-id"] == hook.requests[1].headers["webhook-id"]


async def test_a_receiver_down_for_the_whole_schedule_fails_then_manual_retry_delivers(
    api: Api, hook: Receiver
) -> None:
    hook.statuses = [503, 500, 502]  # three attempts with "0.05,0.05"
    made = await subscribe(api, hook.url(), events=[EVERY[0]])
    list_id = await stocked(api, 2)
    await allocate(api, list_id, "u1")
    await api.app.state.relay.relay()
    await until(api, all_status(api, made["id"], "failed", 1))
    (failed,) = await deliveries(api, made["id"], status="failed")
    assert failed["attempts"] == 3
    assert failed["last_status_code"] == 502
    assert failed["last_error"] == "HTTP 502"
    assert await deliveries(api, made["id"], status="delivered") == []
    path = f"/v1/webhooks/{made['id']}/deliveries/{failed['id']}/retry"
    assert (await api.post(path)).status_code == 202
    await until(api, all_status(api, made["id"], "delivered", 1))
    assert len(hook.requests) == 4
    again = await api.post(path)  # not failed any more
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "delivery_not_failed"
    missing = await api.post(f"/v1/webhooks/{made['id']}/deliveries/dlv_999/retry")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "delivery_not_found"


async def test_a_refused_connection_is_retried_then_failed(api: Api, hook: Receiver) -> None:
    made = await subscribe(api, "http://127.0.0.1:9/nothing-listens", events=[EVERY[0]])
    list_id = await stocked(api, 2)
    await allocate(api, list_id, "u1")
    await api.app.state.relay.relay()
    await until(api, all_status(api, made["id"], "failed", 1))
    (failed,) = await deliveries(api, made["id"])
    assert failed["attempts"] == 3
    assert failed["last_status_code"] is None
    assert failed["last_error"]


async def test_a_hanging_receiver_delays_neither_allocations_nor_another_endpoint(
    api: Api, hook: Receiver
) -> None:
    async with receiver() as stuck:
        stuck.hang = asyncio.Event()
        await subscribe(api, stuck.url(), events=[EVERY[0]])
        healthy = await subscribe(api, hook.url(), events=[EVERY[0]])
        list_id = await stocked(api, 60)
        for n in range(40):
            assert (await allocate(api, list_id, f"u{n}")).status_code == 201
        await api.app.state.relay.relay()
        await stuck.until(api.app.state.settings.webhooks_concurrency)  # every slot held
        await hook.until(40)
        await until(api, all_status(api, healthy["id"], "delivered", 40))
        for n in range(40, 50):  # allocations go on while the receiver hangs
            assert (await allocate(api, list_id, f"u{n}")).status_code == 201
        await api.app.state.relay.relay()
        await hook.until(50)
        assert len(stuck.requests) == api.app.state.settings.webhooks_concurrency


async def test_rotation_sends_both_signatures_and_each_verifies(api: Api, hook: Receiver) -> None:
    made = await subscribe(api, hook.url(), events=[EVERY[0]])
    rotated = await api.post(f"/v1/webhooks/{made['id']}/rotate-secret")
    assert rotated.status_code == 200
    new = rotated.json()["secret"]
    assert new != made["secret"]
    assert new.startswith("whsec_")
    list_id = await stocked(api, 2)
    await allocate(api, list_id, "u1")
    await api.app.state.relay.relay()
    await hook.until(1)
    (got,) = hook.requests
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    verify(new, got)
    verify(made["secret"], got)
    assert got.headers["webhook-signature"].split(" ")[0] == _only_signature(new, got)
    shown = (await api.get(f"/v1/webhooks/{made['id']}")).json()
    assert "secret" not in shown


def _only_signature(secret: str, got: Any) -> str:
    stamp = int(got.headers["webhook-timestamp"])
    signed: str = Webhook(secret).sign(got.headers["webhook-id"], _at(stamp), got.body.decode())
    return signed


def _at(stamp: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(stamp, tz=UTC)


async def test_after_the_overlap_only_the_new_secret_signs(
    redis_client: Any, settings: Settings, clock: Clock, hook: Receiver
) -> None:
    no_overlap = settings.model_copy(update={"webhooks_secret_overlap_s": 0})
    async with open_api(redis_client, no_overlap, clock) as api:
        made = await subscribe(api, hook.url(), events=[EVERY[0]])
        new = (await api.post(f"/v1/webhooks/{made['id']}/rotate-secret")).json()["secret"]
        list_id = await stocked(api, 2)
        await allocate(api, list_id, "u1")
        await api.app.state.relay.relay()
        await hook.until(1)
        verify(new, hook.requests[0])
        with pytest.raises(WebhookVerificationError):
            verify(made["secret"], hook.requests[0])


async def test_a_template_shapes_the_body(api: Api, hook: Receiver) -> None:
    template = "Hi {{ event.user_id }}, your {{ codeProvider }} code is {{ voucherCode }}"
    made = await subscribe(
        api, hook.url(), events=[EVERY[0]], template=template, content_type="text/plain"
    )
    assert made["template"] == template
    list_id = await stocked(api, 2)
    code = (await allocate(api, list_id, "ann")).json()["voucher_code"]
    await api.app.state.relay.relay()
    await hook.until(1)
    verify(made["secret"], hook.requests[0])
    assert hook.requests[0].body.decode() == f"Hi ann, your Acme code is {code}"
    assert hook.requests[0].headers["content-type"] == "text/plain"


async def test_a_template_that_fails_to_render_fails_the_delivery_without_retries(
    api: Api, hook: Receiver
) -> None:
    made = await subscribe(
        api, hook.url(), events=[EVERY[0]], template="{{ 1 | divided_by: event.missing }}"
    )
    list_id = await stocked(api, 2)
    await allocate(api, list_id, "u1")
    await api.app.state.relay.relay()
    await until(api, all_status(api, made["id"], "failed", 1))
    (failed,) = await deliveries(api, made["id"])
    assert failed["attempts"] == 1
    assert "template" in failed["last_error"]
    assert hook.requests == []


async def test_templates_that_do_not_parse_are_refused_with_the_line(api: Api) -> None:
    bad = (("Hi\n{{ x \n", 2), ("a\nb\n{% if %}{% endif %}", 3), ("{{ x | nope }}", 1))
    for template, line in bad:
        response = await api.post(
            "/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "template": template}
        )
        assert response.status_code == 422, template
        error = response.json()["error"]
        assert error["code"] == "template_invalid"
        assert error["details"]["line"] == line
    assert (await api.get("/v1/webhooks")).json()["items"] == []


async def test_preview(api: Api) -> None:
    template = "{{ event.name }}: {{ voucherCode }} for {{ event.user_id }}"
    sample = await api.post("/v1/webhooks/preview", json={"template": template})
    assert sample.json() == {"body": "Partner Voucher Rewarded: CODE-1 for user-1"}
    given = {"name": "Voucher List Low", "user_id": None, "properties": {"voucherCode": "Z"}}
    own = await api.post("/v1/webhooks/preview", json={"template": template, "event": given})
    assert own.json() == {"body": "Voucher List Low: Z for "}
    loop = "{% for i in (1..100000) %}x{% endfor %}"
    too_long = await api.post("/v1/webhooks/preview", json={"template": loop})
    assert too_long.status_code == 422
    assert too_long.json()["error"]["code"] == "template_render_failed"
    bad = await api.post("/v1/webhooks/preview", json={"template": "{% if %}"})
    assert bad.json()["error"]["code"] == "template_invalid"
    assert (await api.post("/v1/webhooks/preview", json={}, role="viewer")).status_code == 403


async def test_disable_and_delete_stop_deliveries(api: Api, hook: Receiver) -> None:
    made = await subscribe(api, hook.url("/a"), events=[EVERY[0]])
    other = await subscribe(api, hook.url("/b"), events=[EVERY[0]])
    list_id = await stocked(api, 10)
    off = await api.patch(f"/v1/webhooks/{made['id']}", json={"enabled": False})
    assert off.status_code == 200
    assert off.json()["enabled"] is False
    assert (await api.delete(f"/v1/webhooks/{other['id']}")).status_code == 204
    assert (await api.get(f"/v1/webhooks/{other['id']}")).status_code == 404
    await allocate(api, list_id, "u1")
    await api.app.state.relay.relay()
    # a third endpoint proves the engine went past the event
    witness = await subscribe(api, hook.url("/c"), events=[EVERY[0]])
    await allocate(api, list_id, "u2")
    await api.app.state.relay.relay()
    await hook.until(1, "/c")
    await until(api, all_status(api, witness["id"], "delivered", 1))
    assert hook.on("/a") == []
    assert hook.on("/b") == []
    assert await deliveries(api, made["id"]) == []
    on = await api.patch(f"/v1/webhooks/{made['id']}", json={"enabled": True})
    assert on.json()["enabled"] is True


async def test_endpoint_management_and_bad_input(api: Api) -> None:
    made = await subscribe(api, "http://127.0.0.1:9/x", description="crm")
    path = f"/v1/webhooks/{made['id']}"
    edited = await api.patch(path, json={"list_ids": ["b.x.1", "a.x.1", "a.x.1"], "template": "t"})
    assert edited.json()["list_ids"] == ["a.x.1", "b.x.1"]
    assert edited.json()["template"] == "t"
    cleared = await api.patch(path, json={"list_ids": None, "template": None})
    assert cleared.json()["list_ids"] is None
    assert cleared.json()["template"] is None
    assert cleared.json()["updated_at"] >= made["updated_at"]
    listed = (await api.get("/v1/webhooks")).json()["items"]
    assert [w["id"] for w in listed] == [made["id"]]
    cases: list[tuple[str, str, dict[str, Any], int, str]] = [
        ("POST", "/v1/webhooks", {"url": "http://127.0.0.1/x", "events": ["Nope"]}, 422, "events"),
        ("POST", "/v1/webhooks", {"url": "http://127.0.0.1/x", "events": []}, 422, "events"),
        ("POST", "/v1/webhooks", {"url": "ftp://127.0.0.1/x"}, 422, "url"),
        ("POST", "/v1/webhooks", {"url": "http://127.0.0.1/" + "x" * 2000}, 422, "url"),
        ("POST", "/v1/webhooks", {"url": "http://example.com/x"}, 422, "url"),
        ("POST", "/v1/webhooks", {"url": "http://127.0.0.1/x", "content_type": "a/b"}, 422, ""),
        ("POST", "/v1/webhooks", {"url": "http://127.0.0.1/x", "secret": "mine"}, 422, "secret"),
        ("PATCH", path, {"enabled": None}, 422, "enabled"),
        ("PATCH", path, {"url": None}, 422, "url"),
        ("PATCH", path, {"url": "http://10.0.0.1/x"}, 422, "url"),
        ("PATCH", "/v1/webhooks/wh_0000000000000000", {"enabled": True}, 404, ""),
        ("PATCH", "/v1/webhooks/nope", {"enabled": True}, 404, ""),
        ("POST", "/v1/webhooks/wh_0000000000000000/rotate-secret", {}, 404, ""),
        ("DELETE", "/v1/webhooks/wh_0000000000000000", {}, 404, ""),
        ("GET", "/v1/webhooks/wh_0000000000000000/deliveries", {}, 404, ""),
    ]
    for method, target, body, status, field in cases:
        response = await api.call(method, target, json=body if body else None)
        assert response.status_code == status, (method, target, body, response.text)
        if field:
            assert field in response.text
    assert (await api.get(path)).json() == cleared.json()  # nothing changed
    assert (await api.get("/v1/webhooks", role="viewer")).status_code == 403
    assert (await api.get(f"{path}/deliveries", params={"cursor": "forged"})).status_code == 422


async def test_the_delivery_log_pages_and_filters(api: Api, hook: Receiver) -> None:
    hook.statuses = [500] * 3  # the first event's three attempts: failed
    made = await subscribe(api, hook.url(), events=[EVERY[0]])
    list_id = await stocked(api, 12)
    await allocate(api, list_id, "first")
    await api.app.state.relay.relay()
    await until(api, all_status(api, made["id"], "failed", 1))
    for n in range(11):
        await allocate(api, list_id, f"u{n}")
    await api.app.state.relay.relay()

    async def settled() -> bool:
        return len(await deliveries(api, made["id"], status="delivered", limit=500)) == 11

    await until(api, settled)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        page = (await api.get(f"/v1/webhooks/{made['id']}/deliveries", params=params)).json()
        seen += [d["id"] for d in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert len(seen) == 12 == len(set(seen))
    assert seen == sorted(seen, key=lambda i: -int(i[4:]))
    failed = await deliveries(api, made["id"], status="failed")
    assert [d["id"] for d in failed] == [seen[-1]]


SSRF_URLS = [
    "http://127.0.0.1/x",
    "http://localhost:8080/x",  # a name that resolves to 127.0.0.1
    "http://10.1.2.3/x",
    "http://192.168.0.10/x",
    "http://172.16.5.4/x",
    "http://169.254.169.254/latest/meta-data",  # link-local: the cloud metadata service
    "http://0.0.0.0/x",
    "http://[::1]/x",
    "http://[fe80::1]/x",
    "http://[fc00::1]/x",
    "http://[::ffff:127.0.0.1]/x",
    "http://2130706433/x",  # 127.0.0.1 as one number
    "http://user:pw@93.184.216.34/x",
]


async def test_ssrf_guard_refuses_non_public_addresses(
    redis_client: Any, settings: Settings, clock: Clock
) -> None:
    open_ = settings.model_copy(update={"webhooks_allowed_hosts": None})
    async with open_api(redis_client, open_, clock) as api:
        for url in SSRF_URLS:
            response = await api.post("/v1/webhooks", json={"url": url})
            assert response.status_code == 422, (url, response.text)
            assert response.json()["error"]["code"] == "url_not_allowed", url
        assert (await api.get("/v1/webhooks")).json()["items"] == []
        # a public address literal is accepted (no request is made: no event is ever written)
        made = await api.post("/v1/webhooks", json={"url": "https://93.184.216.34/hook"})
        assert made.status_code == 201, made.text
        await api.delete(f"/v1/webhooks/{made.json()['id']}")
    private = settings.model_copy(
        update={"webhooks_allowed_hosts": None, "webhooks_allow_private": True}
    )
    async with open_api(redis_client, private, clock) as api:
        allowed = await api.post("/v1/webhooks", json={"url": "http://10.1.2.3/x"})
        assert allowed.status_code == 201


async def test_the_guard_is_checked_again_at_each_attempt(
    redis_client: Any, settings: Settings, clock: Clock, hook: Receiver
) -> None:
    """An endpoint saved under one allow-list, sent under a narrower one: no request leaves."""
    async with open_api(redis_client, settings, clock) as api:
        made = await subscribe(api, hook.url(), events=[EVERY[0]])
    narrower = settings.model_copy(update={"webhooks_allowed_hosts": "hooks.example"})
    async with open_api(redis_client, narrower, clock) as api:
        list_id = await stocked(api, 2)
        await allocate(api, list_id, "u1")
        await api.app.state.relay.relay()
        await until(api, all_status(api, made["id"], "failed", 1))
        (failed,) = await deliveries(api, made["id"])
        assert failed["last_error"].startswith("url_not_allowed")
    assert hook.requests == []


async def test_two_processes_send_each_delivery_once(
    redis_server: RedisServer, settings: Settings, clock: Clock, hook: Receiver, tmp_path: Path
) -> None:
    client = connect(settings.model_copy(update={"redis_url": redis_server.url}))
    await client.flushall()
    try:
        async with open_api(client, settings, clock) as first, open_api(client, settings, clock):
            made = await subscribe(first, hook.url(), events=[EVERY[0]])
            list_id = await stocked(first, 300)
            for n in range(300):
                assert (await allocate(first, list_id, f"u{n}")).status_code == 201
            await first.app.state.relay.relay()
            await hook.until(300)
            await until(first, all_status(first, made["id"], "delivered", 300))
        ids = [r.headers["webhook-id"] for r in hook.requests]
        assert len(ids) == len(set(ids)) == 300
    finally:
        await client.aclose()


async def test_pending_deliveries_survive_service_and_redis_restarts(
    durable_redis: RedisServer, tmp_path: Path, hook: Receiver
) -> None:
    settings = Settings(
        redis_url=durable_redis.url,
        api_keys=API_KEYS,
        data_dir=tmp_path / "d",
        events_relay_interval_s=3600,
        webhooks_allowed_hosts="127.0.0.1",
        webhooks_retry_schedule="0.05,0.05,0.05,0.05",
        webhooks_interval_s=0.02,
        webhooks_engine="inline",
    )
    hook.hang = asyncio.Event()  # nothing is delivered before the restarts
    app = create_app(settings)
    async with running(app) as client:
        api = Api(client, app, app.state.store.redis, Clock())
        made = await subscribe(api, hook.url(), events=[EVERY[0]])
        list_id = await stocked(api, 40)
        for n in range(40):
            assert (await allocate(api, list_id, f"u{n}")).status_code == 201
        await app.state.relay.relay()
        await hook.until(16)  # the engine holds some attempts in flight: cut off below
    durable_redis.restart()  # AOF: every pending delivery and its place in the queue is kept
    hook.requests.clear()
    hook.hang.set()
    fast = settings.model_copy(update={"webhooks_timeout_s": 0.5})  # cut-off claims end sooner
    app = create_app(fast)
    async with running(app) as client:
        api = Api(client, app, app.state.store.redis, Clock())
        await until(api, all_status(api, made["id"], "delivered", 40), within_s=60)
    assert {orjson.loads(r.body)["user_id"] for r in hook.requests} == {f"u{n}" for n in range(40)}


async def test_endpoints_and_pending_deliveries_are_in_snapshots(
    api: Api, hook: Receiver, tmp_path: Path
) -> None:
    hook.hang = asyncio.Event()
    made = await subscribe(api, hook.url(), events=[EVERY[0]], template="{{ voucherCode }}")
    list_id = await stocked(api, 3)
    for n in range(3):
        await allocate(api, list_id, f"u{n}")
    await api.app.state.relay.relay()
    await hook.until(3)
    started = (await api.post("/v1/admin/snapshots")).json()
    await api.app.state.snapshots.drain()
    (listed,) = (await api.get("/v1/admin/snapshots")).json()["items"]
    assert (listed["id"], listed["status"]) == (started["id"], "completed")
    path = api.app.state.snapshots.dir / f"{started['id']}.jsonl"
    types = [orjson.loads(line).get("type") for line in path.read_bytes().splitlines()]
    assert {"webhooks", "webhook", "deliveries"} <= set(types)
    loader = api.app.state.store.loader
    before = await api.get(f"/v1/webhooks/{made['id']}")
    await loader.clear()
    await loader.load(read_verified(path))
    assert (await api.get(f"/v1/webhooks/{made['id']}")).json() == before.json()
    restored = await deliveries(api, made["id"])
    assert len(restored) == 3
    assert all(d["status"] == "pending" for d in restored)
    # the restored deliveries still hold what they send: each code arrives again, and is done
    hook.hang.set()
    await until(api, all_status(api, made["id"], "delivered", 3))
    bodies = [r.body for r in hook.requests]
    assert len(bodies) >= 6
    assert sorted(bodies[3:]) == sorted(bodies[:3])


async def test_the_log_keeps_the_newest_and_delivered_events_are_let_go(
    redis_client: Any, settings: Settings, clock: Clock, hook: Receiver
) -> None:
    keep_three = settings.model_copy(update={"webhooks_retention": 3})
    async with open_api(redis_client, keep_three, clock) as api:
        await keep_the_newest(api, hook)


async def keep_the_newest(api: Api, hook: Receiver) -> None:
    made = await subscribe(api, hook.url(), events=[EVERY[0]])
    list_id = await stocked(api, 8)
    for n in range(8):
        await allocate(api, list_id, f"u{n}")
    await api.app.state.relay.relay()
    await until(api, all_status(api, made["id"], "delivered", 3))
    await hook.until(8)
    kept = await deliveries(api, made["id"], limit=500)
    assert [d["id"] for d in kept] == ["dlv_8", "dlv_7", "dlv_6"]
    keys = api.app.state.store.keys.webhook(made["id"])
    assert await api.redis.hlen(keys.deliveries) == 3
    assert await api.redis.zcard(keys.log) == 3
    assert await api.redis.hlen(keys.bodies) == 0  # nothing left to send


async def test_the_delivery_process_of_vouchers_serve_survives_kill_9(
    own_redis_server: RedisServer, tmp_path: Path, hook: Receiver
) -> None:
    """`vouchers serve` on Redis: two workers, and one delivery process beside them that sends
    every delivery; killed (-9, all of it) with attempts in flight, started again, it sends
    what was pending; the workers' /metrics show the delivery process's counts."""
    hook.hang = asyncio.Event()
    svc = Service(
        own_redis_server.url,
        tmp_path / "data",
        workers=2,
        webhooks_timeout_s="0.5",  # claims cut off by the kill lapse 5.5 s later
        webhooks_retry_schedule="0.05,0.05,0.05",
    )

    async def call(method: str, path: str, **options: Any) -> httpx.Response:
        return await asyncio.to_thread(svc.call, method, path, **options)

    await asyncio.to_thread(svc.start)
    try:
        made = (await call("POST", "/v1/webhooks", json={"url": hook.url()})).json()
        list_id = await asyncio.to_thread(stock_list, svc, 30, "W")
        for n in range(30):
            asked = {"list_id": list_id, "campaign_id": "c1", "user_id": f"u{n}"}
            answer = await call("POST", "/v1/allocations", json=asked)
            assert answer.status_code == 201, answer.text
        await hook.until(16)  # the delivery process holds its 16 slots, then the kill
        await asyncio.to_thread(svc.kill)
        hook.requests.clear()
        hook.hang.set()
        await asyncio.to_thread(svc.start)

        def relayed() -> bool:
            return len(all_events(svc)) == 31  # 30 rewards, the exhausted event

        await asyncio.to_thread(wait_for, relayed, "the events relayed")
        events = await asyncio.to_thread(all_events, svc)
        await hook.until(31, within_s=30)

        def delivered() -> bool:
            text = svc.call("GET", "/metrics").text
            (line,) = [x for x in text.splitlines() if x.startswith(ATTEMPTS_DELIVERED)]
            return float(line.split()[-1]) >= 31

        await asyncio.to_thread(wait_for, delivered, "the delivered count in /metrics")
        log = await call("GET", f"/v1/webhooks/{made['id']}/deliveries", params={"limit": 100})
        assert {d["status"] for d in log.json()["items"]} == {"delivered"}
    finally:
        await asyncio.to_thread(svc.kill)
    assert {orjson.loads(r.body)["id"] for r in hook.requests} == {e["id"] for e in events}
