"""The README's two commands, verbatim, on a fresh clone."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parents[1]


def _blocks_after(heading: str) -> list[str]:
    """The shell blocks in the README section with this heading."""
    text = (ROOT / "README.md").read_text()
    section = text.split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)\n```", section, re.DOTALL)
    assert blocks, f"no sh block under {heading}"
    return [str(block).strip() for block in blocks]


def _command_after(heading: str) -> str:
    """The first shell block in the README section with this heading: its one command."""
    return _blocks_after(heading)[0]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    command = _command_after("Tests")
    assert "\n" not in command
    lines = [
        line
        for line in (ROOT / ".ci/run").read_text().splitlines()
        if line and not line.startswith(("#", "set ", "cd "))
    ]
    assert lines == [command]


@pytest.fixture
def fresh_clone(tmp_path: Path) -> Iterator[Path]:
    """The committed tree, cloned as CI would: nothing installed in it."""
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True)
    yield clone
    shutil.rmtree(clone, ignore_errors=True)


def test_quick_start_command_serves_on_a_fresh_clone(fresh_clone: Path) -> None:
    command = _command_after("Quick start")
    assert "\n" not in command
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOUCHERS_", "VIRTUAL_ENV"))}
    env["VOUCHERS_PORT"] = str(port)
    # The README's command runs verbatim, through a shell as a reader would run it.
    process = subprocess.Popen(  # noqa: S602
        command,
        shell=True,
        cwd=fresh_clone,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300  # installs the dependencies first
        while True:
            assert process.poll() is None, "the quick-start command exited"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the service did not come up"
            time.sleep(0.2)  # waiting for start-up, not synchronising
        # the walkthrough, pasted into a shell in the clone (on this test's port)
        walkthrough = _blocks_after("Quick start")[1].replace("localhost:8080", f"127.0.0.1:{port}")
        shown = subprocess.run(
            ["bash", "-c", walkthrough],
            cwd=fresh_clone,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout
        assert '"name":"Acme"' in shown
        assert '"status":"completed"' in shown
        assert '"codes_uploaded":3' in shown
        assert '"campaign_id":"spring-promo"' in shown
        assert '"voucher_code":"SUMMER-00' in shown
        assert '"name":"Partner Voucher Rewarded"' in shown
        assert '"status":"in_progress"' in shown  # the snapshot, written in the background
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        output = process.communicate(timeout=30)[0].decode()
    assert "embedded in-process store" in output
    assert "admin-token" in output
