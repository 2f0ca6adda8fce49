"""The shipped experiment files, and several of them trained by one command into one MLflow
experiment on the same grouped folds."""

import tomllib

import pytest
from helpers import ROOT, run_cli

from classify.model.config import load_experiment
from classify.model.pipeline import build_pipeline

EXPERIMENTS = sorted((ROOT / "experiments").glob("*.toml"))


def test_every_shipped_experiment_is_a_distinct_contender_that_says_what_it_tries():
    assert len(EXPERIMENTS) >= 5
    configs = [load_experiment(path) for path in EXPERIMENTS]
    for path, config in zip(EXPERIMENTS, configs, strict=True):
        assert "# Tries:" in path.read_text(encoding="utf-8"), f"{path.name} says not what it tries"
        assert config.name == path.stem
        build_pipeline(config)  # every one builds
    # each tries something different: no two of a label set share features and model
    recipes = {(c.data.label_set, str(c.features), str(c.model)) for c in configs}
    assert len(recipes) == len(configs)
    # and the in-memory contenders of a label set are measured on the same data with the same
    # folds, so their runs compare (out-of-core training evaluates on its training rows)
    by_label_set: dict[str, set] = {}
    for c in configs:
        if not c.training.out_of_core:
            by_label_set.setdefault(c.data.label_set, set()).add((c.data, c.cv))
    assert set(by_label_set) == {"../labels/themes.toml", "../labels/narratives.toml"}
    assert all(len(setups) == 1 for setups in by_label_set.values())
    configs = [
        c
        for c in configs
        if c.data.label_set == "../labels/themes.toml" and not c.training.out_of_core
    ]
    kinds = {c.model.type for c in configs}
    assert {"logistic_regression", "linear_svm"} <= kinds and len(kinds) >= 3
    assert any(c.model.type == "linear_svm" and c.model.calibration != "none" for c in configs)
    families = {(c.features.word is not None, c.features.char is not None) for c in configs}
    assert families == {(True, False), (False, True), (True, True)}


def test_the_default_grid_is_valid():
    raw = tomllib.loads((ROOT / "experiments" / "default.toml").read_text(encoding="utf-8"))
    assert raw["tune"]["grid"], "the default experiment documents [tune.grid]"


@pytest.mark.slow
def test_several_configs_train_into_one_experiment_on_the_same_folds(tmp_path, quick):
    from mlflow.tracking import MlflowClient

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    files = [ROOT / "experiments" / "word-logreg.toml", ROOT / "experiments" / "word-svm.toml"]
    done = run_cli(
        "train",
        *map(str, files),
        "--set",
        "model.max_iter=500",
        "--experiment",
        "side-by-side",
        "--models-dir",
        str(tmp_path / "models"),
        "--tracking-uri",
        store,
    )
    assert done.returncode == 0, done.stderr
    assert "experiments side by side" in done.stdout
    assert "different folds" not in done.stderr

    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("side-by-side")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == ["word-logreg", "word-svm"]
    assert len({r.data.tags["cv.folds"] for r in runs}) == 1  # the very same grouped folds
    assert {r.data.params["model.max_iter"] for r in runs} == {"500"}  # --set applies to each
    assert client.get_experiment_by_name("classify") is None  # nothing went elsewhere


@pytest.mark.slow
def test_a_note_when_configs_were_evaluated_on_different_folds(tmp_path, quick):
    text = (ROOT / "experiments" / "word-logreg.toml").read_text(encoding="utf-8")
    text = text.replace('"../', f'"{ROOT.as_posix()}/').replace(
        'name = "word-logreg"', 'name = "word-logreg-kfold"'
    )
    kfold = 'strategy = "group_kfold"\nfolds = 3'
    text = text.replace('strategy = "leave_one_document_out"', kfold)
    other = tmp_path / "word-logreg-kfold.toml"
    other.write_text(text, encoding="utf-8")
    done = run_cli(
        "train",
        str(ROOT / "experiments" / "word-logreg.toml"),
        str(other),
        "--no-track",
        "--models-dir",
        str(tmp_path / "models"),
    )
    assert done.returncode == 0, done.stderr
    assert "evaluated on different folds (word-logreg; word-logreg-kfold)" in done.stderr


def test_a_bad_file_among_several_fails_before_any_training(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[model]\ntype = "forest"\n', encoding="utf-8")
    good = ROOT / "experiments" / "word-logreg.toml"
    done = run_cli("train", str(good), str(bad), "--no-track", "--models-dir", str(tmp_path / "m"))
    assert done.returncode == 1
    assert "model.type = 'forest'" in done.stderr and "training" not in done.stderr
    assert not (tmp_path / "m").exists()
