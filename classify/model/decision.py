"""The per-theme decision policy: which scores become tags, and which come out for review.

Scores are in [0, 1]; a paragraph carries a theme when its score reaches that theme's threshold.
Thresholds are fixed, or chosen on out-of-fold scores of *training* data (the caller decides
which data; see :mod:`classify.training.cross_validation`) to maximise F1 or to reach a precision
target.
A theme may also have a review band: a paragraph scoring within ``band`` below the threshold is
not tagged but marked for a person to review.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from classify.model.config import ThresholdConfig


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


def precision_threshold(
    scores: np.ndarray, truth: np.ndarray, target: float, default: float
) -> float:
    """The lowest cut-off whose precision reaches ``target``: the most recall that precision
    allows. Falls back to ``default`` when no cut-off reaches the target (or no positives).

    Example:
        >>> scores = np.array([0.9, 0.8, 0.6, 0.4, 0.2])
        >>> round(precision_threshold(scores, np.array([1, 1, 0, 1, 0]), 0.75, 0.5), 2)  # 3 of 4
        0.3
        >>> precision_threshold(scores, np.array([0, 0, 0, 1, 0]), 0.9, 0.5)  # never reached
        0.5
    """
    if truth.sum() == 0:
        return default
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_truth = scores[order], truth[order]
    # candidate cuts sit after the last of a run of equal scores
    ends = np.append(np.flatnonzero(np.diff(sorted_scores) < 0), len(scores) - 1)
    precision = np.cumsum(sorted_truth)[ends] / (ends + 1)
    reached = np.flatnonzero(precision >= target)
    if reached.size == 0:
        return default
    cut = ends[reached[-1]]
    if cut == len(scores) - 1:  # everything tagged: cut just below the lowest score
        return float(max(sorted_scores[cut] / 2, 0.0))
    return float((sorted_scores[cut] + sorted_scores[cut + 1]) / 2)


def choose_thresholds(
    scores: np.ndarray, y: np.ndarray, themes: Sequence[str], policy: ThresholdConfig
) -> np.ndarray:
    """Per-theme cut-offs by the experiment's policy, from out-of-fold scores of training rows.

    ``fixed``: ``policy.value``. ``f1``: :func:`best_f1_threshold`. ``precision``:
    :func:`precision_threshold` with the theme's target. Where tuning finds nothing, ``value``.

    Example:
        >>> from classify.model.config import ThresholdConfig
        >>> policy = ThresholdConfig(strategy="precision", precision_by_theme={"a": 1.0})
        >>> y = np.array([[1, 1], [1, 0], [0, 1], [0, 0]])
        >>> s = np.array([[0.9, 0.9], [0.7, 0.8], [0.6, 0.7], [0.1, 0.2]])
        >>> choose_thresholds(s, y, ["a", "b"], policy).round(2).tolist()
        [0.65, 0.85]
    """
    if policy.strategy == "fixed":
        return np.full(len(themes), policy.value)
    if policy.strategy == "f1":
        return best_f1_thresholds(scores, y, policy.value, policy.min_f1)
    return np.array(
        [
            precision_threshold(scores[:, j], y[:, j], policy.precision_target(t), policy.value)
            for j, t in enumerate(themes)
        ]
    )


def review_bands(themes: Sequence[str], policy: ThresholdConfig) -> dict[str, float]:
    """The review band of every theme (0: none)."""
    return {theme: policy.review_band(theme) for theme in themes}


def review_matrix(
    scores: np.ndarray, thresholds: np.ndarray, bands: np.ndarray, tags: np.ndarray
) -> np.ndarray:
    """Boolean review marks: untagged scores within ``bands`` below their theme's threshold.

    Example:
        >>> review_matrix(np.array([[0.45, 0.2]]), np.array([0.5, 0.5]), np.array([0.1, 0.1]),
        ...               np.array([[False, False]]))
        array([[ True, False]])
    """
    return (scores >= thresholds - bands) & (scores < thresholds) & (bands > 0) & ~tags


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
