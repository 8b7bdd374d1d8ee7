"""`vouchers serve` as a real subprocess, for tests that kill it or run several workers."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import redis

from tests.conftest import API_KEYS, TOKENS
from tests.redis_server import free_port

ADMIN = {"Authorization": f"Bearer {TOKENS['admin']}"}


class Service:
    """`vouchers serve` in a subprocess of its own, to kill -9."""

    def __init__(
        self,
        redis_url: str | None,
        data_dir: Path,
        workers: int = 1,
        upload_lease_s: float = 10,
        **settings: str,
    ) -> None:
        """`redis_url` None: the embedded store. `settings`: more VOUCHERS_* variables, by
        their lowercase names."""
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("VOUCHERS_")},
            **({} if redis_url is None else {"VOUCHERS_REDIS_URL": redis_url}),
            "VOUCHERS_DATA_DIR": str(data_dir),
            "VOUCHERS_PORT": str(self.port),
            "VOUCHERS_UPLOAD_LEASE_S": str(upload_lease_s),
            "VOUCHERS_WORKERS": str(workers),
            # No test sends a webhook off this machine.
            "VOUCHERS_WEBHOOKS_ALLOWED_HOSTS": "127.0.0.1",
            "VOUCHERS_API_KEYS": "[" + ",".join(k.model_dump_json() for k in API_KEYS) + "]",
            **{f"VOUCHERS_{name.upper()}": value for name, value in settings.items()},
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data_dir.parent / f"service-{self.port}.log"  # what it logged, to read back

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app.cli", "serve"],
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,
            )
        wait_for(lambda: self._ready(), "the service to start")

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    def kill(self) -> None:
        if self.process is not None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
            self.process = None

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**ADMIN, **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=60, **kwargs)


def wait_for(condition: Any, what: str, timeout_s: float = 120) -> None:
    """Poll another process until `condition()` holds (observation, not synchronisation)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


@contextlib.contextmanager
def running_service(redis_url: str | None, data_dir: Path, **options: Any) -> Iterator[Service]:
    svc = Service(redis_url, data_dir, **options)
    svc.start()
    try:
        yield svc
    finally:
        svc.kill()


def store_url(request: Any) -> str | None:
    """For a test parametrized over "redis" and "fake": the session's real redis-server,
    emptied, or None for the embedded store."""
    if request.param != "redis":
        return None
    server = request.getfixturevalue("redis_server")
    with redis.Redis.from_url(server.url) as client:
        client.flushall()
    return str(server.url)


def stock_list(svc: Service, codes: int, prefix: str) -> str:
    """Partner Acme, a list of `codes` codes `<prefix>-00000`.., linked to campaign c1."""
    svc.call("POST", "/v1/partners", json={"name": "Acme"})
    made = svc.call(
        "POST",
        "/v1/lists",
        json={
            "partner": "Acme",
            "tag": prefix.lower(),
            "name": prefix,
            "expires_at": "2099-01-01T00:00:00Z",
        },
    ).json()
    content = "\n".join(f"{prefix}-{n:05d}" for n in range(codes)).encode()
    path = f"/v1/lists/{made['id']}/uploads"
    upload = svc.call("POST", path, files={"file": ("codes.csv", content, "text/csv")}).json()
    wait_for(
        lambda: svc.call("GET", f"{path}/{upload['id']}").json()["status"] == "completed",
        "the upload",
    )
    svc.call("PUT", f"/v1/lists/{made['id']}/campaigns/c1")
    return str(made["id"])


def all_events(svc: Service) -> list[dict[str, Any]]:
    """Every event in the stream, through GET /v1/events."""
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        page = svc.call("GET", "/v1/events", params=params).json()
        if not page["items"]:
            return found
        found += page["items"]
        cursor = page["next_cursor"]
