"""The scoring engine computes what the fitted pipeline computes, to 1e-6.

The reference is :func:`classify.model.pipeline.theme_scores` on the fitted scikit-learn
pipeline. The engine is held to it on the seed and authored paragraphs for every shipped
experiment and every model type, on property-based text of every script and oddity, and on
paragraphs of millions of characters.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classify.model.config import (
    CharFeatures,
    ExperimentConfig,
    FeaturesConfig,
    ModelConfig,
    WordFeatures,
    load_experiment,
)
from classify.model.engine import ScoringEngine, terms_of
from classify.model.engine_export import export_pipeline
from classify.model.pipeline import build_pipeline, theme_scores, vectorizers
from classify.text import normalise_text
from classify.training.fits import fit_pipeline
from classify.training.train import data_split, load_labeled_data
from tests.conftest import DEFAULT_EXPERIMENT, ROOT

TOLERANCE = 1e-6
EXPERIMENTS = sorted(path.stem for path in (ROOT / "experiments").glob("*.toml"))
# Model types and calibrations beyond the shipped experiments, each on word + char_wb features
VARIANTS = [
    ("ridge", "none"),
    ("sgd", "isotonic"),
    ("linear_svm", "isotonic"),
    ("ridge", "sigmoid"),
    ("logistic_regression", "isotonic"),
]
# Text that exercises every path of the kernel: code points above 4095 and astral ones (hashed
# keys), words longer than the memo takes, combining marks, lone surrogates, Unicode spaces
# and the \x1c-\x1f separators str.split() splits on, digits and superscripts (\w), underscores.
ODD_TEXTS = [
    "Полиция провела учения. Police held drills; the_police_drill_2024 ²³ ٣",
    "東京で訓練が行われた 🚨🚨 emoji ✓ and 한국어 text",
    "Bogotá cafe\u0301 ﬁne ＫＮＢ Ⅻ ǅ İstanbul straße",
    "tab\tseparated\x1cfile\x1dgroup\x1erecord\x1funit\u2003em\u3000ideographic\u00a0nbsp",
    "antidisestablishmentarianism-and-counterterrorism-cooperation-agreements",
    "a b c d e f g h i j k l m n o p q r s t u v w x y z",
    "lone \ud800 surrogate and \udfff another",
    "   leading and trailing   ",
    "\u200b\u200dzero\u2060width\ufeff",
    "«Кавычки» „Anführungszeichen“ (brackets) [square] {curly} — dash – en-dash",
]


def largest_difference(pipeline, texts) -> float:
    engine = ScoringEngine(*export_pipeline(pipeline))
    return float(np.abs(engine.scores(texts) - theme_scores(pipeline, texts)).max())


@pytest.fixture(scope="module")
def labeled():
    """Every labeled paragraph of the default experiment's files: seeds and authored."""
    return load_labeled_data(load_experiment(DEFAULT_EXPERIMENT))


def fitted(config: ExperimentConfig, data) -> object:
    """The experiment's pipeline fitted on its training rows (the data mix)."""
    train_rows, _ = data_split(config, data)
    training = data.take(np.flatnonzero(train_rows))
    return fit_pipeline(config, training.texts, training.y)


@pytest.mark.slow
@pytest.mark.parametrize("name", EXPERIMENTS)
def test_every_shipped_experiment_scores_as_its_pipeline(labeled, name):
    config = load_experiment(ROOT / "experiments" / f"{name}.toml")
    assert largest_difference(fitted(config, labeled), labeled.texts) <= TOLERANCE


@pytest.mark.slow
@pytest.mark.parametrize(("model", "calibration"), VARIANTS)
def test_every_model_type_scores_as_its_pipeline(labeled, model, calibration):
    config = load_experiment(
        DEFAULT_EXPERIMENT, [f'model.type="{model}"', f'model.calibration="{calibration}"']
    )
    assert largest_difference(fitted(config, labeled), labeled.texts) <= TOLERANCE


