"""Rows of CSV and JSONL text, each with the line it starts on, for errors that name the line.

Lines are counted the way editors count them: ``\\n``, ``\\r\\n`` and a lone ``\\r`` each end one.
Blank records are left out silently: a JSONL line, or a CSV row whose every field, is *blank*
(see :func:`is_blank`). Spreadsheets pad exports with such rows (``,,,``) and blank lines carry
nothing to tag or check, so reporting them would only bury the real problems.

A *bad* record (not JSON, not an object, malformed CSV quoting, more fields than the header) raises
a :class:`ClassifyError` naming the line, or, with ``on_bad_row``, is handed to it and left out.

Rows are read as they are asked for (:func:`stream_rows` over an open file), so a table of any
size is read in bounded memory; :func:`read_rows` does the same over a string.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from classify.data.segment import INVISIBLE
from classify.errors import ClassifyError

TABLE_SUFFIXES = (".csv", ".jsonl")
# Line end of the CSV files classify writes (RFC 4180). Python's csv writer quotes a field only if
# it holds a character of the line end, so with "\n" a text holding a lone "\r" was written bare
# and read back cut in two.
CSV_LINE_END = "\r\n"
# (line, reason) -> None: told about each bad record instead of raising
BadRowHandler = Callable[[int, str], None]

# Anything but whitespace and the invisible format characters segmentation also trims.
_VISIBLE = re.compile(rf"[^\s{INVISIBLE}]")
# csv's field size limit is one process-wide number (a C long: 32 bits on Windows). It is raised
# while any CSV is being read, and put back when the last reader is done.
_FIELD_LIMIT_LOCK = threading.Lock()
_field_limit_readers = 0
_field_limit_before = 0
_C_LONG_MAX = 2**31 - 1
_CSV_MESSAGES = {
    "unexpected end of data": "a quoted field is never closed (it runs to the end of the file)",
    "',' expected after '\"'": 'text after a closing quote (write a quote in a quoted field as "")',
}


def is_table(path: Path) -> bool:
    """Whether a file is read as rows (CSV or JSONL) rather than as a document."""
    return path.suffix.lower() in TABLE_SUFFIXES


def is_blank(value: object) -> bool:
    """Whether a cell holds no text: ``None``, or a string of only whitespace and invisible
    characters (zero-width spaces and joiners, word joiner, byte-order mark, soft hyphen).

    Example:
        >>> is_blank(" \\u200b\\t\\r\\n"), is_blank(None), is_blank("0"), is_blank(0)
        (True, True, False, False)
    """
    if value is None:
        return True
    return isinstance(value, str) and _VISIBLE.search(value) is None


def read_rows(
    text: str, source: str | Path, *, jsonl: bool, on_bad_row: BadRowHandler | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, row)`` for every record; a CSV record may span lines (quoted line breaks).

    Blank records are skipped. A bad record raises a :class:`ClassifyError` naming
    ``source`` and the line, unless ``on_bad_row(line, reason)`` is given: then that is called
    and reading goes on. CSV cells of any size are read (no 128 KiB field limit).

    Example:
        >>> list(read_rows('id,text\\n1,"two\\nlines"\\n,\\n2,x\\n', "a.csv", jsonl=False))
        [(2, {'id': '1', 'text': 'two\\nlines'}), (5, {'id': '2', 'text': 'x'})]
        >>> bad = []
        >>> list(read_rows('{"text": "a"}\\n[1]\\n', "a.jsonl", jsonl=True,
        ...                on_bad_row=lambda line, reason: bad.append((line, reason))))
        [(1, {'text': 'a'})]
        >>> bad
        [(2, 'expected a JSON object, found an array')]
    """
    return stream_rows(io.StringIO(text, newline=""), source, jsonl=jsonl, on_bad_row=on_bad_row)


