"""What every writer of a tagged stream shares: the document summaries it keeps
(:class:`Writer`), and standard output held back until a first megabyte is ready (:class:`Held`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, BinaryIO, TextIO

from classify.predict.documents import DocumentSummaries

if TYPE_CHECKING:
    from classify.predict.predictors import LabelSetColumns
    from classify.predict.stream import TaggedBatch

# Standard output is held back until this much is ready: a small run that fails on a bad row
# prints nothing (as a file is not written); a large one streams.
HOLD_BYTES = 1 << 20


class Writer:
    """Takes tagged batches as they come (``add``), keeps the document summaries, and ends the
    output when the stream is done (``finish``). ``groups``: the label sets of several models
    used together (:class:`~classify.predict.predictors.Predictors`), ``None`` for one."""

    def __init__(
        self,
        themes: Sequence[str],
        groups: Sequence[LabelSetColumns] | None = None,
        column: str = "themes",
    ) -> None:
        self.themes = list(themes)
        self.groups = groups
        self.column = column  # the label set's name: its labels' key in the output
        self.documents = DocumentSummaries()
        self.paragraphs = 0

    def summaries(self) -> list[dict[str, Any]]:
        """The document summaries as plain data; with several label sets, each label set's
        labels (and best scores) under its own name."""
        found = [asdict(s) for s in self.documents.summaries()]
        if self.groups is None:
            return [{(self.column if k == "themes" else k): v for k, v in s.items()} for s in found]
        owner = {}
        for group in self.groups:
            for name, label in zip(self.themes[group.columns], group.names, strict=True):
                owner[name] = (group.column, label)
        nested = []
        for summary in found:
            record: dict[str, Any] = {"document": summary["document"],
                                      "paragraphs": summary["paragraphs"]}  # fmt: skip
            record.update({group.column: {} for group in self.groups})
            best: dict[str, dict[str, float]] = {group.column: {} for group in self.groups}
            for name, ids in summary["themes"].items():
                column, label = owner[name]
                record[column][label] = ids
            for name, score in summary["best"].items():
                column, label = owner[name]
                best[column][label] = score
            record["best"] = best
            nested.append(record)
        return nested

    def add(self, batch: TaggedBatch) -> None:
        self.paragraphs += len(batch.paragraphs)
        names = self.themes
        for i, paragraph in enumerate(batch.paragraphs):
            if paragraph.document:
                themes = [n for n, on in zip(names, batch.tags[i], strict=True) if on]
                scores = dict(zip(names, batch.scores[i].round(6).tolist(), strict=True))
                self.documents.add(paragraph.document, paragraph.id, themes, scores)

    def finish(self) -> None:
        """Close the output: the stream is complete."""


class Held:
    """A binary stream that keeps what is written until :data:`HOLD_BYTES` of it are ready (or
    :meth:`release`), then passes everything on as it comes."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.held: list[bytes] | None = []
        self.size = 0

    def write(self, data: bytes) -> None:
        if self.held is None:
            self.stream.write(data)
            return
        self.held.append(data)
        self.size += len(data)
        if self.size >= HOLD_BYTES:
            self.release()

    def release(self) -> None:
        if self.held is not None:
            self.stream.write(b"".join(self.held))
            self.held = None

    def flush(self) -> None:
        if self.held is None:
            self.stream.flush()


def binary_stream(stream: TextIO) -> BinaryIO:
    """The byte stream under a text stream (standard output's), or one that decodes into it."""
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    return buffer if buffer is not None else _Decoding(stream)  # type: ignore[return-value]


class _Decoding:
    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, data: bytes) -> None:
        self.stream.write(data.decode("utf-8"))

    def flush(self) -> None:
        self.stream.flush()
