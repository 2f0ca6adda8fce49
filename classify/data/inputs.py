"""What ``classify predict`` reads: texts, documents, folders, stdin, CSV, JSONL and Parquet tables.

Every input becomes :class:`InputParagraph` with a source and an id, so outputs can always say
where a tag came from. Raw documents are segmented into paragraphs first; rows of a table are
taken as paragraphs as they are. :class:`InputStream` reads tables row by row and documents one
file at a time, so an archive of any size passes through in bounded memory; :func:`read_inputs`
collects the same paragraphs into a list.

Scraped data has bad rows. By default (``on_error="fail"``) the first one stops the read with an
error naming its file and line. With ``on_error="skip"`` bad rows, and files that cannot be decoded
or hold no text, are left out and listed in ``skipped``. Blank table rows are never bad: they are
dropped silently (see :mod:`classify.data.rows`).
"""

from __future__ import annotations

import codecs
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Literal, get_args

from classify.data.decoding import decode_text, open_table, read_document
from classify.data.parquet import ParquetRows, is_parquet
from classify.data.rows import is_blank, is_table, json_type, stream_rows
from classify.data.segment import segment
from classify.data.skipped import Skipped, describe_counts
from classify.errors import ClassifyError

STDIN = "-"
OnError = Literal["fail", "skip"]
ON_ERROR: tuple[str, ...] = get_args(OnError)
KEEP_SKIPPED = 1000  # skipped rows and files an InputStream lists (it counts them all)
# An argument with no whitespace that ends like a file name or contains a path separator is
# meant as a path; if it does not exist that is a typo to report, not a text to tag.
_LOOKS_LIKE_PATH = re.compile(r"^\S*([/\\]\S*|\.[A-Za-z0-9]{1,5})$")
_SKIP_HINT = "fix it, or pass --on-error skip to leave bad rows out"
_COLUMN_HINT = "name the text column with --text-column"
_PROGRESS_EVERY = 256  # rows between two looks at how far into a table file the read is


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
    """How to read files: table columns, text encoding, and what to do with bad rows/files."""

    text_column: str = "text"
    id_column: str = "id"
    encoding: str = "utf-8"
    errors: str = "strict"  # undecodable bytes: strict, replace or ignore
    on_error: OnError = "fail"  # a bad row or unreadable file: stop ("fail") or leave it out


class Inputs(list[InputParagraph]):
    """The paragraphs to tag, a list; ``skipped`` lists what ``on_error="skip"`` left out."""

    def __init__(self, paragraphs: Iterable[InputParagraph] = (), skipped: Iterable[Skipped] = ()):
        super().__init__(paragraphs)
        self.skipped: list[Skipped] = list(skipped)


def read_inputs(
    arguments: Sequence[str],
    *,
    texts: Sequence[str] = (),
    options: ReadOptions | None = None,
    stdin: BinaryIO | None = None,
) -> Inputs:
    """Turn command-line arguments into paragraphs to tag, all in one list.

    Each argument is ``-`` (standard input, read as a document), a folder (every visible file in
    it), a ``.csv``/``.jsonl``/``.parquet`` table, another file (a raw document), or else a text
    to tag. ``texts`` are always taken as texts. Raises :class:`ClassifyError` at the first bad
    row or file, or, with ``ReadOptions(on_error="skip")``, lists them in ``.skipped`` of the
    result; if nothing is left to tag that is an error too.

    Example:
        >>> [p.id for p in read_inputs(["Police rehearsed a rescue."])]
        ['text:1']
        >>> _ = (tmp / "rows.jsonl").write_text('{"text": "Drill."}\\nnot json\\n')
        >>> inputs = read_inputs([str(tmp / "rows.jsonl")], options=ReadOptions(on_error="skip"))
        >>> [p.text for p in inputs], [s.line for s in inputs.skipped]
        (['Drill.'], [2])
    """
    stream = InputStream(arguments, texts=texts, options=options, stdin=stdin, keep_skipped=None)
    return Inputs(stream, stream.skipped)


