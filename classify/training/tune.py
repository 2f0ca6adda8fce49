"""Hyperparameter search with nested cross-validation grouped by document (``classify tune``).

The grid lives in the experiment file (``[tune.grid]``: a dotted setting -> the values to try;
every combination is a candidate). The search is honest in two layers:

* Selection: each candidate is scored by an *inner* grouped k-fold cross-validation of a set of
  training rows; its thresholds are chosen on those inner out-of-fold scores, and the candidate
  with the best ``tune.metric`` wins. This score is optimistic (thresholds and the choice are
  both made on it), so it only ranks candidates.
* Estimate: the experiment's own *outer* folds (``[cv]``) repeat the whole selection on each
  outer training side, fit the winner there and score the held-out documents. These outer
  out-of-fold metrics estimate what "tune, then train" gives on unseen documents.

The final model is the candidate chosen on all training rows, fitted on them. Every fit of
every candidate runs in one joblib pool.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from joblib import Parallel, delayed

from classify.errors import ClassifyError
from classify.model.bundle_folders import check_writable
from classify.model.config import ExperimentConfig
from classify.model.decision import apply_thresholds, choose_thresholds
from classify.model.pipeline import theme_scores
from classify.training.cross_validation import CrossValidation, grouped_folds, inner_folds
from classify.training.fits import Fit, counted_corpus, fit_pipeline, run_fits
from classify.training.metrics import Metrics, compute_metrics, sliced_metrics
from classify.training.train import TrainingResult, data_split, load_labeled_data, tracked_run

Progress = Callable[[str, int, int], None]


class Tracker(Protocol):
    """What :func:`tune_and_save` needs of a tracker
    (:class:`~classify.track.tracker.MlflowTracker`)."""

    def start(self, config: ExperimentConfig) -> str: ...

    def log_candidates(self, tuned: TuningResult) -> None: ...

    def log(self, result: TrainingResult, bundle_dir: Path | None) -> None: ...

    def finish(self, *, failed: bool) -> None: ...


@dataclass(frozen=True)
class Candidate:
    """One point of the grid: the settings it changes and the whole experiment they give."""

    index: int
    settings: dict[str, Any]  # dotted key -> value
    config: ExperimentConfig

    @property
    def label(self) -> str:
        """``model.C=1.0, features.word.ngram_range=[1, 2]``"""
        return ", ".join(f"{key}={value}" for key, value in self.settings.items())


@dataclass(frozen=True)
class CandidateScore:
    """A candidate's selection evidence on all training rows (inner grouped CV)."""

    candidate: Candidate
    metrics: Metrics
    thresholds: np.ndarray

    def value(self, metric: str) -> float:
        return float(getattr(self.metrics, metric))


@dataclass(frozen=True)
class TuningResult:
    """The search: every candidate's selection score, the winner, and the final model whose
    ``cv`` holds the nested (outer) out-of-fold evidence."""

    candidates: tuple[CandidateScore, ...]
    best: int  # index into candidates
    chosen_by_fold: tuple[int, ...]  # the candidate each outer fold's selection chose
    final: TrainingResult

    @property
    def best_candidate(self) -> Candidate:
        return self.candidates[self.best].candidate


def grid_candidates(config: ExperimentConfig) -> list[Candidate]:
    """Every combination of ``[tune.grid]``, each validated as a whole experiment.

    Example:
        >>> base = ExperimentConfig.from_dict({"tune": {"grid": {"model.C": [1, 10]}}})
        >>> [c.label for c in grid_candidates(base)]
        ['model.C=1', 'model.C=10']
    """
    grid = config.tune.grid
    if config.training.out_of_core:
        raise ClassifyError(
            f"experiment {config.name!r} trains out of core; tune fits its candidates in memory",
            hint="tune an in-memory experiment, or compare settings with `classify train --set`",
        )
    if not grid:
        raise ClassifyError(
            f"experiment {config.name!r} has no [tune.grid]",
            hint='add e.g. [tune.grid] "model.C" = [1.0, 10.0] to the experiment file',
        )
    keys = list(grid)
    candidates = []
    for index, values in enumerate(itertools.product(*(grid[k] for k in keys))):
        settings = dict(zip(keys, values, strict=True))
        data = copy.deepcopy(config.to_dict())
        for key, value in settings.items():
            _set_dotted(data, key, value)
        data["base_dir"] = config.base_dir
        where = f"tune candidate {index} ({', '.join(f'{k}={v}' for k, v in settings.items())})"
        candidates.append(Candidate(index, settings, ExperimentConfig.from_dict(data, where=where)))
    return candidates


