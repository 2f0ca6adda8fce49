"""The metrics of an evaluation as tables: for the terminal (rich), Markdown and HTML.

One set of rows (:func:`metric_rows`) feeds every rendering, so ``classify train``, ``classify
evaluate`` and the reports an MLflow run keeps show the same figures the same way.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np
from rich.table import Table

from classify.training.metrics import Metrics

METRIC_COLUMNS = ("theme", "precision", "recall", "F1", "support", "tagged", "avg precision")


def metric_rows(metrics: Metrics) -> list[list[str]]:
    """The per-theme metrics as text cells (:data:`METRIC_COLUMNS`), then micro and macro rows.

    Macro precision, recall and average precision are means over the themes macro F1 averages
    (those with support or tags); the macro F1 is the run's ``macro_f1`` itself.

    Example:
        >>> from classify.training.metrics import compute_metrics
        >>> metric_rows(compute_metrics(np.eye(2), np.eye(2), ["a", "b"], np.eye(2)))[-1]
        ['macro', '1.000', '1.000', '1.000', '', '', '1.000']
    """
    rows = [
        [
            t.theme,
            f"{t.precision:.3f}",
            f"{t.recall:.3f}",
            f"{t.f1:.3f}",
            str(t.support),
            str(t.predicted),
            _number(t.average_precision),
        ]
        for t in metrics.themes
    ]
    defined = [t for t in metrics.themes if t.support or t.predicted]
    rows.append(
        [
            "micro",
            f"{metrics.micro_precision:.3f}",
            f"{metrics.micro_recall:.3f}",
            f"{metrics.micro_f1:.3f}",
            str(sum(t.support for t in metrics.themes)),
            str(sum(t.predicted for t in metrics.themes)),
            "",
        ]
    )
    precisions = [t.average_precision for t in defined if not math.isnan(t.average_precision)]
    rows.append(
        [
            "macro",
            _number(_mean([t.precision for t in defined])),
            _number(_mean([t.recall for t in defined])),
            f"{metrics.macro_f1:.3f}",
            "",
            "",
            _number(_mean(precisions)),
        ]
    )
    return rows


def metrics_markdown(metrics: Metrics, title: str) -> str:
    """The metrics table as a Markdown document.

    Example:
        >>> from classify.training.metrics import compute_metrics
        >>> text = metrics_markdown(compute_metrics(np.eye(2), np.eye(2), ["a", "b"]), "demo")
        >>> print(text.splitlines()[4])
        | a | 1.000 | 1.000 | 1.000 | 1 | 1 | - |
    """
    return f"# {title}\n\n" + markdown_table(METRIC_COLUMNS, metric_rows(metrics), numeric=True)


def metrics_html(metrics: Metrics, title: str) -> str:
    """The metrics table as a small standalone HTML page (micro and macro rows in bold).

    Example:
        >>> from classify.training.metrics import compute_metrics
        >>> metrics_html(compute_metrics(np.eye(2), np.eye(2), ["a", "b"]), "demo").count("<tr")
        5
    """
    rows = metric_rows(metrics)
    head = "".join(f"<th>{html.escape(c)}</th>" for c in METRIC_COLUMNS)
    body = []
    for i, row in enumerate(rows):
        cells = "".join(
            f'<td class="{"text" if j == 0 else "number"}">{html.escape(cell)}</td>'
            for j, cell in enumerate(row)
        )
        total = ' class="total"' if i >= len(rows) - 2 else ""
        body.append(f"<tr{total}>{cells}</tr>")
    style = (
        "body{font-family:sans-serif}table{border-collapse:collapse}"
        "th,td{padding:4px 10px;border-bottom:1px solid #ddd}td.number{text-align:right}"
        "tr.total{font-weight:bold}"
    )
    return (
        f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{style}</style></head>\n<body><h1>{html.escape(title)}</h1>\n"
        f"<table><thead><tr>{head}</tr></thead>\n<tbody>\n"
        + "\n".join(body)
        + "\n</tbody></table></body></html>\n"
    )


def metrics_table(metrics: Metrics, title: str, *, noun: str = "theme") -> Table:
    """Per-theme precision, recall, F1, support and tag counts, with micro/macro rows; the first
    column is headed ``noun`` (what a label of the label set is called: theme, narrative).

    Example:
        >>> from classify.training.metrics import compute_metrics
        >>> import numpy as np
        >>> metrics_table(compute_metrics(np.eye(2), np.eye(2), ["a", "b"]), "demo").row_count
        4
    """
    table = Table(title=title)
    for name in METRIC_COLUMNS:
        header = noun if name == "theme" else name
        table.add_column(header, justify="left" if name == "theme" else "right")
    *themes, micro, macro = metric_rows(metrics)
    for row in themes:
        table.add_row(*row)
    table.add_section()
    table.add_row(*micro, style="bold")
    table.add_row(*macro, style="bold")
    return table


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, numeric: bool) -> str:
    """A GitHub-flavoured Markdown table; ``numeric`` right-aligns every column but the first.

    Example:
        >>> print(markdown_table(["theme", "F1"], [["drills", "0.91"]], numeric=True), end="")
        | theme | F1 |
        | --- | ---: |
        | drills | 0.91 |
    """
    align = ["---"] + ["---:" if numeric else "---"] * (len(header) - 1)
    lines = [header, align, *rows]
    return "".join("| " + " | ".join(cells) + " |\n" for cells in lines)


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _number(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"
