"""Which unlabeled paragraphs to label next: those whose labels would teach the model most.

A paragraph teaches most where the model is least sure: its score sits close to a theme's
cut-off, or the cross-validation fold models (the experiment's pipeline fitted on each grouped
fold of the training rows, a committee that saw different documents) disagree about it. Each
paragraph gets a value in [0, 1] per theme, the mean of the two, and is picked for the theme
where it is highest. The picks are spread across themes (in turns) and documents (a cap per
document), and skip near duplicates of labeled paragraphs and of each other, so fifty picks are
fifty different lessons. Each comes with the model's guess, to be corrected rather than typed.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed

from classify.data.annotations import Annotations
from classify.data.inputs import InputParagraph
from classify.data.near_duplicates import DEFAULT_THRESHOLD, ShingleIndex
from classify.model.config import ExperimentConfig
from classify.model.engine import ScoringEngine
from classify.model.engine_export import export_pipeline
from classify.training.cross_validation import inner_folds
from classify.training.fits import fit_pipeline
from classify.training.train import data_split

MIN_WORDS = 5  # shorter paragraphs (datelines, fragments) teach little
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Suggestion:
    """A paragraph to label, the model's guess at its themes, and why it was picked."""

    paragraph: InputParagraph
    guess: tuple[str, ...]
    theme: str  # the theme its label would teach most about
    value: float  # in [0, 1]: closeness to the cut-off and fold disagreement, averaged
    why: str


def committee(
    config: ExperimentConfig, data: Annotations, *, n_jobs: int = 1
) -> list[ScoringEngine]:
    """The experiment's pipeline fitted on each grouped fold of its training rows (at most
    ``cv.folds`` folds, no document on two sides), as scoring engines.

    Example:
        >>> models = committee(config, annotations)
        >>> len(models), models[0].n_themes
        (5, 5)
    """
    train_rows, _ = data_split(config, data)
    training = data.take(np.flatnonzero(train_rows))
    texts, y = training.texts, training.y
    folds = inner_folds(training.groups, config.cv)
    tasks = (
        delayed(fit_pipeline)(config, [texts[i] for i in train], y[train]) for train, _ in folds
    )
    return [ScoringEngine(*export_pipeline(p)) for p in Parallel(n_jobs=n_jobs)(tasks)]


def suggest_paragraphs(
    paragraphs: Sequence[InputParagraph],
    scores: np.ndarray,
    fold_scores: np.ndarray | None,
    thresholds: np.ndarray,
    themes: Sequence[str],
    *,
    n: int,
    labeled: Sequence[str] = (),
    similar: float = DEFAULT_THRESHOLD,
) -> list[Suggestion]:
    """The ``n`` paragraphs (at most) whose labels would teach most, best first.

    ``scores``: the model's, ``(paragraphs, themes)``; ``fold_scores``: the committee's,
    ``(folds, paragraphs, themes)`` (``None``: closeness to the cut-off alone); ``labeled``:
    texts already labeled, whose near duplicates (``similar``) are never suggested.

    Example:
        >>> pool = [InputParagraph("pool", f"p:{i}", t) for i, t in enumerate(
        ...     ["Police held a counter-terrorism drill at the airport today.",
        ...      "The weather in Almaty was warm and sunny this weekend."])]
        >>> picks = suggest_paragraphs(pool, np.array([[0.48, 0.1], [0.02, 0.01]]), None,
        ...                            np.array([0.5, 0.5]), ["drills", "returnees"], n=1)
        >>> [(s.paragraph.id, s.theme, s.guess) for s in picks]
        [('p:0', 'drills', ())]
    """
    if n < 1:
        raise ValueError("n must be at least 1")
    value = _closeness(scores, thresholds)
    if fold_scores is not None and len(fold_scores):
        value = (value + _disagreement(fold_scores, thresholds)) / 2.0
    eligible = [i for i, p in enumerate(paragraphs) if _teaches(p)]
    best_theme = value.argmax(axis=1)
    queues: dict[int, list[int]] = {j: [] for j in range(len(themes))}
    for i in sorted(eligible, key=lambda i: (-value[i, best_theme[i]], i)):
        queues[int(best_theme[i])].append(i)
    documents = {paragraphs[i].document or paragraphs[i].source for i in eligible}
    cap = max(1, math.ceil(n / max(len(documents), 1)))  # per document, raised when stuck
    seen = ShingleIndex(similar)
    for text in labeled:
        seen.add(text)
    picked: list[int] = []
    per_document: Counter[str] = Counter()
    while len(picked) < n and any(queues.values()):
        took = False
        # in turns over the themes, the theme with the most valuable candidate first
        for j in sorted(queues, key=lambda j: -value[queues[j][0], j] if queues[j] else 0.0):
            queue, k = queues[j], 0
            while k < len(queue):
                i = queue[k]
                document = paragraphs[i].document or paragraphs[i].source
                if per_document[document] >= cap:
                    k += 1  # kept for when the cap is raised
                    continue
                del queue[k]
                if seen.similar(paragraphs[i].text):
                    continue  # a near duplicate of something labeled or picked: gone for good
                seen.add(paragraphs[i].text)
                picked.append(i)
                per_document[document] += 1
                took = True
                break
            if len(picked) == n:
                break
        if not took:
            cap += 1
    return [
        _suggestion(paragraphs[i], scores[i], fold_scores, i, value[i], thresholds, themes)
        for i in picked
    ]


def _teaches(paragraph: InputParagraph) -> bool:
    """A body paragraph of at least :data:`MIN_WORDS` words (headings carry no label)."""
    return paragraph.kind == "body" and len(_WORD.findall(paragraph.text)) >= MIN_WORDS


def _closeness(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """1 at a theme's cut-off, falling to 0 at the far end of the score range."""
    room = np.maximum(thresholds, 1.0 - thresholds)
    return np.clip(1.0 - np.abs(scores - thresholds) / room, 0.0, 1.0)


def _disagreement(fold_scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """1 when the fold models split evenly on a theme, 0 when they all agree."""
    share = (fold_scores >= thresholds).mean(axis=0)
    return 1.0 - np.abs(2.0 * share - 1.0)


def _suggestion(paragraph, scores, fold_scores, i, value, thresholds, themes) -> Suggestion:
    j = int(value.argmax())
    guess = tuple(t for t, s, cut in zip(themes, scores, thresholds, strict=True) if s >= cut)
    why = f"{themes[j]}: score {scores[j]:.2f} against its cut-off {thresholds[j]:.2f}"
    if fold_scores is not None and len(fold_scores):
        above = int((fold_scores[:, i, j] >= thresholds[j]).sum())
        why += f"; {above} of {len(fold_scores)} fold models put it above"
    return Suggestion(paragraph, guess, themes[j], round(float(value[j]), 4), why)
