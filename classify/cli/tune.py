"""`classify tune`: search an experiment's grid with nested grouped CV, save the winner."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
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
from classify.cli.train import progress_bar
from classify.model.config import load_experiment

if TYPE_CHECKING:
    from classify.training.tune import TuningResult


@app.command("tune")
@reports_errors
def tune_command(
    config_path: Annotated[
        Path, typer.Argument(metavar="CONFIG", help="Experiment file with a [tune.grid] table.")
    ],
    overrides: Overrides = None,
    models_dir: ModelsDir = Path("models"),
    tracking_uri: TrainingTrackingUri = None,
    no_track: NoTrack = False,
    jobs: Jobs = -1,
    engine: FitsEngine = "local",
    scheduler: Scheduler = None,
) -> None:
    """Pick the best grid candidate by inner grouped CV; report nested CV; save the winner."""
    from classify.training.metric_tables import metrics_table
    from classify.training.tune import grid_candidates, tune_and_save

    config = load_experiment(config_path, overrides or [])
    count = len(grid_candidates(config))  # a bad grid fails here, before any MLflow run
    tracker = None
    if not no_track:
        from classify.track.tracker import MlflowTracker

        tracker = MlflowTracker(tracking_uri)
    stderr.print(
        Text.assemble("tuning ", (config.name, "bold"), f" from {config_path}: {count} candidates")
    )
    with on_engine(engine, scheduler, jobs), progress_bar() as progress:
        tuned, bundle, run_id = tune_and_save(
            config, models_dir, tracker=tracker, progress=progress, n_jobs=jobs
        )
    stdout.print(candidates_table(tuned))
    evaluation = f"nested, {tuned.final.describe_evaluation()}"
    title = f"{config.name} (tuned): {evaluation}"
    stdout.print(metrics_table(tuned.final.cv.metrics, title, noun=tuned.final.label_set.noun))
    stdout.print(f"best: {tuned.best_candidate.label}")
    stdout.print(f"model bundle: {bundle}   ({tuned.final.seconds['tuning']:.1f}s)")
    if tracker is not None:
        from classify.track.store import ui_command

        stdout.print(f"MLflow parent run {run_id} in {tracker.tracking_uri}")
        stdout.print(f"open the UI: {ui_command(tracker.tracking_uri)}", soft_wrap=True)


def candidates_table(tuned: TuningResult) -> Table:
    """Every candidate's selection scores (inner CV of all training rows), the best marked."""
    metric = tuned.final.config.tune.metric
    table = Table(
        title=f"candidates, scored by inner grouped CV of the training rows ({metric} picks)",
        box=box.SIMPLE_HEAD,
    )
    for column in ("#", "settings", "micro F1", "macro F1", "chosen by folds"):
        table.add_column(column, justify="left" if column == "settings" else "right")
    chosen = [tuned.chosen_by_fold.count(i) for i in range(len(tuned.candidates))]
    for position, score in enumerate(tuned.candidates):
        best = position == tuned.best
        table.add_row(
            f"{score.candidate.index}{' *' if best else ''}",
            score.candidate.label,
            f"{score.metrics.micro_f1:.3f}",
            f"{score.metrics.macro_f1:.3f}",
            f"{chosen[position]}/{len(tuned.chosen_by_fold)}",
            style="bold" if best else None,
        )
    return table
