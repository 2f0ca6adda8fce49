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
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from rich.console import Console

from classify.atomic import atomic_path
from classify.errors import ClassifyError
from classify.predict.grouped import grouped_csv_header, grouped_records
from classify.predict.outputs import OutputFormat, csv_header, rationale_record
from classify.predict.page_writers import TABLE_ROWS, HtmlWriter, TableWriter
from classify.predict.writer_base import Held, Writer, binary_stream

if TYPE_CHECKING:
    from classify.predict.predictors import LabelSetColumns
    from classify.predict.stream import TaggedBatch

_JSON_OPENING = b'{\n  "paragraphs": [\n'
__all__ = ["TABLE_ROWS", "ParquetWriter", "TextWriter", "Writer", "open_writer"]


@contextlib.contextmanager
def open_writer(
    fmt: OutputFormat,
    output: Path | None,
    console: Console | None,
    themes: Sequence[str],
    *,
    explain: bool = False,
    groups: Sequence[LabelSetColumns] | None = None,
    column: str = "themes",
) -> Iterator[Writer]:
    """A writer of ``fmt`` to ``output`` (atomically) or to ``console``'s stream; its output is
    finished when the block ends normally, and a file is removed when it does not. ``explain``:
    the batches carry explanations, and the output a rationale column. ``groups``: the label
    sets of several models used together."""
    if fmt == "parquet" and output is None:
        raise ClassifyError("--format parquet writes a file", hint="add -o FILE.parquet")
    if output is None:
        if console is None:
            raise ValueError("open_writer needs an output file or a console")
        held = Held(binary_stream(console.file))
        writer = _writer(fmt, held, console, themes, explain, groups, column)
        yield writer
        writer.finish()
        return
    try:
        with atomic_path(output) as partial:
            if fmt == "parquet":
                writer = ParquetWriter(
                    partial, themes, explain=explain, groups=groups, column=column
                )
                yield writer
                writer.finish()
            else:
                with open(partial, "wb") as handle:
                    writer = _writer(fmt, handle, None, themes, explain, groups, column)
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
    groups: Sequence[LabelSetColumns] | None = None,
    column: str = "themes",
) -> Writer:
    if fmt == "table":
        return TableWriter(handle, console, themes, groups, column)
    if fmt == "html":
        return HtmlWriter(handle, themes, groups=groups, column=column)
    return TextWriter(fmt, handle, themes, explain=explain, groups=groups, column=column)


class TextWriter(Writer):
    """JSONL, CSV or JSON, written as the batches come (each batch already rendered, in UTF-8)."""

    def __init__(
        self,
        fmt: OutputFormat,
        handle: BinaryIO,
        themes: Sequence[str],
        *,
        explain: bool = False,
        groups: Sequence[LabelSetColumns] | None = None,
        column: str = "themes",
    ) -> None:
        super().__init__(themes, groups, column)
        self.fmt, self.handle, self.explain = fmt, handle, explain
        self._started = False
        self._held = b""  # JSON: the last records, whose final comma may be the document's last

    def add(self, batch: TaggedBatch) -> None:
        super().add(batch)
        if not self._started:
            self._started = True
            if self.fmt == "csv":
                header = (
                    csv_header(self.themes, explain=self.explain, column=self.column)
                    if self.groups is None
                    else grouped_csv_header(self.groups, explain=self.explain)
                )
                self.handle.write(header.encode("utf-8"))
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
            documents = self.summaries()
            listed = json.dumps(documents, ensure_ascii=False, indent=2)
            records = self._held.removesuffix(b",\n") + b"\n" if self._held else b""
            closing = f'  ],\n  "documents": {textwrap.indent(listed, "  ").lstrip()}\n}}\n'
            opening = b"" if self._started else _JSON_OPENING
            self.handle.write(opening + records + closing.encode("utf-8"))
        if isinstance(self.handle, Held):
            self.handle.release()
        self.handle.flush()


class ParquetWriter(Writer):
    """One row group per batch: the CSV format's columns, with themes and review as lists."""

    def __init__(
        self,
        path: Path,
        themes: Sequence[str],
        *,
        explain: bool = False,
        groups: Sequence[LabelSetColumns] | None = None,
        column: str = "themes",
    ) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        super().__init__(themes, groups, column)
        self._pa = pa
        labels: list[tuple[str, Any]] = [
            (column, pa.list_(pa.string())),
            ("review", pa.list_(pa.string())),
            *((f"score_{t}", pa.float64()) for t in themes),
        ]
        if groups is not None:  # the CSV format's columns of several label sets
            labels = []
            for group in groups:
                labels += [(group.column, pa.list_(pa.string())),
                           (f"{group.column}.review", pa.list_(pa.string()))]  # fmt: skip
                labels += [(f"{group.column}.score_{n}", pa.float64()) for n in group.names]
        self.schema = pa.schema(
            [
                ("source", pa.string()),
                ("id", pa.string()),
                ("kind", pa.string()),
                ("start", pa.int64()),
                ("end", pa.int64()),
                *labels,
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
        }
        rounded = batch.scores.round(6)
        if self.groups is None:
            columns[self.column] = [[n for n, on in zip(names, r, strict=True) if on]
                                 for r in batch.tags]  # fmt: skip
            columns["review"] = [[n for n, on in zip(names, r, strict=True) if on]
                                 for r in batch.review]  # fmt: skip
            columns.update({f"score_{t}": rounded[:, j] for j, t in enumerate(names)})
        for group in self.groups or ():
            own = group.names
            columns[group.column] = [[n for n, on in zip(own, r, strict=True) if on]
                                     for r in batch.tags[:, group.columns]]  # fmt: skip
            columns[f"{group.column}.review"] = [
                [n for n, on in zip(own, r, strict=True) if on]
                for r in batch.review[:, group.columns]
            ]
            scores = rounded[:, group.columns]
            columns.update({f"{group.column}.score_{n}": scores[:, j] for j, n in enumerate(own)})
        if "rationale" in self.schema.names:
            if self.groups is None:
                rationales = [rationale_record(e) for e in batch.explanations or ()]
            else:
                records = grouped_records(paragraphs, batch.scores, batch.tags, batch.review,
                                          names, self.groups, batch.explanations)  # fmt: skip
                rationales = [r["rationale"] for r in records]
            columns["rationale"] = [json.dumps(r, ensure_ascii=False) for r in rationales]
        columns["text"] = [p.text for p in paragraphs]
        self._file.write_table(self._pa.Table.from_pydict(columns, schema=self.schema))

    def finish(self) -> None:
        self._file.close()
