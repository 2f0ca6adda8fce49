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
    "Predictor": "classify.predict.predictor",
    "Prediction": "classify.predict.predictor",
    "Predictors": "classify.predict.predictors",
    "Paragraph": "classify.data.segment",
    "segment": "classify.data.segment",
    "LabelSet": "classify.data.labels",
    "load_label_set": "classify.data.labels",
    "load_annotations": "classify.data.annotations",
    "ExperimentConfig": "classify.model.config",
    "load_experiment": "classify.model.config",
    "train": "classify.training.train",
    "train_and_save": "classify.training.train",
}
__all__ = [
    "ClassifyError",
    "ExperimentConfig",
    "LabelSet",
    "Paragraph",
    "Prediction",
    "Predictor",
    "Predictors",
    "__version__",
    "load_annotations",
    "load_experiment",
    "load_label_set",
    "segment",
    "train",
    "train_and_save",
]

if TYPE_CHECKING:
    from classify.data.annotations import load_annotations
    from classify.data.labels import LabelSet, load_label_set
    from classify.data.segment import Paragraph, segment
    from classify.errors import ClassifyError
    from classify.model.config import ExperimentConfig, load_experiment
    from classify.predict.predictor import Prediction, Predictor
    from classify.predict.predictors import Predictors
    from classify.training.train import train, train_and_save


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'classify' has no attribute {name!r}")
