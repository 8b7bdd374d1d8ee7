"""Uploads: receive a CSV, then the upload log, the original file and the error file."""

from __future__ import annotations

import secrets

from starlette.responses import FileResponse, Response

from app.api.lists import NOT_FOUND, list_id, load
from app.api.multipart import receive_file
from app.api.refusals import not_uploadable
from app.api.routing import Ctx, Router
from app.api.schemas import ErrorCount, Page, UploadOut, UploadPage
from app.domain.clock import rfc3339
from app.domain.csv_rows import FileError, is_csv_name
from app.domain.errors import Conflict, NotFound, validation_error
from app.domain.lists import Action, ListId, allowed_actions
from app.domain.text import has_control_characters
from app.domain.uploads import FILE_NAME_MAX, MAX_FILE_BYTES, Upload, UploadStatus
from app.jobs.uploads import write_file_error

router = Router()

UPLOAD = "/v1/lists/{list_id}/uploads/{upload_id}"
UPLOAD_NOT_FOUND = (404, "upload_not_found")


def render(upload: Upload) -> UploadOut:
    return UploadOut(
        id=upload.id,
        list_id=upload.list_id,
        status=upload.status,
        uploaded_by=upload.uploaded_by,
        file_name=upload.file_name,
        created_at=rfc3339(upload.created_at),
        finished_at=None if upload.finished_at is None else rfc3339(upload.finished_at),
        codes_total=upload.codes_total,
        codes_uploaded=upload.codes_uploaded,
        error_count=upload.error_count,
        errors=[ErrorCount(code=c, count=n) for c, n in upload.errors.items()],
    )


def _new_upload_id(now: int) -> str:
    return f"{now:x}{secrets.token_hex(4)}"


@router.add(
    "POST",
    "/v1/lists/{list_id}/uploads",
    summary="Upload a CSV of codes (multipart field `file`); processed in the background",
    role="admin",
    response=UploadOut,
    status=202,
    file_field="file",
    refused=not_uploadable,
    errors=(
        NOT_FOUND,
        (409, "list_not_uploadable"),
        (413, "file_too_large"),
        (415, "unsupported_media_type"),
        (400, "malformed_body"),
        (422, "validation_error"),
    ),
)
async def create_upload(ctx: Ctx) -> UploadOut:
    lid = list_id(ctx)
    current = await load(ctx.store, lid)
    if Action.UPLOAD_CODES not in allowed_actions(current.status, current.linked_campaigns):
        raise not_uploadable(current.status, current.linked_campaigns)
    upload_id = _new_upload_id(ctx.now())
    files = ctx.files.upload(lid, upload_id)
    file_name = await receive_file(ctx.request, "file", files.original, MAX_FILE_BYTES)
    try:
        if len(file_name) > FILE_NAME_MAX:
            raise validation_error("file", f"the file name is longer than {FILE_NAME_MAX}")
        if has_control_characters(file_name):
            raise validation_error("file", "the file name must not contain control characters")
        assert ctx.principal is not None
        fields: dict[str, str | int] = {
            "status": UploadStatus.IN_PROGRESS.value,
            "uploaded_by": ctx.principal.user,
            "file_name": file_name,
            "phase": "checking",
        }
        if not is_csv_name(file_name):
            write_file_error(files, FileError.NOT_CSV, None)
            fields |= {
                "status": UploadStatus.FAILED.value,
                "failure": FileError.NOT_CSV.value,
                "phase": "done",
            }
        upload = await ctx.store.uploads.create(lid, upload_id, fields)
    except BaseException:
        files.original.unlink(missing_ok=True)
        files.errors.unlink(missing_ok=True)
        raise
    if upload.status is UploadStatus.IN_PROGRESS:
        ctx.uploads.submit(lid, upload_id)
    return render(upload)


@router.add(
    "GET",
    "/v1/lists/{list_id}/uploads",
    summary="The list's uploads, newest first",
    role="viewer",
    query=Page,
    response=UploadPage,
    errors=(NOT_FOUND,),
)
async def list_uploads(ctx: Ctx) -> UploadPage:
    lid, page, cursors = list_id(ctx), ctx.query(Page), await ctx.cursors()
    await load(ctx.store, lid)
    scope = f"uploads:{lid.value}"
    found, last = await ctx.store.uploads.page(
        lid, page.limit, cursors.position(scope, page.cursor)
    )
    return UploadPage(
        items=[render(u) for u in found],
        next_cursor=None if last is None else cursors.encode(scope, list(last)),
    )


async def _upload(ctx: Ctx) -> tuple[ListId, Upload]:
    lid = list_id(ctx)
    upload = await ctx.store.uploads.get(lid, ctx.path("upload_id"))
    if upload is None:
        await load(ctx.store, lid)  # 404 list_not_found first
        raise NotFound("No such upload.", code="upload_not_found")
    return lid, upload


@router.add(
    "GET",
    UPLOAD,
    summary="One upload",
    role="viewer",
    response=UploadOut,
    errors=(NOT_FOUND, UPLOAD_NOT_FOUND),
)
async def get_upload(ctx: Ctx) -> UploadOut:
    return render((await _upload(ctx))[1])


@router.add(
    "GET",
    f"{UPLOAD}/file",
    summary="The original file, as uploaded",
    role="admin",
    errors=(NOT_FOUND, UPLOAD_NOT_FOUND, (404, "file_not_found")),
    media_type="application/octet-stream",
)
async def get_upload_file(ctx: Ctx) -> Response:
    lid, upload = await _upload(ctx)
    path = ctx.files.upload(lid, upload.id).original
    if not path.exists():
        raise NotFound("The uploaded file is no longer on disk.", code="file_not_found")
    return FileResponse(path, media_type="application/octet-stream", filename=upload.file_name)


@router.add(
    "GET",
    f"{UPLOAD}/errors",
    summary="The rejected rows: row,code,error_code,message",
    role="admin",
    errors=(NOT_FOUND, UPLOAD_NOT_FOUND, (404, "file_not_found"), (409, "upload_in_progress")),
    media_type="text/csv",
)
async def get_upload_errors(ctx: Ctx) -> Response:
    lid, upload = await _upload(ctx)
    if upload.status is UploadStatus.IN_PROGRESS:
        raise Conflict("The upload is still in progress.", code="upload_in_progress")
    path = ctx.files.upload(lid, upload.id).errors
    if not path.exists():
        raise NotFound("The error file is no longer on disk.", code="file_not_found")
    return FileResponse(
        path, media_type="text/csv; charset=utf-8", filename=f"{upload.id}-errors.csv"
    )
