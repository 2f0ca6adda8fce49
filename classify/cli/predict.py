"""`classify predict`: tag texts, documents, folders, stdin or CSV/JSONL/Parquet rows with a model.

Inputs stream through in batches: rows are read, scored (``--jobs`` processes) and written as
they come, so an archive of millions of paragraphs runs in flat memory, with a progress bar on
a terminal.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from classify.cli._app import Inputs, Models, app, load_models, reports_errors, stderr, stdout
from classify.data.inputs import OnError  # light: no scikit-learn, no MLflow
from classify.errors import ClassifyError
from classify.text import printable

if TYPE_CHECKING:
    from classify.data.inputs import InputStream

OutputFormat = Literal["table", "json", "jsonl", "csv", "parquet", "html"]


@app.command("predict")
@reports_errors
def predict_command(
    inputs: Inputs = None,
    text: Annotated[
        list[str] | None, typer.Option("--text", "-t", help="A text to tag (repeatable).")
    ] = None,
    model: Models = None,
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            help="MLflow store of a models:/ or runs:/ model. Default: $MLFLOW_TRACKING_URI, "
            "else experiments/mlflow.db."
        ),
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = "table",
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            help="Write to this file (atomically); --engine dask: a new folder, or an fsspec URL "
            "(s3://bucket/tags/).",
        ),
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(help="Override thresholds: 0.4 for every theme, or theme=0.4 (repeatable)."),
    ] = None,
    top_k: Annotated[int | None, typer.Option(help="Keep at most K themes per paragraph.")] = None,
    text_column: Annotated[str, typer.Option(help="Text column of table inputs.")] = "text",
    id_column: Annotated[str, typer.Option(help="Id column of table inputs (optional).")] = "id",
    encoding: Annotated[str, typer.Option(help="Encoding of input files.")] = "utf-8",
    errors: Annotated[
        str, typer.Option(help="Undecodable bytes: strict, replace or ignore.")
    ] = "strict",
    on_error: Annotated[
        OnError,
        typer.Option(
            help="A bad row (not JSON, no text) or a file that cannot be decoded or has no text: "
            "fail at the first, or skip them all and list them on stderr."
        ),
    ] = "fail",
    jobs: Annotated[
        int,
        typer.Option("--jobs", "-j", help="Processes that score batches (-1: one per core)."),
    ] = 1,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="No progress bar on the terminal.")
    ] = False,
    explain: Annotated[
        bool,
        typer.Option(
            "--explain", help="Add each paragraph's rationale: the words behind its themes."
        ),
    ] = False,
    engine: Annotated[
        Literal["local", "dask"],
        typer.Option(
            help="local: this machine (--jobs processes). dask: a Dask cluster scores a "
            "partitioned table dataset (folder, glob or fsspec URL) into Parquet parts (-o FOLDER)."
        ),
    ] = "local",
    scheduler: Annotated[
        str | None,
        typer.Option(
            help="Dask scheduler address. Default: $DASK_SCHEDULER_ADDRESS, else a local cluster "
            "of --jobs worker processes (-1 or 1: one per core)."
        ),
    ] = None,
) -> None:
    """Tag paragraphs with themes (or any label set; several models at once with --model A
    --model B); whole documents are segmented and summarised."""
    from classify.data.inputs import InputStream, ReadOptions
    from classify.data.skipped import describe_skipped

    options = ReadOptions(text_column, id_column, encoding, errors, on_error)
    if engine == "dask":
        if text or fmt not in ("table", "parquet"):
            raise ClassifyError("--engine dask reads table files and writes Parquet parts")
        from classify.cli._cluster import predict_with_dask

        if model and len(model) > 1:
            raise ClassifyError("--engine dask tags with one model", hint="give one --model")
        predict_with_dask(
            load_models(model, tracking_uri), inputs or [], output, scheduler=scheduler,
            workers=jobs if jobs > 1 else None, options=options, threshold=parse_thresholds(
                threshold or []), top_k=top_k, explain=explain, quiet=quiet,
        )  # fmt: skip
        return
    paragraphs = InputStream(inputs or [], texts=text or [], options=options)  # checks arguments
    if output is not None and "://" in output:
        raise ClassifyError(
            f"-o {output}: this engine writes a local file",
            hint="write it locally, or score a dataset with --engine dask -o URL",
        )
    output_file = Path(output) if output is not None else None
    cutoffs = parse_thresholds(threshold or [])
    if fmt == "parquet" and output is None:
        raise ClassifyError("--format parquet writes a file", hint="add -o FILE.parquet")
    from classify.predict.stream import tag_stream
    from classify.predict.writers import open_writer

    predictor = load_models(model, tracking_uri)
    explain = explain or fmt == "html"  # the report highlights the rationale terms
    batches = tag_stream(
        predictor, paragraphs, fmt=fmt, threshold=cutoffs, top_k=top_k, jobs=jobs, explain=explain
    )
    shown = (
        not quiet
        and stderr.is_terminal
        and not (
            output is None and fmt != "table" and stdout.is_terminal  # the rows scroll past anyway
        )
    )
    with (
        open_writer(
            fmt,
            output_file,
            stdout,
            predictor.themes,
            explain=explain,
            groups=predictor.groups,
            column=predictor.column,
        ) as writer,  # fmt: skip
        progress(paragraphs, shown) as update,
    ):
        for batch in batches:
            writer.add(batch)
            update()
    counts = (paragraphs.skipped_rows, paragraphs.skipped_files)
    for line in describe_skipped(paragraphs.skipped, counts=counts):  # after the output, seen last
        stderr.print(printable(line), soft_wrap=True)


@contextlib.contextmanager
def progress(paragraphs: InputStream, shown: bool) -> Iterator[Callable[[], None]]:
    """A progress bar on stderr (paragraphs, rate, and the share of the input files read, with
    the time left), updated by calling what it yields; nothing when ``shown`` is false."""
    if not shown:
        yield lambda: None
        return
    from rich.progress import (
        BarColumn,
        Progress,
        TaskProgressColumn,
        TextColumn,
        TimeRemainingColumn,
    )

    total = paragraphs.bytes_total or None
    columns = [TextColumn("tagging"), BarColumn(), TaskProgressColumn(), TimeRemainingColumn()]
    columns.append(TextColumn("{task.fields[rows]}"))
    started = time.monotonic()
    with Progress(*columns, console=stderr, transient=True) as bar:
        task = bar.add_task("tagging", total=total, rows="")

        def update() -> None:
            count = paragraphs.paragraphs
            rate = count / max(time.monotonic() - started, 1e-9)
            done = paragraphs.bytes_read if total else None
            bar.update(task, completed=done, rows=f"{count:,} paragraphs, {rate:,.0f}/s")

        yield update


def parse_thresholds(values: list[str]) -> float | dict[str, float] | None:
    """``["0.4"]`` -> 0.4; ``["drills=0.3", "trafficking=0.6"]`` -> a per-theme mapping."""
    if not values:
        return None
    per_theme: dict[str, float] = {}
    for value in values:
        theme, sep, number = value.rpartition("=") if "=" in value else ("", "", value)
        try:
            cutoff = float(number)
        except ValueError:
            raise ClassifyError(f"bad --threshold {value!r}", hint="use 0.4 or theme=0.4") from None
        if not 0.0 <= cutoff <= 1.0:
            raise ClassifyError(f"--threshold {value!r} is outside [0, 1]")
        if not sep:
            if len(values) > 1:
                raise ClassifyError("give one global --threshold, or theme=value pairs")
            return cutoff
        per_theme[theme.strip()] = cutoff
    return per_theme
