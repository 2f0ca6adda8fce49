"""Honest evaluation: cross-validation grouped by source document, thresholds tuned inside folds.

* Folds are built on groups (source documents), so no document has paragraphs on both sides.
* When thresholds are tuned (``thresholds.strategy = "f1"``), each outer fold tunes them on
  out-of-fold scores of an *inner* grouped cross-validation of its own training side; the held-out
  document never influences its own thresholds.
* Every reported metric is computed on out-of-fold predictions only.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

from classify.config import CVConfig, ExperimentConfig
from classify.decision import apply_thresholds, best_f1_thresholds
from classify.errors import ClassifyError
from classify.pipeline import build_pipeline, theme_scores

if TYPE_CHECKING:
    from classify.annotations import Annotations
    from classify.predictor import Predictor

Progress = Callable[[int, int], None]
Folds = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class ThemeMetrics:
    theme: str
    precision: float
    recall: float
    f1: float
    support: int  # paragraphs that carry the theme
    predicted: int  # paragraphs the model tagged with it
    average_precision: float  # NaN when the theme has no positive paragraph


@dataclass(frozen=True)
class Metrics:
    """Per-theme and overall scores of a set of predictions.

    Example:
        >>> m = compute_metrics(np.array([[1, 0], [0, 1]]), np.array([[1, 0], [1, 1]]), ["a", "b"])
        >>> round(m.micro_f1, 3), m.themes[0].precision
        (0.8, 0.5)
    """

    themes: tuple[ThemeMetrics, ...]
    micro_precision: float
    micro_recall: float
    micro_f1: float
    macro_f1: float
    paragraphs: int

    def as_dict(self) -> dict[str, float]:
        """Flat ``name -> value`` (``micro_f1``, ``f1/recruitment``, ...) for tracking and JSON."""
        flat: dict[str, float] = {
            "micro_precision": self.micro_precision,
            "micro_recall": self.micro_recall,
            "micro_f1": self.micro_f1,
            "macro_f1": self.macro_f1,
            "paragraphs": float(self.paragraphs),
        }
        for t in self.themes:
            for name in ("precision", "recall", "f1", "support", "predicted", "average_precision"):
                value = float(getattr(t, name))
                if not np.isnan(value):
                    flat[f"{name}/{t.theme}"] = value
        return flat


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold scores and tags for every paragraph, and how they were obtained."""

    scores: np.ndarray  # (paragraphs, themes), each row scored by a model that never saw it
    tags: np.ndarray  # (paragraphs, themes) bool, with the thresholds of the row's fold
    fold: np.ndarray  # (paragraphs,) index of the fold that held the row out
    fold_thresholds: np.ndarray  # (folds, themes)
    metrics: Metrics


def grouped_folds(groups: np.ndarray, cv: CVConfig) -> Folds:
    """Train/test index pairs in which no group (document) is on both sides.

    Example:
        >>> folds = grouped_folds(np.array(["a", "a", "b", "c"]), CVConfig())
        >>> [test.tolist() for _, test in folds]
        [[0, 1], [2], [3]]
    """
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ClassifyError(
            f"cross-validation needs paragraphs from at least 2 documents, got {n_groups}",
            hint="label paragraphs of more documents",
        )
    if cv.strategy == "leave_one_document_out":
        splitter = LeaveOneGroupOut()
    else:
        splitter = GroupKFold(n_splits=min(cv.folds, n_groups), shuffle=True, random_state=cv.seed)
    placeholder = np.zeros(len(groups))
    folds = [(train, test) for train, test in splitter.split(placeholder, groups=groups)]
    for train, test in folds:  # the one property everything else rests on
        assert not set(groups[train]) & set(groups[test]), "a document is on both sides of a fold"
    return folds


def fit_and_score(
    config: ExperimentConfig,
    texts: Sequence[str],
    y: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
) -> np.ndarray:
    """Fit a fresh pipeline on ``train`` rows and score the ``test`` rows."""
    pipeline = fit_pipeline(config, [texts[i] for i in train], y[train])
    return theme_scores(pipeline, [texts[i] for i in test])


def fit_pipeline(config: ExperimentConfig, texts: Sequence[str], y: np.ndarray):
    """Build and fit the experiment's pipeline, quiet about themes absent from ``y``."""
    with warnings.catch_warnings():
        # A theme with no positive paragraph in this training set gets a constant predictor;
        # theme_scores scores it 0, which is the honest answer, so the warning is noise here.
        warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
        warnings.filterwarnings("ignore", message=".*failed to converge.*")
        return build_pipeline(config).fit(list(texts), y)


def out_of_fold_scores(
    config: ExperimentConfig, texts: Sequence[str], y: np.ndarray, folds: Folds
) -> np.ndarray:
    """Scores of every row from the model of the fold that held it out."""
    scores = np.zeros(y.shape, dtype=np.float64)
    for train, test in folds:
        scores[test] = fit_and_score(config, texts, y, train, test)
    return scores


