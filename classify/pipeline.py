"""The one factory: an experiment config -> an unfitted scikit-learn ``Pipeline``.

Every model is ``Pipeline([("features", ...), ("classifier", OneVsRestClassifier(...))])``: word
and/or character n-gram TF-IDF, then one linear model per theme. :func:`theme_scores` turns any of
them into one score in [0, 1] per theme, so thresholds and reports work the same for every model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.svm import LinearSVC

from classify.config import CharFeatures, ExperimentConfig, ModelConfig, WordFeatures
from classify.text import normalise_text


def build_pipeline(config: ExperimentConfig) -> Pipeline:
    """Build the unfitted pipeline an experiment describes.

    Example:
        >>> from classify.config import ExperimentConfig
        >>> pipeline = build_pipeline(ExperimentConfig())
        >>> [name for name, _ in pipeline.steps], type(pipeline[-1].estimator).__name__
        (['features', 'classifier'], 'LogisticRegression')
    """
    families = []
    if config.features.word is not None:
        families.append(("word", _tfidf("word", config.features.word)))
    if config.features.char is not None:
        families.append(("char", _tfidf(config.features.char.analyzer, config.features.char)))
    features = families[0][1] if len(families) == 1 else FeatureUnion(families)
    return Pipeline(
        [("features", features), ("classifier", OneVsRestClassifier(_linear_model(config.model)))]
    )


def theme_scores(pipeline: Pipeline, texts: Sequence[str]) -> np.ndarray:
    """Scores in [0, 1], shape ``(len(texts), n_themes)``, for a fitted pipeline.

    Probabilities where the model has them, a logistic squashing of the margin otherwise. Texts are
    vectorised once and each theme's model scores the whole batch. A theme that had no positive
    paragraph in training scores 0 everywhere (scikit-learn keeps a constant predictor for it).

    Example:
        >>> theme_scores(result.pipeline, ["Police held a drill at the airport."]).shape
        (1, 5)
    """
    if isinstance(texts, str):
        raise TypeError("theme_scores takes a sequence of texts, not a single string")
    x = pipeline[:-1].transform(list(texts))
    columns = []
    for estimator in pipeline[-1].estimators_:
        if hasattr(estimator, "predict_proba"):
            columns.append(estimator.predict_proba(x)[:, 1])
        else:
            columns.append(expit(estimator.decision_function(x)))
    return np.column_stack(columns).astype(np.float64, copy=False)


def _tfidf(analyzer: str, features: WordFeatures | CharFeatures) -> TfidfVectorizer:
    stop_words = getattr(features, "stop_words", "none")
    return TfidfVectorizer(
        analyzer=analyzer,
        preprocessor=normalise_text,
        ngram_range=features.ngram_range,
        min_df=features.min_df,
        max_df=features.max_df,
        max_features=features.max_features or None,
        sublinear_tf=features.sublinear_tf,
        stop_words=None if stop_words == "none" else stop_words,
        dtype=np.float32,
    )


def _linear_model(model: ModelConfig):
    estimator = _bare_linear_model(model)
    if model.calibration == "none":
        return estimator
    # Calibration fits on 3 internal folds of the training side only (never the evaluated
    # documents). Those folds are stratified, not grouped by document, which can make the
    # mapping a little over-confident; the decision thresholds are tuned on grouped folds anyway.
    # ensemble=False: one model refitted on all rows, so prediction costs one model, not three.
    return CalibratedClassifierCV(estimator, method=model.calibration, cv=3, ensemble=False)


def _bare_linear_model(model: ModelConfig):
    class_weight = None if model.class_weight == "none" else model.class_weight
    if model.type == "logistic_regression":
        return LogisticRegression(
            C=model.C, class_weight=class_weight, max_iter=model.max_iter, solver="liblinear"
        )
    if model.type == "linear_svm":
        return LinearSVC(C=model.C, class_weight=class_weight, max_iter=model.max_iter)
    if model.type == "ridge":
        return RidgeClassifier(alpha=model.alpha or 1.0, class_weight=class_weight)
    if model.type == "sgd":
        return SGDClassifier(
            loss="modified_huber",
            alpha=model.alpha or 1e-4,
            class_weight=class_weight,
            max_iter=model.max_iter,
            random_state=0,
        )
    raise AssertionError(f"unhandled model type {model.type!r}")  # the config schema forbids it
