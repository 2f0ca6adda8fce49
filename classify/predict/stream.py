"""Tagging a stream of paragraphs batch by batch, in this process or in worker processes.

:func:`tag_stream` takes paragraphs as the batches need them and yields each batch scored,
tagged and, for the text formats, already rendered, in input order. With ``jobs`` > 1 the
batches are scored and rendered by that many worker processes, each with its own copy of the
model bundle, and at most two batches per worker are in flight: the input is read while the
workers score, and memory stays flat however long the stream is.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from classify.data.inputs import InputParagraph
from classify.errors import ClassifyError
from classify.predict.outputs import OutputFormat, render_batch

if TYPE_CHECKING:
    from classify.predict.predictor import Predictor, Threshold

BATCH_SIZE = 1000  # paragraphs scored together: large enough to amortise, small enough to stream
_IN_FLIGHT_PER_JOB = 2


@dataclass(frozen=True)
class TaggedBatch:
    """One batch of paragraphs with their scores, tags and review marks (rows in order)."""

    paragraphs: list[InputParagraph]
    scores: np.ndarray
    tags: np.ndarray
    review: np.ndarray
    rendered: str  # the batch in the output format, "" for formats a writer renders itself


def tag_stream(
    predictor: Predictor,
    paragraphs: Iterable[InputParagraph],
    *,
    fmt: OutputFormat = "jsonl",
    threshold: Threshold = None,
    top_k: int | None = None,
    jobs: int = 1,
    batch_size: int = BATCH_SIZE,
) -> Iterator[TaggedBatch]:
    """Each batch of ``paragraphs`` tagged (and rendered in ``fmt``), in input order.

    ``jobs``: worker processes (1: this process; -1: one per core). Workers load the predictor's
    model bundle from its folder.

    Example:
        >>> from classify.data.inputs import InputStream
        >>> batches = tag_stream(predictor, InputStream(["A drill.", "A raid."]), batch_size=1)
        >>> [b.paragraphs[0].id for b in batches]
        ['text:1', 'text:2']
    """
    if batch_size < 1:
        raise ClassifyError("batch size must be at least 1")
    if jobs == -1:
        jobs = os.cpu_count() or 1
    if jobs < 1:
        raise ClassifyError(f"--jobs must be at least 1 (or -1: every core), not {jobs}")
    batches = _batches(paragraphs, batch_size)
    if jobs == 1:
        for batch in batches:
            yield _tag(predictor, batch, fmt, threshold, top_k)
        return
    if predictor.path is None:
        raise ClassifyError("--jobs needs a model bundle on disk", hint="save it, or use --jobs 1")
    yield from _in_workers(predictor.path, batches, fmt, threshold, top_k, jobs)


def _batches(paragraphs: Iterable[InputParagraph], size: int) -> Iterator[list[InputParagraph]]:
    iterator = iter(paragraphs)
    while batch := list(itertools.islice(iterator, size)):
        yield batch


def _tag(
    predictor: Predictor,
    batch: Sequence[InputParagraph],
    fmt: OutputFormat,
    threshold: Threshold,
    top_k: int | None,
) -> TaggedBatch:
    scores = predictor.scores([p.text for p in batch])
    kinds = [p.kind for p in batch]
    tags, review = predictor.decide(scores, kinds=kinds, threshold=threshold, top_k=top_k)
    rendered = render_batch(fmt, predictor.themes, batch, scores, tags, review)
    return TaggedBatch(list(batch), scores, tags, review, rendered)


def _in_workers(
    bundle: Path,
    batches: Iterator[list[InputParagraph]],
    fmt: OutputFormat,
    threshold: Threshold,
    top_k: int | None,
    jobs: int,
) -> Iterator[TaggedBatch]:
    # spawn, not fork: a fresh interpreter per worker is safe whatever threads the caller runs
    context = multiprocessing.get_context("spawn")
    settings = (str(bundle), fmt, threshold, top_k)
    with context.Pool(jobs, initializer=_start_worker, initargs=settings) as pool:
        pending: deque[tuple[list[InputParagraph], Any]] = deque()
        for batch in batches:
            pending.append((batch, pool.apply_async(_work, (batch,))))
            if len(pending) >= _IN_FLIGHT_PER_JOB * jobs:
                yield _collect(*pending.popleft())
        while pending:
            yield _collect(*pending.popleft())


def _collect(batch: list[InputParagraph], result: Any) -> TaggedBatch:
    scores, tags, review, rendered = result.get()
    return TaggedBatch(batch, scores, tags, review, rendered)


_worker: tuple[Any, ...] = ()  # in a worker: (predictor, fmt, threshold, top_k)


def _start_worker(bundle: str, fmt: OutputFormat, threshold: Threshold, top_k: int | None) -> None:
    global _worker
    from classify.predict.predictor import Predictor

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _worker = (Predictor.load(bundle), fmt, threshold, top_k)


def _work(batch: list[InputParagraph]) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    predictor, fmt, threshold, top_k = _worker
    tagged = _tag(predictor, batch, fmt, threshold, top_k)
    return tagged.scores, tagged.tags, tagged.review, tagged.rendered
