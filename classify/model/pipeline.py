"""The one factory: an experiment config -> an unfitted scikit-learn ``Pipeline``.

Every model is ``Pipeline([("features", ...), ("classifier", OneVsRestClassifier(...))])``: word
and/or character n-gram TF-IDF, then one linear model per theme. :func:`theme_scores` turns any of
them into one score in [0, 1] per theme, so thresholds and reports work the same for every model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import (
    CountVectorizer,
    HashingVectorizer,
    TfidfTransformer,
    TfidfVectorizer,
)
from sklearn.linear_model import LogisticRegression, RidgeClassifier, SGDClassifier
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import normalize
from sklearn.svm import LinearSVC

from classify.model.config import (
    CharFeatures,
    ExperimentConfig,
    HashedFeatures,
    ModelConfig,
    WordFeatures,
)
from classify.text import chunks, normalise_text

# Paragraphs longer than this are vectorised in chunks of about this size (see _long_text_row).
# scikit-learn's analyzers build a Python list of every n-gram of a document: for the default word
# + char_wb features ~260 bytes per character, 5 GB for one 20-million-character paragraph. Chunks
# of this size add ~30 MB at any length; chunks of 10,000 to 1,000,000 characters all score at the
# plain transform's speed, within noise (bench/results/long_text.md). Shorter texts keep the one
# batched transform.
LONG_TEXT_CHARS = 100_000
_ANALYZERS = ("word", "char", "char_wb")  # the analyzers _long_text_row can count in chunks


def build_pipeline(config: ExperimentConfig) -> Pipeline:
    """Build the unfitted pipeline an experiment describes.

    Example:
        >>> from classify.model.config import ExperimentConfig
        >>> pipeline = build_pipeline(ExperimentConfig())
        >>> [name for name, _ in pipeline.steps], type(pipeline[-1].estimator).__name__
        (['features', 'classifier'], 'LogisticRegression')
    """
    if config.features.hashed is not None:
        return Pipeline(
            [
                ("features", hashing_vectorizer(config.features.hashed)),
                ("classifier", OneVsRestClassifier(_linear_model(config.model))),
            ]
        )
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
    vectorised once and each theme's model scores the whole batch; a text longer than
    :data:`LONG_TEXT_CHARS` is vectorised chunk by chunk, in bounded memory. A theme that had no
    positive paragraph in training scores 0 everywhere (scikit-learn keeps a constant predictor).

    Example:
        >>> theme_scores(result.pipeline, ["Police held a drill at the airport."]).shape
        (1, 5)
    """
    if isinstance(texts, str):
        raise TypeError("theme_scores takes a sequence of texts, not a single string")
    return classifier_scores(pipeline[-1], _features(pipeline, list(texts)))


def classifier_scores(classifier: OneVsRestClassifier, x: sp.csr_matrix) -> np.ndarray:
    """:func:`theme_scores` of feature rows ``x``, from the pipeline's fitted classifier step.

    Example:
        >>> x = result.pipeline[:-1].transform(["Police held a drill at the airport."])
        >>> classifier_scores(result.pipeline[-1], x).shape
        (1, 5)
    """
    columns = []
    for estimator in classifier.estimators_:
        if hasattr(estimator, "predict_proba"):
            columns.append(estimator.predict_proba(x)[:, 1])
        else:
            columns.append(expit(estimator.decision_function(x)))
    return np.column_stack(columns).astype(np.float64, copy=False)


def hashing_vectorizer(features: HashedFeatures) -> HashingVectorizer:
    """The stateless features of out-of-core training: n-gram counts hashed into
    ``n_features`` columns, l2-normalised (no idf: it would need a pass over all the data).

    Example:
        >>> hashing_vectorizer(HashedFeatures(n_features=1024)).transform(["A drill."]).shape
        (1, 1024)
    """
    return HashingVectorizer(
        analyzer=features.analyzer,
        preprocessor=normalise_text,
        ngram_range=features.ngram_range,
        n_features=features.n_features,
        alternate_sign=False,  # counts stay counts, as the scoring engine adds them up
        norm="l2",
        dtype=np.float32,
    )


