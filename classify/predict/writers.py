"""Writers that put a stream of tagged batches together as it passes.

JSONL, CSV and JSON go out batch by batch, Parquet a row group per batch. A table is for people:
past :data:`TABLE_ROWS` paragraphs it shows the first ones, then a summary of all of them and a
hint, never millions of rows. A file (``-o``) is written under a temporary name and renamed when
it is complete (:func:`classify.atomic.atomic_path`): a failed or interrupted run leaves nothing
that looks like output.

Example:
    >>> from classify.data.inputs import InputStream
    >>> from classify.predict.stream import tag_stream
    >>> with open_writer("jsonl", tmp / "tags.jsonl", None, predictor.themes) as writer:
    ...     for batch in tag_stream(predictor, InputStream(["A drill."])):
    ...         writer.add(batch)
    >>> len((tmp / "tags.jsonl").read_text().splitlines())
    1
"""

from __future__ import annotations

import contextlib
import json
import textwrap
from collections.abc import Iterator, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from classify.atomic import atomic_path
from classify.errors import ClassifyError
from classify.predict.documents import DocumentSummaries
from classify.predict.outputs import (
    OutputFormat,
    batch_records,
    csv_header,
    predictions_table,
    rationale_record,
    render_text,
)
from classify.predict.report import ReportRow, article_html, report_closing, report_opening

if TYPE_CHECKING:
    from classify.predict.stream import TaggedBatch

TABLE_ROWS = 500  # paragraphs a table shows; past them, a summary instead of more rows
TABLE_DOCUMENTS = 100  # documents the summary table lists
_JSON_OPENING = b'{\n  "paragraphs": [\n'
# Standard output is held back until this much is ready: a small run that fails on a bad row
# prints nothing (as a file is not written); a large one streams.
HOLD_BYTES = 1 << 20


class Writer:
    """Takes tagged batches as they come (``add``), keeps the document summaries, and ends the
    output when the stream is done (``finish``)."""

    def __init__(self, themes: Sequence[str]) -> None:
        self.themes = list(themes)
        self.documents = DocumentSummaries()
        self.paragraphs = 0

    def add(self, batch: TaggedBatch) -> None:
        self.paragraphs += len(batch.paragraphs)
        names = self.themes
        for i, paragraph in enumerate(batch.paragraphs):
            if paragraph.document:
                themes = [n for n, on in zip(names, batch.tags[i], strict=True) if on]
                scores = dict(zip(names, batch.scores[i].round(6).tolist(), strict=True))
                self.documents.add(paragraph.document, paragraph.id, themes, scores)

    def finish(self) -> None:
        """Close the output: the stream is complete."""


@contextlib.contextmanager
def open_writer(
    fmt: OutputFormat,
    output: Path | None,
    console: Console | None,
    themes: Sequence[str],
    *,
    explain: bool = False,
) -> Iterator[Writer]:
    """A writer of ``fmt`` to ``output`` (atomically) or to ``console``'s stream; its output is
    finished when the block ends normally, and a file is removed when it does not. ``explain``:
    the batches carry explanations, and the output a rationale column."""
    if fmt == "parquet" and output is None:
        raise ClassifyError("--format parquet writes a file", hint="add -o FILE.parquet")
    if output is None:
        if console is None:
            raise ValueError("open_writer needs an output file or a console")
        writer = _writer(fmt, _Held(_binary(console.file)), console, themes, explain)
        yield writer
        writer.finish()
        return
    try:
        with atomic_path(output) as partial:
            if fmt == "parquet":
                writer = ParquetWriter(partial, themes, explain=explain)
                yield writer
                writer.finish()
            else:
                with open(partial, "wb") as handle:
                    writer = _writer(fmt, handle, None, themes, explain)
                    yield writer
                    writer.finish()
    except OSError as exc:
        raise ClassifyError(f"cannot write {output}: {exc.strerror}") from None


def _writer(
    fmt: OutputFormat,
    handle: BinaryIO,
    console: Console | None,
    themes: Sequence[str],
    explain: bool,
) -> Writer:
    if fmt == "table":
        return TableWriter(handle, console, themes)
    if fmt == "html":
        return HtmlWriter(handle, themes)
    return TextWriter(fmt, handle, themes, explain=explain)


