"""`classify audit`: likely label mistakes in the labeled data, ranked, for a person to fix."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from classify.cli._app import (
    Jobs,
    Model,
    Overrides,
    app,
    load_model,
    reports_errors,
    stderr,
    stdout,
)
from classify.errors import ClassifyError


@app.command("audit")
@reports_errors
def audit_command(
    experiment: Annotated[
        Path, typer.Argument(help="Experiment whose labeled data to audit.")
    ] = Path("experiments/default.toml"),
    overrides: Overrides = None,
    model: Model = "models/default",
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File of findings to correct (.csv or .jsonl)."),
    ] = None,
    confidence: Annotated[
        float, typer.Option(help="Report label findings at least this sure (0-1).")
    ] = 0.5,
    similar: Annotated[
        float, typer.Option(help="Near duplicates: word-shingle similarity at least this.")
    ] = 0.8,
    jobs: Jobs = -1,
) -> None:
    """Find labeled paragraphs whose out-of-fold scores confidently disagree with their labels,
    and near-duplicate paragraphs labeled differently; written as an annotation file to correct
    (`themes` as labeled now, `suggested` as the model sees it) and merge back with
    `classify merge`."""
    import numpy as np

    from classify.data.annotation_files import annotation_bytes, write_annotations
    from classify.model.config import load_experiment
    from classify.training.audit import audit_findings, audit_scores
    from classify.training.train import load_labeled_data

    if not 0.0 <= confidence <= 1.0:
        raise ClassifyError("--confidence is between 0 and 1")
    if output is not None and output.suffix.lower() not in (".csv", ".jsonl"):
        raise ClassifyError(f"{output}: write the findings to a .csv or .jsonl file")
    config = load_experiment(experiment, overrides or [])
    data = load_labeled_data(config)
    predictor = load_model(model)
    if data.label_set.names != predictor.themes:
        raise ClassifyError(
            f"{experiment} labels {', '.join(data.label_set.names)}; the model "
            f"{', '.join(predictor.themes)}",
            hint="use the model trained from this experiment",
        )
    stderr.print(f"scoring {len(data):,} labeled paragraphs out of fold ({config.name})")
    scores = audit_scores(config, data, n_jobs=jobs)
    thresholds = np.array([predictor.thresholds[t] for t in predictor.themes])
    findings = audit_findings(data, scores, thresholds, confidence=confidence, similar=similar)
    column = predictor.label_set.column  # the labels as they are now, in their own column
    records: dict[str, dict] = {}  # one row per paragraph, its findings together
    for f in findings:
        p = f.paragraph
        record = records.setdefault(
            p.id,
            {
                "id": p.id, "document": p.document, "start": p.start, "end": p.end,
                "kind": p.kind, "source": p.source, column: list(p.themes),
                "suggested": list(f.suggested), "issue": [], "confidence": 0.0, "why": [],
                "text": p.text,
            },
        )  # fmt: skip
        record["issue"].append(f.issue)
        record["confidence"] = round(max(record["confidence"], f.confidence), 4)
        record["why"].append(f.why)
    rows = [
        {**r, "issue": "; ".join(dict.fromkeys(r["issue"])), "why": "; ".join(r["why"])}
        for r in records.values()
    ]
    columns = ["id", "document", "start", "end", "kind", "source", column, "suggested"]
    columns += ["issue", "confidence", "why", "text"]
    if output is None:
        written = annotation_bytes(rows, columns, jsonl=False, label_column=column)
        stdout.file.write(written.decode("utf-8"))
    else:
        write_annotations(output, rows, columns, label_column=column)
    labels = sum(1 for f in findings if f.issue == "label")
    pairs = sum(1 for f in findings if f.issue == "near duplicate") // 2
    stderr.print(
        f"{labels} paragraphs whose labels the out-of-fold model disputes (confidence >= "
        f"{confidence}), {pairs} near-duplicate pairs labeled differently",
        soft_wrap=True,
    )
    if output is not None and rows:
        stderr.print(
            f"next: fix the themes column of {output}, then `classify merge FILE {output}` "
            "for each annotation file it names (source column)",
            soft_wrap=True,
        )
