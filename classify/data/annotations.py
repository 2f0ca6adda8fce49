"""Read and validate labeled paragraphs (the ground truth everything is measured on).

An annotation file is CSV or JSONL with one paragraph per record:

=========  ========  ==========================================================================
column     required  meaning
=========  ========  ==========================================================================
id         yes       unique paragraph id (``<document>:<index>`` for segmented documents)
text       yes       the paragraph text, exactly as in the source document
themes     yes       theme names; CSV: ``;``-separated (empty = no theme); JSONL: a list
document   no        source document (file stem); paragraphs of one document are kept on one
                     side of every cross-validation split. Empty: the paragraph is its own group
start/end  no        character offsets of ``text`` in the source document
kind       no        ``body`` (default), ``heading``, ``byline``, ``caption`` or ``boilerplate``
source     no        where the row comes from (``seeds``, ``authored``); default: the file's stem
lang       no        language code (``en``, ``ru``); default: guessed from the script
=========  ========  ==========================================================================

Other columns (notes) are allowed and ignored. Every error names the file and line.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from classify.data.decoding import open_table, read_document
from classify.data.labels import LabelSet
from classify.data.rows import read_rows, stream_rows
from classify.data.segment import KINDS
from classify.errors import ClassifyError
from classify.text import detect_language

REQUIRED_COLUMNS = ("id", "text", "themes")  # "themes": the label set's column
THEME_SEPARATOR = ";"


@dataclass(frozen=True, slots=True)
class LabeledParagraph:
    id: str
    text: str
    themes: tuple[str, ...]
    document: str = ""
    start: int | None = None
    end: int | None = None
    kind: str = "body"
    source: str = ""
    lang: str = ""

    @property
    def group(self) -> str:
        """The cross-validation group: the source document, or the paragraph itself."""
        return self.document or self.id


@dataclass(frozen=True)
class Annotations:
    """Validated labeled paragraphs in file order, with their label set.

    Example:
        >>> from classify.data.labels import load_label_set
        >>> ann = load_annotations("labels/seeds.csv", load_label_set("labels/themes.toml"))
        >>> ann.y.shape
        (159, 5)
    """

    label_set: LabelSet
    paragraphs: tuple[LabeledParagraph, ...]
    path: str = ""

    def __len__(self) -> int:
        return len(self.paragraphs)

    @property
    def texts(self) -> list[str]:
        return [p.text for p in self.paragraphs]

    @property
    def ids(self) -> list[str]:
        return [p.id for p in self.paragraphs]

    @property
    def groups(self) -> np.ndarray:
        return np.array([p.group for p in self.paragraphs], dtype=object)

    @property
    def y(self) -> np.ndarray:
        """Indicator matrix, one row per paragraph, one column per theme (label-set order)."""
        column = {name: j for j, name in enumerate(self.label_set.names)}
        y = np.zeros((len(self.paragraphs), len(column)), dtype=np.int8)
        for i, paragraph in enumerate(self.paragraphs):
            for theme in paragraph.themes:
                y[i, column[theme]] = 1
        return y

    def take(self, indices: Iterable[int]) -> Annotations:
        """The paragraphs at ``indices``, in that order."""
        return replace(self, paragraphs=tuple(self.paragraphs[i] for i in indices))

    @property
    def languages(self) -> np.ndarray:
        return np.array([p.lang for p in self.paragraphs], dtype=object)

    @property
    def source_names(self) -> np.ndarray:
        """The source of every paragraph (see :attr:`sources` for the distinct ones)."""
        return np.array([p.source for p in self.paragraphs], dtype=object)

    @property
    def sources(self) -> tuple[str, ...]:
        """The distinct sources, in order of first appearance."""
        return tuple(dict.fromkeys(p.source for p in self.paragraphs))

    def where(
        self, *, kinds: Iterable[str] | None = None, sources: Iterable[str] | None = None
    ) -> Annotations:
        """The paragraphs whose kind is in ``kinds`` and source in ``sources`` (``None``: any)."""
        wanted_kinds = None if kinds is None else set(kinds)
        wanted_sources = None if sources is None else set(sources)
        kept = tuple(
            p
            for p in self.paragraphs
            if (wanted_kinds is None or p.kind in wanted_kinds)
            and (wanted_sources is None or p.source in wanted_sources)
        )
        return replace(self, paragraphs=kept)

    def fingerprint(self) -> str:
        """sha256 of the ids, texts and themes (in id order) and the label set: the data hash."""
        digest = hashlib.sha256(self.label_set.fingerprint.encode())
        for p in sorted(self.paragraphs, key=lambda p: p.id):
            record = json.dumps([p.id, p.text, list(p.themes)], ensure_ascii=False)
            digest.update(record.encode() + b"\n")
        return digest.hexdigest()


def load_annotations(
    paths: str | Path | Sequence[str | Path],
    label_set: LabelSet,
    *,
    documents_dir: str | Path | None = None,
) -> Annotations:
    """Read, validate and return one or more annotation files (``.csv`` or ``.jsonl``).

    A row without ``source`` takes the file's stem (``labels/seeds.csv`` -> ``seeds``); a row
    without ``lang`` gets the language its script suggests. Ids must be unique across files.
    With ``documents_dir``, every row that names a document and offsets must match that
    document's text, so labels never silently drift from their source.

    Example:
        >>> from classify.data.labels import load_label_set
        >>> label_set = load_label_set("labels/themes.toml")
        >>> seeds = load_annotations("labels/seeds.csv", label_set, documents_dir="seeds")
        >>> len(seeds), seeds.sources, set(seeds.languages)
        (159, ('seeds',), {'en'})
    """
    files = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    if not files:
        raise ClassifyError("no annotation file given")
    documents = _DocumentCache(Path(documents_dir)) if documents_dir is not None else None
    paragraphs: list[LabeledParagraph] = []
    first_seen: dict[str, str] = {}
    for path in files:
        before = len(paragraphs)
        for where, paragraph in _read_file(path, label_set):
            if paragraph.id in first_seen:
                raise ClassifyError(
                    f"{where}: duplicate id {paragraph.id!r} (first at {first_seen[paragraph.id]})"
                )
            first_seen[paragraph.id] = where
            if documents is not None:
                documents.check(paragraph, where)
            paragraphs.append(paragraph)
        if len(paragraphs) == before:
            raise ClassifyError(f"{path}: no labeled paragraphs")
    return Annotations(label_set, tuple(paragraphs), ", ".join(map(str, files)))


def stream_annotations(
    paths: Sequence[str | Path],
    label_set: LabelSet,
    *,
    kinds: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
) -> Iterator[LabeledParagraph]:
    """The paragraphs of annotation files one at a time, validated as
    :func:`load_annotations` validates them, in bounded memory (files of any size): only a
    64-bit digest of each id is kept, to refuse a duplicate. Paragraphs of other ``kinds`` or
    ``sources`` (``None``: any) are skipped.

    Example:
        >>> from classify.data.labels import load_label_set
        >>> rows = stream_annotations(["labels/seeds.csv"], load_label_set("labels/themes.toml"))
        >>> next(rows).id
        '000_018c84c2e1b18d0e:000'
    """
    wanted_kinds = None if kinds is None else set(kinds)
    wanted_sources = None if sources is None else set(sources)
    seen: set[bytes] = set()
    for path in map(Path, paths):
        if not path.is_file():
            raise ClassifyError(f"annotation file not found: {path}")
        with open_table(path) as handle:
            jsonl = path.suffix.lower() == ".jsonl"
            for line, record in stream_rows(handle, path, jsonl=jsonl):
                where = f"{path}:{line}"
                _check_columns(record, where, label_set.column)
                paragraph = _parse_record(record, label_set, where, default_source=path.stem)
                digest = hashlib.blake2b(paragraph.id.encode(), digest_size=8).digest()
                if digest in seen:
                    raise ClassifyError(f"{where}: duplicate id {paragraph.id!r}")
                seen.add(digest)
                if (wanted_kinds is None or paragraph.kind in wanted_kinds) and (
                    wanted_sources is None or paragraph.source in wanted_sources
                ):
                    yield paragraph


def _read_file(path: Path, label_set: LabelSet) -> Iterator[tuple[str, LabeledParagraph]]:
    if not path.is_file():
        raise ClassifyError(f"annotation file not found: {path}")
    rows = read_rows(read_document(path), path, jsonl=path.suffix.lower() == ".jsonl")
    for line, record in rows:
        where = f"{path}:{line}"
        _check_columns(record, where, label_set.column)
        yield where, _parse_record(record, label_set, where, default_source=path.stem)


def _parse_record(
    record: dict[str, Any], label_set: LabelSet, where: str, *, default_source: str
) -> LabeledParagraph:
    pid = str(record.get("id") or "").strip()
    if not pid:
        raise ClassifyError(f"{where}: empty id")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ClassifyError(f"{where}: empty text for paragraph {pid!r}")
    column = label_set.column
    themes = label_set.check(_theme_list(record.get(column), where, column), where=where)
    kind = str(record.get("kind") or "body").strip()
    if kind not in KINDS:
        raise ClassifyError(
            f"{where}: unknown kind {kind!r}", hint=f"use one of {', '.join(KINDS)}"
        )
    return LabeledParagraph(
        id=pid,
        text=text,
        themes=themes,
        document=str(record.get("document") or "").strip(),
        start=_offset(record.get("start"), where),
        end=_offset(record.get("end"), where),
        kind=kind,
        source=str(record.get("source") or "").strip() or default_source,
        lang=str(record.get("lang") or "").strip() or detect_language(text),
    )


def _theme_list(value: Any, where: str, column: str = "themes") -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [t.strip() for t in value.split(THEME_SEPARATOR) if t.strip()]
    if isinstance(value, list) and all(isinstance(t, str) for t in value):
        return [t.strip() for t in value if t.strip()]
    raise ClassifyError(f"{where}: {column} must be a list of names or a ';'-separated string")


def _offset(value: Any, where: str) -> int | None:
    if value is None or value == "":
        return None
    try:
        offset = int(value)
    except (TypeError, ValueError):
        raise ClassifyError(f"{where}: offset {value!r} is not a whole number") from None
    if offset < 0:
        raise ClassifyError(f"{where}: negative offset {offset}")
    return offset


def _check_columns(record: dict[str, Any], where: str, column: str = "themes") -> None:
    required = ("id", "text", column)
    missing = [c for c in required if c not in record]
    if missing:
        raise ClassifyError(
            f"{where}: missing column(s) {', '.join(missing)}",
            hint=f"an annotation file needs {', '.join(required)}",
        )


class _DocumentCache:
    """Reads each source document once, to check rows against it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._texts: dict[str, str] = {}

    def check(self, paragraph: LabeledParagraph, where: str) -> None:
        if not paragraph.document or paragraph.start is None or paragraph.end is None:
            return
        source = self._text(paragraph.document, where)
        if source[paragraph.start : paragraph.end] != paragraph.text:
            raise ClassifyError(
                f"{where}: text of {paragraph.id!r} no longer matches "
                f"{paragraph.document} at {paragraph.start}:{paragraph.end}",
                hint="re-run `classify segment` on the document and update the row",
            )

    def _text(self, document: str, where: str) -> str:
        if document not in self._texts:
            candidates = [self.root / f"{document}.txt", *sorted(self.root.glob(f"{document}.*"))]
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                raise ClassifyError(
                    f"{where}: source document {document!r} not found in {self.root}"
                )
            self._texts[document] = read_document(found)
        return self._texts[document]
