"""`classify train`: cross-validate, fit, save the model bundle, log the MLflow run."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from classify.cli._app import (
    FitsEngine,
    Jobs,
    ModelsDir,
    NoTrack,
    Overrides,
    Scheduler,
    TrainingTrackingUri,
    app,
    reports_errors,
    stderr,
    stdout,
)
from classify.cli._cluster import on_engine
from classify.errors import ClassifyError
from classify.model.config import ExperimentConfig, load_experiment

if TYPE_CHECKING:
    from classify.training.train import TrainingResult

ProgressCallback = Callable[[str, int, int], None]


@app.command("train")
@reports_errors
def train_command(
    configs: Annotated[
        list[Path] | None,
        typer.Argument(help="Experiment files (TOML), or folders of them.", show_default=False),
    ] = None,
    overrides: Overrides = None,
    models_dir: ModelsDir = Path("models"),
    tracking_uri: TrainingTrackingUri = None,
    no_track: NoTrack = False,
    experiment: Annotated[
        str | None,
        typer.Option(
            help="MLflow experiment for every run of this command (default: the first "
            "experiment file's mlflow_experiment), so the runs line up in the UI."
        ),
    ] = None,
    register: Annotated[
        str | None,
        typer.Option(
            "--register",
            metavar="NAME",
            help="Register the run's model under NAME in the MLflow model registry "
            "(a new version each time).",
        ),
    ] = None,
    jobs: Jobs = -1,
    engine: FitsEngine = "local",
    scheduler: Scheduler = None,
) -> None:
    """Cross-validate an experiment (grouped by document), fit it on all labels, save the bundle."""
    from classify.training.metric_tables import metrics_table
    from classify.training.train import train_and_save

    if register is not None:  # checked before any training, which takes minutes
        from classify.track.registry import check_model_name

        if no_track:
            raise ClassifyError("--register needs an MLflow run", hint="drop --no-track")
        check_model_name(register)
    paths = experiment_files(configs or [Path("experiments/default.toml")])
    # every file is read and validated before the first (long) training starts
    loaded = [load_experiment(path, overrides or []) for path in paths]
    loaded = same_mlflow_experiment(loaded, experiment)
    trained = []
    for path, config in zip(paths, loaded, strict=True):
        tracker = None
        if not no_track:
            from classify.track.store import default_tracking_uri
            from classify.track.tracker import MlflowTracker

            # one store for the whole command: the first file's unless told otherwise
            tracking_uri = tracking_uri or default_tracking_uri(loaded[0])
            tracker = MlflowTracker(tracking_uri, register_as=register)
        stderr.print(Text.assemble("training ", (config.name, "bold"), f" from {path}"))
        with on_engine(engine, scheduler, jobs), progress_bar() as progress:
            result, bundle, run_id = train_and_save(
                config, models_dir, tracker=tracker, progress=progress, n_jobs=jobs
            )
        trained.append(result)
        evaluation = result.describe_evaluation()
        noun = result.label_set.noun
        stdout.print(metrics_table(result.cv.metrics, f"{config.name}: {evaluation}", noun=noun))
        for name, values in result.cv.breakdown.items():
            if len(values) > 1:
                for value, metrics in values.items():
                    title = f"{config.name}, {name}={value}: {evaluation}"
                    stdout.print(metrics_table(metrics, title, noun=noun))
        for note in result.notes:
            stderr.print(f"note: {note}")
        seconds = ", ".join(f"{k.replace('_', ' ')} {v:.1f}s" for k, v in result.seconds.items())
        size = f"{len(result.training)} training paragraphs"
        stdout.print(f"model bundle: {bundle}   ({size}; {seconds})")
        if tracker is not None:
            from classify.track.store import ui_command

            stdout.print(f"MLflow run {run_id} in {tracker.tracking_uri}")
            stdout.print(f"open the UI: {ui_command(tracker.tracking_uri)}", soft_wrap=True)
            if tracker.registered_version is not None:
                version = tracker.registered_version
                uri = f"models:/{register}/{version}"
                stdout.print(f"registered {register} version {version}   ({uri})", soft_wrap=True)
    if len(trained) > 1:
        stdout.print(comparison_table(trained))
        for note in fold_notes(trained):
            stderr.print(f"note: {note}")


def same_mlflow_experiment(
    configs: list[ExperimentConfig], experiment: str | None
) -> list[ExperimentConfig]:
    """Every config logging to one MLflow experiment: ``experiment``, else the first one's."""
    name = experiment or configs[0].mlflow_experiment
    moved = [c.name for c in configs if c.mlflow_experiment != name]
    if moved and experiment is None:
        stderr.print(f"note: logging {', '.join(moved)} under MLflow experiment {name!r} too")
    return [dataclasses.replace(c, mlflow_experiment=name) for c in configs]


def comparison_table(results: list[TrainingResult]) -> Table:
    """One row per experiment trained by the command: micro/macro F1 and each theme's F1."""
    themes = results[0].label_set.names
    evaluations = {r.describe_evaluation() for r in results}
    shared = next(iter(evaluations)) if len(evaluations) == 1 else None
    title = "experiments side by side" + (f", {shared}" if shared else " (out-of-fold)")
    table = Table(title=title, box=box.SIMPLE_HEAD)
    table.add_column("experiment", no_wrap=True)
    if shared is None:  # only worth a column when the experiments were evaluated differently
        table.add_column("evaluated on")
    for column in ("micro F1", "macro F1", *themes):
        table.add_column(column, justify="right")
    best = max(r.cv.metrics.macro_f1 for r in results)
    for r in results:
        f1 = {t.theme: t.f1 for t in r.cv.metrics.themes}
        table.add_row(
            r.config.name,
            *([] if shared else [r.describe_evaluation()]),
            f"{r.cv.metrics.micro_f1:.3f}",
            f"{r.cv.metrics.macro_f1:.3f}",
            *(f"{f1[t]:.3f}" if t in f1 else "" for t in themes),
            style="bold" if r.cv.metrics.macro_f1 == best else None,
        )
    return table


def fold_notes(results: list[TrainingResult]) -> list[str]:
    """Warn when the experiments of one command were not evaluated on the same folds."""
    groups: dict[str, list[str]] = {}
    for r in results:
        groups.setdefault(r.folds_fingerprint(), []).append(r.config.name)
    if len(groups) == 1:
        return []
    sets = "; ".join(", ".join(names) for names in groups.values())
    return [
        f"these experiments were evaluated on different folds ({sets}): their [data] or [cv] "
        "settings differ, so compare their figures with care"
    ]


def experiment_files(paths: list[Path]) -> list[Path]:
    """Expand folders into their ``*.toml`` files, in name order."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(path.glob("*.toml"))
            if not found:
                raise ClassifyError(f"no experiment files (*.toml) in {path}")
            files += found
        else:
            files.append(path)
    return files


@contextlib.contextmanager
def progress_bar() -> Iterator[ProgressCallback]:
    """A progress bar on stderr, driven by the ``(stage, done, total)`` training callback."""
    columns = (
        TextColumn("{task.description}", markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=stderr, transient=True) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        yield update