def stream_rows(
    handle: TextIO, source: str | Path, *, jsonl: bool, on_bad_row: BadRowHandler | None = None
) -> Iterator[tuple[int, dict[str, Any]]]:
    """:func:`read_rows` over a text file opened with ``newline=""``, read as rows are asked for.

    Example:
        >>> with open(tmp / "rows.csv", "w", newline="") as out:
        ...     _ = out.write("text\\r\\nfirst\\r\\nsecond\\r\\n")
        >>> with open(tmp / "rows.csv", newline="") as rows:
        ...     [row["text"] for _, row in stream_rows(rows, "rows.csv", jsonl=False)]
        ['first', 'second']
    """
    if on_bad_row is None:

        def on_bad_row(line: int, reason: str) -> None:
            raise ClassifyError(f"{source}:{line}: {reason}")

    return _jsonl_rows(handle, on_bad_row) if jsonl else _csv_rows(handle, on_bad_row)


def _csv_rows(handle: TextIO, on_bad_row: BadRowHandler) -> Iterator[tuple[int, dict[str, Any]]]:
    header: list[str] | None = None
    visible = _VISIBLE.search  # hot: once or twice per row of a table of millions
    with _unlimited_fields():
        reader = csv.reader(handle, strict=True)
        while True:
            line = reader.line_num + 1
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                message = _CSV_MESSAGES.get(str(exc), str(exc))
                on_bad_row(line, f"malformed CSV{' header' if header is None else ''}: {message}")
                if header is None or reader.line_num < line:
                    return  # without a header no row can be read; nothing consumed: stop
                continue
            if not any(map(visible, fields)):
                continue  # a blank line, or spreadsheet padding: ",,,"
            if header is None:
                header = [name.strip() for name in fields]
                continue
            if len(fields) == len(header):
                yield line, dict(zip(header, fields, strict=True))
            elif len(fields) > len(header) and any(map(visible, fields[len(header) :])):
                on_bad_row(
                    line, f"more fields than columns ({len(fields)}, header has {len(header)})"
                )
            else:  # a short row leaves its last columns None, like csv.DictReader
                yield (
                    line,
                    {name: fields[i] if i < len(fields) else None for i, name in enumerate(header)},
                )


@contextlib.contextmanager
def _unlimited_fields() -> Iterator[None]:
    """csv's field size limit lifted while any CSV is read (the limit is process-wide)."""
    global _field_limit_readers, _field_limit_before
    with _FIELD_LIMIT_LOCK:
        if _field_limit_readers == 0:
            _field_limit_before = csv.field_size_limit(_C_LONG_MAX)
        _field_limit_readers += 1
    try:
        yield
    finally:
        with _FIELD_LIMIT_LOCK:
            _field_limit_readers -= 1
            if _field_limit_readers == 0:
                csv.field_size_limit(_field_limit_before)


def _jsonl_rows(handle: TextIO, on_bad_row: BadRowHandler) -> Iterator[tuple[int, dict[str, Any]]]:
    # Lines end at \n, \r\n or \r only (a file opened with newline=""): JSON strings cannot hold
    # a raw \r or \n, but may hold U+2028, U+0085 and other characters str.splitlines() splits on.
    for line, raw in enumerate(handle, start=1):
        raw = raw.rstrip("\r\n").lstrip("\ufeff")  # a byte-order mark where files were joined
        if is_blank(raw):
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            on_bad_row(line, f"not valid JSON ({exc.msg})")
            continue
        except (ValueError, RecursionError) as exc:  # 5000-digit numbers, [[[[...]]]]
            reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
            on_bad_row(line, f"not valid JSON ({reason})")
            continue
        if not isinstance(row, dict):
            on_bad_row(line, f"expected a JSON object, found {json_type(row)}")
            continue
        yield line, row


def json_type(value: object) -> str:
    """How JSON calls the type of a parsed value, with its article: ``"a number"``, ``"null"``.

    Example:
        >>> json_type(3.5), json_type(None), json_type([]), json_type(True)
        ('a number', 'null', 'an array', 'a boolean')
    """
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"
