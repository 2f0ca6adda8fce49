from pathlib import Path

import pytest

from classify.errors import ClassifyError
from classify.model.config import ExperimentConfig, apply_override, flatten, load_experiment
from classify.model.pipeline import build_pipeline

ROOT = Path(__file__).resolve().parent.parent


def test_default_experiment_loads_and_resolves_paths():
    config = load_experiment(ROOT / "experiments" / "default.toml")
    assert config.name == "default"
    assert config.features.word is not None and config.features.char is not None
    assert config.resolve(config.data.annotations[0]) == ROOT / "labels" / "seeds.csv"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"modle": {}}, "unknown key 'modle'"),
        ({"model": {"penalty": "l1"}}, "unknown key 'model.penalty'"),
        ({"model": {"C": "big"}}, "model.C must be float"),
        ({"model": {"type": "xgboost"}}, "model.type = 'xgboost' is not one of"),
        ({"model": {"C": 0}}, "must be positive"),
        ({"features": {}}, "enables neither"),
        ({"features": {"word": {"ngram_range": [3, 1]}}}, "1 <= low <= high"),
        ({"cv": {"folds": True}}, "cv.folds must be int"),
        ({"thresholds": {"value": 1.5}}, "between 0 and 1"),
        ({"name": "../escape"}, "cannot name a model bundle folder"),
    ],
)
def test_schema_errors_name_the_key(data, message):
    with pytest.raises(ClassifyError, match=message) as caught:
        ExperimentConfig.from_dict(data, where="exp.toml")
    assert str(caught.value).startswith("exp.toml: ")


def test_feature_tables_present_are_the_ones_enabled():
    char_only = ExperimentConfig.from_dict({"features": {"char": {}}})
    assert char_only.features.word is None and char_only.features.char is not None
    assert ExperimentConfig().features.char is None  # no [features]: word n-grams only


def test_overrides_parse_toml_values_and_are_validated(tmp_path):
    path = tmp_path / "e.toml"
    path.write_text('name = "e"\n[model]\nC = 1.0\n', encoding="utf-8")
    config = load_experiment(
        path, ["model.C=4", 'model.type="linear_svm"', "features.char.ngram_range=[2,4]"]
    )
    assert config.model.C == 4.0 and config.model.type == "linear_svm"
    assert config.features.char.ngram_range == (2, 4)
    with pytest.raises(ClassifyError, match=r"unknown key 'model\.CC'"):
        load_experiment(path, ["model.CC=4"])
    with pytest.raises(ClassifyError, match="bad override"):
        load_experiment(path, ["model.C"])
    data = {"model": {"type": "ridge"}}
    apply_override(data, "model.type=sgd")  # a bare word is taken as a string
    assert data["model"]["type"] == "sgd"


def test_flatten_gives_mlflow_params():
    flat = flatten(ExperimentConfig().to_dict())
    assert flat["model.C"] == 10.0
    assert flat["features.word.ngram_range"] == "1,2"
    assert flat["features.char"] == "none"
    assert "base_dir" not in flat


def test_missing_and_malformed_files(tmp_path):
    with pytest.raises(ClassifyError, match="experiment file not found"):
        load_experiment(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\n", encoding="utf-8")
    with pytest.raises(ClassifyError, match="not valid TOML"):
        load_experiment(bad)


@pytest.mark.parametrize("model_type", ["logistic_regression", "linear_svm", "ridge", "sgd"])
def test_factory_builds_every_model_type(model_type):
    config = ExperimentConfig.from_dict(
        {"model": {"type": model_type}, "features": {"word": {}, "char": {}}}
    )
    pipeline = build_pipeline(config)
    assert [name for name, _ in pipeline.steps] == ["features", "classifier"]
    assert [name for name, _ in pipeline.named_steps["features"].transformer_list] == [
        "word",
        "char",
    ]
