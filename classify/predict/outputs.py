"""What ``classify predict`` prints or writes: prediction records as a table, JSON, JSONL, CSV
or Parquet.

Machine formats carry every theme's score; the table is for people. :func:`render_batch` renders
one batch of a stream (the writers of :mod:`classify.predict.writers` put the batches together);
:func:`format_predictions` renders a whole list at once.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal

import numpy as np
from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from classify.atomic import write_file_atomically
from classify.data.inputs import InputParagraph
from classify.data.labels import abbreviate
from classify.data.rows import CSV_LINE_END
from classify.errors import ClassifyError
from classify.predict.documents import DocumentSummary
from classify.predict.explain import Explanation
from classify.predict.predictor import Prediction
from classify.text import printable

OutputFormat = Literal["table", "json", "jsonl", "csv", "parquet", "html"]
_quote = json.encoder.encode_basestring  # json.dumps of one str with ensure_ascii=False, in C
_SCORE_COLUMNS_MAX_THEMES = 6  # above this, the table shows the best three scores instead
RATIONALE_TERMS = 5  # terms per theme that --explain adds to every row


def prediction_records(
    paragraphs: Sequence[InputParagraph], predictions: Sequence[Prediction]
) -> list[dict[str, Any]]:
    """One plain-data record per paragraph, in input order.

    Example:
        >>> p = InputParagraph("<text>", "text:1", "Police drill.")
        >>> prediction_records([p], [Prediction(("drills",), {"drills": 0.9})])[0]["themes"]
        ['drills']
    """
    return [
        _record(p, list(prediction.themes), list(prediction.review), prediction.scores)
        for p, prediction in zip(paragraphs, predictions, strict=True)
    ]


def batch_records(
    paragraphs: Sequence[InputParagraph],
    scores: np.ndarray,
    tags: np.ndarray,
    review: np.ndarray,
    themes: Sequence[str],
    explanations: Sequence[Explanation] | None = None,
) -> list[dict[str, Any]]:
    """:func:`prediction_records` from a batch's score, tag and review matrices (scores rounded
    to 6 places, as :class:`Prediction` holds them), with each row's ``rationale`` when
    ``explanations`` are given.

    Example:
        >>> p = InputParagraph("<text>", "text:1", "Police drill.")
        >>> batch_records([p], np.array([[0.9]]), np.array([[True]]), np.array([[False]]),
        ...               ["drills"])[0]["scores"]
        {'drills': 0.9}
    """
    names = list(themes)
    rationales = _rationales(explanations, len(paragraphs))
    return [
        _record(
            p,
            [n for n, on in zip(names, row_tags, strict=True) if on],
            [n for n, on in zip(names, row_review, strict=True) if on],
            dict(zip(names, row_scores, strict=True)),
            rationale,
        )
        for p, row_scores, row_tags, row_review, rationale in zip(
            paragraphs,
            np.round(scores, 6).tolist(),
            tags.tolist(),
            review.tolist(),
            rationales,
            strict=True,
        )
    ]


def _record(
    p: InputParagraph,
    themes: list[str],
    review: list[str],
    scores: dict[str, float],
    rationale: dict[str, list[list[Any]]] | None = None,
) -> dict[str, Any]:
    record = {
        "source": p.source,
        "id": p.id,
        "kind": p.kind,
        "start": p.start,
        "end": p.end,
        "themes": themes,
        "review": review,
        "scores": scores,
    }
    if rationale is not None:
        record["rationale"] = rationale
    record["text"] = p.text
    return record


def rationale_record(explanation: Explanation) -> dict[str, list[list[Any]]]:
    """The top terms pushing each assigned or review theme up, as ``--explain`` adds them to a
    row: ``{theme: [[term, contribution], ...]}``.

    Example:
        >>> record = rationale_record(predictor.explain(["Police rehearsed a hostage rescue."])[0])
        >>> list(record), [type(value) for value in record["drills"][0]]
        (['drills'], [<class 'str'>, <class 'float'>])
    """
    return {
        theme: [[text, contribution] for text, contribution in terms]
        for theme, terms in explanation.top_terms(RATIONALE_TERMS).items()
    }


def _rationales(
    explanations: Sequence[Explanation] | None, rows: int
) -> list[dict[str, list[list[Any]]] | None]:
    if explanations is None:
        return [None] * rows
    return [rationale_record(e) for e in explanations]


def render_batch(
    fmt: OutputFormat,
    themes: Sequence[str],
    paragraphs: Sequence[InputParagraph],
    scores: np.ndarray,
    tags: np.ndarray,
    review: np.ndarray,
    explanations: Sequence[Explanation] | None = None,
) -> str:
    """One batch of a stream as text: JSONL lines, CSV rows (no header), or the JSON document's
    records, each indented as in the whole document and ending with ``,\n``; ``""`` for the
    formats a writer renders itself (table, Parquet, HTML)."""
    if fmt == "jsonl":
        return jsonl_lines(paragraphs, scores, tags, review, themes, explanations)
    if fmt not in ("csv", "json"):
        return ""
    records = batch_records(paragraphs, scores, tags, review, themes, explanations)
    if fmt == "csv":
        return csv_rows(records, themes)
    return "".join(
        textwrap.indent(json.dumps(r, ensure_ascii=False, indent=2), "    ") + ",\n"
        for r in records
    )


def jsonl_lines(
    paragraphs: Sequence[InputParagraph],
    scores: np.ndarray,
    tags: np.ndarray,
    review: np.ndarray,
    themes: Sequence[str],
    explanations: Sequence[Explanation] | None = None,
) -> str:
    """The JSONL lines of a batch: exactly ``json.dumps(record, ensure_ascii=False)`` of each of
    :func:`batch_records`, put together from its pieces (a few times faster on millions of rows).

    Example:
        >>> p = InputParagraph("<text>", "text:1", 'A "drill".')
        >>> line = jsonl_lines([p], np.array([[0.9]]), np.array([[True]]), np.array([[False]]),
        ...                    ["drills"])
        >>> line == json.dumps(batch_records([p], np.array([[0.9]]), np.array([[True]]),
        ...                    np.array([[False]]), ["drills"])[0], ensure_ascii=False) + "\\n"
        True
    """
    quoted = [_quote(t) for t in themes]
    lines = []
    rows = zip(
        paragraphs,
        np.round(scores, 6).tolist(),
        tags.tolist(),
        review.tolist(),
        _rationales(explanations, len(paragraphs)),
        strict=True,
    )
    for p, row_scores, row_tags, row_review, rationale in rows:
        tagged = ", ".join(q for q, on in zip(quoted, row_tags, strict=True) if on)
        marked = ", ".join(q for q, on in zip(quoted, row_review, strict=True) if on)
        scored = ", ".join(f"{q}: {s!r}" for q, s in zip(quoted, row_scores, strict=True))
        why = (
            ""
            if rationale is None
            else f'"rationale": {json.dumps(rationale, ensure_ascii=False)}, '
        )
        lines.append(
            f'{{"source": {_quote(p.source)}, "id": {_quote(p.id)}, "kind": {_quote(p.kind)}, '
            f'"start": {_number(p.start)}, "end": {_number(p.end)}, "themes": [{tagged}], '
            f'"review": [{marked}], "scores": {{{scored}}}, {why}"text": {_quote(p.text)}}}\n'
        )
    return "".join(lines)


def _number(value: int | None) -> str:
    return "null" if value is None else str(value)


def format_predictions(
    records: Sequence[dict[str, Any]],
    summaries: Sequence[DocumentSummary],
    themes: Sequence[str],
    fmt: OutputFormat,
    *,
    width: int = 120,
) -> str:
    """Render prediction records as text in the requested format."""
    if fmt == "json":
        document = {"paragraphs": list(records), "documents": [asdict(s) for s in summaries]}
        return json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if fmt == "jsonl":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
    if fmt == "csv":
        return _csv(records, themes)
    return render_text(predictions_table(records, summaries, themes), width=width)


def write_output(text: str, output: str | Path | None, console: Console) -> None:
    """Print ``text``, or write it atomically to ``output``."""
    if output is None:
        console.file.write(text)
        console.file.flush()
    else:
        try:
            write_file_atomically(output, text.encode("utf-8"))
        except OSError as exc:
            raise ClassifyError(f"cannot write {output}: {exc.strerror}") from None


def predictions_table(
    records: Sequence[dict[str, Any]], summaries: Sequence[DocumentSummary], themes: Sequence[str]
) -> RenderableType:
    """One table per source (paragraph, tags, scores, text), then a per-document summary."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_source.setdefault(record["source"], []).append(record)
    tables: list[RenderableType] = [
        _source_table(source, rows, themes) for source, rows in by_source.items()
    ]
    if summaries:
        summary = Table(title="Documents", title_justify="left", box=box.SIMPLE_HEAD)
        summary.add_column("document", overflow="fold", min_width=10)
        summary.add_column("paragraphs", justify="right")
        summary.add_column("themes (paragraphs carrying them)", min_width=20)
        for s in summaries:
            where = "; ".join(
                f"{theme} ({len(ids)}: {', '.join(_short_id(i) for i in ids)})"
                for theme, ids in s.themes.items()
            )
            summary.add_row(printable(s.document), str(s.paragraphs), printable(where) or "-")
        tables.append(summary)
    return Group(*tables)