def tune(
    config: ExperimentConfig, *, progress: Progress | None = None, n_jobs: int = 1
) -> TuningResult:
    """Search the experiment's grid with nested grouped cross-validation; fit the winner.

    Example:
        >>> from classify.model.config import load_experiment
        >>> grid = 'tune.grid = {"model.C" = [0.1, 10.0]}'
        >>> tuned = tune(load_experiment("experiments/default.toml", [*quick, grid]))
        >>> [c.candidate.label for c in tuned.candidates]
        ['model.C=0.1', 'model.C=10.0']
        >>> tuned.final.cv.metrics.macro_f1 > 0.3  # nested: the seeds were never selected on
        True
    """
    started = time.perf_counter()
    candidates = grid_candidates(config)
    data = load_labeled_data(config)
    train_rows, test_rows = data_split(config, data)
    names = data.label_set.names
    texts, y, groups = data.texts, data.y, data.groups
    metric = config.tune.metric

    # The training side of every outer fold, plus all training rows (for the final model).
    # Folds whose sides are identical (a held-out source) share one selection.
    test_index = np.flatnonzero(test_rows)
    outer = grouped_folds(groups[test_index], config.cv)
    sides: dict[bytes, np.ndarray] = {}
    side_of_fold: list[bytes] = []
    for _, local in outer:
        held_out = groups[test_index[local]]
        rows = np.flatnonzero(train_rows & ~np.isin(groups, held_out))
        if rows.size == 0:
            raise ClassifyError("a cross-validation fold has no training paragraphs")
        sides.setdefault(rows.tobytes(), rows)
        side_of_fold.append(rows.tobytes())
    everything = np.flatnonzero(train_rows)
    sides.setdefault(everything.tobytes(), everything)

    # Selection: every (side, inner fold) fit of every model. Candidates that differ only in
    # how thresholds are chosen share one model's fits; models with the same features share
    # the n-grams counted once.
    models: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        models.setdefault(_model_key(candidate.config), []).append(candidate)
    corpora: dict[str, Any] = {}
    oof = {
        (key, c.index): np.zeros((len(rows), len(names)))
        for key, rows in sides.items()
        for c in candidates
    }
    total = len(models) * sum(len(inner_folds(groups[rows], config.cv)) for rows in sides.values())
    done = 0
    for members in models.values():
        model = members[0].config
        features = _features_key(model)
        if features not in corpora:
            corpora[features] = counted_corpus(model, texts)
        plan = [
            (key, rows[fit_rows], rows[score_rows], score_rows)
            for key, rows in sides.items()
            for fit_rows, score_rows in inner_folds(groups[rows], config.cv)
        ]
        fits = [Fit(fit, (score,)) for _, fit, score, _ in plan]

        def count(finished: int, _: int, before: int = done) -> None:
            if progress:
                progress("candidates (inner folds)", before + finished, total)

        results = run_fits(
            model, texts, y, fits, n_jobs=n_jobs, corpus=corpora[features], done=count
        )
        done += len(fits)
        for (key, _, _, local), ((scores,), _) in zip(plan, results, strict=True):
            for candidate in members:
                oof[key, candidate.index][local] = scores
    selection: dict[bytes, list[CandidateScore]] = {}
    for key, rows in sides.items():
        selection[key] = []
        for candidate in candidates:
            scores = oof[key, candidate.index]
            thresholds = choose_thresholds(scores, y[rows], names, candidate.config.thresholds)
            tags = apply_thresholds(scores, thresholds)
            metrics = compute_metrics(y[rows], tags, names, scores)
            selection[key].append(CandidateScore(candidate, metrics, thresholds))
    winner = {key: _best(scores, metric) for key, scores in selection.items()}

    # Estimate: the winner of each outer side, fitted there, scores its held-out documents.
    refits = list(dict.fromkeys([*side_of_fold, everything.tobytes()]))
    fitted = Parallel(n_jobs=n_jobs)(
        delayed(fit_pipeline)(
            candidates[winner[key]].config, [texts[i] for i in sides[key]], y[sides[key]]
        )
        for key in refits
    )
    pipelines = dict(zip(refits, fitted, strict=True))
    scores = np.zeros((len(test_index), len(names)))
    tags = np.zeros(scores.shape, dtype=bool)
    fold_of = np.full(len(test_index), -1)
    fold_thresholds = np.zeros((len(outer), len(names)))
    for k, ((_, local), key) in enumerate(zip(outer, side_of_fold, strict=True)):
        thresholds = selection[key][winner[key]].thresholds
        fold_scores = theme_scores(pipelines[key], [texts[i] for i in test_index[local]])
        scores[local], fold_thresholds[k], fold_of[local] = fold_scores, thresholds, k
        tags[local] = apply_thresholds(fold_scores, thresholds)
    truth = y[test_index]
    slices = {"lang": data.languages[test_index], "source": data.source_names[test_index]}
    nested = CrossValidation(
        test_index,
        scores,
        tags,
        fold_of,
        fold_thresholds,
        compute_metrics(truth, tags, names, scores),
        sliced_metrics(truth, tags, scores, names, slices),
    )

    best = winner[everything.tobytes()]
    chosen = selection[everything.tobytes()]
    training = data.take(everything)
    final = TrainingResult(
        config=chosen[best].candidate.config,
        training=training,
        evaluated=data.take(test_index),
        pipeline=pipelines[everything.tobytes()],
        thresholds={n: float(t) for n, t in zip(names, chosen[best].thresholds, strict=True)},
        cv=nested,
        data_hash=training.fingerprint(),
        seconds={"tuning": time.perf_counter() - started},
        notes=(f"best of {len(candidates)} by {metric}: {chosen[best].candidate.label}",),
    )
    return TuningResult(tuple(chosen), best, tuple(winner[key] for key in side_of_fold), final)


