"""The MLflow pyfunc flavour of a model bundle (the ``loader_module`` MLflow calls on load).

The logged MLflow model is the bundle folder itself plus this module: nothing is pickled by
MLflow, and serving (``mlflow models serve``) or ``mlflow.pyfunc.load_model`` both end in
:class:`~classify.predictor.Predictor`. Input is a DataFrame with a ``text`` column (or a list of
strings); output is one row per input row with the assigned themes and every theme's score.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from classify.errors import ClassifyError
from classify.predictor import Predictor

TEXT_COLUMN = "text"


class PyfuncThemeModel:
    """What ``mlflow.pyfunc.load_model`` wraps: ``predict(DataFrame) -> DataFrame``."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> pd.DataFrame:
        texts = input_texts(model_input)
        scores = self.predictor.scores(texts)
        tags = self.predictor.tag(scores)
        review = self.predictor.review_marks(scores, tags)
        names = self.predictor.themes
        output = pd.DataFrame(
            {
                "themes": [[n for n, on in zip(names, row, strict=True) if on] for row in tags],
                "review": [[n for n, on in zip(names, row, strict=True) if on] for row in review],
                **{f"score_{n}": scores[:, j] for j, n in enumerate(names)},
            }
        )
        if isinstance(model_input, pd.DataFrame):
            output.index = model_input.index
        return output


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
