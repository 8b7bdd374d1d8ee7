"""The Starlette app factory. State lives in the app and its lifespan, not in module globals."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from app.api import (
    allocations,
    campaigns,
    events,
    health,
    lists,
    me,
    openapi,
    partners,
    snapshots,
    webhooks,
)
from app.api import uploads as upload_routes
from app.api.auth import Authenticator, resolve_api_keys
from app.api.errors import http_exception
from app.api.metrics import Metrics
from app.api.routing import Endpoint, build_routes, handler
from app.config import Settings
from app.console import routes as console
from app.domain.clock import now_ms
from app.jobs.janitor import Janitor
from app.jobs.relay import EventRelay
from app.jobs.snapshots import SnapshotJob
from app.jobs.uploads import UploadWorker
from app.jobs.webhooks import WebhookEngine
from app.store.connection import UNAVAILABLE, Client, UnsupportedStore, connect, connect_blocking
from app.store.files import FileStore
from app.store.snapshots import SnapshotError, read_verified
from app.store.store import Store

log = logging.getLogger("vouchers")

ENDPOINTS: list[Endpoint] = [
    *health.router.endpoints,
    *partners.router.endpoints,
    *lists.router.endpoints,
    *campaigns.router.endpoints,
    *upload_routes.router.endpoints,
    *allocations.router.endpoints,
    *events.router.endpoints,
    *snapshots.router.endpoints,
    *webhooks.router.endpoints,
    *me.router.endpoints,
    *console.router.endpoints,
]


class VouchersApp(Starlette):
    """Starlette, with the hot routes (POST /v1/allocations) answered ahead of its router and
    its two built-in error middlewares: their handler (the same `handler` as every route's:
    auth, parsing, errors, metrics) already turns every outcome into a response. Only while no
    middleware was added: with one, every request goes through the whole stack, so the hot
    path never skips what the rest of the app does."""

    hot: dict[tuple[str, str], Callable[[Request], Awaitable[Response]]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self.user_middleware:
            run = self.hot.get((scope["method"], scope["path"]))
            if run is not None:
                scope["app"] = self
                response = await run(Request(scope, receive))
                await response(scope, receive, send)
                return
        await super().__call__(scope, receive, send)


def tune_gc() -> None:
    """Fewer, cheaper collector pauses, each of which every request in flight would wait out.
    What exists after start-up (modules, the app, its clients) lives as long as the process:
    frozen, the collector stops walking it (a full collection: ~14 ms before, ~1 ms after). A
    young-generation collection every 50,000 allocations instead of 700 costs about the same in
    total but pauses far less often; full collections, which walk everything still tracked (an
    upload's million-code list and set too), come after 100 middle ones, not 10."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


async def load_newest(store: Store, job: SnapshotJob) -> None:
    """The embedded store starts from the newest snapshot that verifies."""
    for path in sorted(job.dir.glob("*.jsonl"), reverse=True) if job.dir.exists() else []:
        try:
            counts = await store.loader.load(read_verified(path))
        except SnapshotError as exc:
            log.error("skipping snapshot %s: %s", path.name, exc)
            continue
        log.warning(
            "embedded store loaded %s: %d lists, %d codes", path.name, counts.lists, counts.codes
        )
        return


def create_app(
    settings: Settings | None = None,
    redis: Client | None = None,
    clock: Callable[[], int] = now_ms,
    owns_store: bool = False,
) -> Starlette:
    """`redis` overrides the client `settings` would connect to and `clock` the wall clock
    (epoch ms); tests pass their own. The app owns a client it connected itself, or one passed
    with `owns_store`: it closes it at shutdown, and an embedded one starts from the newest
    snapshot."""
    owns_store = owns_store or redis is None
    settings = settings or Settings()
    client = redis if redis is not None else connect(settings)
    store = Store.of(client, settings)
    blocking = connect_blocking(settings, client) if redis is None else redis
    relay = EventRelay(store, settings.events_relay_interval_s)
    snapshot_job = SnapshotJob(
        store,
        settings.data_dir,
        settings.snapshot_keep,
        settings.snapshot_interval_s,
        clock,
        in_child=owns_store and not settings.embedded,
    )
    files = FileStore(settings.data_dir)
    uploads = UploadWorker(store, files, settings)
    janitor = Janitor(store, uploads, settings.upload_lease_s / 2)
    metrics = Metrics()
    deliveries = WebhookEngine(store, settings) if settings.webhooks_inline else None

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        if owns_store and settings.embedded:
            await load_newest(store, snapshot_job)
        try:
            await store.ready()
            log.info("store: %s", await store.server())
        except UnsupportedStore as exc:
            log.error("cannot start: %s", exc)
            raise
        except UNAVAILABLE as exc:  # serve 503s until the store comes back
            log.warning(
                "store not reachable at start-up (%s); serving 503 until it is", type(exc).__name__
            )
        janitor.start()  # resumes uploads left in progress, then keeps watching
        await relay.start()  # sweeps every outbox first: nothing left from a crash waits
        snapshot_job.start()
        if deliveries is not None:
            await deliveries.start()
        if redis is None:  # a serving process, not an app a test made inside its own
            tune_gc()
        try:
            yield
        finally:
            if deliveries is not None:
                await deliveries.close()
            await snapshot_job.close(final=settings.snapshot_on_shutdown)
            await relay.close()
            await janitor.close()
            await uploads.close()
            if owns_store:
                if blocking is not client:
                    await blocking.aclose()
                await client.aclose()

    app = VouchersApp(
        routes=build_routes(ENDPOINTS),
        exception_handlers={HTTPException: http_exception},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # "/v1/lists/" is a 404 in JSON, not a bare 307
    app.hot = {(e.method, e.path): handler(e) for e in ENDPOINTS if e.hot}
    app.state.settings = settings
    app.state.store = store
    app.state.files = files
    app.state.uploads = uploads
    app.state.janitor = janitor
    app.state.relay = relay
    app.state.snapshots = snapshot_job
    app.state.blocking = blocking
    app.state.auth = Authenticator(resolve_api_keys(settings))
    app.state.cursors = None  # the cursors' signer, made on first use (see Ctx.cursors)
    app.state.metrics = metrics
    app.state.webhooks = deliveries
    app.state.clock = clock
    app.state.openapi = orjson.dumps(openapi.build(ENDPOINTS))
    return app
