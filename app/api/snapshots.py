"""Snapshots on demand, and the list of snapshots in the data dir."""

from __future__ import annotations

from app.api.routing import Ctx, Router
from app.api.schemas import Page, SnapshotOut, SnapshotPage, SnapshotStarted
from app.domain.clock import rfc3339
from app.jobs.snapshots import SnapshotJob

router = Router()


def _job(ctx: Ctx) -> SnapshotJob:
    job = ctx.request.app.state.snapshots
    assert isinstance(job, SnapshotJob)
    return job


@router.add(
    "POST",
    "/v1/admin/snapshots",
    summary="Write a snapshot now (in the background)",
    role="admin",
    response=SnapshotStarted,
    status=202,
)
async def create_snapshot(ctx: Ctx) -> SnapshotStarted:
    await ctx.store.ping()  # a store that is down answers 503 now, not a failed snapshot later
    info = _job(ctx).start_one()
    return SnapshotStarted(id=info.id, status="in_progress", created_at=rfc3339(info.created_at))


@router.add(
    "GET",
    "/v1/admin/snapshots",
    summary="Snapshots in the data dir, newest first",
    role="admin",
    query=Page,
    response=SnapshotPage,
)
async def list_snapshots(ctx: Ctx) -> SnapshotPage:
    page, cursors = ctx.query(Page), await ctx.cursors()
    after = cursors.name("snapshots", page.cursor)
    found = [s for s in _job(ctx).list() if after is None or s.id < after]
    shown = found[: page.limit]
    return SnapshotPage(
        items=[
            SnapshotOut(
                id=s.id,
                status=s.status,
                created_at=rfc3339(s.created_at),
                finished_at=None if s.finished_at is None else rfc3339(s.finished_at),
                size_bytes=s.size_bytes,
                lists=s.lists,
                codes=s.codes,
            )
            for s in shown
        ],
        next_cursor=cursors.encode("snapshots", shown[-1].id) if len(found) > page.limit else None,
    )
