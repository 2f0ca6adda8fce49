"""Writers for people: the prediction table (:class:`TableWriter`) and the article report
(:class:`HtmlWriter`), each fed one tagged batch at a time."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from rich import box
from rich.console import Console, Group
from rich.table import Table
from rich.text import Text

from classify.predict.outputs import batch_records
from classify.predict.report import ReportRow, article_html, report_closing, report_opening
from classify.predict.tables import predictions_table, render_text
from classify.predict.writer_base import Held, Writer

if TYPE_CHECKING:
    from classify.predict.predictors import LabelSetColumns
    from classify.predict.stream import TaggedBatch

TABLE_ROWS = 500  # paragraphs a table shows; past them, a summary instead of more rows
TABLE_DOCUMENTS = 100  # documents the summary table lists


class TableWriter(Writer):
    """A table per source and the documents' summary; past TABLE_ROWS paragraphs, the first
    ones, then every theme's count over all paragraphs, and a hint."""

    def __init__(
        self,
        handle: BinaryIO,
        console: Console | None,
        themes: Sequence[str],
        groups: Sequence[LabelSetColumns] | None = None,
        column: str = "themes",
    ) -> None:
        super().__init__(themes, groups, column)
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
        parts: list[Any] = [
            predictions_table(self.records, listed, self.themes, self.groups, self.column)
        ]
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
        noun = "label" if self.groups else self.column.removesuffix("s")
        for column in (noun, "tagged", "share", "to review"):
            table.add_column(column, justify="left" if column == noun else "right")
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

    def __init__(
        self,
        handle: BinaryIO,
        themes: Sequence[str],
        *,
        title: str = "",
        groups: Sequence[LabelSetColumns] | None = None,
        column: str = "themes",
    ) -> None:
        super().__init__(themes, groups, column)
        self.handle = handle
        columns = [group.column for group in groups] if groups else [column]
        self.title = title or f"classify: {' and '.join(columns)} by article"
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
        if self.groups is None:
            noun = self.column.removesuffix("s")
            listed = ", ".join(self.themes)
            return f"{self.column}: {listed}. Marked words pushed a {noun}'s score up."
        listed = "; ".join(
            f"{group.column}: {', '.join(self.themes[group.columns])}" for group in self.groups
        )
        return f"{listed}. Marked words pushed a label's score up."

    def finish(self) -> None:
        if not self._started:
            self._write(report_opening(self.themes, title=self.title, meta=self.meta))
        self._flush()
        self._write(report_closing(empty=self._written == 0))
        if isinstance(self.handle, Held):
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
