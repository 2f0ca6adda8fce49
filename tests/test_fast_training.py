"""Training that keeps up, without changing what it computes.

N-grams counted once give exactly the features a vectorizer fitted on each subset gives; a fit
through them scores exactly as the pipeline fitted on the texts; training is deterministic; the
shared inner folds (``cv.inner = "shared"``) tune each outer fold's thresholds on the other
folds only.
"""

from __future__ import annotations

import numpy as np
import pytest

from classify.errors import ClassifyError
from classify.model.config import load_experiment
from classify.model.decision import choose_thresholds
from classify.model.pipeline import build_pipeline, theme_scores
from classify.training.counted import CountedCorpus
from classify.training.cross_validation import cross_validate
from classify.training.fits import Fit, fit_pipeline, run_fits
from classify.training.train import load_labeled_data, train
from tests.conftest import DEFAULT_EXPERIMENT

VARIANTS = [
    [],
    ["features.word.min_df=2", "features.char.max_df=0.5", "features.word.max_features=500"],
    [
        'features.word.stop_words="english"',
        'features.char.analyzer="char"',
        "features.char.min_df=3",
        "features.char.max_features=2000",
        "features.char.sublinear_tf=false",
    ],
]


@pytest.fixture(scope="module")
def data():
    return load_labeled_data(load_experiment(DEFAULT_EXPERIMENT))


@pytest.mark.parametrize("overrides", VARIANTS)
def test_counted_features_are_the_fitted_vectorizers_bit_for_bit(data, overrides):
    config = load_experiment(DEFAULT_EXPERIMENT, overrides)
    texts = data.texts
    corpus = CountedCorpus(config, texts)
    rng = np.random.default_rng(0)
    for size in (300, 1500):
        rows = np.sort(rng.choice(len(texts), size=size, replace=False))
        held_out = np.setdiff1d(np.arange(len(texts)), rows)[:400]
        x_train, (x_test,) = corpus.features(rows, [held_out])
        features = build_pipeline(config)[0]
        expected_train = features.fit_transform([texts[i] for i in rows])
        expected_test = features.transform([texts[i] for i in held_out])
        for got, expected in ((x_train, expected_train), (x_test, expected_test)):
            assert got.shape == expected.shape and got.dtype == expected.dtype
            for part in ("indptr", "indices", "data"):
                assert np.array_equal(getattr(got, part), getattr(expected, part)), part


def test_a_fit_through_the_counts_scores_as_the_pipeline_fitted_on_the_texts(data):
    config = load_experiment(DEFAULT_EXPERIMENT, ['model.type="linear_svm"'])
    train_rows, test_rows = np.arange(0, 1200), np.arange(1200, 1500)
    fits = [Fit(train_rows, (test_rows,))]
    corpus = CountedCorpus(config, data.texts)
    (((counted,), _),) = run_fits(config, data.texts, data.y, fits, corpus=corpus)
    (((texts_only,), _),) = run_fits(config, data.texts, data.y, fits, corpus=None)
    pipeline = build_pipeline(config).fit([data.texts[i] for i in train_rows], data.y[train_rows])
    reference = theme_scores(pipeline, [data.texts[i] for i in test_rows])
    assert np.array_equal(counted, texts_only) and np.array_equal(counted, reference)


@pytest.mark.parametrize("model", ["logistic_regression", "linear_svm"])
def test_fit_pipeline_gives_the_very_model_pipeline_fit_gives(data, model):
    config = load_experiment(DEFAULT_EXPERIMENT, [f'model.type="{model}"', "features.char=false"])
    texts, y = data.texts[:800], data.y[:800]
    ours = fit_pipeline(config, texts, y)  # float64 rows handed to liblinear once
    theirs = build_pipeline(config).fit(texts, y)
    for a, b in zip(ours[-1].estimators_, theirs[-1].estimators_, strict=True):
        assert np.array_equal(a.coef_, b.coef_) and np.array_equal(a.intercept_, b.intercept_)


@pytest.mark.slow
def test_training_twice_gives_the_same_model_and_metrics():
    config = load_experiment(DEFAULT_EXPERIMENT, ['model.type="linear_svm"', "features.char=false"])
    first, second = train(config, n_jobs=2), train(config, n_jobs=2)
    assert np.array_equal(first.cv.scores, second.cv.scores)
    assert first.thresholds == second.thresholds
    assert np.array_equal(
        first.pipeline[-1].estimators_[0].coef_, second.pipeline[-1].estimators_[0].coef_
    )


def test_shared_inner_folds_tune_each_fold_on_the_other_folds_only(data):
    overrides = [
        'cv.strategy="group_kfold"', 'cv.evaluate_on=""', 'data.mix=""', 'cv.inner="shared"',
        "cv.folds=4", "features.char=false", 'thresholds.strategy="f1"',
    ]  # fmt: skip
    config = load_experiment(DEFAULT_EXPERIMENT, overrides)
    subset = data.take(range(0, len(data), 4))
    texts, y, groups, names = subset.texts, subset.y, subset.groups, subset.label_set.names
    cv = cross_validate(config, texts, y, groups, names)
    folds = [np.flatnonzero(cv.fold == k) for k in range(4)]
    for k in range(4):
        # fold k's thresholds, recomputed by hand: out-of-fold scores of each other fold j from
        # a model that saw neither fold j nor fold k
        training = np.concatenate([folds[j] for j in range(4) if j != k])
        scores = np.zeros((len(texts), len(names)))
        for j in range(4):
            if j == k:
                continue
            seen = np.setdiff1d(training, folds[j])
            model = fit_pipeline(config, [texts[i] for i in seen], y[seen])
            scores[folds[j]] = theme_scores(model, [texts[i] for i in folds[j]])
        expected = choose_thresholds(scores[training], y[training], names, config.thresholds)
        assert np.allclose(cv.fold_thresholds[k], expected, atol=1e-12)


def test_shared_inner_folds_need_an_outer_kfold_over_the_training_rows():
    with pytest.raises(ClassifyError, match=r'cv\.inner = "shared"'):
        load_experiment(DEFAULT_EXPERIMENT, ['cv.inner="shared"'])  # leave-one-document-out