class InputStream:
    """The paragraphs of command-line inputs (as :func:`read_inputs` takes them), read as they
    are iterated, once.

    The arguments are checked at once (missing files, empty folders, empty texts), before
    anything is read. ``skipped`` lists the first ``keep_skipped`` rows and files left out
    (``None``: all), ``skipped_rows`` and ``skipped_files`` count them all; ``bytes_total`` and
    ``bytes_read`` measure the files, for a progress bar; ``paragraphs`` counts what was read.

    Example:
        >>> stream = InputStream(["A drill.", "A seizure."])
        >>> [p.id for p in stream], stream.paragraphs
        (['text:1', 'text:2'], 2)
    """

    def __init__(
        self,
        arguments: Sequence[str],
        *,
        texts: Sequence[str] = (),
        options: ReadOptions | None = None,
        stdin: BinaryIO | None = None,
        keep_skipped: int | None = KEEP_SKIPPED,
    ) -> None:
        self.options = options or ReadOptions()
        _check_options(self.options)
        self._stdin = stdin
        self._keep = keep_skipped
        self._plan = _plan(arguments, texts)
        self.bytes_total = sum(_size(item) for kind, item in self._plan if kind == "file")
        self.bytes_read = 0
        self.paragraphs = 0
        self.skipped: list[Skipped] = []
        self.skipped_rows = 0
        self.skipped_files = 0

    def __iter__(self) -> Iterator[InputParagraph]:
        for kind, item in self._plan:
            if kind == "text":
                read: Iterator[InputParagraph] = iter([item])
            elif kind == "stdin":
                read = self._stdin_document()
            else:
                read = self._file(item)
            for paragraph in read:
                self.paragraphs += 1
                yield paragraph
        if not self.paragraphs:
            skipped = self.skipped_rows + self.skipped_files
            if skipped:
                raise ClassifyError(
                    f"nothing to tag: {describe_counts(self.skipped_rows, self.skipped_files)} "
                    "skipped, nothing else read",
                    hint=f"the first: {self.skipped[0]}",
                )
            raise ClassifyError(
                "nothing to tag", hint="give texts, files, a folder, or - for stdin"
            )

    def bad(self, source: str, line: int | None, reason: str, hint: str | None = None) -> None:
        """A bad row or file: an error, or, with ``on_error="skip"``, noted and left out."""
        if self.options.on_error != "skip":
            raise ClassifyError(str(Skipped(source, line, reason)), hint=hint)
        if line is None:
            self.skipped_files += 1
        else:
            self.skipped_rows += 1
        if self._keep is None or len(self.skipped) < self._keep:
            self.skipped.append(Skipped(source, line, reason))

    def _bad_file(self, source: str, error: ClassifyError) -> None:
        """A file that cannot be read or decoded: the error as it is, or the file skipped."""
        if self.options.on_error != "skip":
            raise error
        self.bad(source, None, error.message.removeprefix(f"{source}: "))

    def _stdin_document(self) -> Iterator[InputParagraph]:
        stream = self._stdin if self._stdin is not None else sys.stdin.buffer
        options = self.options
        try:
            text = decode_text(
                stream.read(), "<stdin>", encoding=options.encoding, errors=options.errors
            )
        except ClassifyError as error:
            self._bad_file("<stdin>", error)
            return
        yield from self._document(text, "<stdin>", "stdin")

    def _file(self, path: Path) -> Iterator[InputParagraph]:
        source = str(path)
        size = _size(path)
        if is_parquet(path):
            yield from self._parquet(path, source, size)
        elif is_table(path):
            yield from self._table(path, source, size)
        else:
            try:
                text = read_document(
                    path, encoding=self.options.encoding, errors=self.options.errors
                )
            except ClassifyError as error:
                self._bad_file(source, error)
            else:
                yield from self._document(text, source, path.stem)
        self.bytes_read += size

    def _document(self, text: str, source: str, name: str) -> Iterator[InputParagraph]:
        paragraphs = segment(text, name)
        if not paragraphs:
            self.bad(source, None, "no text to tag (empty, or only boilerplate)")
        for p in paragraphs:
            yield InputParagraph(source, p.id, p.text, p.kind, source, p.start, p.end)

    def _table(self, path: Path, source: str, size: int) -> Iterator[InputParagraph]:
        """Rows of a CSV or JSONL file; the text column is required, the id column optional."""
        jsonl = path.suffix.lower() == ".jsonl"
        try:
            handle = open_table(path, encoding=self.options.encoding, errors=self.options.errors)
        except ClassifyError as error:
            self._bad_file(source, error)
            return
        start = self.bytes_read
        with handle:

            def bad_row(line: int, reason: str) -> None:
                self.bad(source, line, reason, hint=_SKIP_HINT)

            rows = stream_rows(handle, source, jsonl=jsonl, on_bad_row=bad_row)
            for count, paragraph in enumerate(self._rows(rows, source, jsonl, "line"), 1):
                if count % _PROGRESS_EVERY == 0:
                    self.bytes_read = start + min(handle.buffer.tell(), size)
                yield paragraph
        self.bytes_read = start

    def _parquet(self, path: Path, source: str, size: int) -> Iterator[InputParagraph]:
        column = self.options.text_column
        try:
            table = ParquetRows(path)
        except ClassifyError as error:
            self._bad_file(source, error)
            return
        if column not in table.columns:
            columns = ", ".join(table.columns) or "none"
            self.bad(source, None, f"no column {column!r} (columns: {columns})", _COLUMN_HINT)
            return
        wrong_type = table.text_type(column)
        if wrong_type is not None:
            self.bad(source, None, f"column {column!r} holds {wrong_type}, not text", _COLUMN_HINT)
            return
        start = self.bytes_read
        rows = table.rows([column, self.options.id_column])
        for count, paragraph in enumerate(self._rows(rows, source, False, "row"), 1):
            if count % _PROGRESS_EVERY == 0:
                self.bytes_read = start + size * count // max(table.rows_total, 1)
            yield paragraph
        self.bytes_read = start

    def _rows(
        self, rows: Iterator[tuple[int, dict[str, Any]]], source: str, jsonl: bool, unit: str
    ) -> Iterator[InputParagraph]:
        """Paragraphs from table rows: a text column is required, an id column optional."""
        column, id_column = self.options.text_column, self.options.id_column
        skipped_before = self.skipped_rows + self.skipped_files
        read = 0
        for line, row in rows:
            value, row_id = row.get(column), row.get(id_column)
            if value.__class__ is str and not is_blank(value):  # the common case, first
                read += 1
                yield InputParagraph(
                    source, f"{unit}:{line}" if is_blank(row_id) else str(row_id), value
                )
                continue
            if column not in row:
                columns = ", ".join(sorted(map(str, row))) or "none"
                reason = f"no column {column!r} (columns: {columns})"
                if not jsonl:  # every CSV row has the header's columns: the file has no text
                    self.bad(source, None, reason, hint=_COLUMN_HINT)
                    return
                self.bad(source, line, reason, hint=_COLUMN_HINT)
                continue
            value = row[column]
            if value is None and not jsonl:
                reason = "fewer fields than the header" if unit == "line" else "null"
                self.bad(source, line, f"no {column!r} value ({reason})", hint=_SKIP_HINT)
            elif not isinstance(value, str):
                self.bad(
                    source, line, f"{column!r} is {json_type(value)}, not a string", _SKIP_HINT
                )
            else:
                self.bad(source, line, f"empty {column!r}", hint=_SKIP_HINT)
        if not read and self.skipped_rows + self.skipped_files == skipped_before:
            self.bad(source, None, "no rows to tag")


