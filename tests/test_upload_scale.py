"""Real sizes on a real redis-server: a 1,000,000-code file, and the service killed mid-way."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from app.domain.lists import ListId
from app.store.keys import Keys
from tests.conftest import Api
from tests.redis_server import RedisServer
from tests.service import Service, running_service, wait_for


def million_codes() -> bytes:
    """1,000,000 codes of 19 characters: a 20 MB file."""
    return b"".join(b"PV-%016d\n" % n for n in range(1_000_000))


async def test_a_million_codes_upload(real_api: Api) -> None:
    await real_api.make_partner()
    made = await real_api.make_list()
    content = million_codes()
    assert len(content) == 20_000_000
    done = await real_api.upload(made["id"], content, name="million.csv")
    assert (done["status"], done["codes_total"], done["codes_uploaded"]) == (
        "completed",
        1_000_000,
        1_000_000,
    )
    keys = Keys("pv").list(ListId(made["id"]))
    assert await real_api.redis.scard(keys.avail) == 1_000_000
    assert await real_api.redis.scard(keys.dedupe) == 1_000_000
    body = (await real_api.get(f"/v1/lists/{made['id']}")).json()
    assert (body["codes_uploaded"], body["codes_available"]) == (1_000_000, 1_000_000)
    full = await real_api.upload(made["id"], b"ONE-MORE\n")
    assert full["errors"] == [{"code": "list_full", "count": 1}]


@pytest.fixture
def service(own_redis_server: RedisServer, tmp_path: Path) -> Iterator[Service]:
    with running_service(own_redis_server.url, tmp_path / "data", upload_lease_s=1) as svc:
        yield svc


def test_killed_mid_upload_resumes_with_exact_counts(
    service: Service, own_redis_server: RedisServer
) -> None:
    service.call("POST", "/v1/partners", json={"name": "Acme"})
    made = service.call(
        "POST",
        "/v1/lists",
        json={"partner": "Acme", "tag": "big", "name": "Big", "expires_at": "2099-01-01T00:00:00Z"},
    ).json()
    content = million_codes() + b"PV-0000000000000007\nbad code\n"
    accepted = service.call(
        "POST", f"/v1/lists/{made['id']}/uploads", files={"file": ("big.csv", content, "text/csv")}
    ).json()
    upload_path = f"/v1/lists/{made['id']}/uploads/{accepted['id']}"

    def adding() -> bool:
        upload = service.call("GET", upload_path).json()
        assert upload["status"] == "in_progress", "finished before it could be killed"
        return bool(upload["codes_uploaded"] > 0)

    wait_for(adding, "the first committed batch")
    service.kill()
    service.start()
    wait_for(
        lambda: service.call("GET", upload_path).json()["status"] != "in_progress",
        "the resumed upload",
    )

    done = service.call("GET", upload_path).json()
    assert (done["status"], done["codes_total"], done["codes_uploaded"]) == (
        "completed",
        1_000_002,
        1_000_000,
    )
    assert done["errors"] == [
        {"code": "duplicate_in_file", "count": 1},
        {"code": "invalid_characters", "count": 1},
    ]
    keys = Keys("pv").list(ListId(made["id"]))
    client = redis.Redis(port=own_redis_server.port, decode_responses=True)
    meta = client.hgetall(keys.meta)
    assert int(meta["codes_uploaded"]) == client.scard(keys.dedupe) == 1_000_000
    assert client.scard(keys.avail) + int(meta["codes_distributed"]) == 1_000_000
    assert meta["reserved"] == "0"
    errors = service.call("GET", f"{upload_path}/errors").text.splitlines()
    assert errors[1:] == [
        "1000001,PV-0000000000000007,duplicate_in_file,The code appears earlier in this file.",
        '1000002,bad code,invalid_characters,"The code holds whitespace, control or '
        'non-printable characters."',
    ]
    client.close()
