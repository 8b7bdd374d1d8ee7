"""loadtests/locustfile.py runs headless against a real `vouchers serve` (on a real
redis-server and on the embedded store): it seeds its list, the promo engine and an admin
make their calls without a failure, and afterwards every code is in exactly one place with
one event per allocation."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import TOKENS
from tests.service import Service, all_events, running_service, store_url, wait_for

LOCUSTFILE = Path(__file__).parent.parent / "loadtests" / "locustfile.py"


@pytest.fixture(params=["redis", "fake"])
def service(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Service]:
    with running_service(store_url(request), tmp_path / "data") as svc:
        yield svc


def test_the_locustfile_runs_clean(service: Service, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "VOUCHERS_TOKEN": TOKENS["admin"],
        "LOCUST_SEED_CODES": "20000",
        "LOCUST_USERS": "500",  # small enough that some users are rewarded twice
    }
    run = subprocess.run(
        [
            *(sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless"),
            *("-u", "21", "-r", "21", "-t", "6s", "--host", service.url),
            *("--csv", str(tmp_path / "run"), "--json-file", str(tmp_path / "final")),
            # Users finish the reward they are making: nothing in flight goes uncounted.
            *("--stop-timeout", "10", "--only-summary", "--exit-code-on-error", "1"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-5000:]
    assert (tmp_path / "run_stats.csv").exists()
    # The final totals: the CSV files are rewritten every second and miss the last one.
    final = orjson.loads((tmp_path / "final.json").read_bytes())
    stats = {entry["name"]: entry for entry in final}
    assert sum(entry["num_failures"] for entry in final) == 0
    rewarded = int(stats["POST /v1/allocations"]["num_requests"])
    assert rewarded > 100
    assert sum(e["num_requests"] for name, e in stats.items() if "allocations" not in name) > 0

    lists = service.call("GET", "/v1/lists", params={"limit": 500}).json()["items"]
    (run_list,) = [item for item in lists if item["partner"] == "Locust"]
    assert run_list["codes_distributed"] == rewarded  # every request a new key: a new code
    assert run_list["codes_uploaded"] >= 20_000
    assert run_list["codes_uploaded"] == run_list["codes_available"] + rewarded

    def rewards() -> list[dict[str, Any]]:
        return [e for e in all_events(service) if e["name"] == "Partner Voucher Rewarded"]

    wait_for(lambda: len(rewards()) >= rewarded, "the relay to publish every reward")
    assert len(rewards()) == rewarded
    assert len({e["properties"]["voucherCode"] for e in rewards()}) == rewarded
