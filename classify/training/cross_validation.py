"""Honest evaluation: cross-validation grouped by source document, thresholds tuned inside folds.

* Folds are built on groups (source documents), so no document has paragraphs on both sides.
* When thresholds are tuned (``thresholds.strategy = "f1"``), each outer fold tunes them on
  out-of-fold scores of an *inner* grouped cross-validation of its own training side; the held-out
  document never influences its own thresholds.
* The evaluated rows can be a subset (``cv.evaluate_on``): leave-one-seed-document-out with an
  authored set always on the training side, or a model trained on authored paragraphs only and
  tested on every seed document.
* Every reported metric is computed on out-of-fold predictions only.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

from classify.errors import ClassifyError
from classify.model.config import CVConfig, ExperimentConfig
from classify.model.decision import apply_thresholds, choose_thresholds
from classify.training.counted import CountedCorpus
from classify.training.fits import Fit, counted_corpus, run_fits
from classify.training.metrics import Metrics, compute_metrics, sliced_metrics

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

Progress = Callable[[int, int], None]
Folds = list[tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class CrossValidation:
    """Out-of-fold scores and tags of the evaluated paragraphs, and how they were obtained."""

    rows: np.ndarray  # (n,) indices of the evaluated paragraphs in the data given
    scores: np.ndarray  # (n, themes), each row scored by a model that never saw its document
    tags: np.ndarray  # (n, themes) bool, with the thresholds of the row's fold
    fold: np.ndarray  # (n,) index of the fold that held the row out
    fold_thresholds: np.ndarray  # (folds, themes)
    metrics: Metrics
    # The same metrics on slices of the rows: {"lang": {"en": ..., "ru": ...}, "source": {...}}
    breakdown: dict[str, dict[str, Metrics]]
    # When every fold trained on the same rows (train on one source, test on another): those
    # rows' indices, thresholds and fitted pipeline, so the final model need not be fitted again.
    shared_fit: tuple[np.ndarray, np.ndarray, Pipeline] | None = None

    def evidence(
        self,
        config: ExperimentConfig,
        evaluation: str,
        data_hash: str,
        *,
        documents: int,
        sources: Sequence[str],
        languages: Sequence[str],
        **training: Any,
    ) -> dict[str, Any]:
        """What a model bundle's manifest records: the training data (its hash, the
        paragraphs' documents, sources and languages; ``training`` adds entries) and these
        metrics, overall and by slice."""
        return {
            "training_data": {
                "hash": data_hash,
                "annotations": list(config.data.annotations),
                "paragraphs": len(sources),
                "documents": documents,
                "sources": dict(Counter(sources)),
                "languages": dict(Counter(languages)),
                "kinds": list(config.data.kinds),
                **training,
            },
            "cv_evaluation": evaluation,
            "cv_metrics": self.metrics.as_dict(),
            "cv_metrics_by": {
                f"{name}={value}": metrics.as_dict()
                for name, values in self.breakdown.items()
                for value, metrics in values.items()
            },
        }

    def table(
        self,
        themes: Sequence[str],
        gold: np.ndarray,
        *,
        ids: Sequence[str],
        documents: Sequence[str],
        sources: Sequence[str],
        languages: Sequence[str],
        texts: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """One row per evaluated paragraph (``gold`` labels row for row): its fold, gold and
        out-of-fold labels, every label's score, and the text when given."""
        import pandas as pd

        names = np.array(themes, dtype=object)
        gold = np.asarray(gold).astype(bool)
        table = pd.DataFrame(
            {
                "id": list(ids),
                "document": list(documents),
                "source": list(sources),
                "lang": list(languages),
                "fold": self.fold.astype(int),
                "gold": [";".join(names[row]) for row in gold],
                "predicted": [";".join(names[row]) for row in self.tags],
                "correct": (gold == self.tags).all(axis=1),
            }
        )
        for j, name in enumerate(themes):
            table[f"score_{name}"] = np.round(self.scores[:, j].astype(np.float64), 6)
        if texts is not None:
            table["text"] = list(texts)
        return table

    def folds_fingerprint(self, ids: Sequence[str]) -> str:
        """sha256 of which paragraph (``ids``, row for row) each fold held out: runs with the
        same fingerprint were evaluated on the very same grouped folds."""
        digest = hashlib.sha256()
        for paragraph_id, fold in zip(ids, self.fold.tolist(), strict=True):
            digest.update(f"{paragraph_id}\t{fold}\n".encode())
        return digest.hexdigest()


