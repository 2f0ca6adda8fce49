"""`classify merge`: put corrected themes (from `suggest` or `audit` files) back into an
annotation file, validated, atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from classify.cli._app import app, reports_errors, stderr
from classify.text import printable


@app.command("merge")
@reports_errors
def merge_command(
    target: Annotated[Path, typer.Argument(help="Annotation file to update (.csv or .jsonl).")],
    corrections: Annotated[
        list[Path], typer.Argument(help="Corrected annotation files.", show_default=False)
    ],
    labels: Annotated[Path, typer.Option(help="Label set of the files.")] = Path(
        "labels/themes.toml"
    ),
    add: Annotated[
        bool, typer.Option("--add", help="Append the rows whose id the target does not have.")
    ] = False,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of the target.")
    ] = None,
) -> None:
    """Take the themes of every corrected row whose id the target has (its text must be
    unchanged); with --add, append the others. Every file is validated first."""
    from classify.data.annotation_files import merge_annotations
    from classify.data.labels import load_label_set

    result = merge_annotations(target, corrections, load_label_set(labels), add=add, output=output)
    written = output or target
    stderr.print(
        printable(
            f"{written}: {len(result.changed)} paragraphs' themes changed, "
            f"{len(result.added)} added"
        )
        + (
            f"; {len(result.left_out)} rows of the corrections are not in {target} "
            "(merge them into their own file, or --add)"
            if result.left_out
            else ""
        ),
        soft_wrap=True,
    )
