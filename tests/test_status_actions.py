"""The contract's status/action table, every pair, through the HTTP API."""

from __future__ import annotations

from typing import Any

import pytest

from app.domain.lists import ACTIONS, Action, Status
from tests.conftest import Api, until_store_time
from tests.state import dump

# How each action is performed over HTTP (upload_codes arrives with the uploads issue).
REQUESTS: dict[Action, tuple[str, str, dict[str, Any] | None]] = {
    Action.PAUSE: ("POST", "/v1/lists/{id}/pause", None),
    Action.ACTIVATE: ("POST", "/v1/lists/{id}/activate", None),
    Action.EDIT: ("PATCH", "/v1/lists/{id}", {"name": "edited"}),
    Action.ARCHIVE: ("POST", "/v1/lists/{id}/archive", None),
    Action.DELETE: ("DELETE", "/v1/lists/{id}", None),
}
SUCCESS = {Action.DELETE: 204}


async def list_in(api: Api, status: Status) -> dict[str, Any]:
    await api.make_partner()
    made = await api.make_list()
    if status is Status.PAUSED:
        await api.post(f"/v1/lists/{made['id']}/pause")
    elif status is Status.ARCHIVED:
        await api.post(f"/v1/lists/{made['id']}/archive")
    elif status is Status.EXPIRED:
        await api.expire(made["id"])
    body: dict[str, Any] = (await api.get(f"/v1/lists/{made['id']}")).json()
    assert body["status"] == status.value
    return body


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("action", list(REQUESTS))
async def test_every_status_action_pair(api: Api, status: Status, action: Action) -> None:
    made = await list_in(api, status)
    allowed = action in ACTIONS[status] or (action is Action.DELETE and status != Status.ARCHIVED)
    assert (action.value in made["allowed_actions"]) == allowed
    method, path, body = REQUESTS[action]
    before = await dump(api.redis)
    response = await api.call(method, path.format(id=made["id"]), json=body)
    if allowed:
        assert response.status_code == SUCCESS.get(action, 200), response.text
        return
    assert response.status_code == 409, response.text
    error = response.json()["error"]
    if action is Action.ACTIVATE and status is Status.EXPIRED:
        assert error["code"] == "list_expired"
    else:
        assert error["code"] == "invalid_transition"
        assert error["details"] == {
            "status": status.value,
            "allowed_actions": made["allowed_actions"],
        }
    assert await dump(api.redis) == before


@pytest.mark.parametrize("status", list(Status))
async def test_allowed_actions_after_each_transition(api: Api, status: Status) -> None:
    made = await list_in(api, status)
    expected = {
        Status.ACTIVE: ["pause", "edit", "upload_codes", "archive", "delete"],
        Status.PAUSED: ["activate", "edit", "upload_codes", "archive", "delete"],
        Status.EXPIRED: ["edit", "archive", "delete"],
        Status.ARCHIVED: [],
    }[status]
    assert made["allowed_actions"] == expected


async def test_delete_refused_while_linked_names_the_campaigns(api: Api) -> None:
    made = await list_in(api, Status.ACTIVE)
    for campaign in ("spring", "autumn"):
        assert (await api.put(f"/v1/lists/{made['id']}/campaigns/{campaign}")).status_code == 200
    body = (await api.get(f"/v1/lists/{made['id']}")).json()
    assert body["linked_campaigns"] == 2
    assert "delete" not in body["allowed_actions"]
    before = await dump(api.redis)
    response = await api.delete(f"/v1/lists/{made['id']}")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "list_linked"
    details = response.json()["error"]["details"]
    assert details == {"campaign_ids": ["autumn", "spring"], "linked_campaigns": 2}
    assert await dump(api.redis) == before


async def test_archived_list_keeps_its_metadata_and_cannot_be_edited(api: Api) -> None:
    made = await list_in(api, Status.ACTIVE)
    await api.put(f"/v1/lists/{made['id']}/campaigns/c1")
    soon = await api.expire_soon(made["id"])
    archived = (await api.post(f"/v1/lists/{made['id']}/archive")).json()
    assert archived["status"] == "archived"
    assert archived["name"] == made["name"]
    assert archived["linked_campaigns"] == 1
    await until_store_time(api, soon)  # archived stays archived, never "expired"
    assert (await api.get(f"/v1/lists/{made['id']}")).json()["status"] == "archived"
