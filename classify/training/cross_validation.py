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

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from joblib import Parallel, delayed
from sklearn.model_selection import GroupKFold, LeaveOneGroupOut

from classify.errors import ClassifyError
from classify.model.config import CVConfig, ExperimentConfig
from classify.model.decision import apply_thresholds, choose_thresholds
from classify.model.pipeline import build_pipeline, theme_scores
from classify.training.metrics import Metrics, compute_metrics, sliced_metrics

if TYPE_CHECKING:
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


def fit_pipeline(config: ExperimentConfig, texts: Sequence[str], y: np.ndarray):
    """Build and fit the experiment's pipeline, quiet about themes absent from ``y``."""
    with warnings.catch_warnings():
        # A theme with no positive paragraph in this training set gets a constant predictor;
        # theme_scores scores it 0, which is the honest answer, so the warning is noise here.
        warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
        warnings.filterwarnings("ignore", message=".*failed to converge.*")
        return build_pipeline(config).fit(list(texts), y)


def out_of_fold_scores(
    config: ExperimentConfig, texts: Sequence[str], y: np.ndarray, folds: Folds, n_jobs: int = 1
) -> np.ndarray:
    """Scores of every row from the model of the fold that held it out (folds run in parallel
    over ``n_jobs`` processes)."""
    scores = np.zeros(y.shape, dtype=np.float64)
    tasks = (
        delayed(_fit_and_score)(
            config, [texts[i] for i in train], y[train], [texts[i] for i in test]
        )
        for train, test in folds
    )
    for (_, test), fold_scores in zip(folds, Parallel(n_jobs=n_jobs)(tasks), strict=True):
        scores[test] = fold_scores
    return scores


def _fit_and_score(
    config: ExperimentConfig, train_texts: list[str], y_train: np.ndarray, test_texts: list[str]
) -> np.ndarray:
    return theme_scores(fit_pipeline(config, train_texts, y_train), test_texts)


def tune_thresholds(
    config: ExperimentConfig,
    texts: Sequence[str],
    y: np.ndarray,
    groups: np.ndarray,
    n_jobs: int = 1,
    themes: Sequence[str] | None = None,
) -> np.ndarray:
    """Per-theme thresholds for a model trained on exactly these rows.

    ``fixed``: the configured value. ``f1`` / ``precision``: chosen by the decision policy on
    out-of-fold scores of a grouped k-fold cross-validation of these rows (the fixed value when
    there are too few documents). ``themes`` defaults to the columns' positions (the policy's
    per-theme targets need the names).
    """
    fixed = np.full(y.shape[1], config.thresholds.value)
    if config.thresholds.strategy == "fixed" or len(np.unique(groups)) < 2:
        return fixed
    folds = inner_folds(groups, config.cv)
    scores = out_of_fold_scores(config, texts, y, folds, n_jobs=n_jobs)
    names = themes or [str(j) for j in range(y.shape[1])]
    return choose_thresholds(scores, y, names, config.thresholds)


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
) -> CrossValidation:
    """Grouped cross-validation of an experiment, with thresholds tuned inside each fold.

    ``test_rows`` (a boolean mask; default all) are split into folds by document; each fold is
    scored by a model trained on the ``train_rows`` (default all) of every *other* document, with
    thresholds tuned on that training side only. Rows in ``train_rows`` but not ``test_rows``
    train in every fold (an authored set added to leave-one-seed-document-out); rows in
    ``test_rows`` but not ``train_rows`` are only ever tested (a held-out test set).
    ``slices`` (e.g. ``{"lang": languages}``, one value per row) add metrics per slice value.
    Folds run in parallel over ``n_jobs`` processes (joblib; -1 = every core).

    Example:
        >>> seeds = annotations.where(kinds=["body"], sources=["seeds"])
        >>> cv = cross_validate(config, seeds.texts, seeds.y, seeds.groups, seeds.label_set.names)
        >>> cv.scores.shape, sorted(set(cv.fold.tolist()))
        ((130, 5), [0, 1, 2, 3, 4])
    """
    everything = np.ones(len(texts), dtype=bool)
    train_rows = everything if train_rows is None else train_rows
    test_index = np.flatnonzero(everything if test_rows is None else test_rows)
    folds = grouped_folds(groups[test_index], config.cv)
    scores = np.zeros((len(test_index), y.shape[1]))
    tags = np.zeros(scores.shape, dtype=bool)
    fold_of = np.full(len(test_index), -1)
    fold_thresholds = np.zeros((len(folds), y.shape[1]))
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
    arguments = [
        (
            config,
            [texts[i] for i in trains[key]],
            y[trains[key]],
            groups[trains[key]],
            [[texts[i] for i in test_index[folds[k][1]]] for k in members],
            list(themes),
        )
        for key, members in shared.items()
    ]
    if len(arguments) == 1:  # one fit serves every fold: parallelise its threshold tuning instead
        results = iter([_evaluate_fold(*arguments[0], n_jobs=n_jobs)])
    else:
        tasks = (delayed(_evaluate_fold)(*task) for task in arguments)
        results = Parallel(n_jobs=n_jobs, return_as="generator")(tasks)
    done = 0
    shared_fit = None
    for members, (thresholds, pipeline, fold_scores) in zip(shared.values(), results, strict=True):
        if len(shared) == 1:
            shared_fit = (trains[next(iter(shared))], thresholds, pipeline)
        for k, member_scores in zip(members, fold_scores, strict=True):
            local = folds[k][1]
            fold_thresholds[k] = thresholds
            scores[local] = member_scores
            tags[local] = apply_thresholds(member_scores, thresholds)
            fold_of[local] = k
            done += 1
            if progress is not None:
                progress(done, len(folds))
    truth = y[test_index]
    tested_slices = {name: values[test_index] for name, values in (slices or {}).items()}
    breakdown = sliced_metrics(truth, tags, scores, themes, tested_slices)
    metrics = compute_metrics(truth, tags, themes, scores)
    return CrossValidation(
        test_index, scores, tags, fold_of, fold_thresholds, metrics, breakdown, shared_fit
    )


def _evaluate_fold(
    config: ExperimentConfig,
    train_texts: list[str],
    y_train: np.ndarray,
    groups_train: np.ndarray,
    test_sets: list[list[str]],
    themes: list[str],
    n_jobs: int = 1,
) -> tuple[np.ndarray, Pipeline, list[np.ndarray]]:
    """One outer fold (run in a worker): thresholds from the training side, then scores."""
    thresholds = tune_thresholds(
        config, train_texts, y_train, groups_train, n_jobs=n_jobs, themes=themes
    )
    pipeline = fit_pipeline(config, train_texts, y_train)
    scores = [theme_scores(pipeline, test_texts) for test_texts in test_sets]
    return thresholds, pipeline, scores
