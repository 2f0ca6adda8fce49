"""Reports of a training for people: figures and tables built from its out-of-fold evidence.

:func:`write_reports` writes, into one folder, what the MLflow run shows beside its metrics:

==========================  ==================================================================
file                        holds
==========================  ==================================================================
precision_recall.png        per theme: the precision-recall curve of the out-of-fold scores,
                            its average precision, and the point of the chosen threshold
confusion.png               per theme: paragraphs tagged or not against gold, as a 2x2 grid
metrics.md, metrics.html    per-theme precision, recall, F1, support, tagged, average
                            precision; micro and macro rows
top_ngrams.csv, .md         the n-grams with the largest positive and negative weight per theme
mistakes.csv                the paragraphs whose out-of-fold themes differ from gold, most
                            confident mistakes first
==========================  ==================================================================

With ``log_text=False`` no file carries paragraph text (ids only). The top n-grams stay: they are
features of the model, which holds its whole vocabulary anyway. The figures are drawn by
:mod:`classify.track.figures`, the metric tables by :mod:`classify.training.metric_tables`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from classify.model.pipeline import theme_weights
from classify.track.figures import plot_confusion, plot_precision_recall
from classify.training.metric_tables import markdown_table, metrics_html, metrics_markdown

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from classify.data.annotations import Annotations
    from classify.training.train import TrainingResult

PR_FIGURE = "precision_recall.png"
CONFUSION_FIGURE = "confusion.png"
METRICS_MARKDOWN = "metrics.md"
METRICS_HTML = "metrics.html"
NGRAMS_CSV = "top_ngrams.csv"
NGRAMS_MARKDOWN = "top_ngrams.md"
MISTAKES_CSV = "mistakes.csv"
REPORT_FILES = (
    PR_FIGURE,
    CONFUSION_FIGURE,
    METRICS_MARKDOWN,
    METRICS_HTML,
    NGRAMS_CSV,
    NGRAMS_MARKDOWN,
    MISTAKES_CSV,
)
_DPI = 110  # the figures' resolution: readable in the MLflow UI, small on disk


def write_reports(
    result: TrainingResult, folder: str | Path, *, log_text: bool | None = None, top_n: int = 20
) -> list[Path]:
    """Write every report of ``result`` into ``folder`` (created); return the files written.

    ``log_text`` defaults to the experiment's ``tracking.log_text``.

    Example:
        >>> [p.name for p in write_reports(result, tmp / "reports")][:3]
        ['precision_recall.png', 'confusion.png', 'metrics.md']
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if log_text is None:
        log_text = result.config.tracking.log_text
    title = f"{result.config.name}: {result.describe_evaluation()}"
    names = result.label_set.names
    gold = result.evaluated.y.astype(bool)

    plot_precision_recall(gold, result.cv.scores, names, result.thresholds, title).savefig(
        folder / PR_FIGURE, dpi=_DPI
    )
    plot_confusion(gold, result.cv.tags, names, title).savefig(folder / CONFUSION_FIGURE, dpi=_DPI)
    (folder / METRICS_MARKDOWN).write_text(metrics_markdown(result.cv.metrics, title), "utf-8")
    (folder / METRICS_HTML).write_text(metrics_html(result.cv.metrics, title), "utf-8")
    ngrams = top_ngrams(result.pipeline, names, top_n)
    ngrams.to_csv(folder / NGRAMS_CSV, index=False)
    (folder / NGRAMS_MARKDOWN).write_text(ngrams_markdown(ngrams, names, title), "utf-8")
    mistakes_table(result, log_text=log_text).to_csv(folder / MISTAKES_CSV, index=False)
    return [folder / name for name in REPORT_FILES]


def paragraph_table(annotations: Annotations, *, log_text: bool) -> pd.DataFrame:
    """One row per paragraph: id, document, source, lang, themes (``;``-joined), and the text
    only with ``log_text``. What the MLflow run records as a dataset.

    Example:
        >>> list(paragraph_table(result.training, log_text=False).columns)
        ['id', 'document', 'source', 'lang', 'themes']
    """
    import pandas as pd

    columns = {
        "id": annotations.ids,
        "document": [p.group for p in annotations.paragraphs],
        "source": [p.source for p in annotations.paragraphs],
        "lang": [p.lang for p in annotations.paragraphs],
        "themes": [";".join(p.themes) for p in annotations.paragraphs],
    }
    if log_text:
        columns["text"] = annotations.texts
    return pd.DataFrame(columns)


