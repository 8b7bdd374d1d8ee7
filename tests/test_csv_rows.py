"""The row parser: every file shape partners send, and a property test over any bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.csv_rows import FileError, FileRejected, RowError, read_rows, row_error


def outcome(data: bytes, chunk: int) -> list[tuple[int, str]] | FileError:
    try:
        return rows(data, chunk)
    except FileRejected as rejected:
        return rejected.error


def rows(data: bytes, chunk: int = 7) -> list[tuple[int, str]]:
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    out: list[tuple[int, str]] = []
    for found in read_rows(chunks):
        out += zip(found.lines, found.codes, strict=True)
    return out


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1 << 20])
def test_line_endings_bom_blank_lines_and_whitespace(chunk: int) -> None:
    data = b"\xef\xbb\xbfA1\r\nA2\n\n  A3  \rA4\r\n\r\n\t\nA5"
    assert rows(data, chunk) == [(1, "A1"), (2, "A2"), (4, "A3"), (5, "A4"), (8, "A5")]


@pytest.mark.parametrize("header", [b"code", b"CODES", b"Voucher_Code", b" code ", b'"code"'])
def test_header_row_is_skipped(header: bytes) -> None:
    assert rows(header + b"\nX1\n") == [(2, "X1")]


def test_header_is_only_the_first_row_and_only_exact_words() -> None:
    assert rows(b"X1\ncode\n") == [(1, "X1"), (2, "code")]
    assert rows(b"\n\ncode\nX\n") == [(4, "X")]
    assert rows(b"code_id\n") == [(1, "code_id")]


def test_quoted_fields() -> None:
    data = b'"A,1"\n"B""2"\n  "C3"  \n""\n'
    assert rows(data) == [(1, "A,1"), (2, 'B"2'), (3, "C3")]


@pytest.mark.parametrize(
    ("data", "line"),
    [(b'A\n"BC\nD\n', 2), (b'"AB"C\n', 1), (b'A\nB\n"AB""\n', 3), (b'"A" "B"', 1)],
)
def test_a_quote_left_open_or_text_after_a_closing_quote_fails_the_file(
    data: bytes, line: int
) -> None:
    with pytest.raises(FileRejected) as caught:
        rows(data)
    assert caught.value.error is FileError.INVALID_QUOTING
    assert caught.value.line == line


def test_a_quote_inside_an_unquoted_code_is_a_character() -> None:
    assert rows(b'AB"C\n') == [(1, 'AB"C')]


@pytest.mark.parametrize(
    ("data", "line"),
    [(b"A\nB,C\n", 2), (b"A,\n", 1), (b'A\n"x",y\n', 2), (b",\n", 1)],
)
def test_more_than_one_field_fails_the_file(data: bytes, line: int) -> None:
    with pytest.raises(FileRejected) as caught:
        rows(data)
    assert caught.value.error is FileError.MULTIPLE_COLUMNS
    assert caught.value.line == line


@pytest.mark.parametrize(
    ("data", "line"), [(b"A\n\xff\n", 2), (b"\xc3", 1), (b"ok\nok\n\xe2\x82", 3)]
)
def test_invalid_utf8_fails_the_file(data: bytes, line: int) -> None:
    with pytest.raises(FileRejected) as caught:
        rows(data, 1)
    assert caught.value.error is FileError.NOT_UTF8
    assert caught.value.line == line


def test_codes_are_case_sensitive_and_keep_unicode() -> None:
    assert rows("abc\nABC\nçödé€\n".encode()) == [(1, "abc"), (2, "ABC"), (3, "çödé€")]


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("AB CD", RowError.INVALID_CHARACTERS),
        ("AB\tCD", RowError.INVALID_CHARACTERS),
        ("AB\x00", RowError.INVALID_CHARACTERS),
        ("AB\u200b", RowError.INVALID_CHARACTERS),
        ("AB\u00a0C", RowError.INVALID_CHARACTERS),
        ("x" * 101, RowError.CODE_TOO_LONG),
        ("x" * 100, None),
        ("é" * 100, None),
        ("A-1_b.c/d:e#f", None),
    ],
)
def test_row_errors(code: str, error: RowError | None) -> None:
    assert row_error(code) is error


def test_a_huge_single_line_is_one_row() -> None:
    found = rows(b"x" * 3_000_000, chunk=65536)
    assert len(found) == 1
    assert row_error(found[0][1]) is RowError.CODE_TOO_LONG


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=1, max_value=64))
def test_any_bytes_give_rows_or_a_file_error(data: bytes, chunk: int) -> None:
    found = outcome(data, chunk)
    if isinstance(found, FileError):
        assert found in (FileError.MULTIPLE_COLUMNS, FileError.NOT_UTF8, FileError.INVALID_QUOTING)
        return
    for line, code in found:
        assert line >= 1
        assert code == code.strip()
        assert code


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20), max_size=30),
    st.sampled_from([b"\n", b"\r\n", b"\r"]),
    st.integers(min_value=1, max_value=16),
)
def test_chunking_never_changes_the_result(lines: list[str], newline: bytes, chunk: int) -> None:
    data = newline.join(line.encode() for line in lines)
    assert outcome(data, chunk) == outcome(data, 1 << 20)
