"""What ``classify predict`` prints or writes: prediction records as a table, JSON, JSONL, CSV
or Parquet.

Machine formats carry every theme's score; the table (:mod:`classify.predict.tables`) is for
people; several label sets at once: :mod:`classify.predict.grouped`. :func:`render_batch`
renders one batch of a stream (the writers of :mod:`classify.predict.writers` put the batches
together); :func:`format_predictions` renders a whole list at once.
"""

from __future__ import annotations

import csv
import io
import json
import textwrap
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
from rich.console import Console

from classify.atomic import write_file_atomically
from classify.data.inputs import InputParagraph
from classify.data.rows import CSV_LINE_END
from classify.errors import ClassifyError
from classify.predict.documents import DocumentSummary
from classify.predict.explain import RATIONALE_TERMS, Explanation
from classify.predict.grouped import grouped_csv_rows, grouped_records
from classify.predict.predictor import Prediction
from classify.predict.tables import predictions_table, render_text

if TYPE_CHECKING:
    from classify.predict.predictors import LabelSetColumns

__all__ = [
    "batch_records",
    "csv_header",
    "csv_rows",
    "format_predictions",
    "jsonl_lines",
    "prediction_records",
    "predictions_table",
    "rationale_record",
    "render_batch",
    "render_text",
    "write_output",
]

OutputFormat = Literal["table", "json", "jsonl", "csv", "parquet", "html"]
_quote = json.encoder.encode_basestring  # json.dumps of one str with ensure_ascii=False, in C


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
    *,
    groups: Sequence[LabelSetColumns] | None = None,
    column: str = "themes",
) -> str:
    """One batch of a stream as text: JSONL lines, CSV rows (no header), or the JSON document's
    records, each indented as in the whole document and ending with ``,\n``; ``""`` for the
    formats a writer renders itself (table, Parquet, HTML). ``column``: the label set's name,
    under which its labels go (``themes``, ``narratives``); ``groups``: the label sets of
    several models used together (:func:`grouped_records`)."""
    if groups is not None and fmt in ("jsonl", "csv", "json"):
        records = grouped_records(paragraphs, scores, tags, review, themes, groups, explanations)
        if fmt == "jsonl":
            return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)
        if fmt == "csv":
            return grouped_csv_rows(records, groups)
        return "".join(
            textwrap.indent(json.dumps(r, ensure_ascii=False, indent=2), "    ") + ",\n"
            for r in records
        )
    if fmt == "jsonl":
        return jsonl_lines(paragraphs, scores, tags, review, themes, explanations, column=column)
    if fmt not in ("csv", "json"):
        return ""
    records = batch_records(paragraphs, scores, tags, review, themes, explanations)
    if column != "themes":
        records = [_renamed(r, "themes", column) for r in records]
    if fmt == "csv":
        return csv_rows(records, themes)
    return "".join(
        textwrap.indent(json.dumps(r, ensure_ascii=False, indent=2), "    ") + ",\n"
        for r in records
    )


def _renamed(record: dict[str, Any], key: str, new: str) -> dict[str, Any]:
    """``record`` with ``key`` called ``new``, in the same place."""
    return {(new if k == key else k): v for k, v in record.items()}


def jsonl_lines(
    paragraphs: Sequence[InputParagraph],
    scores: np.ndarray,
    tags: np.ndarray,
    review: np.ndarray,
    themes: Sequence[str],
    explanations: Sequence[Explanation] | None = None,
    *,
    column: str = "themes",
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
    key = _quote(column)
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
            f'"start": {_number(p.start)}, "end": {_number(p.end)}, {key}: [{tagged}], '
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


def csv_header(themes: Sequence[str], *, explain: bool = False, column: str = "themes") -> str:
    """The header line of the CSV format (with a ``rationale`` column, JSON, for ``--explain``;
    the labels' column named after the label set)."""
    columns = ["source", "id", "kind", "start", "end", column, "review"]
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
            [r["source"], r["id"], r["kind"], r["start"], r["end"], ";".join(r[_tags_key(r)])]
            + [";".join(r.get("review", ()))]
            + [r["scores"][t] for t in themes]
            + ([json.dumps(r["rationale"], ensure_ascii=False)] if "rationale" in r else [])
            + [r["text"]]
        )
    return buffer.getvalue()


def _tags_key(record: dict[str, Any]) -> str:
    """The key of a record's labels: the one before ``review``."""
    keys = list(record)
    return keys[keys.index("review") - 1]


def _csv(records: Sequence[dict[str, Any]], themes: Sequence[str]) -> str:
    explain = bool(records) and "rationale" in records[0]
    return csv_header(themes, explain=explain) + csv_rows(records, themes)
