"""`GET /admin` and its assets. The console is a plain ES-module page (no build step, no
framework): it talks to the JSON API like any client, with the token the user signs in with.

Every response carries a Content-Security-Policy that allows scripts, styles and requests from
this origin only (no inline script, no eval), and headers that keep the page out of frames and
its URLs out of other sites' logs.
"""

from __future__ import annotations

from importlib import resources

from starlette.responses import Response

from app.api.routing import Ctx, Router

router = Router()

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",  # revalidated each load: a new release is seen at once
}
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def _assets() -> dict[str, tuple[bytes, str]]:
    """Every shipped file by name, read once: nothing outside the package is ever served."""
    found: dict[str, tuple[bytes, str]] = {}
    for entry in resources.files("app.console").joinpath("static").iterdir():
        kind = TYPES.get("." + entry.name.rsplit(".", 1)[-1])
        if entry.is_file() and kind is not None:
            found[entry.name] = (entry.read_bytes(), kind)
    return found


ASSETS = _assets()


def _serve(name: str) -> Response:
    body, kind = ASSETS[name]
    return Response(body, headers=HEADERS, media_type=kind)


@router.add(
    "GET",
    "/admin",
    summary="The admin web console (HTML; it asks for a token and uses this API with it)",
    role=None,
    uses_store=False,
    media_type="text/html",
)
async def console(_ctx: Ctx) -> Response:
    return _serve("index.html")


def _asset_route(name: str, kind: str) -> None:
    async def asset(_ctx: Ctx) -> Response:
        return _serve(name)

    asset.__name__ = "console_" + name.replace(".", "_")
    router.add(
        "GET",
        f"/admin/{name}",
        summary=f"The console's {name}",
        role=None,
        uses_store=False,
        media_type=kind.split(";")[0],
    )(asset)


for _name, (_, _kind) in sorted(ASSETS.items()):
    if _name != "index.html":
        _asset_route(_name, _kind)