def vectorizers(pipeline: Pipeline) -> list[tuple[str, TfidfVectorizer | HashingVectorizer]]:
    """The TF-IDF steps of a pipeline :func:`build_pipeline` built, in column order, with their
    paths in it (``features``, or ``features/word`` in a union). Other shapes: ``ValueError``.

    Example:
        >>> from classify.model.config import CharFeatures, FeaturesConfig, WordFeatures
        >>> both = FeaturesConfig(word=WordFeatures(), char=CharFeatures())
        >>> [path for path, _ in vectorizers(build_pipeline(ExperimentConfig(features=both)))]
        ['features/word', 'features/char']
    """
    features = pipeline[0]
    if type(features) in (TfidfVectorizer, HashingVectorizer):
        return [("features", features)]
    if type(features) is FeatureUnion and not features.transformer_weights:
        parts = [(f"features/{name}", t) for name, t in features.transformer_list if t != "drop"]
        if parts and all(type(t) is TfidfVectorizer for _, t in parts):
            return parts
    raise ValueError(f"unexpected features step {type(features).__name__}")


def _features(pipeline: Pipeline, texts: list[str]) -> sp.csr_matrix:
    """The feature rows of ``texts``, long ones vectorised chunk by chunk to bound memory.

    Example:
        >>> short, long = "Police held a drill.", "Police held a drill. " * 10_000
        >>> x = _features(result.pipeline, [long, short])  # rows in input order
        >>> bool(np.allclose(x.toarray(), result.pipeline[:-1].transform([long, short]).toarray()))
        True
    """
    is_long = [len(text) > LONG_TEXT_CHARS for text in texts]
    parts = _tfidf_parts(pipeline) if any(is_long) else None
    if parts is None:
        return pipeline[:-1].transform(texts)
    short = [i for i, flag in enumerate(is_long) if not flag]
    long = [i for i, flag in enumerate(is_long) if flag]
    blocks = [pipeline[:-1].transform([texts[i] for i in short])] if short else []
    for i in long:
        rows = [_long_text_row(vectorizer, texts[i]) for vectorizer, _ in parts]
        # FeatureUnion multiplies a transformer's columns by its weight, if it has one
        rows = [row if w is None else row * w for row, (_, w) in zip(rows, parts, strict=True)]
        blocks.append(sp.hstack(rows, format="csr"))
    # blocks hold the short rows, then the long ones: put them back in input order
    return sp.vstack(blocks, format="csr")[np.argsort(short + long)]


def _tfidf_parts(pipeline: Pipeline) -> list[tuple[TfidfVectorizer, float | None]] | None:
    """The TF-IDF vectorizers of the features step with their FeatureUnion weights, in column
    order; ``None`` for a features step of any other shape, which is transformed as it is."""
    if len(pipeline) != 2:
        return None
    features = pipeline[0]
    if _chunkable(features):
        return [(features, None)]
    if type(features) is not FeatureUnion:
        return None
    weights = features.transformer_weights or {}
    parts = [
        (transformer, weights.get(name))
        for name, transformer in features.transformer_list
        if transformer != "drop"  # a dropped transformer adds no columns
    ]
    if not parts or not all(_chunkable(transformer) for transformer, _ in parts):
        return None
    return parts


def _chunkable(transformer: object) -> bool:
    # exact type: a subclass may count differently; a callable analyzer may not split at spaces
    kinds = (TfidfVectorizer, HashingVectorizer)
    return type(transformer) in kinds and transformer.analyzer in _ANALYZERS


