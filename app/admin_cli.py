"""The admin commands of `vouchers`: they talk to a running service over HTTP, like any client.

    vouchers lists [--status S] [--partner P] [--json]
    vouchers upload FILE --list ID [--wait]
    vouchers allocations export --list ID [-o FILE]

`--url` defaults to VOUCHERS_URL or http://127.0.0.1:8080; `--token` to VOUCHERS_TOKEN or the
data dir's admin token. Exit status 0 on success; otherwise 1 with a one-line reason on stderr
(a refused request, a failed upload, a service that cannot be reached).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import orjson
from tqdm import tqdm

from app.api.auth import admin_token_path
from app.config import Settings

DEFAULT_URL = "http://127.0.0.1:8080"
POLL_S = 0.25  # how often --wait asks how an upload is going
COLUMNS = (
    ("ID", "id"),
    ("PARTNER", "partner"),
    ("TAG", "tag"),
    ("STATUS", "status"),
    ("UPLOADED", "codes_uploaded"),
    ("DISTRIBUTED", "codes_distributed"),
    ("AVAILABLE", "codes_available"),
    ("CAMPAIGNS", "linked_campaigns"),
)


class Failed(Exception):
    """What the command prints as its one-line reason before exiting 1."""


def add_commands(commands: Any) -> None:
    """Register the admin commands on `vouchers`' subparsers."""
    lists = commands.add_parser("lists", help="show the voucher lists of a running service")
    lists.add_argument("--status", choices=["active", "paused", "expired", "archived"])
    lists.add_argument("--partner")
    lists.add_argument("--json", action="store_true", help="one JSON list object a line")
    upload = commands.add_parser("upload", help="upload a CSV file of codes to a list")
    upload.add_argument("file", type=Path)
    upload.add_argument("--list", required=True, dest="list_id", metavar="ID")
    upload.add_argument("--wait", action="store_true", help="follow the upload until it ends")
    allocations = commands.add_parser("allocations", help="a list's allocations")
    verbs = allocations.add_subparsers(dest="verb", required=True)
    export = verbs.add_parser("export", help="every issued code of a list, as CSV")
    export.add_argument("--list", required=True, dest="list_id", metavar="ID")
    export.add_argument("-o", "--output", type=Path, help="a file (default: standard output)")
    for parser in (lists, upload, export):
        parser.add_argument("--url", help=f"the service (VOUCHERS_URL, default {DEFAULT_URL})")
        parser.add_argument("--token", help="an API token (VOUCHERS_TOKEN, or the data dir's)")


def run(settings: Settings, args: argparse.Namespace) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request on stderr
    try:
        with _client(settings, args) as client:
            if args.command == "lists":
                _lists(client, args)
            elif args.command == "upload":
                _upload(client, args)
            else:
                _export(client, args)
    except Failed as exc:
        print(f"vouchers: {exc}", file=sys.stderr)
        return 1
    except httpx.TransportError as exc:
        url = args.url or os.environ.get("VOUCHERS_URL", DEFAULT_URL)
        print(f"vouchers: cannot reach {url}: {exc or type(exc).__name__}", file=sys.stderr)
        return 1
    return 0


def _client(settings: Settings, args: argparse.Namespace) -> httpx.Client:
    url = args.url or os.environ.get("VOUCHERS_URL") or DEFAULT_URL
    token = args.token or os.environ.get("VOUCHERS_TOKEN") or _data_dir_token(settings)
    if not token:
        raise Failed("no token: pass --token, set VOUCHERS_TOKEN, or run on the service's host")
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=url, headers=headers, timeout=httpx.Timeout(60, connect=5))


def _data_dir_token(settings: Settings) -> str | None:
    try:
        return admin_token_path(settings).read_text(encoding="utf-8").strip() or None
    except OSError:
        return None


def _checked(response: httpx.Response) -> httpx.Response:
    """The response, or Failed with the API's own words."""
    if response.is_success:
        return response
    try:
        error = response.json()["error"]
        reason = f"{error['message']} ({error['code']})"
    except (ValueError, KeyError, TypeError):
        reason = f"HTTP {response.status_code}"
    raise Failed(f"{response.request.method} {response.request.url.path}: {reason}")


def _pages(client: httpx.Client, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    cursor = None
    while True:
        query = {**params, "limit": 500, **({"cursor": cursor} if cursor else {})}
        page = _checked(client.get(path, params=query)).json()
        yield from page["items"]
        if (cursor := page["next_cursor"]) is None:
            return


def _lists(client: httpx.Client, args: argparse.Namespace) -> None:
    params = {k: v for k, v in (("status", args.status), ("partner", args.partner)) if v}
    found = list(_pages(client, "/v1/lists", params))
    if args.json:
        for item in found:
            sys.stdout.write(orjson.dumps(item).decode() + "\n")
        return
    rows = [[title for title, _ in COLUMNS]]
    rows += [[str(item[key]) for _, key in COLUMNS] for item in found]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )


def _upload(client: httpx.Client, args: argparse.Namespace) -> None:
    path: Path = args.file
    try:
        source: BinaryIO = path.open("rb")
    except OSError as exc:
        raise Failed(f"cannot read {path}: {exc.strerror}") from None
    size = os.fstat(source.fileno()).st_size
    with (
        source,
        tqdm.wrapattr(
            source,
            "read",
            total=size,
            desc=f"sending {path.name}",
            unit="B",
            unit_scale=True,
            disable=None,  # drawn on a terminal only: a script's stderr keeps its one line
        ) as sending,
    ):
        files = {"file": (path.name, sending, "text/csv")}
        made = _checked(client.post(f"/v1/lists/{args.list_id}/uploads", files=files)).json()
    if not args.wait:
        print(f"upload {made['id']}: {made['status']}")
        return
    upload = _follow(client, args.list_id, made)
    errors = ", ".join(f"{e['code']} {e['count']}" for e in upload["errors"])
    if upload["status"] == "failed":
        raise Failed(f"upload {upload['id']} of {path.name} failed: {errors}")
    print(
        f"upload {upload['id']}: completed, {upload['codes_uploaded']} of "
        f"{upload['codes_total']} codes uploaded, {upload['error_count']} rejected"
        + (f" ({errors})" if errors else "")
    )


def _follow(client: httpx.Client, list_id: str, upload: dict[str, Any]) -> dict[str, Any]:
    """Poll the upload until it ends, with a bar of the rows processed so far."""
    path = f"/v1/lists/{list_id}/uploads/{upload['id']}"
    with tqdm(desc="processing", unit=" rows", disable=None) as rows:
        while upload["status"] == "in_progress":
            time.sleep(POLL_S)
            upload = _checked(client.get(path)).json()
            rows.update(upload["codes_total"] - rows.n)
    return upload


def _export(client: httpx.Client, args: argparse.Namespace) -> None:
    path = f"/v1/lists/{args.list_id}/allocations.csv"
    with client.stream("GET", path) as response:
        if not response.is_success:
            response.read()
            _checked(response)
        if args.output is None:
            for chunk in response.iter_bytes():
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return
        try:
            with args.output.open("wb") as out:
                for chunk in response.iter_bytes():
                    out.write(chunk)
        except OSError as exc:
            raise Failed(f"cannot write {args.output}: {exc.strerror}") from None
