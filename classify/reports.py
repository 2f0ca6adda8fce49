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
features of the model, which holds its whole vocabulary anyway. No MLflow here, and matplotlib
is imported only while drawing, so ``import classify`` stays light.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure
    from sklearn.pipeline import Pipeline

    from classify.annotations import Annotations
    from classify.evaluation import Metrics
    from classify.training import TrainingResult

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
METRIC_COLUMNS = ("theme", "precision", "recall", "F1", "support", "tagged", "avg precision")
_DPI = 110


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
        table = table.drop(columns=["text"])
    return table.sort_values(["error_margin", "id"], ascending=[False, True], kind="stable")


def metric_rows(metrics: Metrics) -> list[list[str]]:
    """The per-theme metrics as text cells (:data:`METRIC_COLUMNS`), then micro and macro rows.

    Macro precision, recall and average precision are means over the themes macro F1 averages
    (those with support or tags); the macro F1 is the run's ``macro_f1`` itself.

    Example:
        >>> from classify.evaluation import compute_metrics
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
        >>> from classify.evaluation import compute_metrics
        >>> text = metrics_markdown(compute_metrics(np.eye(2), np.eye(2), ["a", "b"]), "demo")
        >>> print(text.splitlines()[4])
        | a | 1.000 | 1.000 | 1.000 | 1 | 1 | - |
    """
    return f"# {title}\n\n" + _markdown_table(METRIC_COLUMNS, metric_rows(metrics), numeric=True)


