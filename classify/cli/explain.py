"""`classify explain`: the words behind each paragraph's themes, with exact contributions."""

from __future__ import annotations

import json
from typing import Annotated, Literal

import typer
from rich.text import Text

from classify.cli._app import Inputs, Model, app, load_model, reports_errors, stdout
from classify.cli.predict import parse_thresholds
from classify.errors import ClassifyError
from classify.text import printable


@app.command("explain")
@reports_errors
def explain_command(
    inputs: Inputs = None,
    text: Annotated[
        list[str] | None, typer.Option("--text", "-t", help="A text to explain (repeatable).")
    ] = None,
    model: Model = "models/default",
    tracking_uri: Annotated[
        str | None, typer.Option(help="MLflow store of a models:/ or runs:/ model.")
    ] = None,
    fmt: Annotated[
        Literal["text", "json", "jsonl"], typer.Option("--format", "-f", help="Output format.")
    ] = "text",
    terms: Annotated[
        int, typer.Option(help="Terms shown per theme in each direction (0: all of them).")
    ] = 6,
    threshold: Annotated[
        list[str] | None,
        typer.Option(help="Override thresholds: 0.4 for every theme, or theme=0.4 (repeatable)."),
    ] = None,
    text_column: Annotated[str, typer.Option(help="Text column of table inputs.")] = "text",
    encoding: Annotated[str, typer.Option(help="Encoding of input files.")] = "utf-8",
) -> None:
    """Explain the themes of paragraphs: for each assigned theme, theme in review and the
    nearest miss, the words that pushed its score up or down, with their contributions (which
    add up, with the intercept, to the model's decision value)."""
    from classify.data.inputs import InputStream, ReadOptions
    from classify.predict.explain import explanation_record
    from classify.predict.stream import tag_stream

    if terms < 0:
        raise ClassifyError("--terms must be 0 (all) or more")
    paragraphs = InputStream(
        inputs or [], texts=text or [], options=ReadOptions(text_column, "id", encoding)
    )
    cutoffs = parse_thresholds(threshold or [])
    predictor = load_model(model, tracking_uri)
    for batch in tag_stream(predictor, paragraphs, fmt="table", threshold=cutoffs, explain=True):
        for paragraph, explanation in zip(batch.paragraphs, batch.explanations or (), strict=True):
            record = {
                "source": paragraph.source,
                "id": paragraph.id,
                "kind": paragraph.kind,
                **explanation_record(explanation, terms=terms or None),
                "text": paragraph.text,
            }
            if fmt == "text":
                stdout.print(rationale_text(record), soft_wrap=True)
            elif fmt == "jsonl":
                stdout.file.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                stdout.file.write(json.dumps(record, ensure_ascii=False, indent=2) + "\n")


def _contribution(term: dict) -> float:
    return term["contribution"]


def rationale_text(record: dict) -> Text:
    """A paragraph's rationales for people: the paragraph, then per theme its score and the
    terms pushing it up (+) and down (-)."""
    out = Text()
    out.append(f"{printable(record['id'])}", style="bold")
    if record["kind"] != "body":
        out.append(f" ({record['kind']}: never tagged)", style="dim")
    out.append(f"\n  {printable(' '.join(record['text'].split()))}\n")
    for r in record["rationales"]:
        out.append(f"  {r['theme']}", style="bold green" if r["reason"] == "assigned" else "bold")
        unplaced = f" + not placed {r['unplaced']:+.3f}" if abs(r["unplaced"]) >= 5e-7 else ""
        out.append(
            f"  {r['reason']}, score {r['score']:.3f}, decision value {r['decision']:+.3f}"
            f" = intercept {r['intercept']:+.3f} + the terms{unplaced}\n"
        )
        up = [t for t in r["terms"] if t["contribution"] > 0]
        down = sorted((t for t in r["terms"] if t["contribution"] < 0), key=_contribution)
        for sign, listed, style in (("+", up, "green"), ("-", down, "red")):
            if listed:
                out.append(f"    {sign} ", style=style)
                out.append(
                    ", ".join(f"{printable(t['text'])} {t['contribution']:+.3f}" for t in listed)
                    + "\n"
                )
        if "calibrated" in r["link"] or "constant" in r["link"]:
            out.append(f"    ({r['link']})\n", style="dim")
    return out