def tune_thresholds(
    config: ExperimentConfig, texts: Sequence[str], y: np.ndarray, groups: np.ndarray
) -> np.ndarray:
    """Per-theme thresholds for a model trained on exactly these rows.

    ``fixed``: the configured value. ``f1``: the F1-best cut-off on out-of-fold scores of a grouped
    cross-validation of these rows (fixed value when there are too few documents to do that).
    """
    fixed = np.full(y.shape[1], config.thresholds.value)
    if config.thresholds.strategy == "fixed" or len(np.unique(groups)) < 2:
        return fixed
    scores = out_of_fold_scores(config, texts, y, grouped_folds(groups, config.cv))
    return best_f1_thresholds(scores, y, config.thresholds.value, config.thresholds.min_f1)


def cross_validate(
    config: ExperimentConfig,
    texts: Sequence[str],
    y: np.ndarray,
    groups: np.ndarray,
    themes: Sequence[str],
    *,
    progress: Progress | None = None,
) -> CrossValidation:
    """Grouped cross-validation of an experiment, with thresholds tuned inside each fold.

    Example:
        >>> body = annotations.where(kinds=["body"])
        >>> cv = cross_validate(config, body.texts, body.y, body.groups, body.label_set.names)
        >>> cv.scores.shape, sorted(set(cv.fold.tolist()))
        ((130, 5), [0, 1, 2, 3, 4])
    """
    folds = grouped_folds(groups, config.cv)
    scores = np.zeros(y.shape, dtype=np.float64)
    tags = np.zeros(y.shape, dtype=bool)
    fold_of = np.full(len(texts), -1)
    fold_thresholds = np.zeros((len(folds), y.shape[1]))
    for k, (train, test) in enumerate(folds):
        train_texts = [texts[i] for i in train]
        fold_thresholds[k] = tune_thresholds(config, train_texts, y[train], groups[train])
        scores[test] = fit_and_score(config, texts, y, train, test)
        tags[test] = apply_thresholds(scores[test], fold_thresholds[k])
        fold_of[test] = k
        if progress is not None:
            progress(k + 1, len(folds))
    metrics = compute_metrics(y, tags, themes, scores)
    return CrossValidation(scores, tags, fold_of, fold_thresholds, metrics)


def compute_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    themes: Sequence[str],
    scores: np.ndarray | None = None,
) -> Metrics:
    """Precision, recall, F1, support and tag counts per theme, plus micro and macro F1.

    Macro F1 averages over themes that occur in ``y_true`` or were predicted (a theme absent
    from both has no defined F1 and would only inflate or deflate the mean).
    """
    y_true = np.asarray(y_true).astype(bool)
    y_pred = np.asarray(y_pred).astype(bool)
    p, r, f, support = precision_recall_fscore_support(
        y_true, y_pred, average=None, zero_division=0.0
    )
    micro = precision_recall_fscore_support(y_true, y_pred, average="micro", zero_division=0.0)
    per_theme = []
    for j, theme in enumerate(themes):
        ap = float("nan")
        if scores is not None and y_true[:, j].any():
            ap = float(average_precision_score(y_true[:, j], scores[:, j]))
        per_theme.append(
            ThemeMetrics(
                theme=theme,
                precision=float(p[j]),
                recall=float(r[j]),
                f1=float(f[j]),
                support=int(support[j]),
                predicted=int(y_pred[:, j].sum()),
                average_precision=ap,
            )
        )
    defined = [t.f1 for t in per_theme if t.support or t.predicted]
    return Metrics(
        themes=tuple(per_theme),
        micro_precision=float(micro[0]),
        micro_recall=float(micro[1]),
        micro_f1=float(micro[2]),
        macro_f1=float(np.mean(defined)) if defined else 0.0,
        paragraphs=len(y_true),
    )


@dataclass(frozen=True)
class ModelEvaluation:
    metrics: Metrics
    seen: int  # paragraphs the model was trained on: their scores are not an estimate


def evaluate_predictor(predictor: Predictor, annotations: Annotations) -> ModelEvaluation:
    """Metrics of a saved model on labeled paragraphs, counting those it was trained on.

    Example:
        >>> predictor = Predictor.load("models/default")  # doctest: +SKIP
        >>> evaluation = evaluate_predictor(predictor, annotations)
        >>> evaluation.seen  # the model was trained on these very paragraphs
        130
    """
    from classify.bundle import fingerprint

    if annotations.label_set.names != predictor.themes:
        raise ClassifyError(
            f"the model tags {', '.join(predictor.themes)}; the annotations use "
            f"{', '.join(annotations.label_set.names)}",
            hint="evaluate with annotations of the model's label set",
        )
    scores = predictor.scores(annotations.texts)
    tags = predictor.tag(scores)
    seen_before = predictor.seen_fingerprints()
    seen = sum(fingerprint(text) in seen_before for text in annotations.texts)
    metrics = compute_metrics(annotations.y, tags, predictor.themes, scores)
    return ModelEvaluation(metrics, seen)