def _source_table(source: str, rows: Sequence[dict[str, Any]], themes: Sequence[str]) -> Table:
    table = Table(title=printable(source), title_justify="left", expand=True, box=box.SIMPLE_HEAD)
    table.add_column("#", no_wrap=True, min_width=3)
    table.add_column("themes", style="bold green", min_width=8, max_width=14)
    reviewed = any(record.get("review") for record in rows)
    if reviewed:  # themes just below their cut-off: a person should look
        table.add_column("review", style="yellow", min_width=6, max_width=14)
    per_theme = len(themes) <= _SCORE_COLUMNS_MAX_THEMES
    if per_theme:
        for header in abbreviate(themes):
            table.add_column(header, justify="right", no_wrap=True, min_width=4)
    else:
        table.add_column("best scores", min_width=12)
    explained = any("rationale" in record for record in rows)
    if explained:  # --explain: the words behind the themes
        table.add_column("why", overflow="fold", min_width=12, max_width=30)
    table.add_column("text", overflow="ellipsis", no_wrap=True, min_width=16, ratio=1)
    for record in rows:
        tagged = set(record["themes"])
        label = (
            Text(", ".join(record["themes"]))
            if tagged
            else Text("-" if record["kind"] == "body" else record["kind"], style="dim")
        )
        cells: list[Any] = [_short_id(record["id"]), label]
        if reviewed:
            cells.append(", ".join(record.get("review", ())))
        if per_theme:
            cells += [_score_cell(record["scores"][t], t in tagged) for t in themes]
        else:
            best = sorted(record["scores"].items(), key=lambda kv: -kv[1])[:3]
            cells.append(", ".join(f"{t} {s:.2f}" for t, s in best))
        if explained:
            cells.append(_why(record.get("rationale") or {}))
        cells.append(_one_line(record["text"]))
        table.add_row(*cells)
    return table


