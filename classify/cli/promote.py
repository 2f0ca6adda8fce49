"""`classify promote`: point an alias (e.g. champion) at a version of a registered model."""

from __future__ import annotations

from typing import Annotated

import typer

from classify.cli._app import app, reports_errors, stdout


@app.command("promote")
@reports_errors
def promote_command(
    name: Annotated[str, typer.Argument(help="Registered model name (train --register NAME).")],
    version: Annotated[str, typer.Argument(help="Version number to promote.")],
    alias: Annotated[
        str, typer.Option("--alias", "-a", help="Alias to set, e.g. champion; moved if it is set.")
    ],
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            help="MLflow store. Default: $MLFLOW_TRACKING_URI, else experiments/mlflow.db."
        ),
    ] = None,
) -> None:
    """Set an alias on a registered model version; predict with --model models:/NAME@ALIAS."""
    from classify.track.registry import set_alias

    done = set_alias(name, version, alias, tracking_uri)
    moved = "" if done.previous is None else f" (was version {done.previous})"
    stdout.print(f"{done.name} version {done.version} is now @{done.alias}{moved}", soft_wrap=True)
    stdout.print(f"predict with: classify predict --model models:/{done.name}@{done.alias} ...")
