"""`classify segment`: show how documents split into paragraphs (ids, offsets, kinds)."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Annotated, Literal

import typer
from rich.table import Table

from classify.cli._app import app, reports_errors, stdout
from classify.data.decoding import read_document
from classify.data.rows import CSV_LINE_END
from classify.data.segment import segment
from classify.text import printable

COLUMNS = ("id", "document", "start", "end", "kind", "themes", "text")


@app.command("segment")
@reports_errors
def segment_command(
    files: Annotated[
        list[Path], typer.Argument(help="Document files to segment.", show_default=False)
    ],
    fmt: Annotated[
        Literal["table", "csv", "jsonl"],
        typer.Option("--format", "-f", help="csv gives an annotation template (empty themes)."),
    ] = "table",
    keep_boilerplate: Annotated[
        bool, typer.Option(help="Keep site boilerplate, marked as such.")
    ] = False,
    mode: Annotated[
        Literal["auto", "lines", "blocks"], typer.Option(help="Paragraph = a line or a block.")
    ] = "auto",
    encoding: Annotated[str, typer.Option(help="Text encoding of the files.")] = "utf-8",
) -> None:
    """Split documents into paragraphs with stable ids and character offsets."""
    rows = []
    for path in files:
        text = read_document(path, encoding=encoding)
        for p in segment(text, path.stem, mode=mode, keep_boilerplate=keep_boilerplate):
            rows.append({**p.to_dict(), "themes": ""})
    if fmt == "jsonl":
        for row in rows:
            stdout.file.write(json.dumps({k: row[k] for k in COLUMNS}, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = csv.DictWriter(
            buffer, fieldnames=COLUMNS, extrasaction="ignore", lineterminator=CSV_LINE_END
        )
        writer.writeheader()
        writer.writerows(rows)
        stdout.file.write(buffer.getvalue())
    else:
        table = Table("id", "kind", "start", "end", "text")
        for row in rows:
            cells = (row["id"], row["kind"], str(row["start"]), str(row["end"]), row["text"])
            table.add_row(*map(printable, cells))
        stdout.print(table)