def _best(scores: list[CandidateScore], metric: str) -> int:
    # ties go to the earlier candidate, so the grid's order is the tie-break users can control
    values = [s.value(metric) for s in scores]
    return int(np.argmax(values))


def _model_key(config: ExperimentConfig) -> str:
    """What decides a candidate's fitted models: everything but how thresholds are chosen."""
    settings = config.to_dict()
    return json.dumps(
        {k: settings[k] for k in ("data", "features", "model", "cv") if k in settings},
        sort_keys=True,
        default=str,
    )


def _features_key(config: ExperimentConfig) -> str:
    return json.dumps(config.to_dict().get("features"), sort_keys=True, default=str)


def _set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    *parents, leaf = key.split(".")
    node = data
    for part in parents:
        if node.get(part) is None:  # a disabled feature family: the setting enables it
            node[part] = {}
        node = node[part]
        if not isinstance(node, dict):
            raise ClassifyError(f"tune.grid: {key!r} does not name a setting")
    node[leaf] = value


def tune_and_save(
    config: ExperimentConfig,
    models_dir: str | Path = "models",
    *,
    tracker: Tracker | None = None,
    progress: Progress | None = None,
    n_jobs: int = 1,
) -> tuple[TuningResult, Path, str | None]:
    """Tune, save the winner as the bundle ``models_dir/<name>``, and track the search: one
    parent run (nested metrics, the model) with one child run per candidate.

    Example:
        >>> from classify.model.config import load_experiment
        >>> grid = 'tune.grid = {"model.C" = [0.1, 10.0]}'
        >>> config = load_experiment("experiments/default.toml", [*quick, grid])
        >>> tuned, bundle, run_id = tune_and_save(config, tmp / "models")
        >>> bundle.name, run_id
        ('default', None)
    """
    with tracked_run(tracker, config) as run_id:
        check_writable(Path(models_dir) / config.name)
        tuned = tune(config, progress=progress, n_jobs=n_jobs)
        bundle_dir = tuned.final.save(Path(models_dir) / config.name, run_id=run_id)
        if tracker is not None:
            tracker.log_candidates(tuned)
            tracker.log(tuned.final, bundle_dir)
    return tuned, bundle_dir, run_id
