"""Metrics of tags against gold labels: per theme, micro and macro, overall and by slice.

Everything here takes arrays and returns values; which rows the arrays hold (out-of-fold
predictions, or a saved model's predictions on labeled paragraphs) is the caller's business.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
from sklearn.metrics import average_precision_score, precision_recall_fscore_support

from classify.errors import ClassifyError
from classify.text import fingerprint

if TYPE_CHECKING:
    from classify.data.annotations import Annotations


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


def sliced_metrics(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    scores: np.ndarray,
    themes: Sequence[str],
    slices: dict[str, np.ndarray],
) -> dict[str, dict[str, Metrics]]:
    """Metrics per value of each slice: ``{"lang": {"en": Metrics, "ru": Metrics}, ...}``."""
    return {
        name: {
            str(value): compute_metrics(
                y_true[values == value], y_pred[values == value], themes, scores[values == value]
            )
            for value in sorted(set(values))
        }
        for name, values in slices.items()
    }


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


class ScoringModel(Protocol):
    """What :func:`evaluate_predictor` needs of a model: a
    :class:`~classify.predict.predictor.Predictor` is one."""

    @property
    def themes(self) -> tuple[str, ...]: ...

    def scores(self, texts: Sequence[str]) -> np.ndarray: ...

    def tag(self, scores: np.ndarray) -> np.ndarray: ...

    def seen_fingerprints(self) -> set[str]: ...


@dataclass(frozen=True)
class ModelEvaluation:
    metrics: Metrics
    seen: int  # paragraphs the model was trained on: their scores are not an estimate
    breakdown: dict[str, dict[str, Metrics]]  # by "lang" and "source", as in cross-validation


def evaluate_predictor(predictor: ScoringModel, annotations: Annotations) -> ModelEvaluation:
    """Metrics of a saved model on labeled paragraphs, counting those it was trained on.

    Example:
        >>> predictor = Predictor.load("models/default")  # doctest: +SKIP
        >>> evaluation = evaluate_predictor(predictor, annotations.where(sources=["seeds"]))
        >>> evaluation.seen  # the default model is trained on the authored set only
        0
    """
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
    y = annotations.y
    slices = {"lang": annotations.languages, "source": annotations.source_names}
    breakdown = sliced_metrics(y, tags, scores, predictor.themes, slices)
    metrics = compute_metrics(y, tags, predictor.themes, scores)
    return ModelEvaluation(metrics, seen, breakdown)
