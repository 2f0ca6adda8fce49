"""`classify compare`: two runs' metric deltas and the paragraphs whose tags flipped."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer

from classify.cli._app import app, reports_errors, stderr, stdout
from classify.cli.runs import TRACKING_URI_HELP


@app.command("compare")
@reports_errors
def compare_command(
    run_a: Annotated[str, typer.Argument(help="Run A: id, unique id prefix or run name.")],
    run_b: Annotated[str, typer.Argument(help="Run B, compared with A (deltas are B - A).")],
    experiment: Annotated[
        str, typer.Option("--experiment", "-e", help="Where id prefixes and names are looked up.")
    ] = "classify",
    tracking_uri: Annotated[str | None, typer.Option(help=TRACKING_URI_HELP)] = None,
    flips: Annotated[
        int, typer.Option(min=0, help="Flipped paragraphs to list in the table (0: all).")
    ] = 50,
    fmt: Annotated[Literal["table", "json"], typer.Option("--format", "-f")] = "table",
) -> None:
    """Per-theme precision/recall/F1 deltas (B - A) and the paragraphs whose out-of-fold tags
    differ between the runs, each marked better or worse."""
    from classify.track.compare import compare_runs
    from classify.track.run_tables import comparison_view

    comparison = compare_runs(run_a, run_b, experiment=experiment, tracking_uri=tracking_uri)
    if fmt == "json":
        stdout.file.write(json.dumps(comparison.as_dict(), ensure_ascii=False, indent=2) + "\n")
    else:
        stdout.print(comparison_view(comparison, flips=flips or None))
    for note in comparison.notes:
        stderr.print(f"note: {note}", soft_wrap=True)
