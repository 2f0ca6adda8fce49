"""classify: tag paragraphs of news and analysis with themes.

Example:
    >>> from classify import Predictor
    >>> predictor = Predictor.load("models/default")  # doctest: +SKIP
    >>> texts = ["Special forces rehearsed a hostage rescue in a counter-terrorism exercise."]
    >>> "drills" in predictor.predict(texts)[0].themes
    True

The public names are imported lazily, so ``import classify`` stays cheap and never imports MLflow.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "ClassifyError": "classify.errors",
    "Predictor": "classify.predictor",
    "Prediction": "classify.predictor",
    "Paragraph": "classify.segment",
    "segment": "classify.segment",
    "LabelSet": "classify.labels",
    "load_label_set": "classify.labels",
    "load_annotations": "classify.annotations",
    "ExperimentConfig": "classify.config",
    "load_experiment": "classify.config",
    "train": "classify.training",
    "train_and_save": "classify.training",
}
__all__ = [
    "ClassifyError",
    "ExperimentConfig",
    "LabelSet",
    "Paragraph",
    "Prediction",
    "Predictor",
    "__version__",
    "load_annotations",
    "load_experiment",
    "load_label_set",
    "segment",
    "train",
    "train_and_save",
]

if TYPE_CHECKING:
    from classify.annotations import load_annotations
    from classify.config import ExperimentConfig, load_experiment
    from classify.errors import ClassifyError
    from classify.labels import LabelSet, load_label_set
    from classify.predictor import Prediction, Predictor
    from classify.segment import Paragraph, segment
    from classify.training import train, train_and_save


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'classify' has no attribute {name!r}")
