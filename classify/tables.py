"""Rows of CSV and JSONL text, each with the line it starts on, for errors that name the line."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from classify.errors import ClassifyError

TABLE_SUFFIXES = (".csv", ".jsonl")


def is_table(path: Path) -> bool:
    """Whether a file is read as rows (CSV or JSONL) rather than as a document."""
    return path.suffix.lower() in TABLE_SUFFIXES


def read_rows(
    text: str, source: str | Path, *, jsonl: bool
) -> Iterator[tuple[int, dict[str, Any]]]:
    """``(line, row)`` for every record; a CSV record may span lines (quoted line breaks).

    Example:
        >>> list(read_rows('id,text\\n1,"two\\nlines"\\n2,x\\n', "a.csv", jsonl=False))
        [(2, {'id': '1', 'text': 'two\\nlines'}), (4, {'id': '2', 'text': 'x'})]
    """
    return _jsonl_rows(text, source) if jsonl else _csv_rows(text, source)


def _csv_rows(text: str, source: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    line = 2  # the first record starts after the header
    for row in reader:
        if None in row:
            raise ClassifyError(f"{source}:{line}: more fields than columns")
        yield line, row
        line = reader.line_num + 1


def _jsonl_rows(text: str, source: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for line, raw in enumerate(text.split("\n"), start=1):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ClassifyError(f"{source}:{line}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ClassifyError(f"{source}:{line}: expected a JSON object")
        yield line, row