@pytest.fixture(scope="module")
def odd_pipelines(labeled):
    """Pipelines whose vocabularies hold odd n-grams: fitted on real and odd text, with every
    analyzer, n-gram ranges from 1 to 7, stop words, and float32 weights (ridge)."""
    texts = labeled.texts[:300] + ODD_TEXTS * 3
    y = np.zeros((len(texts), 5), dtype=int)
    y[np.arange(len(texts)), np.arange(len(texts)) % 5] = 1
    features = [
        FeaturesConfig(
            word=WordFeatures(ngram_range=(1, 3)), char=CharFeatures(ngram_range=(1, 6))
        ),
        FeaturesConfig(word=WordFeatures(stop_words="english"), char=None),
        FeaturesConfig(word=None, char=CharFeatures(analyzer="char", ngram_range=(2, 5))),
        FeaturesConfig(word=None, char=CharFeatures(ngram_range=(4, 7))),  # short words whole
    ]
    models = ["logistic_regression", "logistic_regression", "ridge", "sgd"]
    return [
        build_pipeline(ExperimentConfig(features=f, model=ModelConfig(type=m))).fit(texts, y)
        for f, m in zip(features, models, strict=True)
    ]


def test_odd_text_scores_as_the_pipeline(odd_pipelines):
    probe = [*ODD_TEXTS, "", " ", "\n\n", "x", "_", "__", "12", "a  b"]
    for pipeline in odd_pipelines:
        assert largest_difference(pipeline, probe) <= TOLERANCE


ANY_TEXT = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),  # every script, controls, marks, astral code points
        st.sampled_from(" \t\n\r\x1c\u2003\u00a0_-.,'«»ёЁ"),
        st.sampled_from(["\ud800", "\udfff"]),  # lone surrogates
    ),
    max_size=80,
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(ANY_TEXT, st.sampled_from(ODD_TEXTS)), min_size=1, max_size=6))
def test_any_text_scores_as_the_pipeline(odd_pipelines, texts):
    for pipeline in odd_pipelines:
        assert largest_difference(pipeline, texts) <= TOLERANCE


def test_the_engine_keeps_the_vocabularies_exactly(odd_pipelines):
    for pipeline in odd_pipelines:
        spec, arrays = export_pipeline(pipeline)
        for path, vectorizer in vectorizers(pipeline):
            terms = terms_of(spec, arrays)[path]
            assert dict(zip(terms, range(len(terms)), strict=True)) == vectorizer.vocabulary_


def test_the_export_refuses_what_the_engine_cannot_compute():
    from sklearn.feature_extraction.text import TfidfVectorizer

    config = ExperimentConfig(features=FeaturesConfig(word=WordFeatures(), char=None))
    pipeline = build_pipeline(config).fit(ODD_TEXTS, np.eye(5, dtype=int)[np.arange(10) % 5])
    binary = TfidfVectorizer(binary=True, preprocessor=normalise_text).fit(ODD_TEXTS)
    pipeline.steps[0] = ("features", binary)
    with pytest.raises(ValueError, match="binary=True"):
        export_pipeline(pipeline)


@pytest.mark.slow
def test_a_20_million_character_paragraph_scores_as_the_pipeline(trained):
    from tests.test_long_text import one_paragraph

    result, _ = trained
    text = one_paragraph(result, 20_000_000)
    assert largest_difference(result.pipeline, [text, "Police held a drill."]) <= TOLERANCE


@pytest.mark.slow
def test_a_long_paragraph_scores_as_the_pipeline_with_char_features(labeled):
    from tests.test_long_text import one_paragraph

    config = load_experiment(DEFAULT_EXPERIMENT)
    pipeline = fitted(config, labeled)
    text = one_paragraph(SimpleNamespace(training=labeled), 1_000_000)
    assert largest_difference(pipeline, [text, *labeled.texts[:20]]) <= TOLERANCE
