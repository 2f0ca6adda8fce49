"""Runs and comparisons for people (rich tables) and for machines (CSV, JSON records).

What ``classify runs`` and ``classify compare`` print: :func:`runs_table` (child runs indented
under their parent, the best macro-F1 starred), :func:`runs_csv`, :func:`runs_records` and
:func:`comparison_view`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from classify.data.labels import abbreviate
from classify.data.rows import CSV_LINE_END
from classify.text import printable
from classify.track.compare import Comparison, MetricDelta, paragraphs_phrase
from classify.track.runs import OVERALL, PER_THEME, RunSummary, best_runs, union_themes

_THEME_COLUMNS_MAX = 8  # above this many themes the runs table shows micro/macro F1 only
# the runs table's width without theme columns, and each theme column's (cell and gaps)
_FIXED_WIDTH, _THEME_WIDTH = 80, 8


def runs_table(
    runs: Sequence[RunSummary], title: str = "runs", *, width: int | None = None
) -> Table:
    """The runs as a table: child runs indented under their parent, each with its label set;
    the best macro-F1 of each label set starred (label sets' figures do not compare).

    Each theme's F1 gets a column when there are at most 8 themes and they fit in ``width``.
    """
    themes = union_themes(r.themes for r in runs)
    fits = width is None or width >= _FIXED_WIDTH + _THEME_WIDTH * len(themes)
    per_theme = bool(themes) and len(themes) <= _THEME_COLUMNS_MAX and fits
    with_status = any(r.status != "FINISHED" for r in runs)  # a column of "finished" is noise
    bests = best_runs(runs)
    label_sets = {run.label_set_short for run in runs}
    mixed = len(label_sets) > 1  # one label set: named in the caption, not on every row
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("run", overflow="fold", min_width=6)
    table.add_column("id", no_wrap=True)
    table.add_column("started", no_wrap=True)
    if with_status:
        table.add_column("status", no_wrap=True)
    if mixed:
        table.add_column("labels", no_wrap=True)
    table.add_column("data", overflow="fold", min_width=8)
    table.add_column("micro F1", justify="right", no_wrap=True)
    table.add_column("macro F1", justify="right", no_wrap=True)
    if per_theme:
        for header in abbreviate(themes):
            table.add_column(header, justify="right", no_wrap=True, min_width=5)
    for run in runs:
        name = f"└ {run.name}" if run.parent_id else run.name
        macro = Text(_number(run.macro_f1))
        if any(run is best for best in bests):
            macro = Text(f"*{_number(run.macro_f1)}", style="bold green")
        cells: list[Any] = [
            Text(name, style="dim" if run.parent_id else ""),
            run.short_id,
            run.start_time.strftime("%m-%d %H:%M") if run.start_time else "-",
        ]
        if with_status:
            style = "" if run.status == "FINISHED" else "yellow"
            cells.append(Text(run.status.lower(), style=style))
        if mixed:
            cells.append(run.label_set_short or "-")
        cells += [run.data or "-", _number(run.micro_f1), macro]
        if per_theme:
            cells += [_number(run.metrics.get(f"f1/{t}")) for t in themes]
        table.add_row(*cells)
    captions = [f"labels: {label_sets.pop()}"] if len(label_sets) == 1 and runs else []
    captions += [
        f"* best macro-F1{f' of {best.label_set_short}' if len(bests) > 1 else ''}: "
        f"{best.name} {best.short_id}"
        for best in bests
    ]
    if per_theme:
        captions.append("theme columns: F1")
    elif themes:
        captions.append("each theme's F1: a wider terminal or --format csv")
    table.caption = "; ".join(captions) or None
    table.caption_justify = "left"
    return table


def runs_csv(runs: Sequence[RunSummary]) -> str:
    """The runs as CSV: one row per run, every theme's F1 as a column."""
    themes = union_themes(r.themes for r in runs)
    bests = best_runs(runs)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=CSV_LINE_END)
    head = ["run_id", "name", "parent_run_id", "start_time", "status", "data", "evaluation"]
    writer.writerow([*head, "label_set", "best", *OVERALL, *(f"f1/{t}" for t in themes)])
    for r in runs:
        values = [r.metrics.get(m, "") for m in OVERALL]
        values += [r.metrics.get(f"f1/{t}", "") for t in themes]
        start = r.start_time.isoformat() if r.start_time else ""
        row = [r.run_id, r.name, r.parent_id or "", start, r.status, r.data, r.evaluation]
        writer.writerow([*row, r.label_set, any(r is b for b in bests), *values])
    return buffer.getvalue()


