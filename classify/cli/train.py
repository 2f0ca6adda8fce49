"""`classify train`: cross-validate, fit, save the model bundle, log the MLflow run."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from classify.cli._app import app, reports_errors, stderr, stdout
from classify.config import load_experiment
from classify.errors import ClassifyError

ProgressCallback = Callable[[str, int, int], None]


@app.command("train")
@reports_errors
def train_command(
    configs: Annotated[
        list[Path] | None,
        typer.Argument(help="Experiment files (TOML), or folders of them.", show_default=False),
    ] = None,
    overrides: Annotated[
        list[str] | None,
        typer.Option("--set", help="Override one config value: section.key=value (repeatable)."),
    ] = None,
    models_dir: Annotated[Path, typer.Option(help="Where model bundles are written.")] = Path(
        "models"
    ),
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            help="MLflow store. Default: $MLFLOW_TRACKING_URI, else mlflow.db beside the "
            "experiment file."
        ),
    ] = None,
    no_track: Annotated[bool, typer.Option("--no-track", help="Do not log to MLflow.")] = False,
    jobs: Annotated[
        int, typer.Option("--jobs", "-j", help="Parallel processes for the folds (-1: every core).")
    ] = -1,
) -> None:
    """Cross-validate an experiment (grouped by document), fit it on all labels, save the bundle."""
    from classify.outputs import metrics_table
    from classify.training import train_and_save

    for path in experiment_files(configs or [Path("experiments/default.toml")]):
        config = load_experiment(path, overrides or [])
        tracker = None
        if not no_track:
            from classify.tracking import MlflowTracker  # MLflow is imported only when tracking

            tracker = MlflowTracker(tracking_uri)
        stderr.print(f"training [bold]{config.name}[/] from {path}")
        with progress_bar() as progress:
            result, bundle, run_id = train_and_save(
                config, models_dir, tracker=tracker, progress=progress, n_jobs=jobs
            )
        evaluation = result.describe_evaluation()
        stdout.print(metrics_table(result.cv.metrics, f"{config.name}: {evaluation}"))
        for name, values in result.cv.breakdown.items():
            if len(values) > 1:
                for value, metrics in values.items():
                    title = f"{config.name}, {name}={value}: {evaluation}"
                    stdout.print(metrics_table(metrics, title))
        for note in result.notes:
            stderr.print(f"note: {note}")
        seconds = ", ".join(f"{k.replace('_', ' ')} {v:.1f}s" for k, v in result.seconds.items())
        size = f"{len(result.training)} training paragraphs"
        stdout.print(f"model bundle: {bundle}   ({size}; {seconds})")
        if tracker is not None:
            from classify.tracking import ui_command

            stdout.print(f"MLflow run {run_id} in {tracker.tracking_uri}")
            stdout.print(f"open the UI: {ui_command(tracker.tracking_uri)}", soft_wrap=True)


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
        TextColumn("{task.description}"),
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
