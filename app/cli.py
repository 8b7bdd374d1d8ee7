"""`vouchers serve | snapshot | restore`."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn
from pydantic import ValidationError

from app.api.auth import admin_token_path, resolve_api_keys
from app.config import Settings

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
    uvicorn.run(
        "app.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        log_level=settings.log_level,
        access_log=False,
    )
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
    return 2


if __name__ == "__main__":
    sys.exit(main())
