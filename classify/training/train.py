"""Training orchestration: experiment config + labeled paragraphs -> evaluated, fitted model.

:func:`train` reads the data, splits it into the rows to train on (``data.mix``) and the rows to
evaluate on (``cv.evaluate_on``), cross-validates grouped by document, picks the final
thresholds on out-of-fold scores of the training rows, and fits the final pipeline on them.
:func:`train_and_save` adds the model bundle and, when given a tracker, the MLflow run.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from classify.data.annotations import Annotations, load_annotations
from classify.data.labels import LabelSet, load_label_set
from classify.errors import ClassifyError
from classify.model.bundle import save_bundle
from classify.model.bundle_folders import check_writable
from classify.model.config import ExperimentConfig
from classify.model.decision import choose_thresholds
from classify.training.cross_validation import CrossValidation, cross_validate, tune_thresholds
from classify.training.fits import counted_corpus, fit_pipeline

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TrainingResult:
    """Everything a training produced: the fitted pipeline, its thresholds and its CV evidence."""

    config: ExperimentConfig
    training: Annotations  # the paragraphs the final model was fitted on (the data mix)
    evaluated: Annotations  # the paragraphs scored out of fold, row for row with `cv`
    pipeline: Pipeline
    thresholds: dict[str, float]
    cv: CrossValidation
    data_hash: str  # of the training paragraphs
    seconds: dict[str, float]
    notes: tuple[str, ...] = ()

    @property
    def label_set(self) -> LabelSet:
        return self.training.label_set

    @property
    def example_texts(self) -> list[str]:
        """Training paragraphs to show as the logged model's input example."""
        return self.training.texts

    def out_of_fold_table(self) -> pd.DataFrame:
        """One row per evaluated paragraph: gold themes, out-of-fold tags, every theme's score."""
        evaluated = self.evaluated
        return self.cv.table(
            self.label_set.names, evaluated.y, ids=evaluated.ids, documents=evaluated.groups,
            sources=evaluated.source_names, languages=evaluated.languages,
            texts=evaluated.texts,
        )  # fmt: skip

    def folds_fingerprint(self) -> str:
        """sha256 of which paragraph each fold held out: runs with the same fingerprint were
        evaluated on the very same grouped folds, so their figures line up."""
        return self.cv.folds_fingerprint(self.evaluated.ids)

    def describe_evaluation(self) -> str:
        """What the cross-validation metrics measure, in one line."""
        cv = self.config.cv
        trained_on = "+".join(self.training.sources)
        if not cv.evaluate_on:
            return f"out-of-fold on {trained_on} ({cv.strategy})"
        return f"out-of-fold on {cv.evaluate_on} ({cv.strategy}), trained on {trained_on}"

    def bundle_evidence(self) -> dict[str, Any]:
        """What the model bundle's manifest records about the training data and the evaluation."""
        training = self.training
        return self.cv.evidence(
            self.config, self.describe_evaluation(), self.data_hash,
            documents=len(set(training.groups)), sources=training.source_names,
            languages=training.languages,
        )  # fmt: skip

    def save(self, directory: str | Path, *, run_id: str | None = None) -> Path:
        """Write the fitted model as the new current version of the bundle at ``directory``.

        Example:
            >>> result.save(tmp / "default").name
            'default'
        """
        return save_bundle(
            directory,
            self.pipeline,
            self.label_set,
            self.thresholds,
            self.config,
            training_texts=self.training.texts,
            evidence=self.bundle_evidence(),
            run_id=run_id,
        )


class Tracker(Protocol):
    """Where a training is recorded (MLflow in :mod:`classify.track.tracker`)."""

    def start(self, config: ExperimentConfig) -> str:
        """Open a run, failing fast when the store is unreachable; return the run id."""

    def log(self, result: TrainingResult, bundle_dir: Path) -> None:
        """Record the finished training and its model bundle in the open run."""

    def finish(self, *, failed: bool) -> None:
        """Close the run, marked as failed or finished."""


def load_labeled_data(config: ExperimentConfig) -> Annotations:
    """Every labeled paragraph of the kinds an experiment uses, from all its files.

    Example:
        >>> from classify.model.config import load_experiment
        >>> load_labeled_data(load_experiment("experiments/default.toml")).sources
        ('seeds', 'authored')
    """
    label_set = load_label_set(config.resolve(config.data.label_set))
    documents = config.resolve(config.data.documents) if config.data.documents else None
    files = [config.resolve(path) for path in config.data.annotations]
    annotations = load_annotations(files, label_set, documents_dir=documents)
    selected = annotations.where(kinds=config.data.kinds)
    if not len(selected):
        raise ClassifyError(
            f"{annotations.path}: no paragraphs of kind {', '.join(config.data.kinds)}",
            hint="check data.kinds in the experiment file",
        )
    return selected