def _plan(arguments: Sequence[str], texts: Sequence[str]) -> list[tuple[str, Any]]:
    """What to read, in order: ("stdin", None), ("file", path) or ("text", paragraph).

    Every argument is checked here, so a typo fails before anything is read."""
    plan: list[tuple[str, Any]] = []
    literal = 0
    for argument in arguments:
        if argument == STDIN:
            plan.append(("stdin", None))
            continue
        path = Path(argument)
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith("."))
            if not files:
                raise ClassifyError(f"folder {path} has no files to tag")
            plan += [("file", file) for file in files]
        elif path.is_file():
            plan.append(("file", path))
        elif _LOOKS_LIKE_PATH.match(argument):
            raise ClassifyError(
                f"no such file: {argument}", hint="to tag it as text, pass it with --text"
            )
        else:
            literal += 1
            plan.append(("text", _literal(argument, literal)))
    for text in texts:
        literal += 1
        plan.append(("text", _literal(text, literal)))
    return plan


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _check_options(options: ReadOptions) -> None:
    """Settings errors are never skipped: report them before anything is read."""
    if options.on_error not in ON_ERROR:
        raise ClassifyError(f"unknown on_error {options.on_error!r}", hint="use fail or skip")
    try:
        b"0".decode(options.encoding, "ignore")  # looks it up; refuses non-text codecs ("hex")
    except LookupError:
        raise ClassifyError(
            f"unknown text encoding {options.encoding!r}", hint="e.g. utf-8, cp1251, kz1048"
        ) from None
    try:
        codecs.lookup_error(options.errors)
    except LookupError:
        raise ClassifyError(
            f"unknown error handler {options.errors!r}", hint="use strict, replace or ignore"
        ) from None


def _literal(text: str, number: int) -> InputParagraph:
    if is_blank(text):
        raise ClassifyError(f"text {number} is empty")
    try:
        text.encode("utf-8")  # lone surrogates: bytes the terminal's encoding could not decode
    except UnicodeEncodeError:
        raise ClassifyError(
            f"text {number} holds undecodable bytes", hint="check the terminal's encoding"
        ) from None
    return InputParagraph("<text>", f"text:{number}", text)
