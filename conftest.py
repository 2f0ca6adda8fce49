"""Fixtures shared by the test suite and the docstring examples (``pytest --doctest-modules``)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent
# The default experiment, made quick for tests that need any real trained model: word n-grams
# only and fixed thresholds (no nested threshold tuning). One slow test trains the full default.
QUICK = ("features.char=false", 'thresholds.strategy="fixed"')


@pytest.fixture(scope="session")
def quick() -> tuple[str, ...]:
    """Overrides that make the default experiment quick to train (see QUICK)."""
    return QUICK


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """The quick default experiment trained once (no tracking) and saved: (result, bundle)."""
    from classify.model.config import load_experiment
    from classify.training.train import train_and_save

    models = tmp_path_factory.mktemp("models")
    config = load_experiment(ROOT / "experiments" / "default.toml", QUICK)
    result, bundle, _ = train_and_save(config, models)
    return result, bundle


@pytest.fixture(autouse=True)
def _examples_namespace(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch) -> None:
    """Docstring examples get real objects (a trained model, the seed labels), a scratch
    folder, and the project root as working folder, where their relative paths point."""
    if not isinstance(request.node, pytest.DoctestItem):
        return
    from classify.predict.predictor import Predictor
    from classify.training.train import load_labeled_data

    result, bundle = request.getfixturevalue("trained")
    namespace = request.getfixturevalue("doctest_namespace")
    namespace.update(
        config=result.config,
        result=result,
        annotations=load_labeled_data(result.config),  # every labeled paragraph, all sources
        bundle_dir=bundle,
        predictor=Predictor.load(bundle),
        tmp=tmp_path,
        quick=QUICK,
    )
    monkeypatch.chdir(ROOT)
