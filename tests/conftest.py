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
