"""`classify runs`: recent training runs of an MLflow experiment and their key metrics."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer

from classify.cli._app import app, reports_errors, stderr, stdout

TRACKING_URI_HELP = "MLflow store. Default: $MLFLOW_TRACKING_URI, else experiments/mlflow.db."


@app.command("runs")
@reports_errors
def runs_command(
    experiment: Annotated[
        str, typer.Option("--experiment", "-e", help="MLflow experiment to list.")
    ] = "classify",
    tracking_uri: Annotated[str | None, typer.Option(help=TRACKING_URI_HELP)] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="How many recent top-level runs.")
    ] = 20,
    children: Annotated[
        bool,
        typer.Option(
            "--children/--no-children", help="Show tuning runs' child runs under their parent."
        ),
    ] = True,
    fmt: Annotated[Literal["table", "json", "csv"], typer.Option("--format", "-f")] = "table",
) -> None:
    """Recent runs, newest first: data, micro/macro F1 and each theme's F1 (best macro starred)."""
    from classify.track.run_tables import runs_csv, runs_records, runs_table
    from classify.track.runs import list_runs

    runs = list_runs(experiment, tracking_uri=tracking_uri, limit=limit, children=children)
    if fmt == "json":
        stdout.file.write(json.dumps(runs_records(runs), ensure_ascii=False, indent=2) + "\n")
    elif fmt == "csv":
        stdout.file.write(runs_csv(runs))
    elif not runs:
        stderr.print(f"no runs in the MLflow experiment {experiment!r} yet")
    else:
        title = f"MLflow experiment {experiment!r}, newest first"
        stdout.print(runs_table(runs, title, width=stdout.width))
