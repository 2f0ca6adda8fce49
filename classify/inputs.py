"""What ``classify predict`` reads: texts, document files, folders, stdin, CSV and JSONL tables.

Every input becomes a list of :class:`InputParagraph` with a source and an id, so outputs can
always say where a tag came from. Raw documents are segmented into paragraphs first; rows of a
CSV/JSONL table are taken as paragraphs as they are.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from classify.errors import ClassifyError
from classify.segment import decode_text, read_document, segment
from classify.tables import is_table, read_rows

STDIN = "-"
# An argument with no whitespace that ends like a file name or contains a path separator is
# meant as a path; if it does not exist that is a typo to report, not a text to tag.
_LOOKS_LIKE_PATH = re.compile(r"^\S*([/\\]\S*|\.[A-Za-z0-9]{1,5})$")


@dataclass(frozen=True, slots=True)
class InputParagraph:
    source: str  # the file it came from, "<stdin>" or "<text>"
    id: str  # paragraph id of a document, row id of a table, or "text:N"
    text: str
    kind: str = "body"
    document: str | None = None  # the document it was segmented from (for the summary)
    start: int | None = None
    end: int | None = None


@dataclass(frozen=True)
class ReadOptions:
    text_column: str = "text"
    id_column: str = "id"
    encoding: str = "utf-8"
    errors: str = "strict"


def read_inputs(
    arguments: Sequence[str],
    *,
    texts: Sequence[str] = (),
    options: ReadOptions | None = None,
    stdin: BinaryIO | None = None,
) -> list[InputParagraph]:
    """Turn command-line arguments into paragraphs to tag.

    Each argument is ``-`` (standard input, read as a document), a folder (every visible file in
    it), a ``.csv``/``.jsonl`` table, another file (a raw document), or else a text to tag.
    ``texts`` are always taken as texts.

    Example:
        >>> [p.id for p in read_inputs(["Police rehearsed a rescue."])]
        ['text:1']
    """
    options = options or ReadOptions()
    paragraphs: list[InputParagraph] = []
    literal = 0
    for argument in arguments:
        if argument == STDIN:
            stream = stdin if stdin is not None else sys.stdin.buffer
            paragraphs += _document(
                decode_text(
                    stream.read(), "<stdin>", encoding=options.encoding, errors=options.errors
                ),
                "<stdin>",
                "stdin",
            )
            continue
        path = Path(argument)
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith("."))
            if not files:
                raise ClassifyError(f"folder {path} has no files to tag")
            for file in files:
                paragraphs += _file(file, options)
        elif path.is_file():
            paragraphs += _file(path, options)
        elif _LOOKS_LIKE_PATH.match(argument):
            raise ClassifyError(
                f"no such file: {argument}", hint="to tag it as text, pass it with --text"
            )
        else:
            literal += 1
            paragraphs.append(_literal(argument, literal))
    for text in texts:
        literal += 1
        paragraphs.append(_literal(text, literal))
    if not paragraphs:
        raise ClassifyError("nothing to tag", hint="give texts, files, a folder, or - for stdin")
    return paragraphs


def _literal(text: str, number: int) -> InputParagraph:
    if not text.strip():
        raise ClassifyError(f"text {number} is empty")
    return InputParagraph("<text>", f"text:{number}", text)


def _file(path: Path, options: ReadOptions) -> list[InputParagraph]:
    if is_table(path):
        return list(_table(path, options))
    text = read_document(path, encoding=options.encoding, errors=options.errors)
    return _document(text, str(path), path.stem)


def _document(text: str, source: str, name: str) -> list[InputParagraph]:
    paragraphs = segment(text, name)
    if not paragraphs:
        raise ClassifyError(f"{source}: no text to tag (empty, or only boilerplate)")
    return [
        InputParagraph(source, p.id, p.text, p.kind, source, p.start, p.end) for p in paragraphs
    ]


def _table(path: Path, options: ReadOptions) -> Iterator[InputParagraph]:
    """Rows of a CSV or JSONL file; the text column is required, the id column optional."""
    text = read_document(path, encoding=options.encoding, errors=options.errors)
    rows = read_rows(text, path, jsonl=path.suffix.lower() == ".jsonl")
    found = False
    for line, row in rows:
        if options.text_column not in row:
            columns = ", ".join(sorted(map(str, row))) or "none"
            raise ClassifyError(
                f"{path}:{line}: no column {options.text_column!r} (columns: {columns})",
                hint="name the text column with --text-column",
            )
        value = row[options.text_column]
        if not isinstance(value, str) or not value.strip():
            raise ClassifyError(f"{path}:{line}: empty {options.text_column!r}")
        row_id = row.get(options.id_column)
        found = True
        yield InputParagraph(
            str(path), str(row_id) if row_id not in (None, "") else f"line:{line}", value
        )
    if not found:
        raise ClassifyError(f"{path}: no rows to tag")
