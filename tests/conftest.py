"""Shared fixtures: real files, real models, and a private MLflow store for every test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# Property-based tests are reproducible: the same examples on every run and in CI. To explore
# new random examples locally: HYPOTHESIS_PROFILE=explore pytest tests/test_properties.py
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("explore", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
LABELS = ROOT / "labels"
DEFAULT_EXPERIMENT = ROOT / "experiments" / "default.toml"

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


@pytest.fixture(autouse=True)
def private_mlflow_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Point MLflow at a throwaway SQLite store so no test writes to the project's store."""
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    return uri


@pytest.fixture(scope="session")
def label_set():
    from classify.data.labels import load_label_set

    return load_label_set(LABELS / "themes.toml")


@pytest.fixture(scope="session")
def seed_annotations(label_set):
    from classify.data.annotations import load_annotations

    return load_annotations(LABELS / "seeds.csv", label_set, documents_dir=SEEDS)


@pytest.fixture(scope="module")
def labeled():
    """Every labeled paragraph of the default experiment's files: seeds and authored."""
    from classify.model.config import load_experiment
    from classify.training.train import load_labeled_data

    return load_labeled_data(load_experiment(DEFAULT_EXPERIMENT))


@pytest.fixture(scope="module")
def odd_pipelines(labeled):
    """Pipelines whose vocabularies hold odd n-grams: fitted on real and odd text, with every
    analyzer, n-gram ranges from 1 to 7, stop words, and float32 weights (ridge)."""
    import numpy as np

    from classify.model.config import (
        CharFeatures,
        ExperimentConfig,
        FeaturesConfig,
        ModelConfig,
        WordFeatures,
    )
    from classify.model.pipeline import build_pipeline

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
