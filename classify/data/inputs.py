"""What ``classify predict`` reads: texts, document files, folders, stdin, CSV and JSONL tables.

Every input becomes a list of :class:`InputParagraph` with a source and an id, so outputs can
always say where a tag came from. Raw documents are segmented into paragraphs first; rows of a
CSV/JSONL table are taken as paragraphs as they are.

Scraped data has bad rows. By default (``on_error="fail"``) the first one stops the read with an
error naming its file and line. With ``on_error="skip"`` bad rows, and files that cannot be decoded
or hold no text, are left out and listed in :attr:`Inputs.skipped`. Blank table rows are never
bad: they are dropped silently (see :mod:`classify.data.rows`).
"""

from __future__ import annotations

import codecs
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import BinaryIO, Literal, get_args

from classify.data.rows import is_blank, is_table, json_type, read_rows
from classify.data.segment import decode_text, read_document, segment
from classify.errors import ClassifyError

STDIN = "-"
OnError = Literal["fail", "skip"]
ON_ERROR: tuple[str, ...] = get_args(OnError)
# An argument with no whitespace that ends like a file name or contains a path separator is
# meant as a path; if it does not exist that is a typo to report, not a text to tag.
_LOOKS_LIKE_PATH = re.compile(r"^\S*([/\\]\S*|\.[A-Za-z0-9]{1,5})$")
_SKIP_HINT = "fix it, or pass --on-error skip to leave bad rows out"


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


@dataclass(frozen=True, slots=True)
class Skipped:
    """A row (``line`` set) or a whole file (``line`` None) left out under ``on_error="skip"``.

    Example:
        >>> str(Skipped("a.jsonl", 3, "not valid JSON (Expecting value)"))
        'a.jsonl:3: not valid JSON (Expecting value)'
    """

    source: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.reason}"


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
    """Turn command-line arguments into paragraphs to tag.

    Each argument is ``-`` (standard input, read as a document), a folder (every visible file in
    it), a ``.csv``/``.jsonl`` table, another file (a raw document), or else a text to tag.
    ``texts`` are always taken as texts. Raises :class:`ClassifyError` at the first bad row or
    file, or, with ``ReadOptions(on_error="skip")``, lists them in ``.skipped`` of the result;
    if nothing is left to tag that is an error too.

    Example:
        >>> [p.id for p in read_inputs(["Police rehearsed a rescue."])]
        ['text:1']
        >>> _ = (tmp / "rows.jsonl").write_text('{"text": "Drill."}\\nnot json\\n')
        >>> inputs = read_inputs([str(tmp / "rows.jsonl")], options=ReadOptions(on_error="skip"))
        >>> [p.text for p in inputs], [s.line for s in inputs.skipped]
        (['Drill.'], [2])
    """
    options = options or ReadOptions()
    _check_options(options)
    reader = _Reader(options)
    literal = 0
    for argument in arguments:
        if argument == STDIN:
            stream = stdin if stdin is not None else sys.stdin.buffer
            reader.document(partial(_read_stdin, stream, options), "<stdin>", "stdin")
            continue
        path = Path(argument)
        if path.is_dir():
            files = sorted(f for f in path.iterdir() if f.is_file() and not f.name.startswith("."))
            if not files:
                raise ClassifyError(f"folder {path} has no files to tag")
            for file in files:
                reader.file(file)
        elif path.is_file():
            reader.file(path)
        elif _LOOKS_LIKE_PATH.match(argument):
            raise ClassifyError(
                f"no such file: {argument}", hint="to tag it as text, pass it with --text"
            )
        else:
            literal += 1
            reader.inputs.append(_literal(argument, literal))
    for text in texts:
        literal += 1
        reader.inputs.append(_literal(text, literal))
    inputs = reader.inputs
    if not inputs and inputs.skipped:
        raise ClassifyError(
            f"nothing to tag: {describe_count(inputs.skipped)} skipped, nothing else read",
            hint=f"the first: {inputs.skipped[0]}",
        )
    if not inputs:
        raise ClassifyError("nothing to tag", hint="give texts, files, a folder, or - for stdin")
    return inputs


def describe_count(skipped: Sequence[Skipped]) -> str:
    """``"2 rows and 1 file"``: how many rows and whole files were skipped.

    Example:
        >>> describe_count([Skipped("a.csv", 3, "x"), Skipped("b.txt", None, "y")])
        '1 row and 1 file'
    """
    rows = sum(1 for s in skipped if s.line is not None)
    counts = ((rows, "row"), (len(skipped) - rows, "file"))
    return " and ".join(f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts if n)


