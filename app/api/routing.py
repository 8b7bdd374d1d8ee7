"""Endpoints declared once: the same declaration builds the Starlette route (auth, body and
query parsing, error mapping, metrics) and the OpenAPI document."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route

from app.api.auth import Principal
from app.api.cursors import Cursors
from app.api.errors import error_response, from_validation
from app.api.json import json_response
from app.api.refusals import NOT_REPLICATED, StatusRefusal, error_for
from app.config import Role
from app.domain.errors import (
    BadRequest,
    PayloadTooLarge,
    ServiceError,
    StoreUnavailable,
    UnsupportedMediaType,
)
from app.jobs.uploads import UploadWorker
from app.store.connection import UNAVAILABLE
from app.store.files import FileStore
from app.store.replication import NotReplicated
from app.store.scripts import Refused
from app.store.store import Store

log = logging.getLogger("vouchers.api")

M = TypeVar("M", bound=BaseModel)
Result = BaseModel | Response | None
Handler = Callable[["Ctx"], Awaitable[Result]]


@dataclass
class Ctx:
    """What a handler gets: the request, who made it, and its parsed body and query."""

    request: Request
    principal: Principal | None
    _body: BaseModel | None = None
    _query: BaseModel | None = None
    _headers: dict[str, str] | None = None

    def header(self, name: str) -> str | None:
        """A request header (`name` in lowercase), the first if sent twice. Looked up in a dict
        made once from the raw ASGI headers: Starlette's Headers scans the list per lookup."""
        if self._headers is None:
            raw: list[tuple[bytes, bytes]] = self.request.scope["headers"]
            self._headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in reversed(raw)}
        return self._headers.get(name)

    def body(self, model: type[M]) -> M:
        assert isinstance(self._body, model)
        return self._body

    def query(self, model: type[M]) -> M:
        assert isinstance(self._query, model)
        return self._query

    def path(self, name: str) -> str:
        value = self.request.path_params[name]
        assert isinstance(value, str)
        return value

    def now(self) -> int:
        """Epoch milliseconds from the app's clock (tests may set it), for ids only: statuses
        are judged, and stored times taken, on the store's clock."""
        clock: Callable[[], int] = self.request.app.state.clock
        return clock()

    async def cursors(self) -> Cursors:
        """The paging cursors' signer (its secret read from the store on first use)."""
        state = self.request.app.state
        if state.cursors is None:
            state.cursors = Cursors(await self.store.cursor_secret())
        cursors: Cursors = state.cursors
        return cursors

    @property
    def files(self) -> FileStore:
        files = self.request.app.state.files
        assert isinstance(files, FileStore)
        return files

    @property
    def uploads(self) -> UploadWorker:
        worker = self.request.app.state.uploads
        assert isinstance(worker, UploadWorker)
        return worker

    @property
    def store(self) -> Store:
        store = self.request.app.state.store
        assert isinstance(store, Store)
        return store


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    role: Role | None  # None: no token needed
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    errors: tuple[tuple[int, str], ...] = ()
    precheck: Callable[[dict[str, Any]], None] | None = None
    uses_store: bool = True
    media_type: str = "application/json"
    file_field: str | None = None  # a multipart/form-data body carrying one file
    hot: bool = False  # served ahead of Starlette's routing (see app.py)
    refused: StatusRefusal | None = None  # words a refusal by the list's status
    body_bytes: int = 0  # a JSON body this large is read whatever VOUCHERS_MAX_BODY_BYTES says


@dataclass
class Router:
    endpoints: list[Endpoint] = field(default_factory=list)

    def add(
        self, method: str, path: str, *, summary: str, role: Role | None, **options: Any
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(Endpoint(method, path, handler, summary, role, **options))
            return handler

        return register


async def _read_body(ctx: Ctx, limit: int) -> bytes:
    declared = ctx.header("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The request body is larger than {limit} bytes.", limit_bytes=limit)
    chunks: list[bytes] = []
    size = 0
    receive = ctx.request.receive
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"The request body is larger than {limit} bytes.", limit_bytes=limit
            )
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _parse_body(ctx: Ctx, endpoint: Endpoint, limit: int) -> None:
    assert endpoint.body is not None
    media = (ctx.header("content-type") or "").split(";")[0].strip().lower()
    if media != "application/json":
        raise UnsupportedMediaType("Send the body as application/json.", content_type=media or None)
    raw = await _read_body(ctx, limit)
    if endpoint.precheck is not None:  # else pydantic tells bad JSON and non-objects apart
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            raise BadRequest("The request body is not valid JSON.") from None
        if not isinstance(parsed, dict):
            raise BadRequest("The request body must be a JSON object.")
        endpoint.precheck(parsed)
    try:
        ctx._body = endpoint.body.model_validate_json(raw)
    except ValidationError as exc:
        raise from_validation(exc) from None


def _render(endpoint: Endpoint, result: Result) -> Response:
    if isinstance(result, Response):
        return result
    if result is None:
        return Response(status_code=endpoint.status)
    return json_response(result.model_dump(mode="json"), endpoint.status)


def build_routes(endpoints: list[Endpoint]) -> list[Route]:
    """One route per path, dispatching on the method, so that a 405 lists in `Allow` every
    method the path has."""
    by_path: dict[str, dict[str, Callable[[Request], Awaitable[Response]]]] = {}
    for e in endpoints:
        by_path.setdefault(e.path, {})[e.method] = handler(e)
    routes: list[Route] = []
    for path, handlers in by_path.items():
        if "GET" in handlers:
            handlers["HEAD"] = handlers["GET"]

        async def dispatch(
            request: Request, handlers: dict[str, Callable[..., Awaitable[Response]]] = handlers
        ) -> Response:
            return await handlers[request.method](request)

        routes.append(Route(path, dispatch, methods=list(handlers)))
    return routes


def handler(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
    """The request handler: auth, parsing, the endpoint, errors and metrics. It never raises:
    every outcome is a response."""

    async def run(request: Request) -> Response:
        app_state = request.app.state
        started = time.perf_counter()
        try:
            ctx = Ctx(request, None)
            if endpoint.role is not None:
                ctx.principal = app_state.auth.authenticate(ctx.header("authorization"))
                ctx.principal.require(endpoint.role)
            if endpoint.body is not None:
                limit = max(app_state.settings.max_body_bytes, endpoint.body_bytes)
                await _parse_body(ctx, endpoint, limit)
            if endpoint.query is not None:
                try:
                    ctx._query = endpoint.query.model_validate(dict(request.query_params))
                except ValidationError as exc:
                    raise from_validation(exc) from None
            response = _render(endpoint, await endpoint.handler(ctx))
        except ServiceError as error:
            response = error_response(error)
        except Refused as refused:
            response = error_response(error_for(refused, endpoint.refused))
        except NotReplicated as exc:
            log.warning("%s %s: %s", endpoint.method, endpoint.path, exc)
            response = error_response(NOT_REPLICATED)
        except UNAVAILABLE as exc:
            log.warning(
                "store unavailable on %s %s: %s", endpoint.method, endpoint.path, type(exc).__name__
            )
            response = error_response(StoreUnavailable("The store is unavailable; retry shortly."))
        except Exception:
            log.exception("unexpected error on %s %s", endpoint.method, endpoint.path)
            response = error_response(ServiceError("An unexpected error occurred."))
        app_state.metrics.observe(endpoint, response.status_code, time.perf_counter() - started)
        return response

    return run
