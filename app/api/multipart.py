"""Receiving one file from a multipart/form-data body, streamed straight to disk."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import IO

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from app.domain.errors import (
    BadRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
    validation_error,
)
from app.store.files import open_private

ENVELOPE_SLACK = 1024 * 1024  # multipart headers and other fields on top of the file
FEED_BYTES = 256 * 1024  # bytes parsed and written between two yields to the event loop


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The file is larger than {limit // (1024 * 1024)} MiB.",
        code="file_too_large",
        limit_bytes=limit,
    )


class _FileReceiver:
    """python-multipart callbacks writing the part named `field` to `dest`."""

    def __init__(self, field: str, dest: Path, limit: int) -> None:
        self.field, self.dest, self.limit = field, dest, limit
        self.file_name: str | None = None
        self.size = 0
        self._out: IO[bytes] | None = None
        self._header = b""
        self._value = b""
        self._disposition = b""
        self._in_file = False
        self.ended = False  # the closing boundary arrived

    def on_end(self) -> None:
        self.ended = True

    def on_part_begin(self) -> None:
        self._disposition = b""
        self._in_file = False

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self._disposition = self._value
        self._header = self._value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if options.get(b"name") != self.field.encode():
            return
        if b"filename" not in options:
            raise validation_error(self.field, "must be a file part (with a filename)")
        if self.file_name is not None:
            raise validation_error(self.field, "send exactly one file")
        raw_name = options[b"filename"]
        try:
            self.file_name = raw_name.decode("utf-8")
        except UnicodeDecodeError:
            self.file_name = raw_name.decode("latin-1")
        self._out = open_private(self.dest)
        self._in_file = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file or self._out is None:
            return
        self.size += end - start
        if self.size > self.limit:
            raise _too_large(self.limit)
        self._out.write(data[start:end])

    def on_part_end(self) -> None:
        if self._in_file and self._out is not None:
            self._out.close()
        self._in_file = False

    def close(self) -> None:
        if self._out is not None:
            self._out.close()


async def receive_file(request: Request, field: str, dest: Path, limit: int) -> str:
    """Stream the file part `field` to `dest` and return the client's file name. Nothing is
    left at `dest` when this raises."""
    media, params = parse_options_header(request.headers.get("content-type", ""))
    if media != b"multipart/form-data" or b"boundary" not in params:
        raise UnsupportedMediaType(
            "Send the file as multipart/form-data in the field 'file'.",
            content_type=media.decode("latin-1") or None,
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + ENVELOPE_SLACK:
        raise _too_large(limit)
    receiver = _FileReceiver(field, dest, limit)
    callbacks = {
        name: getattr(receiver, name)
        for name in (
            "on_part_begin",
            "on_part_data",
            "on_part_end",
            "on_header_field",
            "on_header_value",
            "on_header_end",
            "on_headers_finished",
            "on_end",
        )
    }
    try:
        parser = MultipartParser(params[b"boundary"], callbacks)  # type: ignore[arg-type]
        async for chunk in request.stream():
            # The server hands over what arrived since the last read, megabytes when the loop
            # was busy: parse and write it in slices, letting other requests run in between.
            for start in range(0, len(chunk), FEED_BYTES):
                parser.write(chunk[start : start + FEED_BYTES])
                if start:
                    await asyncio.sleep(0)
        parser.finalize()
        if not receiver.ended:  # cut short: the file may be incomplete
            raise BadRequest("The multipart body ends before its closing boundary.")
        if receiver.file_name is None:
            raise validation_error(field, "send the codes as a file in the form field 'file'")
    except FormParserError:
        receiver.close()
        dest.unlink(missing_ok=True)
        raise BadRequest("The multipart body is malformed.") from None
    except BaseException:
        receiver.close()
        with contextlib.suppress(OSError):
            dest.unlink(missing_ok=True)
        raise
    receiver.close()
    return receiver.file_name
