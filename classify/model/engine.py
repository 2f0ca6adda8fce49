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
                "n_features": int(block.get("n_features", 0)),
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
        sizes = [block["n_features"] or len(block["offsets"]) - 1 for block in blocks]
        self._block_starts = np.cumsum([0, *sizes]).tolist()  # each block's first column

    @property
    def hashed(self) -> bool:
        """Whether a feature block is hashed: its columns then name no n-gram (no rationale)."""
        return any(block.get("n_features") for block in self.spec["blocks"])

    @property
    def n_themes(self) -> int:
        return self.coef.shape[1]

    def decision_values(self, texts: Sequence[str]) -> np.ndarray:
        """Each theme's linear decision value (intercept included), shape ``(len(texts), themes)``.

        Texts longer than ``long_text_chars`` are counted chunk by chunk, as the pipeline counts
        them (:func:`chunks`), so memory stays bounded at any length.
        """
        items = [self._item(text) for text in texts]
        out = np.zeros((len(items), self.n_themes), dtype=np.float64)
        self._kernel.decision_values(items, out)
        if self.float32_dot:
            return out.astype(np.float32) + self.intercept
        return out + self.intercept

    def _item(self, text: str) -> str | tuple[str, ...]:
        if len(text) <= self.long_text_chars:
            return normalise_text(text)
        return tuple(normalise_text(chunk) for chunk in chunks(text, self.long_text_chars))

    def features(self, text: str) -> list[tuple[np.ndarray, np.ndarray]]:
        """The TF-IDF features of one text, per block: its columns (in the union of the blocks)
        and their float32 values, exactly those the decision values are computed from.

        Example:
            >>> engine = predictor.engine
            >>> columns, values = engine.features("A drill.")[0]
            >>> bool(np.isclose(np.sum(values.astype(float) ** 2), 1.0))  # l2-normalised
            True
        """
        found = []
        for pairs in self._kernel.features(self._item(text)):
            columns = np.array([c for c, _ in pairs], dtype=np.int64)
            found.append((columns, np.array([v for _, v in pairs], dtype=np.float32)))
        return found

    def block_settings(self, block: int) -> dict[str, Any]:
        """A feature block's analyzer, n-gram range and stop words (a frozenset).

        Example:
            >>> predictor.engine.block_settings(0)["analyzer"]
            'word'
        """
        spec = self.spec["blocks"][block]
        stop = _decode(
            self.arrays[f"block{block}.stop_terms"], self.arrays[f"block{block}.stop_offsets"]
        )
        return {
            "analyzer": spec["analyzer"],
            "ngram_range": tuple(spec["ngram_range"]),
            "stop_words": frozenset(stop),
        }

    def terms(self, columns: Sequence[int] | np.ndarray) -> list[str]:
        """The n-grams of feature ``columns`` (in the union of the blocks), in order.

        Example:
            >>> engine = predictor.engine
            >>> engine.terms(engine.features("A drill.")[0][0][:1])
            ['drill']
        """
        if self.hashed:
            raise ValueError("a hashed feature column names no n-gram")
        columns = np.asarray(columns, dtype=np.int64)
        blocks = np.searchsorted(self._block_starts, columns, side="right") - 1
        if len(columns) and (blocks.min() < 0 or blocks.max() >= len(self._block_starts) - 1):
            raise IndexError("a feature column outside the model's blocks")
        found: list[str] = [""] * len(columns)
        for block in np.unique(blocks).tolist():
            where = np.flatnonzero(blocks == block)
            offsets = self.arrays[f"block{block}.offsets"]
            local = columns[where] - self._block_starts[block]
            starts, ends = offsets[local], offsets[local + 1]
            # every term's code points gathered at once, decoded once, then cut apart
            lengths = ends - starts
            bounds = np.concatenate([[0], np.cumsum(lengths)])
            gather = np.repeat(starts - bounds[:-1], lengths) + np.arange(bounds[-1])
            cps = self.arrays[f"block{block}.terms"][gather]
            text = cps.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")
            cuts = bounds.tolist()
            for k, position in enumerate(where.tolist()):
                found[position] = text[cuts[k] : cuts[k + 1]]
        return found

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


def _decode(cps: np.ndarray, offsets: np.ndarray) -> list[str]:
    text = cps.astype("<u4").tobytes().decode("utf-32-le", "surrogatepass")
    return [text[start:end] for start, end in pairwise(offsets.tolist())]


def terms_of(spec: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> dict[str, list[str]]:
    """Each block's vocabulary as strings in column order, by the block's path in the pipeline.

    Example:
        >>> list(terms_of(predictor.engine.spec, predictor.engine.arrays))
        ['features']
    """
    vocabularies = {}
    for b, block in enumerate(spec["blocks"]):
        if block.get("n_features"):  # hashed: no vocabulary
            continue
        cps, offsets = arrays[f"block{b}.terms"], arrays[f"block{b}.offsets"]
        vocabularies[block["name"]] = _decode(cps, offsets)
    return vocabularies
