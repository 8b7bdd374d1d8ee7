"""Uploads: statuses, limits and the upload record."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

MAX_FILE_BYTES = 50 * 1024 * 1024
FILE_NAME_MAX = 255


class UploadStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"


@dataclass(frozen=True)
class Upload:
    id: str
    list_id: str
    status: UploadStatus
    uploaded_by: str
    file_name: str
    created_at: int
    finished_at: int | None
    codes_total: int
    codes_uploaded: int
    error_count: int
    errors: dict[str, int]  # error code -> rows (a file-level error counts 1)
