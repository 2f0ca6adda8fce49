"""Training orchestration: experiment config + labeled paragraphs -> evaluated, fitted model.

:func:`train` reads the data, cross-validates (grouped by document), picks the final thresholds on
out-of-fold scores of the training data, and fits the final pipeline on every labeled paragraph.
:func:`train_and_save` adds the model bundle and, when given a tracker, the MLflow run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from classify.annotations import Annotations, load_annotations
from classify.config import ExperimentConfig
from classify.decision import best_f1_thresholds
from classify.errors import ClassifyError
from classify.evaluation import CrossValidation, cross_validate, fit_pipeline
from classify.labels import LabelSet, load_label_set

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TrainingResult:
    """Everything a training produced: the fitted pipeline, its thresholds and its CV evidence."""

    config: ExperimentConfig
    annotations: Annotations  # the paragraphs trained and cross-validated on
    pipeline: Pipeline  # fitted on all of them
    thresholds: dict[str, float]
    cv: CrossValidation
    data_hash: str
    seconds: dict[str, float]
    notes: tuple[str, ...] = ()

    @property
    def label_set(self) -> LabelSet:
        return self.annotations.label_set

    def out_of_fold_table(self) -> pd.DataFrame:
        """One row per paragraph: gold themes, out-of-fold tags and every theme's score."""
        import pandas as pd

        names = self.label_set.names
        rows = []
        for i, paragraph in enumerate(self.annotations.paragraphs):
            predicted = [n for j, n in enumerate(names) if self.cv.tags[i, j]]
            row = {
                "id": paragraph.id,
                "document": paragraph.group,
                "fold": int(self.cv.fold[i]),
                "gold": ";".join(paragraph.themes),
                "predicted": ";".join(predicted),
                "correct": set(predicted) == set(paragraph.themes),
            }
            row.update(
                {f"score_{n}": round(float(self.cv.scores[i, j]), 6) for j, n in enumerate(names)}
            )
            row["text"] = paragraph.text
            rows.append(row)
        return pd.DataFrame(rows)


class Tracker(Protocol):
    """Where a training is recorded (MLflow in :mod:`classify.tracking`)."""

    def start(self, config: ExperimentConfig) -> str:
        """Open a run, failing fast when the store is unreachable; return the run id."""

    def log(self, result: TrainingResult, bundle_dir: Path) -> None:
        """Record the finished training and its model bundle in the open run."""

    def finish(self, *, failed: bool) -> None:
        """Close the run, marked as failed or finished."""


def load_training_data(config: ExperimentConfig) -> Annotations:
    """The labeled paragraphs an experiment trains on (its label set, file and kinds).

    Example:
        >>> from classify.config import load_experiment
        >>> len(load_training_data(load_experiment("experiments/default.toml")))
        130
    """
    label_set = load_label_set(config.resolve(config.data.label_set))
    documents = config.resolve(config.data.documents) if config.data.documents else None
    annotations = load_annotations(
        config.resolve(config.data.annotations), label_set, documents_dir=documents
    )
    selected = annotations.where(kinds=config.data.kinds)
    if not len(selected):
        raise ClassifyError(
            f"{annotations.path}: no paragraphs of kind {', '.join(config.data.kinds)}",
            hint="check data.kinds in the experiment file",
        )
    return selected


def train(config: ExperimentConfig, *, progress: Progress | None = None) -> TrainingResult:
    """Cross-validate an experiment, then fit its final model on all labeled paragraphs.

    Example:
        >>> result = train(config)
        >>> result.cv.scores.shape, sorted(result.thresholds)[:2]
        ((130, 5), ['drills', 'legislation'])
    """
    annotations = load_training_data(config)
    names = annotations.label_set.names
    texts, y, groups = annotations.texts, annotations.y, annotations.groups
    notes = tuple(
        f"theme {name!r} has no labeled paragraph: it will never be tagged"
        for j, name in enumerate(names)
        if not y[:, j].any()
    )

    started = time.perf_counter()
    cv = cross_validate(
        config,
        texts,
        y,
        groups,
        names,
        progress=(lambda done, total: progress("cross-validation", done, total))
        if progress
        else None,
    )
    cv_seconds = time.perf_counter() - started

    # The final model's thresholds come from out-of-fold scores of its own training data: the
    # same rule each CV fold followed, now applied to all of it.
    if config.thresholds.strategy == "f1":
        chosen = best_f1_thresholds(cv.scores, y, config.thresholds.value, config.thresholds.min_f1)
    else:
        chosen = np.full(len(names), config.thresholds.value)

    started = time.perf_counter()
    if progress:
        progress("final fit", 0, 1)
    pipeline = fit_pipeline(config, texts, y)
    if progress:
        progress("final fit", 1, 1)
    fit_seconds = time.perf_counter() - started

    return TrainingResult(
        config=config,
        annotations=annotations,
        pipeline=pipeline,
        thresholds={name: float(t) for name, t in zip(names, chosen, strict=True)},
        cv=cv,
        data_hash=annotations.fingerprint(),
        seconds={"cross_validation": cv_seconds, "final_fit": fit_seconds},
        notes=notes,
    )


def train_and_save(
    config: ExperimentConfig,
    models_dir: str | Path = "models",
    *,
    tracker: Tracker | None = None,
    progress: Progress | None = None,
) -> tuple[TrainingResult, Path, str | None]:
    """Train, write the model bundle ``models_dir/<name>`` atomically, and track the run.

    Returns the result, the bundle folder and the tracking run id (``None`` without a tracker).

    Example:
        >>> result, bundle, run_id = train_and_save(config, tmp / "models")
        >>> bundle.name, run_id
        ('default', None)
    """
    from classify.bundle import save_bundle

    # Open the run first: an unreachable store fails before the expensive work.
    run_id = tracker.start(config) if tracker is not None else None
    try:
        result = train(config, progress=progress)
        bundle_dir = save_bundle(result, Path(models_dir) / config.name, run_id=run_id)
        if tracker is not None:
            tracker.log(result, bundle_dir)
    except BaseException:
        if tracker is not None:
            tracker.finish(failed=True)
        raise
    if tracker is not None:
        tracker.finish(failed=False)
    return result, bundle_dir, run_id
