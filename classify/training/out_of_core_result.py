"""What an out-of-core training produces (:class:`OutOfCoreResult`): the shape of an in-memory
:class:`~classify.training.train.TrainingResult` (metrics, thresholds, bundle, MLflow run) for
paragraphs known by id only (:class:`StreamedParagraphs`), their text never held."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from classify.data.annotations import stream_annotations
from classify.data.labels import LabelSet
from classify.model.config import ExperimentConfig
from classify.training.cross_validation import CrossValidation


@dataclass
class StreamedParagraphs:
    """What the reading pass keeps of every paragraph: everything but its text."""

    label_set: LabelSet
    path: str
    ids: list[str] = field(default_factory=list)
    documents: list[int] = field(default_factory=list)  # index into document_names
    document_names: list[str] = field(default_factory=list)  # each group (document) once
    labels: list[bytes] = field(default_factory=list)  # one byte per theme
    languages: list[str] = field(default_factory=list)
    source_names: list[str] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)  # the first few texts (an input example)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def y(self) -> np.ndarray:
        names = self.label_set.names
        return np.frombuffer(b"".join(self.labels), dtype=np.int8).reshape(-1, len(names))

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.source_names))


@dataclass(frozen=True)
class OutOfCoreResult:
    """:class:`~classify.training.train.TrainingResult`'s shape for a streamed training: the
    same metrics, thresholds, bundle and run, with paragraphs known by id (their text is read
    again from the files when the bundle is saved)."""

    config: ExperimentConfig
    training: StreamedParagraphs
    evaluated: StreamedParagraphs
    pipeline: Any
    thresholds: dict[str, float]
    cv: CrossValidation
    data_hash: str
    seconds: dict[str, float]
    notes: tuple[str, ...] = ()

    @property
    def label_set(self) -> LabelSet:
        return self.training.label_set

    @property
    def example_texts(self) -> list[str]:
        return list(self.training.examples)

    def training_texts(self) -> Iterator[str]:
        """The training paragraphs' texts, streamed from the annotation files again."""
        files = [self.config.resolve(path) for path in self.config.data.annotations]
        kinds, sources = self.config.data.kinds, self.config.data.sources
        for paragraph in stream_annotations(files, self.label_set, kinds=kinds, sources=sources):
            yield paragraph.text

    def out_of_fold_table(self):
        """One row per paragraph: gold themes, out-of-fold tags, every theme's score (no text:
        it is not held)."""
        training = self.training
        names = np.array(training.document_names, dtype=object)
        return self.cv.table(
            self.label_set.names, training.y, ids=training.ids,
            documents=names[np.asarray(training.documents, dtype=int)],
            sources=training.source_names, languages=training.languages,
        )  # fmt: skip

    def folds_fingerprint(self) -> str:
        return self.cv.folds_fingerprint(self.training.ids)

    def describe_evaluation(self) -> str:
        trained_on = "+".join(self.training.sources)
        return f"out-of-fold on {trained_on} ({self.config.cv.strategy}, out of core)"

    def bundle_evidence(self) -> dict[str, Any]:
        training = self.training
        return self.cv.evidence(
            self.config, self.describe_evaluation(), self.data_hash,
            documents=len(training.document_names), sources=training.source_names,
            languages=training.languages, out_of_core=True,
        )  # fmt: skip

    def save(self, directory: str | Path, *, run_id: str | None = None) -> Path:
        from classify.model.bundle import save_bundle

        return save_bundle(
            directory,
            self.pipeline,
            self.label_set,
            self.thresholds,
            self.config,
            training_texts=self.training_texts(),
            evidence=self.bundle_evidence(),
            run_id=run_id,
        )