def mistakes_table(result: TrainingResult, *, log_text: bool) -> pd.DataFrame:
    """The evaluated paragraphs whose out-of-fold themes differ from gold, most confident first.

    ``missed`` are gold themes not tagged, ``spurious`` tagged themes not in gold;
    ``error_margin`` is how far the worst wrong score lies from its fold's threshold (a spurious
    0.95 against a 0.5 threshold: 0.45), the sort key.

    Example:
        >>> table = mistakes_table(result, log_text=False)
        >>> bool((table["gold"] != table["predicted"]).all()), "text" in table.columns
        (True, False)
    """
    table = result.out_of_fold_table()
    gold = result.evaluated.y.astype(bool)
    tags = result.cv.tags.astype(bool)
    wrong = gold != tags
    # the threshold that decided each tag is the one of the fold that held the paragraph out
    thresholds = result.cv.fold_thresholds[result.cv.fold]
    distance = np.where(wrong, np.abs(result.cv.scores - thresholds), -np.inf)
    names = np.array(result.label_set.names, dtype=object)
    table.insert(
        table.columns.get_loc("predicted") + 1,
        "missed",
        [";".join(names[row]) for row in gold & ~tags],
    )
    table.insert(
        table.columns.get_loc("missed") + 1,
        "spurious",
        [";".join(names[row]) for row in tags & ~gold],
    )
    table.insert(table.columns.get_loc("spurious") + 1, "error_margin", distance.max(axis=1))
    table = table[wrong.any(axis=1)].drop(columns=["correct"])
    table["error_margin"] = table["error_margin"].round(6)
    if not log_text:
        table = table.drop(columns=["text"], errors="ignore")  # streamed results have none
    return table.sort_values(["error_margin", "id"], ascending=[False, True], kind="stable")


def top_ngrams(pipeline: Pipeline, themes: Sequence[str], n: int = 20) -> pd.DataFrame:
    """The ``n`` n-grams with the largest positive and the largest negative weight per theme.

    Columns: theme, direction (``positive``/``negative``), rank (1 = strongest), family
    (``word``/``char``), ngram, weight. Weights are on the model's own scale; compare them within
    a theme, not across model types.

    Example:
        >>> table = top_ngrams(result.pipeline, result.label_set.names, 5)
        >>> drills = table[(table.theme == "drills") & (table.direction == "positive")]
        >>> len(drills), bool(drills.weight.is_monotonic_decreasing)
        (5, True)
    """
    import pandas as pd

    features, weights = theme_weights(pipeline)
    records = []
    for theme, weight in zip(themes, weights, strict=True):
        if weight is None:
            continue
        order = np.argsort(-weight, kind="stable")
        for direction, picked in (
            ("positive", [i for i in order[:n] if weight[i] > 0]),
            ("negative", [i for i in order[::-1][:n] if weight[i] < 0]),
        ):
            for rank, i in enumerate(picked, start=1):
                family, ngram = features[i]
                records.append((theme, direction, rank, family, ngram, round(float(weight[i]), 6)))
    columns = ["theme", "direction", "rank", "family", "ngram", "weight"]
    return pd.DataFrame.from_records(records, columns=columns)


def ngrams_markdown(table: pd.DataFrame, themes: Sequence[str], title: str) -> str:
    """:func:`top_ngrams` as Markdown: per theme, the positive and negative n-grams side by side.

    Char n-grams show their spaces as ``␣`` (``char_wb`` pads words with them) and, when the
    model has both families, are marked ``(char)``: ``to`` the word and ``to`` inside a word
    are different features.

    Example:
        >>> table = top_ngrams(result.pipeline, result.label_set.names, 3)
        >>> ngrams_markdown(table, result.label_set.names, "demo").count("## ")
        5
    """
    mixed = table.family.nunique() > 1
    parts = [f"# {title}: top n-grams per theme\n"]
    if mixed:
        parts.append("Word and char n-grams: char ones are marked (char); ␣ is a space.\n")
    for theme in themes:
        rows = table[table.theme == theme]
        parts.append(f"## {theme}\n")
        if rows.empty:
            parts.append("No weights: the theme had no positive paragraph to learn from.\n")
            continue
        sides = {d: rows[rows.direction == d] for d in ("positive", "negative")}
        depth = max(len(s) for s in sides.values())
        cells = []
        for k in range(depth):
            line = [str(k + 1)]
            for side in sides.values():
                if k < len(side):
                    record = side.iloc[k]
                    cell = _ngram_cell(record.family, record.ngram, mark=mixed)
                    line += [cell, f"{record.weight:+.3f}"]
                else:
                    line += ["", ""]
            cells.append(line)
        header = ("rank", "positive", "weight", "negative", "weight")
        parts.append(markdown_table(header, cells, numeric=False))
    return "\n".join(parts)


def _ngram_cell(family: str, ngram: str, *, mark: bool) -> str:
    shown = ngram.replace(" ", "␣") if family == "char" else ngram
    cell = "`" + shown.replace("`", "'").replace("|", "\\|") + "`"
    return f"{cell} (char)" if mark and family == "char" else cell