def data_split(config: ExperimentConfig, data: Annotations) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks over ``data``: the rows to train on (``data.mix``) and the rows to evaluate
    on (``cv.evaluate_on``, or the training rows)."""
    sources = np.array([p.source for p in data.paragraphs], dtype=object)
    available = ", ".join(data.sources)
    mix = config.data.sources
    for source in (*(mix or ()), *filter(None, [config.cv.evaluate_on])):
        if source not in data.sources:
            raise ClassifyError(
                f"no labeled paragraphs of source {source!r}",
                hint=f"sources in the annotation files: {available}",
            )
    train_rows = np.isin(sources, mix) if mix else np.ones(len(sources), dtype=bool)
    test_rows = sources == config.cv.evaluate_on if config.cv.evaluate_on else train_rows
    return train_rows, test_rows


def train(
    config: ExperimentConfig, *, progress: Progress | None = None, n_jobs: int = 1
) -> TrainingResult:
    """Cross-validate an experiment, then fit its final model on the training paragraphs.

    Cross-validation folds run in parallel over ``n_jobs`` processes (-1: every core).

    Example:
        >>> result = train(config)
        >>> result.describe_evaluation()
        'out-of-fold on seeds (leave_one_document_out), trained on authored'
        >>> len(result.evaluated), sorted(result.thresholds)[:2]
        (130, ['drills', 'legislation'])
    """
    if config.training.out_of_core:
        from classify.training.out_of_core import train_out_of_core

        return train_out_of_core(config, progress=progress, n_jobs=n_jobs)
    data = load_labeled_data(config)
    data.label_set.check(sorted(config.thresholds.themes_named()), where="[thresholds]")
    train_rows, test_rows = data_split(config, data)
    training = data.take(np.flatnonzero(train_rows))
    names = data.label_set.names
    notes = tuple(
        f"theme {name!r} has no labeled paragraph to train on: it will never be tagged"
        for j, name in enumerate(names)
        if not training.y[:, j].any()
    )

    started = time.perf_counter()
    corpus = counted_corpus(config, data.texts)  # every fit's features derive from these counts
    cv = cross_validate(
        config,
        data.texts,
        data.y,
        data.groups,
        names,
        train_rows=train_rows,
        test_rows=test_rows,
        slices={"lang": data.languages, "source": data.source_names},
        progress=(lambda done, total: progress("cross-validation", done, total))
        if progress
        else None,
        n_jobs=n_jobs,
        corpus=corpus,
    )
    cv_seconds = time.perf_counter() - started

    started = time.perf_counter()
    if progress:
        progress("final fit", 0, 1)
    if cv.shared_fit is not None and np.array_equal(cv.shared_fit[0], np.flatnonzero(train_rows)):
        # Every fold trained on exactly the training rows (train on one source, test on
        # another): that fit is the final model.
        _, chosen, pipeline = cv.shared_fit
    else:
        if config.thresholds.strategy != "fixed" and np.array_equal(train_rows, test_rows):
            # Out-of-fold scores of the training rows exist already: the same rule each CV
            # fold followed, now applied to all of them.
            chosen = choose_thresholds(cv.scores, data.y[cv.rows], names, config.thresholds)
        else:
            chosen = tune_thresholds(
                config, data.texts, data.y, data.groups, n_jobs=n_jobs, themes=names,
                corpus=corpus, rows=np.flatnonzero(train_rows),
            )  # fmt: skip
        pipeline = fit_pipeline(config, training.texts, training.y)
    if progress:
        progress("final fit", 1, 1)
    fit_seconds = time.perf_counter() - started

    return TrainingResult(
        config=config,
        training=training,
        evaluated=data.take(cv.rows),
        pipeline=pipeline,
        thresholds={name: float(t) for name, t in zip(names, chosen, strict=True)},
        cv=cv,
        data_hash=training.fingerprint(),
        seconds={"cross_validation": cv_seconds, "final_fit": fit_seconds},
        notes=notes,
    )


def train_and_save(
    config: ExperimentConfig,
    models_dir: str | Path = "models",
    *,
    tracker: Tracker | None = None,
    progress: Progress | None = None,
    n_jobs: int = 1,
) -> tuple[TrainingResult, Path, str | None]:
    """Train, write the model bundle ``models_dir/<name>`` atomically, and track the run.

    Returns the result, the bundle folder and the tracking run id (``None`` without a tracker).

    Example:
        >>> result, bundle, run_id = train_and_save(config, tmp / "models")
        >>> bundle.name, run_id
        ('default', None)
    """
    # An unreachable tracking store (the run is opened first) or a models folder that cannot
    # be written fails before the expensive work.
    with tracked_run(tracker, config) as run_id:
        check_writable(Path(models_dir) / config.name)
        result = train(config, progress=progress, n_jobs=n_jobs)
        bundle_dir = result.save(Path(models_dir) / config.name, run_id=run_id)
        if tracker is not None:
            tracker.log(result, bundle_dir)
    return result, bundle_dir, run_id


@contextlib.contextmanager
def tracked_run(tracker: Tracker | None, config: ExperimentConfig) -> Iterator[str | None]:
    """The tracker's run around a block: opened first, so an unreachable store fails before the
    expensive work; closed as failed if the block raises (even on Ctrl-C), else as finished.
    Yields the run id (``None`` without a tracker)."""
    if tracker is None:
        yield None
        return
    run_id = tracker.start(config)
    try:
        yield run_id
    except BaseException:
        tracker.finish(failed=True)
        raise
    tracker.finish(failed=False)
