"""Voucher codes and tokens never appear in logs. (The code lookup route carries a code in
its path, which is why `vouchers serve` runs uvicorn without access logs.)"""

from __future__ import annotations

import logging

import pytest

from tests.conftest import TOKENS, Api
from tests.test_allocations import allocate, stocked


async def test_no_code_or_token_in_logs(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    list_id = await stocked(api, 20)
    await api.upload(list_id, b"SECRET-CODE-1\nSECRET-CODE-1\nbad code\n")
    given = [(await allocate(api, list_id, f"u{n}")).json()["voucher_code"] for n in range(5)]
    await allocate(api, list_id, "u1", key="k" * 300)  # a refused key
    await api.get(f"/v1/lists/{list_id}/codes/SECRET-CODE-1")
    await api.app.state.relay.relay()
    await api.get("/v1/events", headers={"Authorization": "Bearer not-a-real-token"}, role=None)
    # the service's own logs (the test's HTTP client logs the URLs it calls)
    ours = [r for r in caplog.records if not r.name.startswith("httpx")]
    text = "\n".join(r.getMessage() + str(r.exc_info or "") for r in ours)
    assert ours  # the flow did log
    for secret in [*given, "SECRET-CODE-1", "CODE-000001", *TOKENS.values(), "not-a-real-token"]:
        assert secret not in text
