"""The prediction table for people: a table per source (paragraph, tags, scores, text) and a
summary of the documents, rendered by rich (to a terminal, or as plain text for a file)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from classify.data.labels import abbreviate
from classify.predict.documents import DocumentSummary
from classify.text import printable

if TYPE_CHECKING:
    from classify.predict.predictors import LabelSetColumns

_SCORE_COLUMNS_MAX_THEMES = 6  # above this, the table shows the best three scores instead


def predictions_table(
    records: Sequence[dict[str, Any]],
    summaries: Sequence[DocumentSummary],
    themes: Sequence[str],
    groups: Sequence[LabelSetColumns] | None = None,
    column: str = "themes",
) -> RenderableType:
    """One table per source (paragraph, tags, scores, text), then a per-document summary.
    ``column``: the label set's name; ``groups``: several label sets, each with its own
    column of tags."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_source.setdefault(record["source"], []).append(record)
    tables: list[RenderableType] = [
        _source_table(source, rows, themes, groups, column) for source, rows in by_source.items()
    ]
    if summaries:
        summary = Table(title="Documents", title_justify="left", box=box.SIMPLE_HEAD)
        summary.add_column("document", overflow="fold", min_width=10)
        summary.add_column("paragraphs", justify="right")
        carried = "labels" if groups else column
        summary.add_column(f"{carried} (paragraphs carrying them)", min_width=20)
        for s in summaries:
            where = "; ".join(
                f"{theme} ({len(ids)}: {', '.join(_short_id(i) for i in ids)})"
                for theme, ids in s.themes.items()
            )
            summary.add_row(printable(s.document), str(s.paragraphs), printable(where) or "-")
        tables.append(summary)
    return Group(*tables)


def _source_table(
    source: str,
    rows: Sequence[dict[str, Any]],
    themes: Sequence[str],
    groups: Sequence[LabelSetColumns] | None = None,
    column: str = "themes",
) -> Table:
    table = Table(title=printable(source), title_justify="left", expand=True, box=box.SIMPLE_HEAD)
    table.add_column("#", no_wrap=True, min_width=3)
    shown = list(themes)
    columns = [(g.column, set(shown[g.columns])) for g in groups] if groups else [
        (column, set(shown))]  # fmt: skip
    for column, _ in columns:
        table.add_column(column, style="bold green", min_width=8, max_width=14)
    reviewed = any(record.get("review") for record in rows)
    if reviewed:  # themes just below their cut-off: a person should look
        table.add_column("review", style="yellow", min_width=6, max_width=14)
    per_theme = len(themes) <= _SCORE_COLUMNS_MAX_THEMES
    if per_theme:
        for header in abbreviate(themes):
            table.add_column(header, justify="right", no_wrap=True, min_width=4)
    else:
        table.add_column("best scores", min_width=12)
    explained = any("rationale" in record for record in rows)
    if explained:  # --explain: the words behind the themes
        table.add_column("why", overflow="fold", min_width=12, max_width=30)
    table.add_column("text", overflow="ellipsis", no_wrap=True, min_width=16, ratio=1)
    for record in rows:
        tagged = set(record["themes"])
        cells: list[Any] = [_short_id(record["id"])]
        for _, names in columns:
            own = [name for name in record["themes"] if name in names]
            cells.append(
                Text(", ".join(own))
                if own
                else Text("-" if record["kind"] == "body" else record["kind"], style="dim")
            )
        if reviewed:
            cells.append(", ".join(record.get("review", ())))
        if per_theme:
            cells += [_score_cell(record["scores"][t], t in tagged) for t in themes]
        else:
            best = sorted(record["scores"].items(), key=lambda kv: -kv[1])[:3]
            cells.append(", ".join(f"{t} {s:.2f}" for t, s in best))
        if explained:
            cells.append(_why(record.get("rationale") or {}))
        cells.append(_one_line(record["text"]))
        table.add_row(*cells)
    return table


def _why(rationale: dict[str, list[list[Any]]]) -> str:
    """``drills: rehearsed, hostages, airport`` for each theme of a row's rationale."""
    return "; ".join(
        f"{theme}: {', '.join(printable(text) for text, _ in terms[:3])}"
        for theme, terms in rationale.items()
    )


def _one_line(text: str, limit: int = 2_000) -> str:
    """The start of ``text`` with its whitespace collapsed, at most ``limit`` characters.

    The cell shows one line cut with an ellipsis, so only the start matters, and rich takes a
    minute and gigabytes to lay out a 20 MB paragraph in full.

    Example:
        >>> _one_line("Police\\n  held a   drill.", limit=12)
        'Police held '
    """
    return printable(" ".join(text.split(maxsplit=limit)[:limit])[:limit])


def _short_id(paragraph_id: str) -> str:
    """``doc:007`` -> ``007``: the table's title already names the document."""
    return printable(paragraph_id.rsplit(":", 1)[-1] if ":" in paragraph_id else paragraph_id)


def render_text(renderable: RenderableType, *, width: int = 120) -> str:
    """Render a rich object to plain text (no colour codes), e.g. for a file."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False, markup=False).print(
        renderable
    )
    return buffer.getvalue()


def _score_cell(score: float, tagged: bool) -> Text:
    return Text(f"{score:.2f}", style="bold green" if tagged else "dim")
