"""The per-theme decision policy: which scores become tags.

Scores are in [0, 1]; a paragraph carries a theme when its score reaches that theme's threshold.
Thresholds are either fixed or chosen to maximise F1 on out-of-fold scores of *training* data
(the caller decides which data; see :mod:`classify.evaluation`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np


def apply_thresholds(
    scores: np.ndarray, thresholds: np.ndarray, *, top_k: int | None = None
) -> np.ndarray:
    """Boolean tag matrix: ``scores >= thresholds``, keeping at most ``top_k`` themes per row.

    Example:
        >>> apply_thresholds(np.array([[0.9, 0.6, 0.1]]), np.array([0.5, 0.5, 0.5]), top_k=1)
        array([[ True, False, False]])
    """
    tags = scores >= thresholds
    if top_k is not None and top_k < scores.shape[1]:
        # rank themes by score; only the best top_k can stay tagged
        order = np.argsort(-scores, axis=1, kind="stable")
        keep = np.zeros_like(tags)
        np.put_along_axis(keep, order[:, : max(top_k, 0)], True, axis=1)
        tags &= keep
    return tags


def best_f1_threshold(
    scores: np.ndarray, truth: np.ndarray, default: float, min_f1: float = 0.0
) -> float:
    """The cut-off that maximises F1 for one theme, halfway between neighbouring scores.

    Falls back to ``default`` when the theme has no positive example, or when even the best
    cut-off reaches an F1 below ``min_f1`` (Yang's "SCut.FBR": a rare theme whose few positives
    score low would otherwise get a cut-off near 0 and be tagged on everything).
    Among equally good cut-offs the middle one is taken, which is less brittle than an extreme.

    Example:
        >>> best_f1_threshold(np.array([0.9, 0.4, 0.35, 0.1]), np.array([1, 1, 0, 0]), 0.5)
        0.375
        >>> best_f1_threshold(np.array([0.9, 0.8, 0.7, 0.1]), np.array([0, 0, 0, 1]), 0.5, 0.2)
        0.5
    """
    positives = int(truth.sum())
    if positives == 0 or positives == len(truth):
        return default
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_truth = scores[order], truth[order]
    # a cut after position i tags the i+1 highest scores; only cut between distinct scores
    distinct = np.flatnonzero(np.diff(sorted_scores) < 0)
    if distinct.size == 0:
        return default
    true_pos = np.cumsum(sorted_truth)[distinct]
    tagged = distinct + 1
    f1 = 2 * true_pos / (tagged + positives)
    if f1.max() == 0 or f1.max() < min_f1:  # nothing learnt worth a tuned cut-off
        return default
    best = np.flatnonzero(f1 == f1.max())
    cut = distinct[best[len(best) // 2]]
    return float((sorted_scores[cut] + sorted_scores[cut + 1]) / 2)


def best_f1_thresholds(
    scores: np.ndarray, y: np.ndarray, default: float, min_f1: float = 0.0
) -> np.ndarray:
    """:func:`best_f1_threshold` for every theme (column)."""
    columns = range(y.shape[1])
    return np.array([best_f1_threshold(scores[:, j], y[:, j], default, min_f1) for j in columns])


def resolve_thresholds(
    themes: Sequence[str],
    base: Mapping[str, float],
    override: float | Mapping[str, float] | None = None,
) -> np.ndarray:
    """Thresholds in theme order: ``base``, replaced by a global or per-theme ``override``.

    Example:
        >>> resolve_thresholds(["a", "b"], {"a": 0.5, "b": 0.4}, {"b": 0.9})
        array([0.5, 0.9])
    """
    if override is None:
        merged = dict(base)
    elif isinstance(override, Mapping):
        merged = {**base, **override}
    else:
        merged = dict.fromkeys(themes, float(override))
    return np.array([float(merged[theme]) for theme in themes])
