"""`vouchers serve | webhooks | snapshot | restore`, and the admin commands (`lists`, `upload`,
`allocations export`) that talk to a running service (app/admin_cli.py)."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import shutil
import sys
from pathlib import Path

import uvicorn
from pydantic import ValidationError

from app import admin_cli
from app.api.auth import admin_token_path, resolve_api_keys
from app.api.protocol import JsonErrorsProtocol
from app.config import Settings
from app.domain.clock import now_ms
from app.jobs import webhook_process
from app.jobs.snapshots import SnapshotJob
from app.store.connection import UNAVAILABLE, connect
from app.store.files import open_private
from app.store.snapshots import SnapshotError, read_verified
from app.store.store import Store

log = logging.getLogger("vouchers")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def serve(settings: Settings, args: argparse.Namespace) -> int:
    host = args.host or settings.host
    port = args.port or settings.port
    workers = args.workers or settings.workers
    if settings.embedded and workers > 1:
        print(
            "vouchers: the embedded store runs in one process; set VOUCHERS_REDIS_URL to run "
            f"{workers} workers",
            file=sys.stderr,
        )
        return 2
    if settings.embedded:
        log.warning(
            "VOUCHERS_REDIS_URL is not set: using the embedded in-process store "
            "(fakeredis), one worker. Set it to a Redis URL for production."
        )
    else:
        log.info("using Redis at %s with %d worker(s)", _redacted(settings.redis_url), workers)
    resolve_api_keys(settings)  # create the admin token once, before any worker starts
    if not settings.api_keys:
        log.warning(
            "VOUCHERS_API_KEYS is not set: the admin token is in %s (mode 0600)",
            admin_token_path(settings),
        )
    child = None
    if settings.webhooks_engine == "process" and not settings.embedded:
        child = webhook_process.Child()
        child.start()
    try:
        _serve(host, port, workers, settings)
    finally:
        if child is not None:
            child.stop()
    return 0


def _serve(host: str, port: int, workers: int, settings: Settings) -> None:
    uvicorn.run(
        "app.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http=JsonErrorsProtocol,  # httptools, with its own 400s in the JSON error shape
        log_level=settings.log_level,
        access_log=False,
        proxy_headers=False,  # client addresses are never used: skip rewriting them per request
    )


def webhooks(settings: Settings, parent: int | None) -> int:
    if settings.embedded:
        print(
            "vouchers: the embedded store lives in the serving process, which delivers its "
            "webhooks itself; set VOUCHERS_REDIS_URL to run a delivery process",
            file=sys.stderr,
        )
        return 2
    return webhook_process.run(settings, parent)


def snapshot(settings: Settings) -> int:
    if settings.embedded:
        print(
            "vouchers: the embedded store lives in the serving process; ask it for one with "
            "POST /v1/admin/snapshots",
            file=sys.stderr,
        )
        return 2

    async def run() -> int:
        client = connect(settings)
        try:
            store = Store.of(client, settings)
            job = SnapshotJob(store, settings.data_dir, settings.snapshot_keep, 0, now_ms)
            info = await job.take()
        except UNAVAILABLE as exc:
            print(
                f"vouchers: snapshot failed: Redis is unreachable ({type(exc).__name__})",
                file=sys.stderr,
            )
            return 1
        finally:
            await client.aclose()
        if info.status != "completed":
            print(f"vouchers: snapshot failed: {info.error}", file=sys.stderr)
            return 1
        print(f"{job.dir / (info.id + '.jsonl')}: {info.lists} lists, {info.codes} codes")
        return 0

    return asyncio.run(run())


def restore(settings: Settings, path: Path, force: bool) -> int:
    try:
        records = read_verified(path)
        first = next(records, None)  # verification happens here, before anything is written
    except (SnapshotError, OSError) as exc:
        print(f"vouchers: cannot restore {path}: {exc}", file=sys.stderr)
        return 1
    if settings.embedded:
        return _restore_embedded(settings, path, force)

    async def run() -> int:
        client = connect(settings)
        try:
            loader = Store.of(client, settings).loader
            if not await loader.is_empty():
                if not force:
                    print(
                        "vouchers: the store is not empty; pass --force to replace it",
                        file=sys.stderr,
                    )
                    return 1
                await loader.clear()
            counts = await loader.load(itertools.chain([first] if first else [], records))
        except UNAVAILABLE as exc:
            print(
                f"vouchers: restore failed: Redis is unreachable ({type(exc).__name__})",
                file=sys.stderr,
            )
            return 1
        finally:
            await client.aclose()
        print(f"restored {path}: {counts.lists} lists, {counts.codes} codes")
        return 0

    return asyncio.run(run())


def _restore_embedded(settings: Settings, path: Path, force: bool) -> int:
    """The embedded store loads the newest snapshot at start-up: make this one the newest."""
    folder = settings.data_dir / "snapshots"
    if any(folder.glob("*.jsonl")) and not force:
        print(
            "vouchers: the data dir holds snapshots (the embedded store is not empty); "
            "pass --force to start from this one",
            file=sys.stderr,
        )
        return 1
    target = folder / f"{now_ms():013d}-restored.jsonl"
    with path.open("rb") as source, open_private(target) as out:
        shutil.copyfileobj(source, out)
    print(f"{target}: the embedded store starts from it next time `vouchers serve` runs")
    return 0


def _redacted(url: str | None) -> str:
    if url is None or "@" not in url:
        return str(url)
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vouchers", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the HTTP service")
    run.add_argument("--host")
    run.add_argument("--port", type=int)
    run.add_argument("--workers", type=int)
    hooks = commands.add_parser("webhooks", help="run a webhook delivery process")
    hooks.add_argument("--parent", type=int, help=argparse.SUPPRESS)  # stop when it is gone
    commands.add_parser("snapshot", help="write a snapshot of the Redis store now")
    back = commands.add_parser("restore", help="load a snapshot into an empty store")
    back.add_argument("path", type=Path)
    back.add_argument("--force", action="store_true", help="replace a non-empty store")
    admin_cli.add_commands(commands)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    try:
        settings = Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"VOUCHERS_{'_'.join(str(p) for p in e['loc'][:1]).upper()}: {e['msg']}"
            for e in exc.errors(include_url=False, include_input=False)
        )
        print(f"vouchers: invalid configuration: {problems}", file=sys.stderr)
        return 2
    if args.command == "serve":
        return serve(settings, args)
    if args.command == "webhooks":
        return webhooks(settings, args.parent)
    if args.command == "snapshot":
        return snapshot(settings)
    if args.command in ("lists", "upload", "allocations"):
        return admin_cli.run(settings, args)
    return restore(settings, args.path, args.force)


if __name__ == "__main__":
    sys.exit(main())
