"""Locust users of Partner Vouchers: the promo engine and the admins.

    VOUCHERS_TOKEN=<admin token> .venv/bin/locust -f loadtests/locustfile.py --headless \\
        -u 50 -r 10 -t 60s --stop-timeout 10 --host http://127.0.0.1:8080 \\
        --csv loadtests/results/locust --json-file loadtests/results/locust

At the start (once per run) it creates partner "Locust", a list with LOCUST_SEED_CODES codes
(default 200,000) and links campaign "locust-promo" to it. Then:
- PromoEngine (most users): rewards a user drawn from LOCUST_USERS (default 1,000,000) with
  POST /v1/allocations and a fresh Idempotency-Key per reward; a connection error or a 5xx is
  retried up to three times with the same key (so a retry can never hand out a second code),
  backing off 50, 100, 200 ms; retries show as "POST /v1/allocations (retry)". 201 and 200
  (replay) count as successes; anything else, out_of_codes included, is a failure.
- Admin (few users): browses lists, looks at one, reads its upload log and a user's
  allocations, and tops the list up with 1,000 fresh codes, polling the upload until it ends
  ("upload: POST to done" in the statistics is that whole time).
LOCUST_ALLOCATOR_TOKEN, if set, is used for the promo engine instead of VOUCHERS_TOKEN.
"""

from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from locust import FastHttpUser, between, events, task
from locust.env import Environment

PARTNER = "Locust"
CAMPAIGN = "locust-promo"
RETRIES = (0.05, 0.1, 0.2)
TOP_UP_CODES = 1000
BOUNDARY = "locust-top-up-boundary"

state: dict[str, str] = {}


def _token() -> str:
    token = os.environ.get("VOUCHERS_TOKEN")
    if not token:
        raise SystemExit("set VOUCHERS_TOKEN to an admin token of the service under test")
    return token


def _admin(host: str, method: str, path: str, body: bytes | None = None, **headers: str) -> Any:
    request = urllib.request.Request(  # noqa: S310 (the host is the one Locust was given)
        host + path,
        data=body,
        method=method,
        headers={"Authorization": f"Bearer {_token()}", **headers},
    )
    with urllib.request.urlopen(request, timeout=120) as response:  # noqa: S310
        raw = response.read()
    return json.loads(raw) if raw else None


def multipart(name: str, content: bytes) -> tuple[bytes, dict[str, str]]:
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            f"Content-Type: text/csv\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}


def fresh_codes(count: int) -> bytes:
    prefix = uuid.uuid4().hex[:12].upper()
    return b"".join(b"%s-%08d\n" % (prefix.encode(), n) for n in range(count))


@events.test_start.add_listener  # type: ignore[untyped-decorator]
def seed(environment: Environment, **_kwargs: Any) -> None:
    """Partner, list, codes and campaign link, once per run."""
    host = (environment.host or "").rstrip("/")
    with_json = {"Content-Type": "application/json"}
    try:
        _admin(host, "POST", "/v1/partners", json.dumps({"name": PARTNER}).encode(), **with_json)
    except urllib.error.HTTPError as exc:
        if exc.code != 409:  # it exists from an earlier run
            raise
    made = _admin(
        host,
        "POST",
        "/v1/lists",
        json.dumps(
            {
                "partner": PARTNER,
                "tag": f"run-{time.time_ns()}",
                "name": "Locust run",
                "expires_at": "2099-01-01T00:00:00Z",
            }
        ).encode(),
        **with_json,
    )
    list_id = made["id"]
    seed_codes = int(os.environ.get("LOCUST_SEED_CODES", "200000"))
    body, headers = multipart("seed.csv", fresh_codes(seed_codes))
    upload = _admin(host, "POST", f"/v1/lists/{list_id}/uploads", body, **headers)
    while upload["status"] == "in_progress":
        time.sleep(0.2)
        upload = _admin(host, "GET", f"/v1/lists/{list_id}/uploads/{upload['id']}")
    if upload["status"] != "completed":
        raise SystemExit(f"seeding failed: {upload}")
    _admin(host, "PUT", f"/v1/lists/{list_id}/campaigns/{CAMPAIGN}")
    state["list_id"] = list_id


class PromoEngine(FastHttpUser):
    """The promo engine's calls on users' critical path."""

    weight = 20
    wait_time = between(0.05, 0.15)

    def on_start(self) -> None:
        token = os.environ.get("LOCUST_ALLOCATOR_TOKEN") or _token()
        self.headers = {"Authorization": f"Bearer {token}"}
        self.users = int(os.environ.get("LOCUST_USERS", "1000000"))

    @task
    def reward(self) -> None:
        payload = {
            "list_id": state["list_id"],
            "campaign_id": CAMPAIGN,
            "user_id": f"user-{random.randrange(self.users)}",
        }
        headers = {**self.headers, "Idempotency-Key": str(uuid.uuid4())}
        for attempt, pause in enumerate((*RETRIES, None)):
            name = "POST /v1/allocations" + (" (retry)" if attempt else "")
            with self.client.post(
                "/v1/allocations", json=payload, headers=headers, name=name, catch_response=True
            ) as response:
                if response.status_code in (200, 201):
                    response.success()
                    return
                response.failure(f"{response.status_code} {(response.text or '')[:200]}")
                retryable = response.status_code == 0 or response.status_code >= 500
                if not retryable or pause is None:
                    return
            time.sleep(pause)


class Admin(FastHttpUser):
    """Admins in the JSON API: browsing, and topping the list up."""

    weight = 1
    wait_time = between(1, 3)

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {_token()}"}

    def get(self, path: str, name: str) -> Any:
        with self.client.get(path, headers=self.headers, name=name, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"{r.status_code} {r.text[:200]}")
                return None
            return r.json()

    @task(5)
    def browse_lists(self) -> None:
        self.get("/v1/lists?limit=50", "GET /v1/lists")

    @task(5)
    def view_list(self) -> None:
        self.get(f"/v1/lists/{state['list_id']}", "GET /v1/lists/{id}")

    @task(2)
    def upload_log(self) -> None:
        self.get(f"/v1/lists/{state['list_id']}/uploads", "GET /v1/lists/{id}/uploads")

    @task(2)
    def user_allocations(self) -> None:
        user = f"user-{random.randrange(1000)}"
        self.get(
            f"/v1/lists/{state['list_id']}/allocations?user_id={user}",
            "GET /v1/lists/{id}/allocations?user_id=",
        )

    @task(1)
    def top_up(self) -> None:
        started = time.perf_counter()
        body, headers = multipart("top-up.csv", fresh_codes(TOP_UP_CODES))
        path = f"/v1/lists/{state['list_id']}/uploads"
        with self.client.post(
            path,
            data=body,  # type: ignore[arg-type]  # bytes are sent as they are
            headers={**self.headers, **headers},
            name="POST /v1/lists/{id}/uploads",
            catch_response=True,
        ) as r:
            if r.status_code != 202:
                r.failure(f"{r.status_code} {r.text[:200]}")
                return
            upload = r.json()
        while upload is not None and upload["status"] == "in_progress":
            time.sleep(0.25)
            upload = self.get(f"{path}/{upload['id']}", "GET /v1/lists/{id}/uploads/{upload}")
        if upload is None:
            return
        events.request.fire(  # type: ignore[no-untyped-call]
            request_type="UPLOAD",
            name="upload: POST to done",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=None
            if upload["status"] == "completed" and upload["codes_uploaded"] == TOP_UP_CODES
            else AssertionError(f"upload ended {upload['status']}: {upload['errors']}"),
            context={},
        )
