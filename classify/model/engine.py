"""The scoring engine: a fitted model's theme scores from plain arrays, without scikit-learn.

When a model bundle is saved, its fitted pipeline (TF-IDF feature blocks, then one linear model
per theme) is exported to plain arrays (:func:`classify.model.engine_export.export_pipeline`):
each block's vocabulary as code points, its idf, every theme's weights and intercept, and how a
theme's decision value becomes its score (logistic, modified Huber, sigmoid or isotonic
calibration, or a constant). :class:`ScoringEngine` computes from them what
:func:`classify.model.pipeline.theme_scores` computes from the pipeline, to 1e-6 (the tests hold
it to that on every model type), with the n-gram counting in the compiled kernel
(``classify/model/_kernel.pyx``). Loading and scoring import numpy only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

import numpy as np

from classify.model import _kernel  # compiled (_kernel.pyx)
from classify.text import chunks, normalise_text

ENGINE_FORMAT = 1  # of the spec and arrays below; the bundle's format version covers it
OUTPUT_KINDS = ("logistic", "modified_huber", "sigmoid", "isotonic", "constant")


class ScoringEngine:
    """Theme scores of paragraphs from an exported model (see the module docstring).

    ``spec`` is plain JSON data (blocks, outputs, chunk size); ``arrays`` the named arrays.

    Example:
        >>> engine = predictor.engine
        >>> engine.scores(["Police held a counter-terrorism drill at the airport."]).shape
        (1, 5)
    """

    def __init__(self, spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> None:
        if spec.get("format") != ENGINE_FORMAT:
            raise ValueError(f"engine format {spec.get('format')!r}, expected {ENGINE_FORMAT}")
        self.spec = dict(spec)
        self.arrays = dict(arrays)
        self.long_text_chars = int(spec["long_text_chars"])
        blocks = [
            {
                "analyzer": block["analyzer"],
                "ngram_range": tuple(block["ngram_range"]),
                "sublinear_tf": bool(block["sublinear_tf"]),
                **{
                    name: _array(arrays, f"block{b}.{name}", dtype)
                    for name, dtype in _BLOCK_ARRAYS.items()
                },
            }
            for b, block in enumerate(spec["blocks"])
        ]
        self.coef = _array(arrays, "coef", np.float64)
        if self.coef.ndim != 2:
            raise ValueError("coef must be a matrix: one row per feature, one column per theme")
        # float32 models (ridge, SGD) sum in float32 and add an intercept of their own dtype,
        # which decides the decision values' dtype, as in scikit-learn
        self.float32_dot = bool(spec.get("float32_dot", False))
        dtype = np.float32 if spec.get("intercept_dtype") == "float32" else np.float64
        self.intercept = _array(arrays, "intercept", dtype)
        self.outputs = [dict(output) for output in spec["outputs"]]
        if not len(self.outputs) == self.coef.shape[1] == len(self.intercept):
            raise ValueError("outputs, weights and intercepts disagree on the number of themes")
        for j, output in enumerate(self.outputs):
            if output.get("kind") not in OUTPUT_KINDS:
                raise ValueError(f"unknown output kind {output.get('kind')!r}")
            if output["kind"] == "isotonic":  # checked and kept once, not on every batch
                output["x"] = _array(arrays, f"theme{j}.isotonic_x", np.float64)
                output["y"] = _array(arrays, f"theme{j}.isotonic_y", np.float64)
        self._kernel = _kernel.Kernel(blocks, self.coef, self.float32_dot)

    @property
    def n_themes(self) -> int:
        return self.coef.shape[1]

    def decision_values(self, texts: Sequence[str]) -> np.ndarray:
        """Each theme's linear decision value (intercept included), shape ``(len(texts), themes)``.

        Texts longer than ``long_text_chars`` are counted chunk by chunk, as the pipeline counts
        them (:func:`chunks`), so memory stays bounded at any length.
        """
        items: list[str | tuple[str, ...]] = [
            normalise_text(text)
            if len(text) <= self.long_text_chars
            else tuple(normalise_text(chunk) for chunk in chunks(text, self.long_text_chars))
            for text in texts
        ]
        out = np.zeros((len(items), self.n_themes), dtype=np.float64)
        self._kernel.decision_values(items, out)
        if self.float32_dot:
            return out.astype(np.float32) + self.intercept
        return out + self.intercept

    def scores(self, texts: Sequence[str]) -> np.ndarray:
        """Scores in [0, 1], shape ``(len(texts), themes)``, as ``theme_scores`` gives them."""
        decisions = self.decision_values(texts)
        scores = np.empty(decisions.shape, dtype=np.float64)
        for j, output in enumerate(self.outputs):
            scores[:, j] = self._output(output, decisions[:, j])
        return scores

    @staticmethod
    def _output(output: Mapping[str, Any], decision: np.ndarray) -> np.ndarray:
        kind = output["kind"]
        if kind == "logistic":
            return _expit(decision)
        if kind == "modified_huber":  # SGDClassifier.predict_proba with loss="modified_huber"
            return (np.clip(decision, -1.0, 1.0).astype(np.float64) + 1.0) / 2.0
        if kind == "constant":  # a theme with one class in training
            return np.full(decision.shape, float(output["value"]))
        decision = decision.astype(np.float64)  # calibrators compute in float64
        if kind == "sigmoid":  # Platt scaling of CalibratedClassifierCV
            probability = _expit(-(float(output["a"]) * decision + float(output["b"])))
        else:  # isotonic calibration: clipped to the fitted range, then linear interpolation
            x, y = output["x"], output["y"]
            clipped = np.clip(decision, float(output["x_min"]), float(output["x_max"]))
            probability = np.interp(clipped, x, y) if len(x) > 1 else np.full(decision.shape, y[0])
        # CalibratedClassifierCV rounds probabilities a hair above 1 down to 1
        probability[(probability > 1.0) & (probability <= 1.0 + 1e-5)] = 1.0
        return probability


_BLOCK_ARRAYS = {
    "terms": np.uint32,  # every term's code points, in column order
    "offsets": np.int64,  # term j is terms[offsets[j]:offsets[j + 1]]
    "idf": np.float64,
    "stop_terms": np.uint32,  # the stop words of a word block, the same way (none: empty)
    "stop_offsets": np.int64,
}


def _array(arrays: Mapping[str, np.ndarray], name: str, dtype: Any) -> np.ndarray:
    try:
        array = arrays[name]
    except KeyError:
        raise ValueError(f"the engine has no array {name!r}") from None
    if array.dtype != dtype:
        raise ValueError(f"engine array {name!r} is {array.dtype}, expected {np.dtype(dtype)}")
    return np.ascontiguousarray(array)


def _expit(x: np.ndarray) -> np.ndarray:
    """The logistic function in ``x``'s own dtype, as scipy's ``expit`` computes it."""
    one = x.dtype.type(1.0)
    with np.errstate(over="ignore"):  # exp(-x) overflows to inf for very negative x: 1/inf = 0
        return one / (one + np.exp(-x))


def code_points(terms: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Terms as one uint32 array of code points and the int64 offsets between them.

    Example:
        >>> cps, offsets = code_points(["ab", "ё"])
        >>> cps.tolist(), offsets.tolist()
        ([97, 98, 1105], [0, 2, 3])
    """
    offsets = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum([len(t) for t in terms], out=offsets[1:])
    # surrogatepass: a lone surrogate in a term (from text that had one) keeps its code point
    joined = "".join(terms).encode("utf-32-le", "surrogatepass")
    return np.frombuffer(joined, dtype=np.uint32).copy(), offsets


def terms_of(spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> dict[str, list[str]]:
    """Each block's vocabulary as strings in column order, by the block's path in the pipeline.

    Example:
        >>> list(terms_of(predictor.engine.spec, predictor.engine.arrays))
        ['features']
    """
    vocabularies = {}
    for b, block in enumerate(spec["blocks"]):
        cps, offsets = arrays[f"block{b}.terms"], arrays[f"block{b}.offsets"]
        text = cps.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")
        bounds = offsets.tolist()
        vocabularies[block["name"]] = [text[start:end] for start, end in pairwise(bounds)]
    return vocabularies
