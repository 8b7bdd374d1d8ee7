"""Who the token belongs to: the console and the CLI show it and hide what the role cannot do."""

from __future__ import annotations

from app.api.routing import Ctx, Router
from app.api.schemas import Me

router = Router()


@router.add(
    "GET",
    "/v1/me",
    summary="The token's user and role",
    role="viewer",
    response=Me,
    uses_store=False,
)
async def me(ctx: Ctx) -> Me:
    assert ctx.principal is not None
    return Me(user=ctx.principal.user, role=ctx.principal.role)
