"""Training end to end: the bundle on disk and the MLflow run read back from a real store."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classify.model.bundle import load_bundle
from classify.model.config import ExperimentConfig, load_experiment
from classify.model.pipeline import theme_scores
from classify.training.train import train, train_and_save

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def test_training_writes_a_bundle_and_an_mlflow_run(tmp_path, private_mlflow_store, quick):
    import mlflow
    from mlflow.tracking import MlflowClient

    from classify.track.tracker import MlflowTracker

    # every source in training and evaluation, so both sources and languages are reported
    settings = ['data.mix="seeds+authored"', 'cv.evaluate_on=""', 'cv.strategy="group_kfold"']
    config = load_experiment(
        ROOT / "experiments" / "default.toml", [*quick, *settings, "model.C=3"]
    )
    result, bundle_dir, run_id = train_and_save(
        config, tmp_path / "models", tracker=MlflowTracker()
    )

    bundle = load_bundle(bundle_dir)
    manifest = bundle.manifest
    assert manifest["run_id"] == run_id
    assert manifest["training_data"]["hash"] == result.data_hash
    assert manifest["training_data"]["paragraphs"] == len(result.training)
    assert manifest["training_data"]["sources"] == {
        "seeds": 130,
        "authored": len(result.training) - 130,
    }
    assert manifest["config"]["model"]["C"] == 3.0
    assert manifest["cv_metrics"]["macro_f1"] == pytest.approx(result.cv.metrics.macro_f1)
    assert {"scikit-learn", "numpy", "python"} <= manifest["versions"].keys()
    assert bundle.thresholds == result.thresholds

    client = MlflowClient(private_mlflow_store)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["model.C"] == "3.0"
    assert run.data.params["cv.strategy"] == "group_kfold"
    metrics = result.cv.metrics.as_dict()
    assert run.data.metrics["macro_f1"] == pytest.approx(metrics["macro_f1"])
    for theme in result.label_set.names:
        assert run.data.metrics[f"f1/{theme}"] == pytest.approx(metrics[f"f1/{theme}"])
        assert run.data.metrics[f"support/{theme}"] == metrics[f"support/{theme}"]
    assert run.data.tags["data_hash"] == result.data_hash
    assert run.data.tags["label_set"] == "central-asia-extremism"

    oof_path = client.download_artifacts(run_id, "evaluation/oof_predictions.csv", str(tmp_path))
    oof = pd.read_csv(oof_path)
    assert len(oof) == len(result.evaluated) and set(oof["fold"]) == {0, 1, 2, 3, 4}
    assert set(oof["lang"]) == {"en", "ru"} and set(oof["source"]) == {"seeds", "authored"}
    assert run.data.metrics["lang_ru/macro_f1"] == pytest.approx(
        result.cv.breakdown["lang"]["ru"].macro_f1
    )
    assert {f"score_{t}" for t in result.label_set.names} <= set(oof.columns)

    mlflow.set_tracking_uri(private_mlflow_store)
    logged = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], output_format="list"
    )
    assert len(logged) == 1 and logged[0].source_run_id == run_id
    model = mlflow.pyfunc.load_model(logged[0].model_uri)
    assert [c.name for c in model.metadata.get_input_schema().inputs] == ["text"]
    rows = pd.DataFrame({"text": ["Police rehearsed a rescue.", "Heroin was seized.", "Weather."]})
    output = model.predict(rows)
    assert len(output) == 3
    expected = theme_scores(bundle.pipeline, rows["text"].tolist())
    np.testing.assert_allclose(
        output[[f"score_{t}" for t in result.label_set.names]].to_numpy(), expected
    )


def test_a_failed_training_marks_the_run_failed_and_writes_no_bundle(
    tmp_path, private_mlflow_store
):
    from mlflow.tracking import MlflowClient

    from classify.errors import ClassifyError
    from classify.track.tracker import MlflowTracker

    bad = tmp_path / "bad.toml"
    label_set = ROOT / "labels" / "themes.toml"
    bad.write_text(
        f'name = "bad"\n[data]\nannotations = ["missing.csv"]\nlabel_set = "{label_set}"\n',
        encoding="utf-8",
    )
    tracker = MlflowTracker()
    with pytest.raises(ClassifyError, match="annotation file not found"):
        train_and_save(load_experiment(bad), tmp_path / "models", tracker=tracker)
    assert MlflowClient(private_mlflow_store).get_run(tracker.run_id).info.status == "FAILED"
    assert not (tmp_path / "models" / "bad").exists()


def test_an_unreachable_tracking_server_fails_before_training(tmp_path, monkeypatch):
    import socket

    from classify.errors import ClassifyError
    from classify.track.tracker import MlflowTracker

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = load_experiment(ROOT / "experiments" / "default.toml")
    with pytest.raises(
        ClassifyError,
        match=rf"cannot reach the MLflow tracking server at http://127.0.0.1:{port}.*--no-track",
    ):
        train_and_save(
            config, tmp_path / "models", tracker=MlflowTracker(f"http://127.0.0.1:{port}")
        )
    assert not (tmp_path / "models").exists()


def test_any_label_set_works(tmp_path):
    """A label set that is not the five themes: two made-up topics over four documents."""
    (tmp_path / "topics.toml").write_text(
        'name = "sport-weather"\n[[themes]]\nname = "sport"\n[[themes]]\nname = "weather"\n',
        encoding="utf-8",
    )
    sport = ["The team won the match", "A late goal decided the final", "The striker scored twice"]
    weather = [
        "Heavy rain is expected",
        "Snow closed the mountain pass",
        "A heat wave hit the south",
    ]
    rows = []
    for d in range(4):
        for i, text in enumerate(sport):
            rows.append(
                {
                    "id": f"d{d}s{i}",
                    "document": f"d{d}",
                    "text": f"{text} in round {d}",
                    "themes": ["sport"],
                }
            )
        for i, text in enumerate(weather):
            rows.append(
                {
                    "id": f"d{d}w{i}",
                    "document": f"d{d}",
                    "text": f"{text} on day {d}",
                    "themes": ["weather"],
                }
            )
    (tmp_path / "topics.jsonl").write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    config = ExperimentConfig.from_dict(
        {
            "name": "topics",
            "data": {"annotations": ["topics.jsonl"], "label_set": "topics.toml"},
            "base_dir": str(tmp_path),
        }
    )
    result = train(config)
    assert result.label_set.names == ("sport", "weather")
    assert result.cv.metrics.macro_f1 > 0.8
    assert result.cv.fold_thresholds.shape == (4, 2)