def metrics_html(metrics: Metrics, title: str) -> str:
    """The metrics table as a small standalone HTML page (micro and macro rows in bold).

    Example:
        >>> from classify.evaluation import compute_metrics
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


def theme_weights(pipeline: Pipeline) -> tuple[list[tuple[str, str]], list[np.ndarray | None]]:
    """The features of a fitted pipeline as ``(family, n-gram)`` and each theme's weights.

    Works for every pipeline :func:`classify.pipeline.build_pipeline` builds: one TF-IDF or a
    union of word and char ones; logistic regression, linear SVM (also inside a calibrator, whose
    folds' weights are averaged), ridge or SGD per theme. A theme the model could not learn
    (no positive paragraph) has ``None``.

    Example:
        >>> features, weights = theme_weights(result.pipeline)
        >>> features[0][0], len(weights), weights[0].shape == (len(features),)
        ('word', 5, True)
    """
    from sklearn.pipeline import FeatureUnion

    union = pipeline[:-1][-1]
    if isinstance(union, FeatureUnion):
        # "word__police" -> ("word", "police"): the union prefixes each name with its family
        features = [tuple(name.split("__", 1)) for name in union.get_feature_names_out().tolist()]
    else:
        family = "word" if union.analyzer == "word" else "char"
        features = [(family, name) for name in union.get_feature_names_out().tolist()]
    weights = [_weights(estimator) for estimator in pipeline[-1].estimators_]
    return features, weights


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
        parts.append(_markdown_table(header, cells, numeric=False))
    return "\n".join(parts)


def plot_precision_recall(
    gold: np.ndarray,
    scores: np.ndarray,
    themes: Sequence[str],
    thresholds: dict[str, float],
    title: str,
) -> Figure:
    """Small multiples: per theme, the precision-recall curve of out-of-fold scores with its
    average precision, the share of positives (chance) dashed, and a dot where the chosen
    threshold operates on those scores.

    Example:
        >>> gold, scores = np.array([[1], [0], [1]]), np.array([[0.9], [0.4], [0.3]])
        >>> plot_precision_recall(gold, scores, ["drills"], {"drills": 0.5}, "demo").savefig(
        ...     tmp / "pr.png")
    """
    from sklearn.metrics import average_precision_score, precision_recall_curve

    figure, axes = _grid(len(themes), f"{title}\ndashed: chance; dot: the chosen threshold")
    for j, (theme, ax) in enumerate(zip(themes, axes, strict=False)):
        truth, score = gold[:, j].astype(bool), scores[:, j]
        ax.set(xlim=(-0.02, 1.02), ylim=(0, 1.05), xlabel="recall", ylabel="precision")
        ax.grid(alpha=0.3)
        if not truth.any():
            ax.set_title(f"{theme}\nno positive paragraph", fontsize=10)
            continue
        precision, recall, _ = precision_recall_curve(truth, score)
        ap = average_precision_score(truth, score)
        ax.plot(recall, precision, drawstyle="steps-post", color="tab:blue", linewidth=1.5)
        ax.axhline(truth.mean(), color="grey", linestyle="--", linewidth=1)
        cut = thresholds[theme]
        tagged = score >= cut
        hits = (truth & tagged).sum()
        if tagged.any():
            p, r = hits / tagged.sum(), hits / truth.sum()
            ax.plot([r], [p], "o", color="tab:red", markersize=8, zorder=3)
            point = f"threshold {cut:.2f}: P {p:.2f}, R {r:.2f}"
        else:
            point = f"threshold {cut:.2f}: nothing tagged"
        ax.set_title(f"{theme}   AP {ap:.2f}   ({truth.sum()} positive)\n{point}", fontsize=10)
    return figure


def plot_confusion(gold: np.ndarray, tags: np.ndarray, themes: Sequence[str], title: str) -> Figure:
    """Small multiples: per theme, a 2x2 grid of counts (gold yes/no by tagged yes/no). Right
    answers are green, mistakes red, each shaded by its share of the gold row, so a rare theme's
    misses show as plainly as a common one's.

    Example:
        >>> gold, tags = np.array([[1], [0], [1]]), np.array([[1], [1], [0]])
        >>> plot_confusion(gold, tags, ["drills"], "demo").savefig(tmp / "confusion.png")
    """
    figure, axes = _grid(len(themes), title, panel=(3.0, 2.6))
    green, red = np.array([0.10, 0.55, 0.25]), np.array([0.80, 0.15, 0.15])
    for j, (theme, ax) in enumerate(zip(themes, axes, strict=False)):
        truth, tagged = gold[:, j].astype(bool), tags[:, j].astype(bool)
        counts = np.array(
            [
                [(truth & tagged).sum(), (truth & ~tagged).sum()],
                [(~truth & tagged).sum(), (~truth & ~tagged).sum()],
            ]
        )
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        colour = np.array([[green, red], [red, green]])
        # white blended towards the cell's colour by its share of the row
        image = 1 - share[..., None] * (1 - colour) * 0.85
        ax.imshow(image)
        for (row, column), count in np.ndenumerate(counts):
            name = (("TP", "FN"), ("FP", "TN"))[row][column]
            ink = "white" if share[row, column] > 0.85 else "black"
            label = f"{name}\n{count} ({share[row, column]:.0%})"
            ax.text(column, row, label, ha="center", va="center", color=ink, fontsize=10)
        ax.set_xticks([0, 1], ["tagged", "not tagged"])
        ax.set_yticks([0, 1], ["gold", "not gold"])
        ax.set_title(f"{theme}   F1 {_f1(counts):.2f}", fontsize=10)
    return figure


def _f1(counts: np.ndarray) -> float:
    tp, fn, fp = counts[0, 0], counts[0, 1], counts[1, 0]
    return float(2 * tp / (2 * tp + fn + fp)) if tp + fn + fp else 0.0


def _grid(count: int, title: str, panel: tuple[float, float] = (3.6, 3.2)):
    """A figure of ``count`` panels, about square; panels left over are hidden."""
    from matplotlib.figure import Figure

    columns = math.ceil(math.sqrt(count))
    rows = math.ceil(count / columns)
    # Figure() without pyplot draws with Agg and leaves no global state behind
    figure = Figure(figsize=(panel[0] * columns, panel[1] * rows + 0.6), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax in axes[count:]:
        ax.set_visible(False)
    figure.suptitle(title, fontsize=11)
    return figure, axes[:count]


def _weights(estimator) -> np.ndarray | None:
    import scipy.sparse

    if hasattr(estimator, "coef_"):
        coef = estimator.coef_
        coef = coef.toarray() if scipy.sparse.issparse(coef) else np.asarray(coef)
        return coef.ravel().astype(np.float64)
    if hasattr(estimator, "calibrated_classifiers_"):
        # a calibrator keeps one fitted model per calibration fold: their mean weight
        folds = [_weights(c.estimator) for c in estimator.calibrated_classifiers_]
        folds = [w for w in folds if w is not None]
        return np.mean(folds, axis=0) if folds else None
    return None  # scikit-learn's constant predictor for a theme without positives


def _ngram_cell(family: str, ngram: str, *, mark: bool) -> str:
    shown = ngram.replace(" ", "␣") if family == "char" else ngram
    cell = "`" + shown.replace("`", "'").replace("|", "\\|") + "`"
    return f"{cell} (char)" if mark and family == "char" else cell


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], *, numeric: bool) -> str:
    align = ["---"] + ["---:" if numeric else "---"] * (len(header) - 1)
    lines = [header, align, *rows]
    return "".join("| " + " | ".join(cells) + " |\n" for cells in lines)


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


def _number(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.3f}"
