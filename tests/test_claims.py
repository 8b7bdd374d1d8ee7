"""Creating, archiving and deleting a list span two slots (the list's, its partner's claims'):
a crash between the steps never lets two non-archived lists hold one tag, and never leaves a
tag blocked for good (app/store/claims.py)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, cast

import httpx
import pytest
import redis

from app.config import Settings
from app.domain.lists import ListId
from app.store import faults
from app.store.connection import Client
from app.store.keys import Keys
from app.store.scripts import Code
from tests.conftest import Api, open_api, until_store_time
from tests.redis_server import RedisServer
from tests.service import ADMIN, running_service, wait_for
from tests.state import Clock

KEYS = Keys("pv")
POINTS = ["create:claimed", "create:created", "archive:archived", "delete:deleted"]


class Crash(BaseException):
    """The process stops here: nothing after this point runs, no clean-up either."""


@pytest.fixture
async def quick(redis_client: Client, settings: Settings, clock: Clock) -> Any:
    """The API with a claim lease of 0.2 s (a crashed create's tag settles soon after)."""
    async with open_api(
        redis_client, settings.model_copy(update={"claim_lease_s": 0.2}), clock
    ) as opened:
        yield opened


async def _crash_at(api: Api, point: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """Make list Acme/summer (archived or deleted first where the point needs it), stopping
    at `point`; the list's id."""
    await api.make_partner()

    def stop(reached: str) -> None:
        if reached == point:
            raise Crash

    monkeypatch.setattr(faults, "reached", stop)
    if point.startswith("create"):
        body = api.list_body()
        with pytest.raises(Crash):
            await api.post("/v1/lists", json=body)
        (list_id,) = await api.redis.zrange(KEYS.lists, 0, -1)
        monkeypatch.undo()
        return str(list_id)
    made = await api.make_list()
    method, path = ("POST", "/archive") if point.startswith("archive") else ("DELETE", "")
    with pytest.raises(Crash):
        await api.call(method, f"/v1/lists/{made['id']}{path}")
    monkeypatch.undo()
    return str(made["id"])


async def non_archived_by_tag(api: Api) -> Counter[str]:
    lists = (await api.get("/v1/lists", params={"limit": 500})).json()["items"]
    return Counter(item["tag"] for item in lists if item["status"] != "archived")


async def partner_lists(api: Api) -> int:
    return int((await api.get("/v1/partners")).json()["items"][0]["lists"])


@pytest.mark.parametrize("point", POINTS)
async def test_a_crash_between_steps_leaves_the_tag_usable_and_never_held_twice(
    quick: Api, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = quick
    first = await _crash_at(api, point, monkeypatch)
    status = (await api.get(f"/v1/lists/{first}")).status_code
    alive = point == "create:created"  # the list exists and is active; its claim is pending
    assert status == (200 if alive or point.startswith("archive") else 404)
    # Once the lease has run out, the next create of the tag settles what was left: it is
    # refused while the first list lives, and takes the tag otherwise.
    await _past_the_lease(api)
    again = await api.post("/v1/lists", json=api.list_body())
    if alive:
        assert again.status_code == 409, again.text
        assert again.json()["error"]["details"] == {"list_id": first}
    else:
        assert again.status_code == 201, again.text
    assert max(await non_archived_by_tag(api)) == "summer"
    assert (await non_archived_by_tag(api))["summer"] == 1
    assert await partner_lists(api) == 1
    assert await api.redis.zcard(KEYS.unsettled) == 0


@pytest.mark.parametrize("point", POINTS)
async def test_the_janitor_settles_what_a_crash_left(
    quick: Api, point: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = quick
    first = await _crash_at(api, point, monkeypatch)
    await _past_the_lease(api)
    await api.app.state.janitor.round()
    assert await api.redis.zcard(KEYS.unsettled) == 0
    claims = await api.redis.hgetall(KEYS.claims("Acme"))
    if point == "create:created":
        assert claims == {"Acme\nsummer": first}  # confirmed: the list exists
        assert await partner_lists(api) == 1
    else:
        assert claims == {}  # freed: the list is archived, gone, or never appeared
        assert await partner_lists(api) == 0
    if point == "create:claimed":  # it never appears, even if its process comes back
        k = KEYS.list(ListId(first))
        late = await api.app.state.store.scripts.run(
            "create_list", [k.meta, k.abandoned], [await api.store_ms() + 60_000, "name", "late"]
        )
        assert late == [Code.LIST_ABANDONED]
        assert not await api.redis.exists(k.meta)


async def _past_the_lease(api: Api) -> None:
    marks = cast(
        list[tuple[str, float]], await api.redis.zrange(KEYS.unsettled, 0, -1, withscores=True)
    )
    await until_store_time(api, max(int(score) for _, score in marks) + 1)


# --- the same, with a real process killed at each point -----------------------------------


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


def _call(url: str, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
    """A request to a service that may die answering it: None when it did."""
    try:
        return httpx.request(method, url + path, timeout=10, **kwargs)
    except httpx.TransportError:
        return None


@pytest.mark.parametrize("point", POINTS)
def test_a_service_killed_between_steps_recovers_by_itself(
    redis_url: str, tmp_path: Path, point: str
) -> None:
    """kill -9 (the fault hook) between two steps, start the service again: the invariants
    hold, with nothing done by hand."""
    data = tmp_path / "data"
    body = {"partner": "Acme", "tag": "summer", "name": "n", "expires_at": "2099-01-01T00:00:00Z"}
    with running_service(redis_url, data, claim_lease_s="0.5", faults=point) as svc:
        svc.call("POST", "/v1/partners", json={"name": "Acme"})
        if point.startswith("create"):
            assert _call(svc.url, "POST", "/v1/lists", json=body, headers=ADMIN) is None
        else:
            made = svc.call("POST", "/v1/lists", json=body).json()
            path = f"/v1/lists/{made['id']}" + ("/archive" if "archive" in point else "")
            method = "POST" if "archive" in point else "DELETE"
            assert _call(svc.url, method, path, headers=ADMIN) is None
        assert svc.process is not None
        assert svc.process.wait(timeout=10) == -9  # it killed itself at the point
        svc.process = None
    with running_service(redis_url, data, claim_lease_s="0.5", upload_lease_s="0.5") as svc:
        with redis.Redis.from_url(redis_url) as client:
            wait_for(lambda: client.zcard(KEYS.unsettled) == 0, "the janitor to settle it")
        lists = svc.call("GET", "/v1/lists").json()["items"]
        live = [item for item in lists if item["status"] != "archived"]
        assert len(live) == (1 if point == "create:created" else 0)
        partner = svc.call("GET", "/v1/partners").json()["items"][0]
        assert partner["lists"] == len(live)
        again = svc.call("POST", "/v1/lists", json=body)
        assert again.status_code == (409 if live else 201), again.text
