"""Out-of-core training: annotation files larger than memory, streamed in chunks.

The same evaluation as in memory (:mod:`classify.training.cross_validation`), on data that is
never held whole:

* **One reading pass.** Each paragraph is read once. What evaluation needs is kept per paragraph
  (id, document number, gold labels, language, source: no text). Each chunk's hashed features
  (:func:`classify.model.pipeline.hashing_vectorizer`, stateless, so no vocabulary to hold) go
  to a temporary cache of CSR arrays. Every later pass reads numbers, not text.
* **The same grouped folds.** :func:`~classify.training.cross_validation.grouped_folds` over the
  paragraphs' documents gives the folds the in-memory path builds; no document is on both sides.
* **Thresholds tuned inside each fold.** Outer fold k trains two models side by side: the
  outer model, on every other fold; and an inner model, on every fold but k and the next one
  (k + 1 mod K). The inner model's scores on that next fold tune fold k's thresholds, so the
  held-out documents never reach them. That is one inner fold, not K: holding K inner models
  would multiply the memory.
* **SGD, a chunk at a time.** Each theme is a ``SGDClassifier`` (modified Huber) fitted by
  ``partial_fit``, ``training.epochs`` passes over the cached chunks, in a seeded shuffled order.
  ``class_weight = "balanced"`` takes its weights from counts made in the reading pass.
* **The final model** trains on every row. Its thresholds follow the same policy on the
  out-of-fold scores of every row, as in memory when the training rows are the evaluated ones.

Memory: the models (two at a time, themes x ``n_features`` float64 weights each), one chunk,
and per paragraph its id, a document number, one byte per theme and four bytes per theme of
out-of-fold score. The text is never held.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from classify.data.annotations import stream_annotations
from classify.data.labels import LabelSet, load_label_set
from classify.errors import ClassifyError
from classify.model.config import ExperimentConfig
from classify.model.decision import apply_thresholds, choose_thresholds
from classify.model.pipeline import classifier_scores, hashing_vectorizer
from classify.training.cross_validation import CrossValidation, grouped_folds
from classify.training.metrics import compute_metrics, sliced_metrics
from classify.training.out_of_core_result import OutOfCoreResult, StreamedParagraphs

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class _Chunk:
    rows: np.ndarray  # the chunk's paragraph indices
    path: Path  # its hashed features, cached


def read_and_hash(
    config: ExperimentConfig, cache: Path, label_set: LabelSet
) -> tuple[StreamedParagraphs, list[_Chunk], str]:
    """The reading pass: per-paragraph bookkeeping, the hashed chunks, and the data hash (of
    ids, texts and labels in file order, and the label set)."""
    files = [config.resolve(path) for path in config.data.annotations]
    kept = StreamedParagraphs(label_set, ", ".join(map(str, files)))
    hasher = hashing_vectorizer(config.features.hashed)
    digest = hashlib.sha256(label_set.fingerprint.encode())
    names, document_index = label_set.names, {}
    chunks: list[_Chunk] = []
    texts: list[str] = []

    def flush() -> None:
        rows = np.arange(len(kept) - len(texts), len(kept))
        x = hasher.transform(texts)
        path = cache / f"chunk{len(chunks):06d}.npz"
        np.savez(path, data=x.data, indices=x.indices, indptr=x.indptr, shape=x.shape)
        chunks.append(_Chunk(rows, path))
        texts.clear()

    paragraphs = stream_annotations(
        files, label_set, kinds=config.data.kinds, sources=config.data.sources
    )
    for paragraph in paragraphs:
        record = json.dumps([paragraph.id, paragraph.text, list(paragraph.themes)])
        digest.update(record.encode() + b"\n")
        kept.ids.append(paragraph.id)
        kept.documents.append(document_index.setdefault(paragraph.group, len(document_index)))
        kept.labels.append(bytes(name in paragraph.themes for name in names))
        kept.languages.append(paragraph.lang)
        kept.source_names.append(paragraph.source)
        if len(kept.examples) < 20:
            kept.examples.append(paragraph.text)
        texts.append(paragraph.text)
        if len(texts) == config.training.chunk_rows:
            flush()
    if texts:
        flush()
    kept.document_names = list(document_index)
    if not len(kept):
        raise ClassifyError(
            f"{kept.path}: no labeled paragraphs to train on",
            hint="check data.kinds and data.mix in the experiment file",
        )
    return kept, chunks, digest.hexdigest()


def _load(chunk: _Chunk) -> sp.csr_matrix:
    with np.load(chunk.path) as arrays:
        shape = tuple(arrays["shape"])
        return sp.csr_matrix((arrays["data"], arrays["indices"], arrays["indptr"]), shape=shape)


class _Model:
    """One SGD model per theme, fitted a chunk at a time on the rows ``trains`` allows."""

    def __init__(self, config: ExperimentConfig, y: np.ndarray, trains: np.ndarray) -> None:
        from sklearn.linear_model import SGDClassifier

        self.trains = trains
        rows = int(trains.sum())
        positives = y[trains].sum(axis=0)
        self.themes = []
        for positive in positives.tolist():
            weights = None
            if config.model.class_weight == "balanced" and 0 < positive < rows:
                # what class_weight="balanced" computes, from counts of the training rows
                weights = {0: rows / (2 * (rows - positive)), 1: rows / (2 * positive)}
            self.themes.append(
                SGDClassifier(
                    loss="modified_huber",
                    alpha=config.model.alpha or 1e-4,
                    class_weight=weights,
                    random_state=0,
                )
            )

    def partial_fit(self, x: sp.csr_matrix, y: np.ndarray, rows: np.ndarray, pool) -> None:
        mask = self.trains[rows]
        if not mask.any():
            return
        x, y = x[mask], y[rows[mask]]
        list(pool.map(lambda j: self.themes[j].partial_fit(x, y[:, j], classes=[0, 1]),
                      range(len(self.themes))))  # fmt: skip

    def classifier(self):
        """The fitted themes as the pipeline's ``OneVsRestClassifier`` step."""
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.preprocessing import LabelBinarizer

        classifier = OneVsRestClassifier(self.themes[0])
        classifier.estimators_ = self.themes
        every = np.eye(len(self.themes), dtype=int)  # multilabel: one column per theme
        classifier.label_binarizer_ = LabelBinarizer(sparse_output=True).fit(every)
        return classifier