def _why(rationale: dict[str, list[list[Any]]]) -> str:
    """``drills: rehearsed, hostages, airport`` for each theme of a row's rationale."""
    return "; ".join(
        f"{theme}: {', '.join(printable(text) for text, _ in terms[:3])}"
        for theme, terms in rationale.items()
    )


def _one_line(text: str, limit: int = 2_000) -> str:
    """The start of ``text`` with its whitespace collapsed, at most ``limit`` characters.

    The cell shows one line cut with an ellipsis, so only the start matters, and rich takes a
    minute and gigabytes to lay out a 20 MB paragraph in full.

    Example:
        >>> _one_line("Police\\n  held a   drill.", limit=12)
        'Police held '
    """
    return printable(" ".join(text.split(maxsplit=limit)[:limit])[:limit])


def _short_id(paragraph_id: str) -> str:
    """``doc:007`` -> ``007``: the table's title already names the document."""
    return printable(paragraph_id.rsplit(":", 1)[-1] if ":" in paragraph_id else paragraph_id)


def render_text(renderable: RenderableType, *, width: int = 120) -> str:
    """Render a rich object to plain text (no colour codes), e.g. for a file."""
    buffer = io.StringIO()
    Console(file=buffer, width=width, color_system=None, force_terminal=False, markup=False).print(
        renderable
    )
    return buffer.getvalue()


def _score_cell(score: float, tagged: bool) -> Text:
    return Text(f"{score:.2f}", style="bold green" if tagged else "dim")


def csv_header(themes: Sequence[str], *, explain: bool = False) -> str:
    """The header line of the CSV format (with a ``rationale`` column, JSON, for ``--explain``)."""
    columns = ["source", "id", "kind", "start", "end", "themes", "review"]
    columns += [f"score_{t}" for t in themes] + (["rationale"] if explain else []) + ["text"]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=CSV_LINE_END).writerow(columns)
    return buffer.getvalue()


def csv_rows(records: Sequence[dict[str, Any]], themes: Sequence[str]) -> str:
    """The records as CSV rows, in :func:`csv_header`'s columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=CSV_LINE_END)
    for r in records:
        writer.writerow(
            [r["source"], r["id"], r["kind"], r["start"], r["end"], ";".join(r["themes"])]
            + [";".join(r.get("review", ()))]
            + [r["scores"][t] for t in themes]
            + ([json.dumps(r["rationale"], ensure_ascii=False)] if "rationale" in r else [])
            + [r["text"]]
        )
    return buffer.getvalue()


def _csv(records: Sequence[dict[str, Any]], themes: Sequence[str]) -> str:
    explain = bool(records) and "rationale" in records[0]
    return csv_header(themes, explain=explain) + csv_rows(records, themes)
