"""Tag paragraphs with a trained model bundle. No MLflow here: loading and predicting stay light.

Example:
    >>> from classify import Predictor
    >>> predictor = Predictor.load("models/default")  # doctest: +SKIP
    >>> texts = ["Special forces rehearsed a hostage rescue in a counter-terrorism exercise."]
    >>> prediction = predictor.predict(texts)[0]
    >>> "drills" in prediction.themes, round(prediction.scores["drills"], 1) >= 0.5
    (True, True)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from classify.data.labels import LabelSet
from classify.data.segment import Paragraph, segment
from classify.errors import ClassifyError
from classify.model.bundle import Bundle, load_bundle
from classify.model.decision import apply_thresholds, resolve_thresholds, review_matrix
from classify.model.engine import ScoringEngine
from classify.predict.explain import Explanation, explain_rows

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

Threshold = float | Mapping[str, float] | None


@dataclass(frozen=True, slots=True)
class Prediction:
    """The themes a paragraph carries and the score of every theme (label-set order)."""

    themes: tuple[str, ...]
    scores: dict[str, float]
    review: tuple[str, ...] = ()  # themes scored just below their cut-off: for a person to check


class Predictor:
    """A model's scoring engine with its label set and per-theme thresholds (several models
    together: :class:`classify.predict.predictors.Predictors`).

    Example:
        >>> predictor = Predictor.load("models/default")  # doctest: +SKIP
        >>> texts = ["Police rehearsed freeing hostages in a counter-terrorism exercise."]
        >>> predictor.predict(texts, threshold=0.0, top_k=1)[0].themes  # the best theme only
        ('drills',)
    """

    def __init__(
        self,
        model: ScoringEngine | Pipeline,
        label_set: LabelSet,
        thresholds: Mapping[str, float],
        *,
        manifest: Mapping[str, Any] | None = None,
        path: Path | None = None,
        review: Mapping[str, float] | None = None,
        seen: frozenset[str] = frozenset(),
        bundle: Bundle | None = None,
    ) -> None:
        missing = [t for t in label_set.names if t not in thresholds]
        if missing:
            raise ClassifyError(f"no threshold for theme(s) {', '.join(missing)}")
        if isinstance(model, ScoringEngine):
            self.engine = model
            self._pipeline = None
        else:  # a fitted scikit-learn pipeline: exported to the engine's arrays once
            from classify.model.engine_export import export_pipeline

            self.engine = ScoringEngine(*export_pipeline(model))
            self._pipeline = model
        if self.engine.n_themes != len(label_set.names):
            raise ClassifyError(
                f"the model scores {self.engine.n_themes} themes, the label set has "
                f"{len(label_set.names)}"
            )
        self.label_set = label_set
        self.thresholds = {t: float(thresholds[t]) for t in label_set.names}
        self.manifest = dict(manifest or {})
        self.path = path
        self.seen = seen  # fingerprints of the training paragraphs (empty if not known)
        # the review band below each theme's cut-off (0: none); it moves with a threshold override
        self.review = {t: float((review or {}).get(t, 0.0)) for t in label_set.names}
        self._bundle = bundle

    @classmethod
    def load(cls, path: str | Path) -> Predictor:
        """Load a model bundle folder written by ``classify train`` (imports no scikit-learn)."""
        bundle = load_bundle(path)
        return cls(
            bundle.engine,
            bundle.label_set,
            bundle.thresholds,
            manifest=bundle.manifest,
            path=bundle.path,
            review=bundle.review,
            seen=bundle.seen,
            bundle=bundle,
        )

    @property
    def pipeline(self) -> Pipeline:
        """The fitted scikit-learn pipeline, loaded on first use (imports scikit-learn).

        Example:
            >>> type(predictor.pipeline).__name__
            'Pipeline'
        """
        if self._pipeline is None:
            if self._bundle is None:
                raise ClassifyError("this predictor has no scikit-learn pipeline")
            self._pipeline = self._bundle.pipeline
        return self._pipeline

    @property
    def themes(self) -> tuple[str, ...]:
        return self.label_set.names

    def seen_fingerprints(self) -> set[str]:
        """Fingerprints of the training paragraphs (empty for a predictor not loaded from disk)."""
        return set(self.seen)

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Score matrix ``(len(texts), len(themes))``; the whole batch is vectorised at once."""
        texts = check_texts(texts)
        if not texts:
            return np.zeros((0, len(self.themes)))
        return self.engine.scores(texts)

    def tag(
        self, scores: np.ndarray, *, threshold: Threshold = None, top_k: int | None = None
    ) -> np.ndarray:
        """Boolean tags for a score matrix, with optional threshold override and top-k."""
        if isinstance(threshold, Mapping):
            self.label_set.check(list(threshold), where="threshold override")
        if top_k is not None and top_k < 1:
            raise ClassifyError("top-k must be at least 1")
        cutoffs = resolve_thresholds(self.themes, self.thresholds, threshold)
        return apply_thresholds(scores, cutoffs, top_k=top_k)

    def predict(
        self, texts: Sequence[str], *, threshold: Threshold = None, top_k: int | None = None
    ) -> list[Prediction]:
        """Themes and scores for each text, in order.

        ``threshold``: one value for every theme, or ``{theme: value}`` for some; the bundle's
        tuned thresholds otherwise. ``top_k``: keep at most that many themes per text.
        """
        scores = self.scores(texts)
        tags = self.tag(scores, threshold=threshold, top_k=top_k)
        return self._predictions(scores, tags, self.review_marks(scores, tags, threshold))

    def explain(
        self, texts: Sequence[str], *, threshold: Threshold = None, top_k: int | None = None
    ) -> list[Explanation]:
        """Why each text got its themes: for every assigned theme, theme in review and the
        nearest miss, the words that pushed its score up or down, with exact contributions
        (see :mod:`classify.predict.explain`).

        Example:
            >>> rationale = predictor.explain(["Police rehearsed a hostage rescue."])[0].themes[0]
            >>> rationale.theme, rationale.reason
            ('drills', 'assigned')
            >>> total = rationale.intercept + rationale.unplaced
            >>> bool(abs(total + sum(t.contribution for t in rationale.terms) - rationale.decision)
            ...      < 1e-9)
            True
        """
        texts = check_texts(texts)
        scores = self.scores(texts)
        tags, review = self.decide(scores, threshold=threshold, top_k=top_k)
        return explain_rows(self.engine, self.themes, texts, scores, tags, review)

    def explain_rows(
        self, texts: Sequence[str], scores: np.ndarray, tags: np.ndarray, review: np.ndarray
    ) -> list[Explanation]:
        """The rationales of texts already scored and decided (what ``--explain`` adds)."""
        return explain_rows(self.engine, self.themes, texts, scores, tags, review)

    @property
    def bundle_paths(self) -> list[Path | None]:
        """The bundle folder, as a list (what a spawned worker process loads; see
        :class:`~classify.predict.predictors.Predictors`)."""
        return [self.path]

    @property
    def column(self) -> str:
        """The label set's name in outputs: the key its labels go under (``themes``, ...)."""
        return self.label_set.column

    @property
    def groups(self) -> None:
        """One label set: outputs keep their single-model shape (see :class:`Predictors`)."""
        return None

    def review_marks(
        self, scores: np.ndarray, tags: np.ndarray, threshold: Threshold = None
    ) -> np.ndarray:
        """Boolean marks of untagged themes scoring inside their review band."""
        cutoffs = resolve_thresholds(self.themes, self.thresholds, threshold)
        bands = np.array([self.review[t] for t in self.themes])
        return review_matrix(scores, cutoffs, bands, tags)

    def predict_paragraphs(
        self,
        paragraphs: Sequence[Paragraph],
        *,
        threshold: Threshold = None,
        top_k: int | None = None,
    ) -> list[Prediction]:
        """Like :meth:`predict` for segmented paragraphs; headings, bylines and captions are
        scored but never tagged (by the theme definitions they carry no label)."""
        scores = self.scores([p.text for p in paragraphs])
        kinds = [p.kind for p in paragraphs]
        tags, review = self.decide(scores, kinds=kinds, threshold=threshold, top_k=top_k)
        return self._predictions(scores, tags, review)

    def decide(
        self,
        scores: np.ndarray,
        *,
        kinds: Sequence[str] | None = None,
        threshold: Threshold = None,
        top_k: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Tags and review marks for a score matrix; rows whose ``kinds`` entry is not ``body``
        (headings, bylines, captions) get neither.

        Example:
            >>> tags, review = predictor.decide(np.array([[0.9, 0.0, 0.0, 0.0, 0.0]]))
            >>> tags.tolist()
            [[True, False, False, False, False]]
        """
        tags = self.tag(scores, threshold=threshold, top_k=top_k)
        not_body = [kind != "body" for kind in kinds] if kinds is not None else []
        if any(not_body):
            tags[not_body] = False
        review = self.review_marks(scores, tags, threshold)
        if any(not_body):
            review[not_body] = False
        return tags, review

    def predict_batches(
        self,
        texts: Iterable[str],
        *,
        batch_size: int = 1000,
        threshold: Threshold = None,
        top_k: int | None = None,
    ) -> Iterator[list[Prediction]]:
        """The predictions of ``texts`` (any iterable, read as needed), one list per batch of
        ``batch_size``: memory stays flat however many texts there are.

        Example:
            >>> texts = (f"Police drill number {i}." for i in range(5))
            >>> [len(batch) for batch in predictor.predict_batches(texts, batch_size=2)]
            [2, 2, 1]
        """
        if batch_size < 1:
            raise ClassifyError("batch size must be at least 1")
        iterator = iter(texts)
        while batch := list(itertools.islice(iterator, batch_size)):
            yield self.predict(batch, threshold=threshold, top_k=top_k)

    def predict_frame(
        self,
        frame: pd.DataFrame,
        text_column: str = "text",
        *,
        threshold: Threshold = None,
        top_k: int | None = None,
    ) -> pd.DataFrame:
        """A DataFrame in, a DataFrame out, on the same index: ``themes`` (the label set's
        column name: ``narratives`` for the narratives) and ``review``, lists of labels, and
        ``score_<label>`` for every label. Imports pandas (only here).

        Example:
            >>> import pandas as pd
            >>> tagged = predictor.predict_frame(pd.DataFrame({"text": ["A drill."]}, index=[7]))
            >>> list(tagged.columns)[:3], int(tagged.index[0])
            (['themes', 'review', 'score_recruitment'], 7)
        """
        import pandas as pd

        if text_column not in frame.columns:
            columns = ", ".join(map(str, frame.columns))
            raise ClassifyError(f"no {text_column!r} column (columns: {columns})")
        scores = self.scores(frame[text_column].tolist())
        tags, review = self.decide(scores, threshold=threshold, top_k=top_k)
        names = self.themes
        return pd.DataFrame(
            {
                self.column: [[n for n, on in zip(names, row, strict=True) if on] for row in tags],
                "review": [[n for n, on in zip(names, row, strict=True) if on] for row in review],
                **{f"score_{n}": scores[:, j] for j, n in enumerate(names)},
            },
            index=frame.index,
        )

    def predict_document(
        self,
        text: str,
        document: str = "document",
        *,
        threshold: Threshold = None,
        top_k: int | None = None,
    ) -> list[tuple[Paragraph, Prediction]]:
        """Segment a raw document and tag each paragraph."""
        paragraphs = segment(text, document)
        predictions = self.predict_paragraphs(paragraphs, threshold=threshold, top_k=top_k)
        return list(zip(paragraphs, predictions, strict=True))

    def _predictions(
        self, scores: np.ndarray, tags: np.ndarray, review: np.ndarray
    ) -> list[Prediction]:
        names = self.themes
        rounded = np.round(scores, 6).tolist()
        return [
            Prediction(
                themes=tuple(n for n, on in zip(names, row_tags, strict=True) if on),
                scores=dict(zip(names, row_scores, strict=True)),
                review=tuple(n for n, on in zip(names, row_review, strict=True) if on),
            )
            for row_scores, row_tags, row_review in zip(
                rounded, tags.tolist(), review.tolist(), strict=True
            )
        ]


def check_texts(texts: Sequence[str]) -> list[str]:
    """``texts`` as a list, refusing a single string or a non-string item."""
    if isinstance(texts, str):
        raise ClassifyError(
            "predict takes a list of texts, not a single string", hint="wrap it: [text]"
        )
    checked = list(texts)
    for i, text in enumerate(checked):
        if not isinstance(text, str):
            raise ClassifyError(f"text {i} is {type(text).__name__}, not str")
    return checked
