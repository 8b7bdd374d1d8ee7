"""A private redis-server and `vouchers serve` for benchmarks, or a running service's URL."""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

TOKEN = secrets.token_urlsafe(24)
KEYS_JSON = f'[{{"token": "{TOKEN}", "role": "admin", "user": "bench@example.com"}}]'
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=1).status_code == 200:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Stack:
    url: str
    redis_port: int
    data_dir: Path
    service_pid: int  # the service's process group: the server and its workers
    redis_pid: int  # 0 when the store is not the stack's own


def cpu_seconds(pid: int, group: bool = False) -> float:
    """CPU time (user + system, every thread) used so far by a process, or with `group` by
    the processes of the process group `pid` (the service and its workers)."""
    total = 0
    for entry in Path("/proc").iterdir() if group else [Path(f"/proc/{pid}")]:
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if not group or int(fields[2]) == pid:  # fields[2]: the process group
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def stack(
    workers: int = 1,
    redis_args: tuple[str, ...] = (),
    redis_url: str | None = None,
    settings: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """redis-server (no persistence unless `redis_args` say so) and the service, both on free
    loopback ports, torn down afterwards. With `redis_url`, the service uses that store (a
    cluster, say) instead, and `redis_port` is its port. `settings`: more VOUCHERS_*
    variables, by their lowercase names."""
    tmp = Path(tempfile.mkdtemp(prefix="vouchers-bench-"))
    redis_port, port = free_port(), free_port()
    redis: subprocess.Popen[bytes] | None = None
    if redis_url is None:
        redis = subprocess.Popen(
            [
                shutil.which("redis-server") or "redis-server",
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(tmp),
                "--save",
                "",
                "--appendonly",
                "no",
                *redis_args,
            ],
            stdout=subprocess.DEVNULL,
        )
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
    else:
        redis_port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    env = {
        **os.environ,
        **{f"VOUCHERS_{name.upper()}": value for name, value in (settings or {}).items()},
        "VOUCHERS_REDIS_URL": redis_url,
        "VOUCHERS_DATA_DIR": str(tmp / "data"),
        "VOUCHERS_PORT": str(port),
        "VOUCHERS_WORKERS": str(workers),
        "VOUCHERS_API_KEYS": KEYS_JSON,
        "VOUCHERS_LOG_LEVEL": os.environ.get("VOUCHERS_LOG_LEVEL", "warning"),
        "VOUCHERS_SNAPSHOT_ON_SHUTDOWN": "false",  # a benchmark's store is thrown away
    }
    service = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"], env=env, start_new_session=True
    )
    try:
        _wait(f"http://127.0.0.1:{port}/readyz")
        redis_pid = redis.pid if redis is not None else 0
        yield Stack(f"http://127.0.0.1:{port}", redis_port, tmp / "data", service.pid, redis_pid)
    finally:
        os.killpg(service.pid, signal.SIGTERM)
        service.wait(timeout=30)
        if redis is not None:
            redis.kill()
            redis.wait()
        shutil.rmtree(tmp, ignore_errors=True)


def new_list(client: httpx.Client) -> str:
    """A fresh list of partner "Bench" (created if needed); its id."""
    client.post("/v1/partners", json={"name": "Bench"})
    made = client.post(
        "/v1/lists",
        json={
            "partner": "Bench",
            "tag": f"t{time.time_ns()}",
            "name": "bench",
            "expires_at": "2099-01-01T00:00:00Z",
        },
    ).json()
    return str(made["id"])


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
