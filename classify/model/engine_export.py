"""A fitted scikit-learn pipeline as the scoring engine's plain arrays (done when a bundle is
saved; imports scikit-learn).

Every pipeline :func:`classify.model.pipeline.build_pipeline` builds is exported: one TF-IDF
vectorizer or a union of them (``word``, ``char_wb``, ``char``), then a one-vs-rest classifier
whose themes are logistic regression, linear SVM, ridge or SGD (modified Huber), each bare or
inside a sigmoid or isotonic calibrator, or a constant predictor for a theme with one class.
Anything else is refused with a ``ValueError`` naming it: the engine must compute exactly what
the pipeline does, or not at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from classify.model.engine import ENGINE_FORMAT, code_points
from classify.model.pipeline import LONG_TEXT_CHARS, vectorizers
from classify.text import normalise_text

# What build_pipeline's vectorizers are made with, and so all the kernel implements.
_TOKEN_PATTERN = r"(?u)\b\w\w+\b"


def export_pipeline(pipeline: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """The engine's ``(spec, arrays)`` for a fitted pipeline.

    Example:
        >>> spec, arrays = export_pipeline(result.pipeline)
        >>> [b["analyzer"] for b in spec["blocks"]], arrays["coef"].shape[1]
        (['word'], 5)
    """
    from sklearn.multiclass import OneVsRestClassifier

    steps = dict(pipeline.steps)
    if list(steps) != ["features", "classifier"]:
        raise ValueError(f"cannot export a pipeline with steps {list(steps)}")
    blocks, arrays = [], {}
    for b, (name, vectorizer) in enumerate(vectorizers(pipeline)):
        blocks.append({"name": name, **_block(vectorizer, arrays, f"block{b}.")})
    classifier = steps["classifier"]
    if type(classifier) is not OneVsRestClassifier:
        raise ValueError(f"cannot export a {type(classifier).__name__} classifier")
    columns = sum(len(arrays[f"block{b}.idf"]) for b in range(len(blocks)))  # hashed: n_features
    coef = np.zeros((columns, len(classifier.estimators_)), dtype=np.float64)
    intercept = np.zeros(len(classifier.estimators_), dtype=np.float64)
    outputs, dtypes = [], set()
    for j, estimator in enumerate(classifier.estimators_):
        outputs.append(_theme(estimator, j, coef, intercept, arrays, dtypes))
    # float32 weights (ridge, SGD): scikit-learn sums in float32 and adds an intercept of the
    # model's own dtype (float32 for ridge, float64 for SGD); the engine does the same
    float32_dot = ("coef", "float32") in dtypes
    intercept_dtype = "float32" if ("intercept", "float32") in dtypes else "float64"
    if len({d for kind, d in dtypes if kind == "coef"}) > 1:
        raise ValueError("cannot export themes whose weights have different dtypes")
    arrays.update(coef=coef, intercept=intercept.astype(intercept_dtype))
    spec = {
        "format": ENGINE_FORMAT,
        "blocks": blocks,
        "outputs": outputs,
        "float32_dot": float32_dot,
        "intercept_dtype": intercept_dtype,
        "long_text_chars": LONG_TEXT_CHARS,
    }
    return spec, arrays


def _block(vectorizer: Any, arrays: dict[str, np.ndarray], prefix: str) -> dict[str, Any]:
    """One fitted TfidfVectorizer: its settings in the spec, its vocabulary and idf as arrays."""
    from sklearn.feature_extraction.text import HashingVectorizer

    if type(vectorizer) is HashingVectorizer:
        return _hashed_block(vectorizer, arrays, prefix)
    settings = {
        "preprocessor": (vectorizer.preprocessor, normalise_text),
        "input": (vectorizer.input, "content"),
        "tokenizer": (vectorizer.tokenizer, None),
        "token_pattern": (vectorizer.token_pattern, _TOKEN_PATTERN),
        "binary": (vectorizer.binary, False),
        "norm": (vectorizer.norm, "l2"),
        "use_idf": (vectorizer.use_idf, True),
    }
    for setting, (value, expected) in settings.items():
        if value is not expected and value != expected:
            raise ValueError(f"cannot export a TfidfVectorizer with {setting}={value!r}")
    if vectorizer.analyzer not in ("word", "char_wb", "char"):
        raise ValueError(f"cannot export a TfidfVectorizer with analyzer={vectorizer.analyzer!r}")
    vocabulary = vectorizer.vocabulary_
    terms = sorted(vocabulary, key=vocabulary.__getitem__)
    if [vocabulary[t] for t in terms] != list(range(len(terms))):
        raise ValueError("a vocabulary's columns are not 0..n-1")
    stop_words = vectorizer.get_stop_words() if vectorizer.analyzer == "word" else None
    arrays[prefix + "terms"], arrays[prefix + "offsets"] = code_points(terms)
    stop = sorted(stop_words or ())
    arrays[prefix + "stop_terms"], arrays[prefix + "stop_offsets"] = code_points(stop)
    arrays[prefix + "idf"] = np.asarray(vectorizer.idf_, dtype=np.float64)
    return {
        "analyzer": vectorizer.analyzer,
        "ngram_range": list(vectorizer.ngram_range),
        "sublinear_tf": bool(vectorizer.sublinear_tf),
    }


def _hashed_block(vectorizer: Any, arrays: dict[str, np.ndarray], prefix: str) -> dict[str, Any]:
    """A HashingVectorizer as :func:`classify.model.pipeline.hashing_vectorizer` makes it: no
    vocabulary (the kernel hashes), an idf of ones (none is applied), counts, l2 norm."""
    settings = {
        "preprocessor": (vectorizer.preprocessor, normalise_text),
        "input": (vectorizer.input, "content"),
        "tokenizer": (vectorizer.tokenizer, None),
        "token_pattern": (vectorizer.token_pattern, _TOKEN_PATTERN),
        "stop_words": (vectorizer.stop_words, None),
        "binary": (vectorizer.binary, False),
        "norm": (vectorizer.norm, "l2"),
        "alternate_sign": (vectorizer.alternate_sign, False),
        "dtype": (vectorizer.dtype, np.float32),
    }
    for setting, (value, expected) in settings.items():
        if value is not expected and value != expected:
            raise ValueError(f"cannot export a HashingVectorizer with {setting}={value!r}")
    if vectorizer.analyzer not in ("word", "char_wb", "char"):
        raise ValueError(f"cannot export a HashingVectorizer with analyzer={vectorizer.analyzer!r}")
    arrays[prefix + "terms"], arrays[prefix + "offsets"] = code_points([])
    arrays[prefix + "stop_terms"], arrays[prefix + "stop_offsets"] = code_points([])
    arrays[prefix + "idf"] = np.ones(vectorizer.n_features, dtype=np.float64)
    return {
        "analyzer": vectorizer.analyzer,
        "ngram_range": list(vectorizer.ngram_range),
        "sublinear_tf": False,
        "n_features": int(vectorizer.n_features),
    }


def _theme(
    estimator: Any,
    j: int,
    coef: np.ndarray,
    intercept: np.ndarray,
    arrays: dict[str, np.ndarray],
    dtypes: set[tuple[str, str]],
) -> dict[str, Any]:
    """One theme's weights into ``coef[:, j]`` and ``intercept[j]``, their dtypes into
    ``dtypes``; returns the theme's output."""
    from sklearn.calibration import CalibratedClassifierCV, _SigmoidCalibration
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
    from sklearn.multiclass import _ConstantPredictor
    from sklearn.svm import LinearSVC

    if type(estimator) is _ConstantPredictor:
        return {"kind": "constant", "value": float(np.ravel(estimator.y_)[0])}
    calibrator = None
    if type(estimator) is CalibratedClassifierCV:
        if len(estimator.calibrated_classifiers_) != 1:
            raise ValueError("cannot export a calibrator that averages several models")
        calibrated = estimator.calibrated_classifiers_[0]
        estimator, calibrator = calibrated.estimator, calibrated.calibrators[0]
    kinds = {
        LogisticRegression: "logistic",
        LinearSVC: "logistic",  # no predict_proba: theme_scores squashes the margin
        RidgeClassifier: "logistic",
        SGDClassifier: "modified_huber",
    }
    kind = kinds.get(type(estimator))
    if kind is None or (kind == "modified_huber" and estimator.loss != "modified_huber"):
        raise ValueError(f"cannot export a {type(estimator).__name__} theme model")
    if list(estimator.classes_) != [0, 1]:
        raise ValueError(f"theme {j} has classes {list(estimator.classes_)}, not [0, 1]")
    coef[:, j] = np.asarray(estimator.coef_, dtype=np.float64).ravel()
    intercept[j] = float(np.ravel(estimator.intercept_)[0])
    dtypes.add(("coef", str(estimator.coef_.dtype)))
    dtypes.add(("intercept", str(np.asarray(estimator.intercept_).dtype)))
    if calibrator is None:
        return {"kind": kind}
    if type(calibrator) is _SigmoidCalibration:
        return {"kind": "sigmoid", "a": float(calibrator.a_), "b": float(calibrator.b_)}
    if type(calibrator) is IsotonicRegression and calibrator.out_of_bounds == "clip":
        arrays[f"theme{j}.isotonic_x"] = np.asarray(calibrator.X_thresholds_, dtype=np.float64)
        arrays[f"theme{j}.isotonic_y"] = np.asarray(calibrator.y_thresholds_, dtype=np.float64)
        return {
            "kind": "isotonic",
            "x_min": float(calibrator.X_min_),
            "x_max": float(calibrator.X_max_),
        }
    raise ValueError(f"cannot export a {type(calibrator).__name__} calibrator")
