"""Out-of-core training: hashed features the engine scores exactly, streamed reading, and the
same honest cross-validation as in memory (no document on both sides, no leak into thresholds)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from classify.errors import ClassifyError
from classify.model.config import ExperimentConfig, load_experiment
from conftest import ODD_TEXTS

ROOT = Path(__file__).resolve().parent.parent
EXPERIMENT = ROOT / "experiments" / "out-of-core.toml"


def _hashed(analyzer: str, ngram_range: list[int], n_features: int) -> ExperimentConfig:
    return ExperimentConfig.from_dict(
        {
            "features": {
                "hashed": {
                    "analyzer": analyzer,
                    "ngram_range": ngram_range,
                    "n_features": n_features,
                }
            },
            "model": {"type": "sgd"},
            "training": {"out_of_core": True},
        }
    )


@pytest.mark.parametrize(
    ("analyzer", "ngram_range", "n_features"),
    [("word", [1, 3], 2**12), ("char_wb", [2, 5], 2**10), ("char", [1, 4], 2**20 + 7)],
)
def test_engine_hashes_exactly_as_scikit_learn(labeled, analyzer, ngram_range, n_features):
    from classify.model.engine import ScoringEngine
    from classify.model.engine_export import export_pipeline
    from classify.model.pipeline import build_pipeline, theme_scores

    # scikit-learn cannot hash a lone surrogate (it encodes strictly); the engine hashes its
    # surrogatepass bytes, and is held to scikit-learn on every other text
    odd = [text for text in ODD_TEXTS if "\ud800" not in text]
    texts = labeled.texts[:400] + odd
    pipeline = build_pipeline(_hashed(analyzer, ngram_range, n_features)).fit(
        texts, labeled.y[:400].tolist() + [[0] * 5] * len(odd)
    )
    engine = ScoringEngine(*export_pipeline(pipeline))
    probes = [*texts, "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 astral " * 3, "word " * 30_000]  # 4-byte UTF-8, a long text
    np.testing.assert_allclose(engine.scores(probes), theme_scores(pipeline, probes), atol=1e-12)
    assert engine.hashed
    assert np.isfinite(engine.scores(ODD_TEXTS)).all()
    with pytest.raises(ValueError, match="names no n-gram"):
        engine.terms([0])


def test_streamed_paragraphs_are_the_loaded_ones(label_set, tmp_path):
    from classify.data.annotations import load_annotations, stream_annotations

    files = [ROOT / "labels" / "seeds.csv", ROOT / "labels" / "authored.jsonl"]
    loaded = load_annotations(files, label_set).where(kinds=["body"], sources=["authored"])
    streamed = list(stream_annotations(files, label_set, kinds=["body"], sources=["authored"]))
    assert tuple(streamed) == loaded.paragraphs

    twice = tmp_path / "twice.jsonl"
    row = json.dumps({"id": "a", "text": "x", "themes": []})
    twice.write_text(row + "\n" + row + "\n")
    with pytest.raises(ClassifyError, match=r"twice.jsonl:2: duplicate id 'a'"):
        list(stream_annotations([twice], label_set))


def test_tune_refuses_an_out_of_core_experiment_in_one_line(tmp_path):
    grid = 'tune.grid={"model.alpha"=[1e-5,1e-4]}'
    done = run_cli("tune", str(EXPERIMENT), "--no-track", "--set", grid,
                   "--models-dir", str(tmp_path))  # fmt: skip
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "trains out of core; tune fits its candidates in memory" in done.stderr


def test_hashed_features_and_out_of_core_go_together():
    with pytest.raises(ClassifyError, match="go together"):
        ExperimentConfig.from_dict({"features": {"hashed": {}}, "model": {"type": "sgd"}})
    with pytest.raises(ClassifyError, match=r'model\.type = "sgd"'):
        ExperimentConfig.from_dict({"features": {"hashed": {}}, "training": {"out_of_core": True}})
    with pytest.raises(ClassifyError, match="replaces"):
        ExperimentConfig.from_dict(
            {"features": {"hashed": {}, "word": {}}, "training": {"out_of_core": True}}
        )


def _leak_probe(folder: Path, documents: int = 60) -> ExperimentConfig:
    """Documents whose every paragraph shares one made-up word and one random theme: a model
    that saw a held-out document (or tuned its thresholds on it) would recognise it; a model
    that did not can only guess."""
    rng = np.random.default_rng(0)
    (folder / "themes.toml").write_text(
        'name = "probe"\n[[themes]]\nname = "alpha"\n[[themes]]\nname = "beta"\n'
    )
    with open(folder / "probe.jsonl", "w") as out:
        for d in range(documents):
            theme = ["alpha", "beta"][rng.integers(2)]
            for p in range(5):
                text = f"token{d}x{d * 7919 % 1000} common words paragraph {p}"
                row = {"id": f"d{d}:{p}", "document": f"d{d}", "text": text, "themes": [theme]}
                out.write(json.dumps(row) + "\n")
    settings = load_experiment(EXPERIMENT).to_dict()
    settings["data"] = {"annotations": ["probe.jsonl"], "label_set": "themes.toml"}
    settings["training"]["chunk_rows"] = 37  # chunks that cut through documents
    settings["features"]["hashed"]["n_features"] = 2**16
    settings["base_dir"] = str(folder)
    return ExperimentConfig.from_dict(settings)


def test_cross_validation_is_grouped_and_leaks_nothing(tmp_path):
    from classify.training.cross_validation import grouped_folds
    from classify.training.out_of_core import train_out_of_core

    config = _leak_probe(tmp_path)
    result = train_out_of_core(config)
    documents = np.array([pid.split(":")[0] for pid in result.training.ids])
    # the folds of the in-memory path, over the same documents
    expected = np.empty(len(documents), dtype=int)
    for k, (_, test) in enumerate(grouped_folds(documents, config.cv)):
        expected[test] = k
    np.testing.assert_array_equal(result.cv.fold, expected)
    assert all(len(set(result.cv.fold[documents == d])) == 1 for d in set(documents))
    table = result.out_of_fold_table()  # what the MLflow run records, document names included
    assert table["document"].tolist() == documents.tolist() and "text" not in table.columns
    # held-out documents are unseen: out-of-fold accuracy is chance, not memorised
    gold, tagged = result.training.y.astype(bool), result.cv.tags
    accuracy = (gold == tagged).all(axis=1).mean()
    assert accuracy < 0.75, accuracy
    # the final model did see every document: it recognises them
    from classify.model.pipeline import theme_scores

    texts = [f"token{d}x{d * 7919 % 1000} common words paragraph 0" for d in range(60)]
    final = theme_scores(result.pipeline, texts) >= np.array(list(result.thresholds.values()))
    first = result.training.y[::5].astype(bool)
    assert (final == first).all(axis=1).mean() > 0.9
    # deterministic: the same run again gives the same scores
    np.testing.assert_array_equal(train_out_of_core(config).cv.scores, result.cv.scores)


def test_cli_trains_out_of_core_into_a_bundle_and_a_run(tmp_path, private_mlflow_store):
    from classify.model.bundle import load_bundle
    from classify.model.pipeline import theme_scores
    from classify.predict.predictor import Predictor

    models = tmp_path / "models"
    store = {"MLFLOW_TRACKING_URI": private_mlflow_store}
    done = run_cli("train", str(EXPERIMENT), "--models-dir", str(models), "--set",
                   "training.epochs=2", env=store)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "out of core" in done.stdout
    predictor = Predictor.load(models / "out-of-core")
    texts = ["Border guards seized heroin on the Tajik border.", "Полиция провела учения."]
    pipeline = load_bundle(models / "out-of-core").pipeline  # through skops' trusted types
    np.testing.assert_allclose(predictor.scores(texts), theme_scores(pipeline, texts), atol=1e-12)
    manifest = json.loads(next((models / "out-of-core").glob("*/manifest.json")).read_text())
    assert manifest["training_data"]["out_of_core"] is True

    import mlflow

    client = mlflow.MlflowClient(private_mlflow_store)
    (run,) = client.search_runs(client.get_experiment_by_name("classify").experiment_id)
    assert run.data.tags["evaluation"].endswith("(group_kfold, out of core)")
    assert 0.5 < run.data.metrics["micro_f1"] <= 1.0
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert "evaluation/oof_predictions.csv" in artifacts
