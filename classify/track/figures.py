"""The figures of a training's report: precision-recall curves and confusion grids per theme.

Drawn with matplotlib's object API (no pyplot, no global state), imported only while drawing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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
