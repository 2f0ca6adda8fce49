"""`classify predict`: tag texts, documents, folders, stdin or CSV/JSONL rows with a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from classify.cli._app import app, reports_errors, stderr, stdout
from classify.data.inputs import OnError  # light: no scikit-learn, no MLflow
from classify.errors import ClassifyError
from classify.text import printable

OutputFormat = Literal["table", "json", "jsonl", "csv"]


@app.command("predict")
@reports_errors
def predict_command(
    inputs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Texts, document files, folders, .csv/.jsonl tables, or - for stdin.",
            show_default=False,
        ),
    ] = None,
    text: Annotated[
        list[str] | None, typer.Option("--text", "-t", help="A text to tag (repeatable).")
    ] = None,
    model: Annotated[
        str,
        typer.Option(
            "--model",
            "-m",
            help="Model bundle folder, or an MLflow model: models:/NAME@ALIAS, "
            "models:/NAME/VERSION, runs:/RUN_ID/model.",
        ),
    ] = "models/default",
    tracking_uri: Annotated[
        str | None,
        typer.Option(
            help="MLflow store of a models:/ or runs:/ model. Default: $MLFLOW_TRACKING_URI, "
            "else experiments/mlflow.db."
        ),
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = "table",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (atomically).")
    ] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(help="Override thresholds: 0.4 for every theme, or theme=0.4 (repeatable)."),
    ] = None,
    top_k: Annotated[int | None, typer.Option(help="Keep at most K themes per paragraph.")] = None,
    text_column: Annotated[str, typer.Option(help="Text column of CSV/JSONL inputs.")] = "text",
    id_column: Annotated[
        str, typer.Option(help="Id column of CSV/JSONL inputs (optional).")
    ] = "id",
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
) -> None:
    """Tag paragraphs with themes; whole documents are segmented and summarised."""
    from classify.data.inputs import ReadOptions, describe_skipped, read_inputs

    options = ReadOptions(text_column, id_column, encoding, errors, on_error)
    paragraphs = read_inputs(inputs or [], texts=text or [], options=options)
    cutoffs = parse_thresholds(threshold or [])
    # scikit-learn loads with the model: only now, so input errors are reported instantly
    from classify.predict.outputs import (
        format_predictions,
        prediction_records,
        predictions_table,
        write_output,
    )
    from classify.predict.predictor import Predictor, summarise_documents
    from classify.track.registry import (  # imports MLflow only for a URI
        is_model_uri,
        load_predictor,
    )

    if is_model_uri(model):
        predictor = load_predictor(model, tracking_uri)
    else:
        predictor = Predictor.load(Path(model))
    predictions = predictor.predict_paragraphs(paragraphs, threshold=cutoffs, top_k=top_k)
    records = prediction_records(paragraphs, predictions)
    summaries = summarise_documents(
        (p.document, p.id, pred)
        for p, pred in zip(paragraphs, predictions, strict=True)
        if p.document
    )
    if fmt == "table" and output is None:
        stdout.print(predictions_table(records, summaries, predictor.themes))
    else:
        write_output(format_predictions(records, summaries, predictor.themes, fmt), output, stdout)
    for line in describe_skipped(paragraphs.skipped):  # after the output, so it is seen last
        stderr.print(printable(line), soft_wrap=True)


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