class TextWriter(Writer):
    """JSONL, CSV or JSON, written as the batches come (each batch already rendered, in UTF-8)."""

    def __init__(
        self, fmt: OutputFormat, handle: BinaryIO, themes: Sequence[str], *, explain: bool = False
    ) -> None:
        super().__init__(themes)
        self.fmt, self.handle, self.explain = fmt, handle, explain
        self._started = False
        self._held = b""  # JSON: the last records, whose final comma may be the document's last

    def add(self, batch: TaggedBatch) -> None:
        super().add(batch)
        if not self._started:
            self._started = True
            if self.fmt == "csv":
                self.handle.write(csv_header(self.themes, explain=self.explain).encode("utf-8"))
            elif self.fmt == "json":
                self.handle.write(_JSON_OPENING)
        if self.fmt == "json":
            self.handle.write(self._held)
            self._held = batch.rendered
        else:
            self.handle.write(batch.rendered)
        self.handle.flush()

    def finish(self) -> None:
        if self.fmt == "json":
            documents = [asdict(s) for s in self.documents.summaries()]
            listed = json.dumps(documents, ensure_ascii=False, indent=2)
            records = self._held.removesuffix(b",\n") + b"\n" if self._held else b""
            closing = f'  ],\n  "documents": {textwrap.indent(listed, "  ").lstrip()}\n}}\n'
            opening = b"" if self._started else _JSON_OPENING
            self.handle.write(opening + records + closing.encode("utf-8"))
        if isinstance(self.handle, _Held):
            self.handle.release()
        self.handle.flush()


class ParquetWriter(Writer):
    """One row group per batch: the CSV format's columns, with themes and review as lists."""

    def __init__(self, path: Path, themes: Sequence[str], *, explain: bool = False) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        super().__init__(themes)
        self._pa = pa
        self.schema = pa.schema(
            [
                ("source", pa.string()),
                ("id", pa.string()),
                ("kind", pa.string()),
                ("start", pa.int64()),
                ("end", pa.int64()),
                ("themes", pa.list_(pa.string())),
                ("review", pa.list_(pa.string())),
                *((f"score_{t}", pa.float64()) for t in themes),
                *([("rationale", pa.string())] if explain else []),  # JSON, as in the CSV
                ("text", pa.string()),
            ]
        )
        self._file = pq.ParquetWriter(path, self.schema)

    def add(self, batch: TaggedBatch) -> None:
        super().add(batch)
        names = self.themes
        paragraphs = batch.paragraphs
        columns: dict[str, Any] = {
            "source": [p.source for p in paragraphs],
            "id": [p.id for p in paragraphs],
            "kind": [p.kind for p in paragraphs],
            "start": [p.start for p in paragraphs],
            "end": [p.end for p in paragraphs],
            "themes": [[n for n, on in zip(names, r, strict=True) if on] for r in batch.tags],
            "review": [[n for n, on in zip(names, r, strict=True) if on] for r in batch.review],
        }
        rounded = batch.scores.round(6)
        columns.update({f"score_{t}": rounded[:, j] for j, t in enumerate(names)})
        if "rationale" in self.schema.names:
            columns["rationale"] = [
                json.dumps(rationale_record(e), ensure_ascii=False)
                for e in batch.explanations or ()
            ]
        columns["text"] = [p.text for p in paragraphs]
        self._file.write_table(self._pa.Table.from_pydict(columns, schema=self.schema))

    def finish(self) -> None:
        self._file.close()