def _fit(models: list[_Model], chunks: list[_Chunk], y: np.ndarray, config, seed: int, pool):
    """``training.epochs`` passes over the chunks, in a seeded shuffled order, for ``models``."""
    rng = np.random.default_rng(seed)
    for _ in range(config.training.epochs):
        for c in rng.permutation(len(chunks)).tolist():
            x = _load(chunks[c])
            order = rng.permutation(x.shape[0])
            x, rows = x[order], chunks[c].rows[order]
            for model in models:
                model.partial_fit(x, y, rows, pool)


def _scores(model: _Model, chunks: list[_Chunk], wanted: np.ndarray) -> tuple[np.ndarray, ...]:
    """The model's scores of the ``wanted`` rows (a mask), and those rows, in row order."""
    classifier = model.classifier()
    found, rows = [], []
    for chunk in chunks:
        mask = wanted[chunk.rows]
        if mask.any():
            found.append(classifier_scores(classifier, _load(chunk)[mask]).astype(np.float32))
            rows.append(chunk.rows[mask])
    return np.concatenate(rows), np.concatenate(found)


def train_out_of_core(
    config: ExperimentConfig, *, progress: Progress | None = None, n_jobs: int = 1
) -> OutOfCoreResult:
    """Cross-validate and fit an out-of-core experiment (``[training] out_of_core = true``).

    Example:
        >>> from classify.model.config import load_experiment
        >>> config = load_experiment("experiments/out-of-core.toml", ["training.epochs=1"])
        >>> result = train_out_of_core(config)
        >>> result.cv.scores.dtype, len(result.training), result.describe_evaluation()
        (dtype('float32'), 2039, 'out-of-fold on authored (group_kfold, out of core)')
    """
    from sklearn.pipeline import Pipeline

    label_set = load_label_set(config.resolve(config.data.label_set))
    names = label_set.names
    policy = config.thresholds
    cache = Path(tempfile.mkdtemp(prefix="classify-out-of-core-"))
    pool = ThreadPoolExecutor(max(1, n_jobs if n_jobs > 0 else _cores()))
    seconds: dict[str, float] = {}
    try:
        started = time.perf_counter()
        kept, chunks, data_hash = read_and_hash(config, cache, label_set)
        y = kept.y
        # the group names themselves (shared strings, not copies): GroupKFold orders groups by
        # name, so the folds are exactly the in-memory path's
        groups = np.array(kept.document_names, dtype=object)[np.asarray(kept.documents)]
        seconds["reading"] = time.perf_counter() - started

        started = time.perf_counter()
        folds = grouped_folds(groups, config.cv)
        fold_of = np.empty(len(kept), dtype=np.int64)
        for k, (_, test) in enumerate(folds):
            fold_of[test] = k
        scores = np.zeros(y.shape, dtype=np.float32)
        tags = np.zeros(y.shape, dtype=bool)
        fold_thresholds = np.zeros((len(folds), len(names)))
        steps = len(folds) + 1
        for k in range(len(folds)):
            if progress:
                progress("cross-validation", k, steps - 1)
            nearby = (k + 1) % len(folds)
            outer = _Model(config, y, fold_of != k)
            inner = _Model(config, y, (fold_of != k) & (fold_of != nearby))
            _fit([outer, inner], chunks, y, config, config.cv.seed + k, pool)
            thresholds = np.full(len(names), policy.value)
            if policy.strategy != "fixed":
                tuned_rows, tuned_scores = _scores(inner, chunks, fold_of == nearby)
                thresholds = choose_thresholds(tuned_scores, y[tuned_rows], names, policy)
            rows, fold_scores = _scores(outer, chunks, fold_of == k)
            scores[rows] = fold_scores
            tags[rows] = apply_thresholds(fold_scores, thresholds)
            fold_thresholds[k] = thresholds
        slices = {"lang": np.asarray(kept.languages), "source": np.asarray(kept.source_names)}
        cv = CrossValidation(
            rows=np.arange(len(kept)),
            scores=scores,
            tags=tags,
            fold=fold_of,
            fold_thresholds=fold_thresholds,
            metrics=compute_metrics(y, tags, names, scores),
            breakdown=sliced_metrics(y, tags, scores, names, slices),
        )
        seconds["cross_validation"] = time.perf_counter() - started

        started = time.perf_counter()
        if progress:
            progress("final fit", 0, 1)
        final = _Model(config, y, np.ones(len(kept), dtype=bool))
        _fit([final], chunks, y, config, config.cv.seed + len(folds), pool)
        chosen = choose_thresholds(scores, y, names, policy)
        pipeline = Pipeline(
            [("features", hashing_vectorizer(config.features.hashed)),
             ("classifier", final.classifier())]
        )  # fmt: skip
        seconds["final_fit"] = time.perf_counter() - started
        if progress:
            progress("final fit", 1, 1)
    finally:
        pool.shutdown()
        shutil.rmtree(cache, ignore_errors=True)
    notes = tuple(
        f"theme {name!r} has no labeled paragraph to train on: it will never be tagged"
        for j, name in enumerate(names)
        if not y[:, j].any()
    )
    return OutOfCoreResult(
        config=config,
        training=kept,
        evaluated=kept,
        pipeline=pipeline,
        thresholds={name: float(t) for name, t in zip(names, chosen, strict=True)},
        cv=cv,
        data_hash=data_hash,
        seconds=seconds,
        notes=notes,
    )


def _cores() -> int:
    import os

    return os.cpu_count() or 1
