"""`classify evaluate`: a saved model's metrics on a labeled file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from classify.cli._app import app, reports_errors, stderr, stdout


@app.command("evaluate")
@reports_errors
def evaluate_command(
    annotations: Annotated[
        Path, typer.Argument(help="Labeled paragraphs (CSV or JSONL).", show_default=False)
    ],
    model: Annotated[Path, typer.Option("--model", "-m", help="Model bundle folder.")] = Path(
        "models/default"
    ),
    documents: Annotated[
        Path | None,
        typer.Option(help="Folder of source documents to check the labeled text against."),
    ] = None,
    kinds: Annotated[
        list[str] | None, typer.Option("--kind", help="Paragraph kinds to evaluate on.")
    ] = None,
    fmt: Annotated[Literal["table", "json"], typer.Option("--format", "-f")] = "table",
) -> None:
    """Per-theme precision, recall and F1 of a saved model on labeled paragraphs."""
    from classify.data.annotations import load_annotations
    from classify.predict.predictor import Predictor
    from classify.training.metric_tables import metrics_table
    from classify.training.metrics import evaluate_predictor

    predictor = Predictor.load(model)
    labeled = load_annotations(annotations, predictor.label_set, documents_dir=documents)
    labeled = labeled.where(kinds=kinds or ["body"])
    evaluation = evaluate_predictor(predictor, labeled)
    sliced = {
        f"{name}={value}": metrics
        for name, values in evaluation.breakdown.items()
        if len(values) > 1
        for value, metrics in values.items()
    }
    if fmt == "json":
        document = {
            **evaluation.metrics.as_dict(),
            "seen_in_training": evaluation.seen,
            "by": {key: metrics.as_dict() for key, metrics in sliced.items()},
        }
        stdout.file.write(json.dumps(document) + "\n")
    else:
        noun = predictor.label_set.noun
        stdout.print(metrics_table(evaluation.metrics, f"{model} on {annotations}", noun=noun))
        for key, metrics in sliced.items():
            title = f"{model} on {annotations}, {key}"
            stdout.print(metrics_table(metrics, title, noun=noun))
    if evaluation.seen:
        stderr.print(
            f"warning: {evaluation.seen} of {len(labeled)} paragraphs were in this model's "
            "training data; their scores are not an estimate of accuracy (see the bundle's "
            "cross-validation metrics)"
        )
