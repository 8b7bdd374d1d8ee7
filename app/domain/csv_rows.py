"""Reading a voucher CSV: rows, file-level errors and row-level errors. Pure: bytes in, rows out.

The file is read chunk by chunk. A UTF-8 BOM is ignored; CRLF, LF and lone CR all end a line;
blank lines are ignored and not counted; whitespace around a code is stripped; the first row
that is exactly `code`, `codes` or `voucher_code` (any case) is a header and is skipped. Each
line is one row: quotes are parsed within the line (RFC 4180), so `"AB,1"` is the one code
`AB,1`, while `AB,1` is two fields. Line numbers are 1-based lines of the file.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum

MAX_CODE_LENGTH = 100
HEADERS = frozenset({"code", "codes", "voucher_code"})

csv.field_size_limit(64 * 1024 * 1024)  # a 50 MiB one-line file is one (too long) row

# A chunk made only of visible ASCII, with no quote or comma: every line is a plain code.
_PLAIN = re.compile(r"[\x21\x23-\x2b\x2d-\x7e\n]*")


class FileError(StrEnum):
    NOT_CSV = "not_csv"
    MULTIPLE_COLUMNS = "multiple_columns"
    NOT_UTF8 = "not_utf8"
    EMPTY_FILE = "empty_file"
    LIST_FULL = "list_full"
    INVALID_QUOTING = "invalid_quoting"


class RowError(StrEnum):
    DUPLICATE_IN_FILE = "duplicate_in_file"
    DUPLICATE_CODE = "duplicate_code"
    INVALID_CHARACTERS = "invalid_characters"
    CODE_TOO_LONG = "code_too_long"


MESSAGES: dict[str, str] = {
    FileError.NOT_CSV: "The file name does not end in .csv.",
    FileError.MULTIPLE_COLUMNS: "A row has more than one field; put one code per row.",
    FileError.NOT_UTF8: "The file is not valid UTF-8.",
    FileError.EMPTY_FILE: "The file holds no codes.",
    FileError.LIST_FULL: "The list would pass 1,000,000 uploaded codes.",
    FileError.INVALID_QUOTING: (
        "A row's quotes are not valid CSV: a quoted code ends with a quote and nothing follows it."
    ),
    RowError.DUPLICATE_IN_FILE: "The code appears earlier in this file.",
    RowError.DUPLICATE_CODE: "The code is already in this partner and tag's list.",
    RowError.INVALID_CHARACTERS: "The code holds whitespace, control or non-printable characters.",
    RowError.CODE_TOO_LONG: f"The code is longer than {MAX_CODE_LENGTH} characters.",
}


class FileRejected(Exception):
    """A file-level error: nothing from the file is added."""

    def __init__(self, error: FileError, line: int | None = None) -> None:
        super().__init__(MESSAGES[error])
        self.error = error
        self.line = line


def is_csv_name(file_name: str) -> bool:
    return file_name.lower().endswith(".csv")


_WHITESPACE = re.compile(r"\s")


def row_error(code: str) -> RowError | None:
    """The row-level error of a stripped, non-empty code, if any."""
    if not code.isprintable() or _WHITESPACE.search(code):
        return RowError.INVALID_CHARACTERS
    if len(code) > MAX_CODE_LENGTH:
        return RowError.CODE_TOO_LONG
    return None


@dataclass
class Rows:
    """The data rows of one chunk: parallel lists of line numbers and stripped codes.
    `plain`: every code is visible ASCII with no whitespace, so only its length can be wrong."""

    lines: list[int] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    plain: bool = False


def _field(line: str, line_no: int) -> str:
    """The one field of a line holding a quote or a comma. Quoting is strict RFC 4180: a
    quote left open, or text after a closing quote, rejects the file (a quote inside an
    unquoted code is kept as a character, as most CSV readers do)."""
    try:
        fields = next(csv.reader([line.strip().replace("\x00", "\x01")], strict=True), [])
    except csv.Error:
        raise FileRejected(FileError.INVALID_QUOTING, line_no) from None
    if len(fields) > 1:
        raise FileRejected(FileError.MULTIPLE_COLUMNS, line_no)
    return fields[0].strip() if fields else ""


class RowReader:
    """Feeds on byte chunks, yields the data rows of each; raises FileRejected."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("strict")
        self._carry: list[str] = []  # the unfinished last line, in pieces
        self._next_line = 1  # number of the first line in the next text handed to _lines
        self._started = False  # the BOM has been looked for
        self._header_checked = False

    def feed(self, chunk: bytes, final: bool = False) -> Rows:
        try:
            text = self._decoder.decode(chunk, final)
        except UnicodeDecodeError as exc:
            consumed = chunk[: exc.start].count(b"\n")
            raise FileRejected(FileError.NOT_UTF8, self._next_line + consumed) from None
        if not self._started and (text or final):
            self._started = True
            text = text.removeprefix("\ufeff")
        held_cr = bool(self._carry) and self._carry[-1].endswith("\r")
        if not final and not held_cr and "\n" not in text and "\r" not in text:
            self._carry.append(text)  # more of one long line: joined once, when it ends
            return Rows()
        text = "".join(self._carry) + text
        carry = ""
        if not final and text.endswith("\r"):  # maybe the first half of a CRLF
            carry, text = "\r", text[:-1]
        text = text.replace("\r\n", "\n").replace("\r", "\n")
        lines = text.split("\n")
        if not final:
            carry = lines.pop() + carry
        self._carry = [carry] if carry else []
        return self._rows(lines, text)

    def _rows(self, lines: list[str], text: str) -> Rows:
        first = self._next_line
        self._next_line += len(lines)
        rows = Rows()
        if _PLAIN.fullmatch(text) and "" not in lines:  # fast path: every line is a code
            rows.lines = list(range(first, first + len(lines)))
            rows.codes = lines
            rows.plain = True
        else:
            for offset, line in enumerate(lines):
                quoted = '"' in line or "," in line
                code = _field(line, first + offset) if quoted else line.strip()
                if code:
                    rows.lines.append(first + offset)
                    rows.codes.append(code)
        if rows.codes and not self._header_checked:
            self._header_checked = True
            if rows.codes[0].lower() in HEADERS:
                del rows.codes[0], rows.lines[0]
        return rows


def read_rows(chunks: Iterable[bytes]) -> Iterator[Rows]:
    """Every data row of a file given as byte chunks, chunk by chunk."""
    reader = RowReader()
    for chunk in chunks:
        yield reader.feed(chunk)
    yield reader.feed(b"", final=True)
