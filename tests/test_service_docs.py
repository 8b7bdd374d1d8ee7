"""The OpenAPI document, metrics and the admin token a newcomer gets."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from starlette.routing import Route

from app.api.app import ENDPOINTS, create_app
from app.api.auth import resolve_api_keys
from app.api.openapi import documented_path
from app.config import Settings
from tests.conftest import Api, running


async def test_openapi_documents_every_route(api: Api) -> None:
    response = await api.get("/openapi.json", role=None)
    assert response.status_code == 200
    doc = response.json()
    assert doc["openapi"] == "3.1.0"
    routes = {
        (m, documented_path(r.path))
        for r in api.app.routes
        if isinstance(r, Route)
        for m in (r.methods or ())
        if m != "HEAD"
    }
    documented = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    assert routes == documented
    create = doc["paths"]["/v1/lists"]["post"]
    schema = doc["components"]["schemas"]["ListCreate"]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ListCreate"
    }
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"partner", "tag", "name", "expires_at"}
    assert "tag_in_use" in create["responses"]["409"]["description"]
    assert doc["paths"]["/healthz"]["get"]["security"] == []


async def test_metrics_count_requests(api: Api) -> None:
    await api.get("/v1/lists")
    await api.get("/v1/lists", role=None)
    text = (await api.get("/metrics", role=None)).text
    assert 'vouchers_http_requests_total{method="GET",route="/v1/lists",status="200"} 1.0' in text
    assert 'vouchers_http_requests_total{method="GET",route="/v1/lists",status="401"} 1.0' in text


def test_admin_token_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    first = resolve_api_keys(settings)
    path = tmp_path / "data" / "admin-token"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert resolve_api_keys(settings) == first
    assert first[0].role == "admin"
    assert path.read_text().strip() == first[0].token


async def test_the_created_admin_token_works(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    app = create_app(settings)  # no VOUCHERS_REDIS_URL: the embedded store
    token = (tmp_path / "data" / "admin-token").read_text().strip()
    async with running(app) as client:
        response = await client.post(
            "/v1/partners", json={"name": "Acme"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 201
        assert (await client.get("/readyz")).status_code == 200


def test_endpoints_have_unique_operation_ids() -> None:
    names = [e.handler.__name__ for e in ENDPOINTS]
    assert len(names) == len(set(names))
