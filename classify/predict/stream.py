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
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.pool import Pool
from typing import TYPE_CHECKING, Any

import numpy as np

from classify.data.inputs import InputParagraph
from classify.errors import ClassifyError
from classify.predict.explain import Explanation
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
    rendered: bytes  # the batch in the output format (UTF-8), b"" for a table or Parquet
    explanations: list[Explanation] | None = None  # with explain=True: one per paragraph


def tag_stream(
    predictor: Predictor,
    paragraphs: Iterable[InputParagraph],
    *,
    fmt: OutputFormat = "jsonl",
    threshold: Threshold = None,
    top_k: int | None = None,
    jobs: int = 1,
    batch_size: int = BATCH_SIZE,
    explain: bool = False,
) -> Iterator[TaggedBatch]:
    """Each batch of ``paragraphs`` tagged (and rendered in ``fmt``), in input order.

    ``jobs``: worker processes (1: this process; -1: one per core). They are started here, before
    the first batch is asked for (start them before starting threads of your own: on Linux they
    are forked, with the predictor already loaded, when this is the process's only thread).
    ``explain``: each batch carries its paragraphs' rationales (:mod:`classify.predict.explain`),
    and the rendered rows their top terms.

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
    settings = (fmt, threshold, top_k, explain)
    if jobs == 1:
        return (_tag(predictor, batch, *settings) for batch in batches)
    return _in_workers(_pool(predictor, settings, jobs), batches, jobs)


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
    explain: bool = False,
) -> TaggedBatch:
    texts = [p.text for p in batch]
    scores = predictor.scores(texts)
    kinds = [p.kind for p in batch]
    tags, review = predictor.decide(scores, kinds=kinds, threshold=threshold, top_k=top_k)
    explanations = predictor.explain_rows(texts, scores, tags, review) if explain else None
    rendered = render_batch(
        fmt, predictor.themes, batch, scores, tags, review, explanations,
        groups=predictor.groups, column=predictor.column,
    )  # fmt: skip
    return TaggedBatch(list(batch), scores, tags, review, rendered.encode("utf-8"), explanations)


def _pool(predictor: Predictor, settings: tuple[Any, ...], jobs: int) -> Pool:
    """``jobs`` worker processes, each with the predictor and the settings of this stream.

    Forked on Linux while this is the only thread: the workers start at once, sharing the loaded
    model. Otherwise (other threads, other systems) spawned: each loads the model bundle itself.
    """
    global _worker
    if sys.platform == "linux" and threading.active_count() == 1:
        _worker = (predictor, *settings)  # inherited by the forked workers
        context = multiprocessing.get_context("fork")
        return context.Pool(jobs, initializer=_start_worker)
    bundles = predictor.bundle_paths
    if None in bundles:
        raise ClassifyError("--jobs needs model bundles on disk", hint="save them, or use --jobs 1")
    context = multiprocessing.get_context("spawn")
    bundles = [str(path) for path in bundles]
    return context.Pool(jobs, initializer=_start_worker, initargs=(bundles, *settings))


def _in_workers(
    pool: Pool, batches: Iterator[list[InputParagraph]], jobs: int
) -> Iterator[TaggedBatch]:
    with pool:
        pending: deque[tuple[list[InputParagraph], Any]] = deque()
        for batch in batches:
            pending.append((batch, pool.apply_async(_work, (_columns(batch),))))
            if len(pending) >= _IN_FLIGHT_PER_JOB * jobs:
                yield _collect(*pending.popleft())
        while pending:
            yield _collect(*pending.popleft())


def _collect(batch: list[InputParagraph], result: Any) -> TaggedBatch:
    return TaggedBatch(batch, *result.get())


_worker: tuple[Any, ...] = ()  # in a worker: (predictor, fmt, threshold, top_k, explain)


def _start_worker(bundles: list[str] | None = None, *settings: Any) -> None:
    """A worker's start: the predictor is inherited (fork), or loaded from ``bundles`` (spawn:
    one bundle, or several models used together)."""
    global _worker
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    if bundles is not None:
        from classify.predict.predictor import Predictor
        from classify.predict.predictors import Predictors

        loaded = Predictor.load(bundles[0]) if len(bundles) == 1 else Predictors.load_many(bundles)
        _worker = (loaded, *settings)


def _work(columns: tuple[list, ...]) -> tuple[Any, ...]:
    predictor, *settings = _worker
    batch = [InputParagraph(*fields) for fields in zip(*columns, strict=True)]
    tagged = _tag(predictor, batch, *settings)
    return tagged.scores, tagged.tags, tagged.review, tagged.rendered, tagged.explanations


def _columns(batch: list[InputParagraph]) -> tuple[list, ...]:
    """A batch as one list per field: pickled for a worker many times faster than the objects."""
    return (
        [p.source for p in batch],
        [p.id for p in batch],
        [p.text for p in batch],
        [p.kind for p in batch],
        [p.document for p in batch],
        [p.start for p in batch],
        [p.end for p in batch],
    )