def runs_records(runs: Sequence[RunSummary]) -> list[dict[str, Any]]:
    """The runs as plain data for JSON, each label set's best macro-F1 flagged ``best``."""
    bests = best_runs(runs)
    return [{**r.as_dict(), "best": any(r is b for b in bests)} for r in runs]


def comparison_view(comparison: Comparison, *, flips: int | None = None) -> RenderableType:
    """The comparison for people: who A and B are, the metric deltas, then the flipped
    paragraphs (the first ``flips`` of them, or all)."""
    a, b = comparison.a, comparison.b
    who = Table.grid(padding=(0, 1))
    for letter, run in (("A", a), ("B", b)):
        started = run.start_time.strftime("%Y-%m-%d %H:%M") if run.start_time else "-"
        who.add_row(f"{letter}:", Text(run.name, style="bold"), run.short_id, started, run.data)

    deltas = Table(title="metrics (Δ = B - A)", title_justify="left", box=box.SIMPLE_HEAD)
    deltas.add_column("theme")
    for metric in ("precision", "recall", "F1"):
        for column in ("A", "B", "Δ"):
            deltas.add_column(f"{metric} {column}" if column == "A" else column, justify="right")
    by_theme: dict[str, dict[str, MetricDelta]] = {}
    for d in comparison.deltas:
        by_theme.setdefault(d.theme, {})[d.metric] = d
    for theme, metrics in by_theme.items():
        if theme == "micro":
            deltas.add_section()
        cells: list[Any] = [theme]
        for metric in PER_THEME:
            d = metrics.get(metric)
            if d is None:
                cells += ["", "", ""]
            else:
                cells += [_number(d.a), _number(d.b), _delta(d.delta)]
        deltas.add_row(*cells, style="bold" if theme in ("micro", "macro") else "")

    counts = comparison.counts()
    shown = comparison.flips if flips is None else comparison.flips[:flips]
    title = (
        f"{counts['flipped']} of {counts['scored_by_both']} paragraphs changed tags: "
        f"{counts['better']} better, {counts['worse']} worse, {counts['mixed']} mixed"
    )
    if not comparison.flips:
        title = f"no paragraph changed tags (of {counts['scored_by_both']} scored by both runs)"
        return Group(who, deltas, Text(title), *_only_lines(comparison))
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, expand=True)
    table.add_column("paragraph", overflow="fold", min_width=10)
    table.add_column("gold", overflow="fold", min_width=6)
    table.add_column("A", overflow="fold", min_width=6)
    table.add_column("B", overflow="fold", min_width=6)
    table.add_column("change", no_wrap=True)
    with_text = any(f.text is not None for f in shown)
    if with_text:
        table.add_column("text", overflow="ellipsis", no_wrap=True, min_width=16, ratio=1)
    styles = {"better": "green", "worse": "red", "mixed": "yellow"}
    for f in shown:
        cells = [printable(f.id), _themes(f.gold), _themes(f.a), _themes(f.b)]
        cells.append(Text(f.change, style=styles[f.change]))
        if with_text:
            cells.append(printable(" ".join((f.text or "").split())))
        table.add_row(*cells)
    parts: list[RenderableType] = [who, deltas, table]
    if flips is not None and len(comparison.flips) > flips:
        parts.append(Text(f"... and {len(comparison.flips) - flips} more (--flips 0: all)"))
    return Group(*parts, *_only_lines(comparison))


def _only_lines(comparison: Comparison) -> list[Text]:
    lines = []
    for letter, ids in (("A", comparison.only_a), ("B", comparison.only_b)):
        if ids:
            example = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
            what = paragraphs_phrase(len(ids))
            lines.append(Text(f"{what} scored by run {letter} only, not compared: {example}"))
    return lines


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _delta(value: float | None) -> Text:
    if value is None:
        return Text("-", style="dim")
    if round(value, 3) == 0:
        return Text(f"{0:.3f}", style="dim")
    return Text(f"{value:+.3f}", style="green" if value > 0 else "red")


def _themes(themes: tuple[str, ...]) -> str:
    return ", ".join(themes) or "-"
