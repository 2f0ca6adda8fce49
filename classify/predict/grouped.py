"""Records of several models' label sets used together, each label set under its own name
(:class:`~classify.predict.predictors.Predictors`): JSON, JSONL and CSV rows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from classify.data.inputs import InputParagraph
from classify.data.rows import CSV_LINE_END
from classify.predict.explain import RATIONALE_TERMS, Explanation

if TYPE_CHECKING:
    from classify.predict.predictors import LabelSetColumns


def grouped_records(
    paragraphs: Sequence[InputParagraph],
    scores: np.ndarray,
    tags: np.ndarray,
    review: np.ndarray,
    themes: Sequence[str],
    groups: Sequence[LabelSetColumns],
    explanations: Sequence[Explanation] | None = None,
) -> list[dict[str, Any]]:
    """Records of several models' label sets, each under its own name: its labels under its
    column (``"themes": [...], "narratives": [...]``), and ``review``, ``scores`` and
    ``rationale`` keyed by column, each label named as its label set names it.

    Example:
        >>> from classify.predict.predictors import LabelSetColumns
        >>> groups = [LabelSetColumns("themes", ("drills",), slice(0, 1)),
        ...           LabelSetColumns("narratives", ("threat",), slice(1, 2))]
        >>> p = InputParagraph("<text>", "text:1", "Police drill.")
        >>> record = grouped_records([p], np.array([[0.9, 0.2]]), np.array([[True, False]]),
        ...                          np.zeros((1, 2), bool), ["drills", "threat"], groups)[0]
        >>> record["themes"], record["narratives"], record["scores"]["narratives"]
        (['drills'], [], {'threat': 0.2})
    """
    shown = list(themes)
    owner = {}
    for group in groups:
        for name, label in zip(shown[group.columns], group.names, strict=True):
            owner[name] = (group.column, label)
    rationales = [
        None if explanations is None else dict(explanations[i].top_terms(RATIONALE_TERMS))
        for i in range(len(paragraphs))
    ]
    records = []
    rounded = np.round(scores, 6).tolist()
    for i, p in enumerate(paragraphs):
        record: dict[str, Any] = {"source": p.source, "id": p.id, "kind": p.kind,
                                  "start": p.start, "end": p.end}  # fmt: skip
        for group in groups:
            record[group.column] = [
                label for label, on in zip(group.names, tags[i, group.columns], strict=True) if on
            ]
        record["review"] = {
            group.column: [
                label for label, on in zip(group.names, review[i, group.columns], strict=True)
                if on
            ]
            for group in groups
        }  # fmt: skip
        record["scores"] = {
            group.column: dict(zip(group.names, rounded[i][group.columns], strict=True))
            for group in groups
        }
        if rationales[i] is not None:
            nested: dict[str, dict[str, Any]] = {group.column: {} for group in groups}
            for name, terms in rationales[i].items():
                column, label = owner[name]
                nested[column][label] = [[text, contribution] for text, contribution in terms]
            record["rationale"] = nested
        record["text"] = p.text
        records.append(record)
    return records


def grouped_csv_header(groups: Sequence[LabelSetColumns], *, explain: bool = False) -> str:
    """The CSV header of several label sets: per label set ``<column>`` (its labels, ``;``),
    ``<column>.review`` and ``<column>.score_<label>``."""
    columns = ["source", "id", "kind", "start", "end"]
    for group in groups:
        columns += [group.column, f"{group.column}.review"]
        columns += [f"{group.column}.score_{label}" for label in group.names]
    columns += (["rationale"] if explain else []) + ["text"]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=CSV_LINE_END).writerow(columns)
    return buffer.getvalue()


def grouped_csv_rows(records: Sequence[dict[str, Any]], groups: Sequence[LabelSetColumns]) -> str:
    """:func:`grouped_records` as CSV rows, in :func:`grouped_csv_header`'s columns."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=CSV_LINE_END)
    for r in records:
        row = [r["source"], r["id"], r["kind"], r["start"], r["end"]]
        for group in groups:
            row += [";".join(r[group.column]), ";".join(r["review"][group.column])]
            row += [r["scores"][group.column][label] for label in group.names]
        if "rationale" in r:
            row.append(json.dumps(r["rationale"], ensure_ascii=False))
        writer.writerow([*row, r["text"]])
    return buffer.getvalue()
