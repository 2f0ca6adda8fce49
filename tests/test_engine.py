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
    ExperimentConfig,
    FeaturesConfig,
    WordFeatures,
    load_experiment,
)
from classify.model.engine import ScoringEngine, terms_of
from classify.model.engine_export import export_pipeline
from classify.model.pipeline import build_pipeline, theme_scores, vectorizers
from classify.text import normalise_text
from classify.training.fits import fit_pipeline
from classify.training.train import data_split
from tests.conftest import DEFAULT_EXPERIMENT, ODD_TEXTS, ROOT

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


def largest_difference(pipeline, texts) -> float:
    engine = ScoringEngine(*export_pipeline(pipeline))
    return float(np.abs(engine.scores(texts) - theme_scores(pipeline, texts)).max())


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