class TableWriter(Writer):
    """A table per source and the documents' summary; past TABLE_ROWS paragraphs, the first
    ones, then every theme's count over all paragraphs, and a hint."""

    def __init__(self, handle: BinaryIO, console: Console | None, themes: Sequence[str]) -> None:
        super().__init__(themes)
        self.handle, self.console = handle, console
        self.records: list[dict[str, Any]] = []
        self.tagged = [0] * len(self.themes)
        self.reviewed = [0] * len(self.themes)

    def add(self, batch: TaggedBatch) -> None:
        super().add(batch)
        room = TABLE_ROWS - len(self.records)
        if room > 0:
            shown = slice(0, room)
            self.records += batch_records(
                batch.paragraphs[shown],
                batch.scores[shown],
                batch.tags[shown],
                batch.review[shown],
                self.themes,
                batch.explanations[shown] if batch.explanations is not None else None,
            )
        for j, (tagged, reviewed) in enumerate(
            zip(batch.tags.sum(axis=0).tolist(), batch.review.sum(axis=0).tolist(), strict=True)
        ):
            self.tagged[j] += tagged
            self.reviewed[j] += reviewed

    def finish(self) -> None:
        summaries = self.documents.summaries()
        listed = summaries[:TABLE_DOCUMENTS]
        parts: list[Any] = [predictions_table(self.records, listed, self.themes)]
        if len(summaries) > len(listed):
            more = len(summaries) - len(listed)
            parts.append(Text(f"... and {more} more documents (--format jsonl for all)"))
        if self.paragraphs > len(self.records):
            parts += self._summary()
        if self.console is not None:
            self.console.print(Group(*parts))
        else:
            self.handle.write(render_text(Group(*parts)).encode("utf-8"))

    def _summary(self) -> list[Any]:
        total = self.paragraphs
        table = Table(title=f"All {total:,} paragraphs", title_justify="left", box=box.SIMPLE_HEAD)
        for column in ("theme", "tagged", "share", "to review"):
            table.add_column(column, justify="left" if column == "theme" else "right")
        for theme, tagged, reviewed in zip(self.themes, self.tagged, self.reviewed, strict=True):
            table.add_row(theme, f"{tagged:,}", f"{tagged / total:.1%}", f"{reviewed:,}")
        hint = (
            f"The tables show the first {len(self.records):,} of {total:,} paragraphs. For every "
            "paragraph: --format jsonl, csv or parquet, with -o FILE."
        )
        return [table, Text(hint)]


class HtmlWriter(Writer):
    """The article report (:mod:`classify.predict.report`), written one article at a time: an
    article is held until the stream moves on to the next document."""

    def __init__(self, handle: BinaryIO, themes: Sequence[str], *, title: str = "") -> None:
        super().__init__(themes)
        self.handle = handle
        self.title = title or "classify: themes by article"
        self._article: str | None = None
        self._rows: list[ReportRow] = []
        self._written = 0
        self._started = False

    def add(self, batch: TaggedBatch) -> None:
        super().add(batch)
        if not self._started:
            self._write(report_opening(self.themes, title=self.title, meta=self.meta))
            self._started = True
        explanations = batch.explanations or [None] * len(batch.paragraphs)
        for i, paragraph in enumerate(batch.paragraphs):
            article = paragraph.document or paragraph.source
            if article != self._article:
                self._flush()
                self._article = article
            row = (batch.scores[i], batch.tags[i], batch.review[i], explanations[i])
            self._rows.append(ReportRow(paragraph, *row))

    @property
    def meta(self) -> str:
        return f"themes: {', '.join(self.themes)}. Marked words pushed a theme's score up."

    def finish(self) -> None:
        if not self._started:
            self._write(report_opening(self.themes, title=self.title, meta=self.meta))
        self._flush()
        self._write(report_closing(empty=self._written == 0))
        if isinstance(self.handle, _Held):
            self.handle.release()
        self.handle.flush()

    def _flush(self) -> None:
        if self._rows:
            self._write(article_html(self._article or "", self._rows, self.themes, self._written))
            self._written += len(self._rows)
            self._rows = []

    def _write(self, text: str) -> None:
        # a lone surrogate (from undecodable input kept as is) cannot be UTF-8: shown as "?"
        self.handle.write(text.encode("utf-8", "replace"))


class _Held:
    """A binary stream that keeps what is written until :data:`HOLD_BYTES` of it are ready (or
    :meth:`release`), then passes everything on as it comes."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.held: list[bytes] | None = []
        self.size = 0

    def write(self, data: bytes) -> None:
        if self.held is None:
            self.stream.write(data)
            return
        self.held.append(data)
        self.size += len(data)
        if self.size >= HOLD_BYTES:
            self.release()

    def release(self) -> None:
        if self.held is not None:
            self.stream.write(b"".join(self.held))
            self.held = None

    def flush(self) -> None:
        if self.held is None:
            self.stream.flush()


def _binary(stream: TextIO) -> BinaryIO:
    """The byte stream under a text stream (standard output's), or one that decodes into it."""
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    return buffer if buffer is not None else _Decoding(stream)  # type: ignore[return-value]


class _Decoding:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.stream.flush()
