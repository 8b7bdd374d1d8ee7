"""Every role against every route: allowed, 401 and 403."""

from __future__ import annotations

import pytest

from app.api.app import ENDPOINTS
from app.api.auth import RANK
from app.api.routing import Endpoint
from app.config import Role
from tests.conftest import TOKENS, Api, sample_path
from tests.state import dump

ROLES: tuple[Role, ...] = ("viewer", "allocator", "admin")


def _id(endpoint: Endpoint) -> str:
    return f"{endpoint.method} {endpoint.path}"


async def _path(api: Api, endpoint: Endpoint) -> str:
    await api.make_partner()
    made = await api.make_list()
    return sample_path(endpoint.path, made["id"])


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
async def test_roles(api: Api, endpoint: Endpoint) -> None:
    path = await _path(api, endpoint)
    if endpoint.role is None:
        response = await api.call(endpoint.method, path, role=None)
        assert response.status_code == 200, response.text
        return
    before = await dump(api.redis)
    for headers in (
        {},
        {"Authorization": "Bearer nope-not-a-token"},
        {"Authorization": f"Basic {TOKENS['admin']}"},
        {"Authorization": f"Bearer {TOKENS['admin'].upper()}"},
        {"Authorization": "Bearer "},
    ):
        response = await api.call(endpoint.method, path, role=None, headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["code"] == "unauthorized"
    for role in ROLES:
        if RANK[role] < RANK[endpoint.role]:
            response = await api.call(endpoint.method, path, role=role)
            assert response.status_code == 403, role
            assert response.json()["error"]["code"] == "forbidden"
    assert await dump(api.redis) == before
    for role in ROLES:
        if RANK[role] >= RANK[endpoint.role]:
            response = await api.call(endpoint.method, path, role=role)
            assert response.status_code not in (401, 403), (role, response.text)


def test_every_route_is_declared_with_a_role_or_public() -> None:
    public = {e.path for e in ENDPOINTS if e.role is None}
    assert public == {
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/admin",  # the console's page and files: the page asks for a token
        "/admin/console.js",
        "/admin/console.css",
        "/admin/icon.svg",
    }


async def test_a_header_sent_twice_counts_once_the_first(api: Api) -> None:
    valid, bogus = f"Bearer {TOKENS['viewer']}", "Bearer not-a-token-of-this-service"
    first_valid = await api.client.get(
        "/v1/lists", headers=[("Authorization", valid), ("Authorization", bogus)]
    )
    assert first_valid.status_code == 200
    first_bogus = await api.client.get(
        "/v1/lists", headers=[("Authorization", bogus), ("Authorization", valid)]
    )
    assert first_bogus.status_code == 401