def grouped_folds(groups: np.ndarray, cv: CVConfig) -> Folds:
    """Train/test index pairs in which no group (document) is on both sides.

    Example:
        >>> folds = grouped_folds(np.array(["a", "a", "b", "c"]), CVConfig())
        >>> [test.tolist() for _, test in folds]
        [[0, 1], [2], [3]]
    """
    n_groups = _count_groups(groups)
    if cv.strategy == "leave_one_document_out":
        splitter = LeaveOneGroupOut()
    else:
        splitter = GroupKFold(n_splits=min(cv.folds, n_groups), shuffle=True, random_state=cv.seed)
    return _split(splitter, groups)


def inner_folds(groups: np.ndarray, cv: CVConfig) -> Folds:
    """Grouped k-fold folds (at most ``cv.folds``) used to tune thresholds on training rows.

    Always k-fold: leave-one-document-out over hundreds of authored stories would cost a fit each.
    With as few documents as folds it is the same thing.
    """
    n_groups = _count_groups(groups)
    splitter = GroupKFold(n_splits=min(cv.folds, n_groups), shuffle=True, random_state=cv.seed)
    return _split(splitter, groups)


def _count_groups(groups: np.ndarray) -> int:
    n_groups = len(np.unique(groups))
    if n_groups < 2:
        raise ClassifyError(
            f"cross-validation needs paragraphs from at least 2 documents, got {n_groups}",
            hint="label paragraphs of more documents",
        )
    return n_groups


def _split(splitter: GroupKFold | LeaveOneGroupOut, groups: np.ndarray) -> Folds:
    folds = list(splitter.split(np.zeros(len(groups)), groups=groups))
    for train, test in folds:  # the one property everything else rests on
        assert not set(groups[train]) & set(groups[test]), "a document is on both sides of a fold"
    return folds


def out_of_fold_scores(
    config: ExperimentConfig,
    texts: Sequence[str],
    y: np.ndarray,
    folds: Folds,
    n_jobs: int = 1,
    corpus: CountedCorpus | None = None,
) -> np.ndarray:
    """Scores of every row from the model of the fold that held it out (the folds' fits run
    in parallel over ``n_jobs`` processes)."""
    fits = [Fit(train, (test,)) for train, test in folds]
    corpus = corpus if corpus is not None else counted_corpus(config, texts)
    scores = np.zeros(y.shape, dtype=np.float64)
    for (_, test), ((fold_scores,), _) in zip(
        folds, run_fits(config, texts, y, fits, n_jobs=n_jobs, corpus=corpus), strict=True
    ):
        scores[test] = fold_scores
    return scores


