"""Writing annotation files, and merging corrected rows back into one.

The review loop's files (``classify suggest``, ``classify audit``) are annotation files in the
project's format (:mod:`classify.data.annotations`) with extra columns that say why a row is
there; a person corrects their ``themes``. :func:`merge_annotations` puts corrections back into
an annotation file: every file goes through the validating loader first, a row's text must not
have changed, and the file keeps its own columns and order (a JSONL file its extra fields).
Files are written to a temporary path and renamed.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from classify.atomic import write_file_atomically
from classify.data.annotations import THEME_SEPARATOR, load_annotations
from classify.data.decoding import read_document
from classify.data.labels import LabelSet
from classify.data.rows import CSV_LINE_END, read_rows
from classify.errors import ClassifyError

# the annotation columns, in the order the review files write them (extra columns follow)
COLUMNS = ("id", "document", "start", "end", "kind", "themes", "text")


def annotation_bytes(
    records: Sequence[dict[str, Any]],
    columns: Sequence[str],
    *,
    jsonl: bool,
    label_column: str = "themes",
) -> bytes:
    """Records as an annotation file: JSONL (the labels, in ``label_column``, a list) or CSV
    (joined by ``;``), UTF-8, with ``columns`` in that order.

    Example:
        >>> annotation_bytes([{"id": "a:1", "themes": ["drills"], "text": "A drill."}],
        ...                  ["id", "themes", "text"], jsonl=False)
        b'id,themes,text\\r\\na:1,drills,A drill.\\r\\n'
    """
    if jsonl:
        lines = [
            json.dumps(
                {c: _jsonl_value(r.get(c), c == label_column) for c in columns},
                ensure_ascii=False,
            )
            for r in records
        ]
        return "".join(line + "\n" for line in lines).encode("utf-8")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=CSV_LINE_END)
    writer.writerow(columns)
    for r in records:
        writer.writerow([_csv_value(r.get(c), c == label_column) for c in columns])
    return buffer.getvalue().encode("utf-8")


def write_annotations(
    path: str | Path,
    records: Sequence[dict[str, Any]],
    columns: Sequence[str],
    *,
    label_column: str = "themes",
) -> None:
    """Write records to ``path`` (``.jsonl`` or ``.csv``) atomically."""
    path = Path(path)
    if path.suffix.lower() not in (".csv", ".jsonl"):
        raise ClassifyError(f"{path}: an annotation file is .csv or .jsonl")
    jsonl = path.suffix.lower() == ".jsonl"
    data = annotation_bytes(records, columns, jsonl=jsonl, label_column=label_column)
    try:
        write_file_atomically(path, data)
    except OSError as exc:
        raise ClassifyError(f"cannot write {path}: {exc.strerror}") from None


@dataclass(frozen=True)
class MergeResult:
    """What a merge changed: paragraph ids whose themes changed, rows added, rows left out."""

    changed: tuple[str, ...]
    added: tuple[str, ...]
    left_out: tuple[str, ...]  # correction rows whose id the target does not have (no --add)


def merge_annotations(
    target: str | Path,
    corrections: Sequence[str | Path],
    label_set: LabelSet,
    *,
    add: bool = False,
    output: str | Path | None = None,
) -> MergeResult:
    """Take the labels (the label set's column, ``themes`` for the themes) of every row of
    ``corrections`` whose id ``target`` has (its text must be the same), append the others when
    ``add``, and write ``target`` (or ``output``).

    Example:
        >>> from classify.data.labels import load_label_set
        >>> labels = load_label_set("labels/themes.toml")
        >>> _ = (tmp / "a.csv").write_text("id,themes,text\\na:1,,Police held a drill.\\n")
        >>> fixed = "id,themes,text,why\\na:1,drills,Police held a drill.,x\\n"
        >>> _ = (tmp / "fix.csv").write_text(fixed)
        >>> merge_annotations(tmp / "a.csv", [tmp / "fix.csv"], labels).changed
        ('a:1',)
        >>> (tmp / "a.csv").read_text().splitlines()[1]
        'a:1,drills,Police held a drill.'
    """
    target = Path(target)
    jsonl = target.suffix.lower() == ".jsonl"
    label_column = label_set.column
    load_annotations(target, label_set)  # the target must be valid before anything is merged
    wanted = load_annotations([Path(p) for p in corrections], label_set)
    records = [record for _, record in read_rows(read_document(target), target, jsonl=jsonl)]
    columns = list(dict.fromkeys(c for record in records for c in record))
    by_id = {str(record.get("id", "")).strip(): record for record in records}
    changed, added, left_out = [], [], []
    for paragraph in wanted.paragraphs:
        record = by_id.get(paragraph.id)
        if record is None:
            if not add:
                left_out.append(paragraph.id)
                continue
            record = {"id": paragraph.id, "text": paragraph.text}
            for column in ("document", "start", "end", "kind"):
                record[column] = getattr(paragraph, column)
            records.append(record)
            columns += [c for c in record if c not in columns]
            added.append(paragraph.id)
        elif record.get("text") != paragraph.text:
            raise ClassifyError(
                f"{paragraph.id}: its text differs between {target} and the corrections",
                hint="a merge changes themes only; fix the text in the file itself",
            )
        elif set(_themes(record.get(label_column))) != set(paragraph.themes):
            changed.append(paragraph.id)
        record[label_column] = list(paragraph.themes)
    if label_column not in columns:
        columns.append(label_column)
    destination = Path(output or target)
    jsonl = destination.suffix.lower() == ".jsonl"
    data = annotation_bytes(records, columns, jsonl=jsonl, label_column=label_column)
    with tempfile.TemporaryDirectory() as scratch:  # what is written must load back
        check = Path(scratch) / f"merged{destination.suffix}"
        check.write_bytes(data)
        load_annotations(check, label_set)
    try:
        write_file_atomically(destination, data)
    except OSError as exc:
        raise ClassifyError(f"cannot write {destination}: {exc.strerror}") from None
    return MergeResult(tuple(changed), tuple(added), tuple(left_out))


def _themes(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(t).strip() for t in value]
    return [t.strip() for t in str(value or "").split(THEME_SEPARATOR) if t.strip()]


def _jsonl_value(value: Any, labels: bool) -> Any:
    return _themes(value) if labels else value


def _csv_value(value: Any, labels: bool) -> Any:
    if labels or isinstance(value, list | tuple):  # lists of names: a;b
        return THEME_SEPARATOR.join(_themes(value))
    return "" if value is None else value