def describe_skipped(skipped: Sequence[Skipped], *, limit: int = 10) -> list[str]:
    """Report lines for the skipped inputs: a count, the first ``limit``, then how many more.

    Example:
        >>> skipped = [Skipped("a.jsonl", n, "not valid JSON") for n in (3, 7, 9)]
        >>> print("\\n".join(describe_skipped(skipped, limit=2)))
        skipped 3 rows:
          a.jsonl:3: not valid JSON
          a.jsonl:7: not valid JSON
          and 1 more
    """
    if not skipped:
        return []
    lines = [f"skipped {describe_count(skipped)}:"]
    lines += [f"  {s}" for s in skipped[:limit]]
    if len(skipped) > limit:
        lines.append(f"  and {len(skipped) - limit} more")
    return lines


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


def _read_stdin(stream: BinaryIO, options: ReadOptions) -> str:
    return decode_text(stream.read(), "<stdin>", encoding=options.encoding, errors=options.errors)


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


class _Reader:
    """Collects paragraphs; a bad row or file either stops the read or is noted as skipped."""

    def __init__(self, options: ReadOptions) -> None:
        self.options = options
        self.inputs = Inputs()

    def bad(self, source: str, line: int | None, reason: str, hint: str | None = None) -> None:
        if self.options.on_error == "skip":
            self.inputs.skipped.append(Skipped(source, line, reason))
        else:
            raise ClassifyError(str(Skipped(source, line, reason)), hint=hint)

    def file(self, path: Path) -> None:
        source = str(path)
        if not is_table(path):
            self.document(lambda: self.read(path), source, path.stem)
            return
        try:
            text = self.read(path)
        except ClassifyError as error:
            self.bad_file(source, error)
            return
        self.table(text, source, jsonl=path.suffix.lower() == ".jsonl")

    def read(self, path: Path) -> str:
        return read_document(path, encoding=self.options.encoding, errors=self.options.errors)

    def bad_file(self, source: str, error: ClassifyError) -> None:
        """A file that cannot be read or decoded: the error as it is, or the file skipped."""
        if self.options.on_error != "skip":
            raise error
        self.bad(source, None, error.message.removeprefix(f"{source}: "))

    def document(self, read: Callable[[], str], source: str, name: str) -> None:
        try:
            text = read()
        except ClassifyError as error:
            self.bad_file(source, error)
            return
        paragraphs = segment(text, name)
        if not paragraphs:
            self.bad(source, None, "no text to tag (empty, or only boilerplate)")
        self.inputs += (
            InputParagraph(source, p.id, p.text, p.kind, source, p.start, p.end) for p in paragraphs
        )

    def table(self, text: str, source: str, *, jsonl: bool) -> None:
        """Rows of a CSV or JSONL file; the text column is required, the id column optional."""
        column, id_column = self.options.text_column, self.options.id_column
        skipped_before = len(self.inputs.skipped)
        rows: list[InputParagraph] = []

        def bad_row(line: int, reason: str) -> None:
            self.bad(source, line, reason, hint=_SKIP_HINT)

        for line, row in read_rows(text, source, jsonl=jsonl, on_bad_row=bad_row):
            if column not in row:
                columns = ", ".join(sorted(map(str, row))) or "none"
                reason = f"no column {column!r} (columns: {columns})"
                if not jsonl:  # every CSV row has the header's columns: the file has no text
                    self.bad(source, None, reason, hint="name the text column with --text-column")
                    return
                self.bad(source, line, reason, hint="name the text column with --text-column")
                continue
            value = row[column]
            if value is None and not jsonl:
                bad_row(line, f"no {column!r} value (fewer fields than the header)")
            elif not isinstance(value, str):
                bad_row(line, f"{column!r} is {json_type(value)}, not a string")
            elif is_blank(value):
                bad_row(line, f"empty {column!r}")
            else:
                row_id = row.get(id_column)
                row_id = f"line:{line}" if is_blank(row_id) else str(row_id)
                rows.append(InputParagraph(source, row_id, value))
        if not rows and len(self.inputs.skipped) == skipped_before:
            self.bad(source, None, "no rows to tag")
        self.inputs += rows
