"""Files on disk: uploads under VOUCHERS_DATA_DIR/uploads/<list id>/, and the one way to
create a file that holds voucher codes. Names are built from ids only: a client's file name is
display text and never part of a path."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from app.domain.lists import ListId

PRIVATE_FILE = 0o600  # files that hold voucher codes: uploads, error files, snapshots
PRIVATE_DIR = 0o700


def open_private(path: Path, mode: str = "wb", **options: Any) -> IO[Any]:
    """Open `path` for writing (created or truncated) readable by the service's user only,
    whatever the umask; its folders are created the same way."""
    path.parent.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)  # a file that existed keeps its mode otherwise
    return open(fd, mode, **options)


@dataclass(frozen=True)
class UploadFiles:
    directory: Path
    upload_id: str

    @property
    def original(self) -> Path:
        return self.directory / f"{self.upload_id}.csv"

    @property
    def errors(self) -> Path:
        """The finished error file: `row,code,error_code,message`."""
        return self.directory / f"{self.upload_id}.errors.csv"

    @property
    def row_errors(self) -> Path:
        """Row errors found while checking the file (rebuilt from scratch on a resume)."""
        return self.directory / f"{self.upload_id}.rows.part"

    def scratch(self) -> tuple[Path, ...]:
        return (self.row_errors,)


class FileStore:
    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / "uploads"

    def _dir(self, list_id: ListId) -> Path:
        return self.root / list_id.value

    def upload(self, list_id: ListId, upload_id: str) -> UploadFiles:
        return UploadFiles(self._dir(list_id), upload_id)

    def remove_list(self, list_id: ListId) -> None:
        shutil.rmtree(self._dir(list_id), ignore_errors=True)
