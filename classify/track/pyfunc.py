"""The MLflow pyfunc flavour of a model bundle: how it is logged, and how MLflow loads it back
(through the entry point :mod:`classify.mlflow_model`).

The logged MLflow model is the bundle folder itself plus this module: nothing is pickled by
MLflow, and serving (``mlflow models serve``) or ``mlflow.pyfunc.load_model`` both end in
:class:`~classify.predict.predictor.Predictor`. Input is a DataFrame with a ``text`` column (or a
list of strings); output is one row per input row with the assigned themes and every theme's
score. Loading imports no MLflow here (MLflow has imported itself); logging does, inside
:func:`log_bundle_as_model`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

import classify
from classify.errors import ClassifyError
from classify.model.bundle_folders import resolve_version
from classify.predict.predictor import Predictor

if TYPE_CHECKING:
    from classify.training.train import TrainingResult

TEXT_COLUMN = "text"
MODEL_NAME = "model"  # the logged model's name in its run (runs:/RUN_ID/model)
# The loader the MLmodel file names: a stable entry point that forwards here, the name every model
# classify has logged carries (so models logged by older versions load, and the other way round).
LOADER_MODULE = "classify.mlflow_model"


class PyfuncThemeModel:
    """What ``mlflow.pyfunc.load_model`` wraps: ``predict(DataFrame) -> DataFrame``."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> pd.DataFrame:
        texts = input_texts(model_input)
        index = model_input.index if isinstance(model_input, pd.DataFrame) else None
        return self.predictor.predict_frame(pd.DataFrame({TEXT_COLUMN: texts}, index=index))


def input_texts(model_input: Any) -> list[str]:
    """The texts of a pyfunc input, one per row, refusing shapes that would silently misbehave.

    A bare TF-IDF pipeline given a DataFrame iterates over its column *names*; here a DataFrame
    must have a ``text`` column (or a single column), so N rows in always means N rows out.
    """
    if isinstance(model_input, pd.DataFrame):
        if TEXT_COLUMN in model_input.columns:
            column = model_input[TEXT_COLUMN]
        elif model_input.shape[1] == 1:
            column = model_input.iloc[:, 0]
        else:
            columns = ", ".join(map(str, model_input.columns))
            raise ClassifyError(f"input has no {TEXT_COLUMN!r} column (columns: {columns})")
        values = column.tolist()
    elif isinstance(model_input, pd.Series):
        values = model_input.tolist()
    elif isinstance(model_input, str):
        values = [model_input]
    elif isinstance(model_input, list | tuple):
        values = list(model_input)
    else:
        raise ClassifyError(f"cannot read texts from {type(model_input).__name__}")
    if not all(isinstance(v, str) for v in values):
        raise ClassifyError("every input row must be a string of text")
    return values


def _load_pyfunc(data_path: str) -> PyfuncThemeModel:
    """Entry point MLflow calls with the logged bundle folder."""
    return PyfuncThemeModel(Predictor.load(data_path))


def log_bundle_as_model(bundle_dir: Path, result: TrainingResult) -> str:
    """Log the bundle as an MLflow pyfunc model (loader module + bundle files) in the active run;
    returns the logged model's URI (``models:/<model id>``)."""
    import mlflow.pyfunc
    from mlflow.models import infer_signature

    version_dir = resolve_version(Path(bundle_dir))
    example = pd.DataFrame({"text": _example_texts(result)})
    output = PyfuncThemeModel(Predictor.load(version_dir)).predict(example)
    info = mlflow.pyfunc.log_model(
        name=MODEL_NAME,
        loader_module=LOADER_MODULE,
        data_path=str(version_dir),
        code_paths=[str(Path(classify.__file__).parent)],
        signature=infer_signature(example, output),
        input_example=example,
        pip_requirements=_requirements(),
    )
    return info.model_uri


# With tracking.log_text off no training paragraph may reach the store: made-up input instead
NEUTRAL_EXAMPLES = (
    "The city council met on Tuesday to discuss the new bus timetable.",
    "Городской совет обсудил новое расписание автобусов.",
)


def _example_texts(result: TrainingResult) -> list[str]:
    if not result.config.tracking.log_text:
        return list(NEUTRAL_EXAMPLES)
    # the two shortest body paragraphs: small, real, and with the input's true shape
    texts = sorted(result.example_texts, key=len)
    return texts[:2]


def _requirements() -> list[str]:
    from classify.provenance import library_versions

    versions = library_versions()
    return [
        f"{name}=={versions[name]}"
        for name in ("scikit-learn", "skops", "numpy", "scipy", "joblib", "pandas")
        if versions.get(name, "unknown") != "unknown"
    ]
