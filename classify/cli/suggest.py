"""`classify suggest`: the unlabeled paragraphs whose labels would teach the model most."""

from __future__ import annotations

from collections import Counter
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
from classify.text import printable


@app.command("suggest")
@reports_errors
def suggest_command(
    pool: Annotated[
        list[str],
        typer.Argument(
            help="Unlabeled text: document files, folders, .csv/.jsonl/.parquet tables, or -.",
            show_default=False,
        ),
    ],
    count: Annotated[int, typer.Option("-n", help="Paragraphs to pick.")] = 50,
    model: Model = "models/default",
    experiment: Annotated[
        Path,
        typer.Option(
            "--experiment",
            "-e",
            help="Experiment whose labeled data is left out of the picks and whose pipeline, "
            "fitted on each cross-validation fold, judges disagreement.",
        ),
    ] = Path("experiments/default.toml"),
    overrides: Overrides = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="Annotation file to write (.csv or .jsonl)."),
    ] = None,
    similar: Annotated[
        float, typer.Option(help="Near duplicates: word-shingle similarity at least this.")
    ] = 0.8,
    committee: Annotated[
        bool, typer.Option(help="Fit the fold models (off: closeness to a cut-off alone).")
    ] = True,
    text_column: Annotated[str, typer.Option(help="Text column of table inputs.")] = "text",
    encoding: Annotated[str, typer.Option(help="Encoding of input files.")] = "utf-8",
    jobs: Jobs = -1,
) -> None:
    """Pick the paragraphs to label next: closest to a cut-off and most disputed by the
    cross-validation fold models, spread across themes and documents, near duplicates left out;
    written as an annotation file with the model's guess in `themes` and a `why` column."""
    import numpy as np

    from classify.data.annotation_files import annotation_bytes, write_annotations
    from classify.data.inputs import InputStream, ReadOptions
    from classify.model.config import load_experiment
    from classify.training import suggest
    from classify.training.train import load_labeled_data

    if count < 1:
        raise ClassifyError("-n must be at least 1")
    if output is not None and output.suffix.lower() not in (".csv", ".jsonl"):
        raise ClassifyError(f"{output}: write the suggestions to a .csv or .jsonl file")
    paragraphs = list(InputStream(pool, options=ReadOptions(text_column, "id", encoding)))
    predictor = load_model(model)
    config = load_experiment(experiment, overrides or [])
    data = load_labeled_data(config)
    if data.label_set.names != predictor.themes:
        raise ClassifyError(
            f"{experiment} labels {', '.join(data.label_set.names)}; the model "
            f"{', '.join(predictor.themes)}",
            hint="use the experiment the model was trained from",
        )
    texts = [p.text for p in paragraphs]
    scores = predictor.scores(texts)
    fold_scores = None
    if committee:
        stderr.print(f"fitting {config.name}'s pipeline on each cross-validation fold")
        models = suggest.committee(config, data, n_jobs=jobs)
        fold_scores = np.stack([m.scores(texts) for m in models])
    thresholds = np.array([predictor.thresholds[t] for t in predictor.themes])
    picks = suggest.suggest_paragraphs(
        paragraphs, scores, fold_scores, thresholds, predictor.themes,
        n=count, labeled=data.texts, similar=similar,
    )  # fmt: skip
    column = predictor.label_set.column  # the guesses go where a person labels them
    records = [
        {
            "id": s.paragraph.id,
            # a document's stem, as `classify segment` and the seed labels name it
            "document": Path(s.paragraph.document).stem if s.paragraph.document else "",
            "start": s.paragraph.start,
            "end": s.paragraph.end,
            "kind": s.paragraph.kind,
            column: list(s.guess),
            "why": s.why,
            "value": s.value,
            "text": s.paragraph.text,
        }
        for s in picks
    ]
    columns = ["id", "document", "start", "end", "kind", column, "why", "value", "text"]
    if output is None:
        written = annotation_bytes(records, columns, jsonl=False, label_column=column)
        stdout.file.write(written.decode("utf-8"))
    else:
        write_annotations(output, records, columns, label_column=column)
    taught = Counter(s.theme for s in picks)
    documents = len({s.paragraph.document or s.paragraph.source for s in picks})
    stderr.print(
        f"picked {len(picks)} of {len(paragraphs):,} paragraphs, from {documents} documents; "
        f"by theme: {', '.join(f'{t} {n}' for t, n in taught.most_common())}",
        soft_wrap=True,
    )
    if output is not None:
        stderr.print(
            printable(
                f"next: correct the themes column of {output} (the model's guess), then add it "
                "to data.annotations of the experiment and train again"
            ),
            soft_wrap=True,
        )
