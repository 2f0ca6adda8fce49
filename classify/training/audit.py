"""Likely label mistakes in labeled data, ranked, with the evidence, for a person to correct.

Two kinds of finding:

* ``label``: a paragraph whose out-of-fold score (from the experiment's pipeline fitted on the
  other documents of a grouped k-fold cross-validation, so its own document never trained the
  model that judges it) confidently disagrees with its gold label: labeled with a theme the
  model scores far below the cut-off, or not labeled with one it scores far above. Confidence is
  how far past the cut-off, as a share of the room on that side (1: a score of 0 or 1).
* ``near duplicate``: two paragraphs with nearly the same text and different themes.

Neither proves a mistake (a model can be wrong, and two near duplicates can differ in the one
word that matters); both are where a second look pays most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classify.data.annotations import Annotations, LabeledParagraph
from classify.data.near_duplicates import DEFAULT_THRESHOLD, near_duplicate_pairs
from classify.model.config import ExperimentConfig
from classify.training.cross_validation import inner_folds, out_of_fold_scores

DEFAULT_CONFIDENCE = 0.5


@dataclass(frozen=True)
class Finding:
    """One paragraph to look at again: the kind of finding, how sure, and the evidence."""

    paragraph: LabeledParagraph
    issue: str  # "label" or "near duplicate"
    confidence: float  # in [0, 1]; for a near duplicate, the similarity
    suggested: tuple[str, ...]  # the themes the out-of-fold model assigns
    why: str


def audit_scores(config: ExperimentConfig, data: Annotations, *, n_jobs: int = 1) -> np.ndarray:
    """Out-of-fold scores of every labeled paragraph: grouped k-fold over all of them (at most
    ``cv.folds`` folds), whatever the experiment's mix.

    Example:
        >>> audit_scores(config, annotations).shape == annotations.y.shape
        True
    """
    folds = inner_folds(data.groups, config.cv)
    return out_of_fold_scores(config, data.texts, data.y, folds, n_jobs=n_jobs)


def audit_findings(
    data: Annotations,
    scores: np.ndarray,
    thresholds: np.ndarray,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    similar: float = DEFAULT_THRESHOLD,
) -> list[Finding]:
    """Label findings at least ``confidence`` sure, most sure first, then near-duplicate pairs
    at least ``similar`` alike that carry different themes, most alike first.

    Example:
        >>> from classify.data.labels import LabelSet, Theme
        >>> labels = LabelSet("themes", "1", (Theme("drills"),))
        >>> rows = (LabeledParagraph("a", "Police held a counter-terrorism drill.", ("drills",)),
        ...         LabeledParagraph("b", "Police held a counter-terrorism drill!", ()))
        >>> found = audit_findings(Annotations(labels, rows), np.array([[0.05], [0.9]]),
        ...                        np.array([0.5]))
        >>> [(f.paragraph.id, f.issue, round(f.confidence, 2)) for f in found[:2]]
        [('a', 'label', 0.9), ('b', 'label', 0.8)]
        >>> [(f.paragraph.id, f.issue, f.confidence) for f in found[2:]]
        [('a', 'near duplicate', 1.0), ('b', 'near duplicate', 1.0)]
    """
    themes = data.label_set.names
    gold = data.y.astype(bool)
    predicted = scores >= thresholds
    room_below = np.where(thresholds > 0, thresholds, 1.0)
    room_above = np.where(thresholds < 1, 1.0 - thresholds, 1.0)
    # how far past the cut-off, on the wrong side: missed positives and unlabeled high scores
    missed = np.where(gold & ~predicted, (thresholds - scores) / room_below, 0.0)
    extra = np.where(~gold & predicted, (scores - thresholds) / room_above, 0.0)
    findings = []
    for i, paragraph in enumerate(data.paragraphs):
        worst = np.maximum(missed[i], extra[i])
        if worst.max() < confidence:
            continue
        reasons = [
            _reason(themes[j], scores[i, j], thresholds[j], bool(gold[i, j]))
            for j in np.argsort(-worst)
            if worst[j] >= confidence
        ]
        suggested = tuple(t for t, on in zip(themes, predicted[i], strict=True) if on)
        findings.append(
            Finding(paragraph, "label", float(worst.max()), suggested, "; ".join(reasons))
        )
    findings.sort(key=lambda f: -f.confidence)
    return findings + _duplicate_findings(data, predicted, similar)


def _reason(theme: str, score: float, cut: float, labeled: bool) -> str:
    if labeled:
        return f"labeled {theme}, but out-of-fold score {score:.2f} (cut-off {cut:.2f})"
    return f"not labeled {theme}, but out-of-fold score {score:.2f} (cut-off {cut:.2f})"


def _duplicate_findings(data: Annotations, predicted: np.ndarray, similar: float) -> list[Finding]:
    themes = data.label_set.names
    paragraphs: Sequence[LabeledParagraph] = data.paragraphs
    findings = []
    for i, j, similarity in near_duplicate_pairs(data.texts, similar):
        a, b = paragraphs[i], paragraphs[j]
        if set(a.themes) == set(b.themes):
            continue
        for this, other, k in ((a, b, i), (b, a, j)):
            why = (
                f"near duplicate of {other.id} (similarity {similarity:.2f}): labeled "
                f"{_themes(this.themes)} here, {_themes(other.themes)} there"
            )
            suggested = tuple(t for t, on in zip(themes, predicted[k], strict=True) if on)
            findings.append(Finding(this, "near duplicate", similarity, suggested, why))
    return findings


def _themes(themes: Sequence[str]) -> str:
    return " + ".join(themes) if themes else "no theme"