def _long_text_row(vectorizer: TfidfVectorizer, text: str) -> sp.csr_matrix:
    """``vectorizer.transform([text])``, counting n-grams one chunk at a time.

    Chunks end at whitespace. ``char_wb`` n-grams never span whitespace, so for them the sum of
    the chunk counts is exact. Word n-grams longer than one token lose the one n-gram that spans
    each chunk boundary (one bigram per ~100,000 characters), and so do ``char`` n-grams that
    span the boundary's whitespace. The summed counts are then weighted as ``transform`` does.
    """
    if type(vectorizer) is HashingVectorizer:
        counting = clone(vectorizer).set_params(norm=None)
        total = sum(counting.transform([chunk]) for chunk in chunks(text, LONG_TEXT_CHARS))
        return normalize(sp.csr_matrix(total, dtype=vectorizer.dtype), norm=vectorizer.norm)
    totals = np.zeros(len(vectorizer.vocabulary_))
    for chunk in chunks(text, LONG_TEXT_CHARS):
        counts = CountVectorizer.transform(vectorizer, [chunk])  # the counting step only
        totals[counts.indices] += counts.data
    if vectorizer.binary:
        np.minimum(totals, 1.0, out=totals)
    # the same dtype and weighting (sublinear tf, idf, norm) as TfidfVectorizer.transform
    counts = sp.csr_matrix(totals[np.newaxis, :], dtype=vectorizer.dtype)
    weighting = TfidfTransformer(
        norm=vectorizer.norm,
        use_idf=vectorizer.use_idf,
        smooth_idf=vectorizer.smooth_idf,
        sublinear_tf=vectorizer.sublinear_tf,
    )
    weighting.n_features_in_ = len(totals)
    if vectorizer.use_idf:
        weighting.idf_ = vectorizer.idf_
    return weighting.transform(counts)


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
            C=model.C,
            class_weight=class_weight,
            max_iter=model.max_iter,
            solver="liblinear",
            random_state=0,  # liblinear shuffles: without a seed, two fits could differ
        )
    if model.type == "linear_svm":
        return LinearSVC(
            C=model.C, class_weight=class_weight, max_iter=model.max_iter, random_state=0
        )
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


def theme_weights(pipeline: Pipeline) -> tuple[list[tuple[str, str]], list[np.ndarray | None]]:
    """The features of a fitted pipeline as ``(family, n-gram)`` and each theme's weights.

    Works for every pipeline :func:`build_pipeline` builds: one TF-IDF or a
    union of word and char ones; logistic regression, linear SVM (also inside a calibrator, whose
    folds' weights are averaged), ridge or SGD per theme. A theme the model could not learn
    (no positive paragraph) has ``None``.

    Example:
        >>> features, weights = theme_weights(result.pipeline)
        >>> features[0][0], len(weights), weights[0].shape == (len(features),)
        ('word', 5, True)
    """
    union = pipeline[:-1][-1]
    if isinstance(union, FeatureUnion):
        # "word__police" -> ("word", "police"): the union prefixes each name with its family
        features = [tuple(name.split("__", 1)) for name in union.get_feature_names_out().tolist()]
    elif type(union) is HashingVectorizer:
        # a hash bucket names no n-gram (several may share it): it goes by its column
        features = [("hashed", f"#{column}") for column in range(union.n_features)]
    else:
        family = "word" if union.analyzer == "word" else "char"
        features = [(family, name) for name in union.get_feature_names_out().tolist()]
    weights = [_weights(estimator) for estimator in pipeline[-1].estimators_]
    return features, weights


def _weights(estimator) -> np.ndarray | None:
    if hasattr(estimator, "coef_"):
        coef = estimator.coef_
        coef = coef.toarray() if sp.issparse(coef) else np.asarray(coef)
        return coef.ravel().astype(np.float64)
    if hasattr(estimator, "calibrated_classifiers_"):
        # a calibrator keeps one fitted model per calibration fold: their mean weight
        folds = [_weights(c.estimator) for c in estimator.calibrated_classifiers_]
        folds = [w for w in folds if w is not None]
        return np.mean(folds, axis=0) if folds else None
    return None  # scikit-learn's constant predictor for a theme without positives