def tune_thresholds(
    config: ExperimentConfig,
    texts: Sequence[str],
    y: np.ndarray,
    groups: np.ndarray,
    n_jobs: int = 1,
    themes: Sequence[str] | None = None,
    corpus: CountedCorpus | None = None,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """Per-theme thresholds for a model trained on exactly these rows (``rows`` of the texts,
    default all).

    ``fixed``: the configured value. ``f1`` / ``precision``: chosen by the decision policy on
    out-of-fold scores of a grouped k-fold cross-validation of these rows (the fixed value when
    there are too few documents). ``themes`` defaults to the columns' positions (the policy's
    per-theme targets need the names).
    """
    rows = np.arange(len(texts)) if rows is None else rows
    inner = _inner_fits(config, rows, groups)
    if inner is None:
        return np.full(y.shape[1], config.thresholds.value)
    corpus = corpus if corpus is not None else counted_corpus(config, texts)
    results = run_fits(config, texts, y, inner, n_jobs=n_jobs, corpus=corpus)
    return _thresholds(config, y, rows, inner, [r for r, _ in results], themes)


def _inner_fits(config: ExperimentConfig, rows: np.ndarray, groups: np.ndarray) -> list[Fit] | None:
    """The inner folds that tune the thresholds of a model trained on ``rows``, as fits; ``None``
    when nothing is tuned (fixed thresholds, or fewer than two documents)."""
    if config.thresholds.strategy == "fixed" or len(np.unique(groups[rows])) < 2:
        return None
    return [Fit(rows[a], (rows[b],)) for a, b in inner_folds(groups[rows], config.cv)]


def _paired_inner_fits(config, train_rows, test_rows, test_index, groups, folds, fits):
    """Inner folds shared between outer folds (``cv.inner = "shared"``: outer grouped k-fold
    over the training rows themselves). Outer fold k's inner folds are the other outer folds,
    so the inner fit that leaves out folds j and k serves both (its scores on fold j tune fold
    k's thresholds, on fold k fold j's): k(k-1)/2 fits instead of k*k, and still no outer
    fold's held-out documents reach its thresholds. Appends the pair fits to ``fits``;
    ``{(a, b): fit}`` (a < b; the fit's test sets: fold a, then fold b), or ``None``.
    """
    if (
        config.cv.inner != "shared"
        or config.thresholds.strategy == "fixed"
        or config.cv.strategy != "group_kfold"
        or len(folds) < 3
        or not np.array_equal(train_rows, test_rows)
    ):
        return None
    held_out = [test_index[test] for _, test in folds]
    pairs = {}
    for a in range(len(folds)):
        for b in range(a + 1, len(folds)):
            out = np.isin(groups, groups[np.concatenate([held_out[a], held_out[b]])])
            fits.append(Fit(np.flatnonzero(train_rows & ~out), (held_out[a], held_out[b])))
            pairs[a, b] = len(fits) - 1
    return pairs


def _thresholds(config, y, rows, inner, inner_scores, themes) -> np.ndarray:
    """The decision policy on the inner folds' out-of-fold scores of ``rows``."""
    position = {row: i for i, row in enumerate(rows.tolist())}
    scores = np.zeros((len(rows), y.shape[1]))
    for fit, (fold_scores,) in zip(inner, inner_scores, strict=True):
        scores[[position[row] for row in fit.tests[0].tolist()]] = fold_scores
    names = themes or [str(j) for j in range(y.shape[1])]
    return choose_thresholds(scores, y[rows], names, config.thresholds)


def cross_validate(
    config: ExperimentConfig,
    texts: Sequence[str],
    y: np.ndarray,
    groups: np.ndarray,
    themes: Sequence[str],
    *,
    train_rows: np.ndarray | None = None,
    test_rows: np.ndarray | None = None,
    slices: dict[str, np.ndarray] | None = None,
    progress: Progress | None = None,
    n_jobs: int = 1,
    corpus: CountedCorpus | None = None,
) -> CrossValidation:
    """Grouped cross-validation of an experiment, with thresholds tuned inside each fold.

    ``test_rows`` (a boolean mask; default all) are split into folds by document; each fold is
    scored by a model trained on the ``train_rows`` (default all) of every *other* document, with
    thresholds tuned on that training side only. Rows in ``train_rows`` but not ``test_rows``
    train in every fold (an authored set added to leave-one-seed-document-out); rows in
    ``test_rows`` but not ``train_rows`` are only ever tested (a held-out test set).
    ``slices`` (e.g. ``{"lang": languages}``, one value per row) add metrics per slice value.
    Every fit (each outer fold's inner folds, and the outer fits) runs in one parallel batch
    over ``n_jobs`` processes (joblib; -1 = every core); ``corpus``: the texts' n-grams counted
    once (:func:`~classify.training.fits.counted_corpus`), made here if not given.

    Example:
        >>> seeds = annotations.where(kinds=["body"], sources=["seeds"])
        >>> cv = cross_validate(config, seeds.texts, seeds.y, seeds.groups, seeds.label_set.names)
        >>> cv.scores.shape, sorted(set(cv.fold.tolist()))
        ((130, 5), [0, 1, 2, 3, 4])
    """
    everything = np.ones(len(texts), dtype=bool)
    train_rows = everything if train_rows is None else train_rows
    test_rows = everything if test_rows is None else test_rows
    test_index = np.flatnonzero(test_rows)
    folds = grouped_folds(groups[test_index], config.cv)
    # Folds that train on the same rows (a held-out source scored by one model) share one fit.
    shared: dict[bytes, list[int]] = {}
    trains: dict[bytes, np.ndarray] = {}
    for k, (_, local) in enumerate(folds):
        test = test_index[local]
        train = np.flatnonzero(train_rows & ~np.isin(groups, groups[test]))
        if train.size == 0:
            raise ClassifyError("a cross-validation fold has no training paragraphs")
        shared.setdefault(train.tobytes(), []).append(k)
        trains[train.tobytes()] = train
    if corpus is None:
        corpus = counted_corpus(config, texts)
    # Every fit of the nested cross-validation, in one batch: each side's inner folds (whose
    # out-of-fold scores tune its thresholds) and its outer fit (which scores its held-out
    # folds). A side's inner scores are pieces: (fit, which of its test sets).
    one_fit = len(shared) == 1  # its fitted pipeline is kept: it may be the final model
    fits: list[Fit] = []
    sides: list[tuple[bytes, list[tuple[int, int]] | None, int]] = []
    pairs = _paired_inner_fits(config, train_rows, test_rows, test_index, groups, folds, fits)
    for key, members in shared.items():
        if pairs is not None:
            (k,) = members
            others = [j for j in range(len(folds)) if j != k]
            pieces = [(pairs[min(k, j), max(k, j)], int(j > k)) for j in others]
        else:
            inner = _inner_fits(config, trains[key], groups)
            pieces = None if inner is None else [(len(fits) + i, 0) for i in range(len(inner))]
            fits += inner or []
        tests = tuple(test_index[folds[k][1]] for k in members)
        fits.append(Fit(trains[key], tests, pipeline=one_fit))
        sides.append((key, pieces, len(fits) - 1))
    results = run_fits(config, texts, y, fits, n_jobs=n_jobs, corpus=corpus, done=progress)

    scores = np.zeros((len(test_index), y.shape[1]))
    tags = np.zeros(scores.shape, dtype=bool)
    fold_of = np.full(len(test_index), -1)
    fold_thresholds = np.zeros((len(folds), y.shape[1]))
    shared_fit = None
    for key, pieces, outer in sides:
        if pieces is None:
            thresholds = np.full(y.shape[1], config.thresholds.value)
        else:
            inner = [Fit(fits[f].train, (fits[f].tests[t],)) for f, t in pieces]
            inner_scores = [(results[f][0][t],) for f, t in pieces]
            thresholds = _thresholds(config, y, trains[key], inner, inner_scores, themes)
        fold_scores, pipeline = results[outer]
        if one_fit:
            shared_fit = (trains[key], thresholds, pipeline)
        for k, member_scores in zip(shared[key], fold_scores, strict=True):
            local = folds[k][1]
            fold_thresholds[k] = thresholds
            scores[local] = member_scores
            tags[local] = apply_thresholds(member_scores, thresholds)
            fold_of[local] = k
    truth = y[test_index]
    tested_slices = {name: values[test_index] for name, values in (slices or {}).items()}
    breakdown = sliced_metrics(truth, tags, scores, themes, tested_slices)
    metrics = compute_metrics(truth, tags, themes, scores)
    return CrossValidation(
        test_index, scores, tags, fold_of, fold_thresholds, metrics, breakdown, shared_fit
    )
