"""Several models, each of its own label set, used together: one pass tags with all of them.

:class:`Predictors` scores a batch with each model and puts the results side by side: its
``themes`` are every label set's labels in order (a label two label sets share is qualified by
the label set's column, ``narratives:threat``), and :attr:`Predictors.groups` says which columns
belong to which label set. It has :class:`~classify.predict.predictor.Predictor`'s scoring
methods, so ``classify predict --model A --model B`` streams, renders and reports through the
same code as one model; machine formats then put each label set's labels and scores under its
own name (see :mod:`classify.predict.outputs`).

Example (``classify train experiments/default.toml experiments/narratives.toml`` first)::

    both = Predictors.load_many(["models/default", "models/narratives"])
    result = both.predict(["Thanks to the vigilance of the police, the plot failed."])[0]
    result["themes"].themes, result["narratives"].themes  # each label set's Prediction
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from classify.errors import ClassifyError
from classify.predict.explain import Explanation
from classify.predict.predictor import Prediction, Predictor, Threshold, check_texts


@dataclass(frozen=True)
class LabelSetColumns:
    """Where one label set's labels sit among the combined columns."""

    column: str  # the label set's name in outputs: its annotation column (themes, narratives)
    names: tuple[str, ...]  # its own label names
    columns: slice  # its columns in the combined score matrix


class Predictors:
    """Models of different label sets, scoring and tagging together (one model works too).

    Example:
        >>> together = Predictors([predictor])
        >>> [(group.column, group.columns) for group in together.groups]
        [('themes', slice(0, 5, None))]
    """

    def __init__(self, predictors: Sequence[Predictor]) -> None:
        self.predictors = list(predictors)
        if not self.predictors:
            raise ClassifyError("no model to predict with")
        columns = [p.label_set.column for p in self.predictors]
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ClassifyError(
                f"two models tag the same label set column: {', '.join(repeated)}",
                hint="give one model per label set (themes, narratives, ...)",
            )
        every = [name for p in self.predictors for name in p.themes]
        self.groups: list[LabelSetColumns] = []
        names: list[str] = []
        start = 0
        for p in self.predictors:
            column = p.label_set.column
            columns_of = slice(start, start + len(p.themes))
            self.groups.append(LabelSetColumns(column, p.themes, columns_of))
            names += [n if every.count(n) == 1 else f"{column}:{n}" for n in p.themes]
            start += len(p.themes)
        self._themes = tuple(names)

    @classmethod
    def load_many(cls, paths: Sequence[str | Path]) -> Predictors:
        """Load several model bundle folders (each as :meth:`Predictor.load`)."""
        return cls([Predictor.load(path) for path in paths])

    @property
    def themes(self) -> tuple[str, ...]:
        """Every label set's labels in order, qualified where two label sets share a name."""
        return self._themes

    @property
    def column(self) -> str:
        return "labels"  # (several label sets: each goes under its own column, see groups)

    @property
    def bundle_paths(self) -> list[Path | None]:
        """The models' bundle folders (what a spawned worker process loads)."""
        return [p.path for p in self.predictors]

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Every model's scores side by side, ``(len(texts), len(themes))``."""
        texts = check_texts(texts)
        return np.hstack([p.scores(texts) for p in self.predictors])

    def decide(
        self,
        scores: np.ndarray,
        *,
        kinds: Sequence[str] | None = None,
        threshold: Threshold = None,
        top_k: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tags and review marks, each model deciding on its own columns (``top_k`` per label
        set; a ``{label: value}`` threshold goes to the label sets that have the label)."""
        tags, review = [], []
        owns = _split_threshold(threshold, self)
        for predictor, group, own in zip(self.predictors, self.groups, owns, strict=True):
            t, r = predictor.decide(scores[:, group.columns], kinds=kinds, threshold=own,
                                    top_k=top_k)  # fmt: skip
            tags.append(t)
            review.append(r)
        return np.hstack(tags), np.hstack(review)

    def explain_rows(
        self, texts: Sequence[str], scores: np.ndarray, tags: np.ndarray, review: np.ndarray
    ) -> list[Explanation]:
        """Each model's rationales of each text, its labels named as in :attr:`themes`."""
        from classify.predict.explain import explain_rows

        parts = []
        for predictor, group in zip(self.predictors, self.groups, strict=True):
            s = group.columns
            found = explain_rows(predictor.engine, predictor.themes, texts, scores[:, s],
                                 tags[:, s], review[:, s])  # fmt: skip
            shown = dict(zip(group.names, self._themes[s], strict=True))
            parts.append(
                [[dataclasses.replace(r, theme=shown[r.theme]) for r in e.themes] for e in found]
            )
        return [
            Explanation(text, tuple(r for part in parts for r in part[i]))
            for i, text in enumerate(texts)
        ]

    def predict(
        self, texts: Sequence[str], *, threshold: Threshold = None, top_k: int | None = None
    ) -> list[dict[str, Prediction]]:
        """For each text, each label set's prediction under its column name.

        Example:
            >>> result = Predictors([predictor]).predict(["A counter-terrorism drill."])[0]
            >>> result["themes"].themes
            ('drills',)
        """
        texts = check_texts(texts)
        found = []
        for predictor, own in zip(self.predictors, _split_threshold(threshold, self), strict=True):
            found.append(predictor.predict(texts, threshold=own, top_k=top_k))
        columns = [g.column for g in self.groups]
        return [dict(zip(columns, row, strict=True)) for row in zip(*found, strict=True)]


def _split_threshold(threshold: Threshold, predictors: Predictors) -> list[Threshold]:
    """A threshold override per label set. A ``{label: value}`` override names labels as
    :attr:`Predictors.themes` shows them, or qualified (``narratives:threat``); each goes to
    its label set, and an unknown one is refused."""
    if not isinstance(threshold, Mapping):
        return [threshold] * len(predictors.groups)
    owner: dict[str, tuple[int, str]] = {}
    for g, group in enumerate(predictors.groups):
        shown = predictors.themes[group.columns]
        for name, label in zip(shown, group.names, strict=True):
            owner[name] = owner[f"{group.column}:{label}"] = (g, label)
    split: list[dict[str, float]] = [{} for _ in predictors.groups]
    for name, value in threshold.items():
        if name not in owner:
            raise ClassifyError(
                f"threshold override: unknown label {name!r}",
                hint=f"the models' labels: {', '.join(predictors.themes)}",
            )
        g, label = owner[name]
        split[g][label] = value
    return list(split)
