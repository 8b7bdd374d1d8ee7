"""`vouchers lists | upload | allocations export` as a user runs them: real processes against a
real `vouchers serve`, on a real redis-server and on the embedded store (fakeredis)."""

from __future__ import annotations

import fcntl
import os
import pty
import struct
import subprocess
import sys
import termios
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.conftest import TOKENS
from tests.redis_server import free_port
from tests.service import Service, running_service, store_url


@pytest.fixture(scope="module", params=["redis", "fake"])
def svc(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    with running_service(store_url(request), tmp_path_factory.mktemp("cli") / "data") as service:
        yield service


def vouchers(
    svc: Service, *args: str, token: str | None = TOKENS["admin"], url: str | None = None
) -> subprocess.CompletedProcess[str]:
    """The command's result, its output decoded as written (line ends kept)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERS_")}
    env["VOUCHERS_URL"] = url or svc.url
    if token is not None:
        env["VOUCHERS_TOKEN"] = token
    done = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        capture_output=True,
        timeout=120,
        check=False,
    )
    return subprocess.CompletedProcess(
        done.args, done.returncode, done.stdout.decode(), done.stderr.decode()
    )


def make_list(svc: Service, tag: str) -> dict[str, Any]:
    svc.call("POST", "/v1/partners", json={"name": "Cli"})
    made = svc.call(
        "POST",
        "/v1/lists",
        json={"partner": "Cli", "tag": tag, "name": tag, "expires_at": "2099-01-01T00:00:00Z"},
    )
    assert made.status_code == 201, made.text
    body: dict[str, Any] = made.json()
    return body


def test_lists_prints_a_table_and_json_lines(svc: Service) -> None:
    made = make_list(svc, "table")
    shown = vouchers(svc, "lists", "--partner", "Cli")
    assert shown.returncode == 0, shown.stderr
    header, *rows = shown.stdout.splitlines()
    assert header.split() == [
        "ID",
        "PARTNER",
        "TAG",
        "STATUS",
        "UPLOADED",
        "DISTRIBUTED",
        "AVAILABLE",
        "CAMPAIGNS",
    ]
    assert [made["id"], "Cli", "table", "active", "0", "0", "0", "0"] in [r.split() for r in rows]
    as_json = vouchers(svc, "lists", "--json", "--partner", "Cli")
    assert as_json.returncode == 0, as_json.stderr
    api = svc.call("GET", "/v1/lists", params={"partner": "Cli", "limit": 500}).json()["items"]
    assert [orjson.loads(line) for line in as_json.stdout.splitlines()] == api
    assert shown.stderr == ""


def test_upload_with_wait_prints_the_counts(svc: Service, tmp_path: Path) -> None:
    made = make_list(svc, "upload")
    source = tmp_path / "codes.csv"
    source.write_text("code\nU1\nU2\nU1\nBAD CODE\nU3\n")
    done = vouchers(svc, "upload", str(source), "--list", made["id"], "--wait")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1].endswith(
        ": completed, 3 of 5 codes uploaded, 2 rejected (duplicate_in_file 1, invalid_characters 1)"
    )
    assert svc.call("GET", f"/v1/lists/{made['id']}").json()["codes_uploaded"] == 3
    (upload,) = svc.call("GET", f"/v1/lists/{made['id']}/uploads").json()["items"]
    assert upload["uploaded_by"] == "admin@example.com"
    assert svc.call("GET", f"/v1/lists/{made['id']}/uploads/{upload['id']}/file").text == (
        source.read_text()
    )


def test_a_failed_upload_exits_non_zero_with_one_line(svc: Service, tmp_path: Path) -> None:
    made = make_list(svc, "failing")
    source = tmp_path / "empty.csv"
    source.write_text("code\n\n")
    failed = vouchers(svc, "upload", str(source), "--list", made["id"], "--wait")
    assert failed.returncode == 1
    assert failed.stderr.count("\n") == 1
    assert failed.stderr.startswith("vouchers: upload ")
    assert "failed: empty_file" in failed.stderr
    missing = vouchers(svc, "upload", str(tmp_path / "nope.csv"), "--list", made["id"])
    assert (missing.returncode, missing.stderr.count("\n")) == (1, 1)
    assert "cannot read" in missing.stderr
    unknown = vouchers(svc, "upload", str(source), "--list", "no.such.1")
    assert unknown.returncode == 1
    assert "(list_not_found)" in unknown.stderr
    assert unknown.stderr.count("\n") == 1


def test_export_equals_the_apis_csv(svc: Service, tmp_path: Path) -> None:
    made = make_list(svc, "export")
    svc.call("POST", f"/v1/lists/{made['id']}/uploads", files={"file": ("a.csv", b"E1\nE2\nE3\n")})
    svc.call("PUT", f"/v1/lists/{made['id']}/campaigns/c1")
    for user in ("u1", "u2"):
        given = svc.call(
            "POST",
            "/v1/allocations",
            json={"list_id": made["id"], "campaign_id": "c1", "user_id": user},
        )
        assert given.status_code == 201, given.text  # the upload is small: done by now or 409
    expected = svc.call("GET", f"/v1/lists/{made['id']}/allocations.csv").content
    out = tmp_path / "out.csv"
    to_file = vouchers(svc, "allocations", "export", "--list", made["id"], "-o", str(out))
    assert to_file.returncode == 0, to_file.stderr
    assert out.read_bytes() == expected
    assert expected.count(b"\n") == 3
    to_stdout = vouchers(svc, "allocations", "export", "--list", made["id"])
    assert to_stdout.stdout.encode() == expected


def test_a_wrong_token_or_no_service_is_one_line(svc: Service) -> None:
    wrong = vouchers(svc, "lists", token="not-the-token-at-all")  # noqa: S106
    assert wrong.returncode == 1
    assert wrong.stderr == "vouchers: GET /v1/lists: The token is not valid. (unauthorized)\n"
    viewer = vouchers(svc, "allocations", "export", "--list", "x.y.1", token=TOKENS["viewer"])
    assert viewer.returncode == 1
    assert "(forbidden)" in viewer.stderr
    nobody = vouchers(svc, "lists", url=f"http://127.0.0.1:{free_port()}")
    assert nobody.returncode == 1
    assert nobody.stderr.startswith("vouchers: cannot reach http://127.0.0.1:")
    assert nobody.stderr.count("\n") == 1


def test_the_upload_shows_a_progress_bar_on_a_terminal(svc: Service, tmp_path: Path) -> None:
    made = make_list(svc, "terminal")
    source = tmp_path / "many.csv"
    source.write_text("".join(f"T{n}\n" for n in range(20_000)))
    main, secondary = pty.openpty()
    # a terminal 100 columns wide, as a user's would be (a new pty has no size)
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOUCHERS_")}
    env |= {"VOUCHERS_URL": svc.url, "VOUCHERS_TOKEN": TOKENS["admin"]}
    command = [sys.executable, "-m", "app.cli", "upload", str(source), "--list", made["id"]]
    with subprocess.Popen(
        [*command, "--wait"], env=env, stdout=subprocess.PIPE, stderr=secondary
    ) as proc:
        os.close(secondary)
        drawn = b""
        while chunk := _read(main):
            drawn += chunk
        out = proc.communicate(timeout=120)[0].decode()
    os.close(main)
    assert proc.returncode == 0
    assert "20000 of 20000 codes uploaded" in out
    assert b"sending many.csv: 100%" in drawn
    assert b"processing" in drawn


def _read(fd: int) -> bytes:
    try:
        return os.read(fd, 65536)
    except OSError:  # the other side closed: nothing more
        return b""
