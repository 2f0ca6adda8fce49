"""`classify tune`: the grid, nested grouped CV that never selects on held-out documents, and
the parent/child MLflow runs read back from a real store."""

import json
from pathlib import Path

import numpy as np
import pytest

from classify.errors import ClassifyError
from classify.model.config import load_experiment
from classify.training.train import train
from classify.training.tune import grid_candidates, tune
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "experiments" / "default.toml"
GRID_C = 'tune.grid = {"model.C" = [0.1, 10.0]}'
FEW_FOLDS = "cv.folds=3"  # inner folds: enough to rank two candidates, and quick


def test_the_grid_is_the_product_of_its_lists_and_each_candidate_is_validated():
    grid = 'tune.grid = {"model.C" = [1, 10], "features.word.ngram_range" = [[1, 1], [1, 2]]}'
    candidates = grid_candidates(load_experiment(DEFAULT, [grid]))
    assert [c.label for c in candidates] == [
        "model.C=1, features.word.ngram_range=[1, 1]",
        "model.C=1, features.word.ngram_range=[1, 2]",
        "model.C=10, features.word.ngram_range=[1, 1]",
        "model.C=10, features.word.ngram_range=[1, 2]",
    ]
    assert candidates[3].config.model.C == 10.0
    assert candidates[3].config.features.word.ngram_range == (1, 2)
    assert candidates[3].config.features.char == load_experiment(DEFAULT).features.char

    with pytest.raises(ClassifyError, match=r"candidate 1 \(model.C=-1\).*model.C .* positive"):
        grid_candidates(load_experiment(DEFAULT, ['tune.grid = {"model.C" = [1, -1]}']))
    with pytest.raises(ClassifyError, match=r"unknown key 'model\.gamma'"):
        grid_candidates(load_experiment(DEFAULT, ['tune.grid = {"model.gamma" = [1]}']))
    with pytest.raises(ClassifyError, match=r"no \[tune.grid\]"):
        grid_candidates(load_experiment(ROOT / "experiments" / "word-logreg.toml"))


@pytest.mark.slow
def test_a_one_candidate_search_is_exactly_the_plain_cross_validation(quick):
    # Same folds, same fits, fixed thresholds: nested CV of one candidate must equal `train`'s CV
    # (on seeds LODO with every seed fold training on its own side: the nested path is exercised).
    settings = [*quick, 'data.mix="seeds"', 'cv.evaluate_on=""', 'tune.grid = {"model.C" = [3.0]}']
    config = load_experiment(DEFAULT, settings)
    tuned = tune(config)
    plain = train(tuned.best_candidate.config)
    np.testing.assert_allclose(tuned.final.cv.scores, plain.cv.scores)
    assert np.array_equal(tuned.final.cv.fold, plain.cv.fold)
    assert tuned.final.cv.metrics == plain.cv.metrics


@pytest.mark.slow
def test_selection_never_sees_the_held_out_documents(quick):
    # train-on-authored / test-on-seeds: candidates are ranked on authored rows only, and the
    # nested estimate is on the seeds, which no selection or fit saw.
    tuned = tune(load_experiment(DEFAULT, [*quick, GRID_C, FEW_FOLDS]))
    training, evaluated = tuned.final.training, tuned.final.evaluated
    assert set(training.source_names) == {"authored"} and set(evaluated.source_names) == {"seeds"}
    for score in tuned.candidates:
        assert score.metrics.paragraphs == len(training)  # inner OOF over the training rows
    assert tuned.final.cv.metrics.paragraphs == len(evaluated) == 130
    # with one shared training side every outer fold made the same choice as the final model
    assert set(tuned.chosen_by_fold) == {tuned.best}
    # the winner has the best selection score; the bundle's config is the winner's
    values = [s.metrics.macro_f1 for s in tuned.candidates]
    assert values[tuned.best] == max(values)
    assert tuned.best_candidate.settings["model.C"] == tuned.final.config.model.C


@pytest.mark.slow
def test_tune_cli_logs_a_parent_run_with_one_child_per_candidate(tmp_path, quick):
    from mlflow.tracking import MlflowClient

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    settings = (*quick, GRID_C, FEW_FOLDS, 'mlflow_experiment="tuning"')
    sets = [arg for setting in settings for arg in ("--set", setting)]
    models = tmp_path / "models"
    where = ["--models-dir", str(models), "--tracking-uri", store]
    done = run_cli("tune", str(DEFAULT), *sets, *where)
    assert done.returncode == 0, done.stderr
    assert "candidates" in done.stdout and "best: model.C=" in done.stdout

    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("tuning")
    runs = client.search_runs([experiment.experiment_id])
    parents = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert len(parents) == 1 and len(children) == 2
    parent = parents[0]
    assert {c.data.tags["mlflow.parentRunId"] for c in children} == {parent.info.run_id}
    best = [c for c in children if c.data.tags["tune.best"] == "true"]
    assert len(best) == 1 and parent.data.tags["tune.best_run"] == best[0].info.run_id
    assert best[0].data.params["model.C"] == parent.data.params["best.model.C"]
    # the best child has the highest selection macro-F1 of the children
    assert best[0].data.metrics["macro_f1"] == max(c.data.metrics["macro_f1"] for c in children)
    # the parent carries the nested estimate on the seeds (130 paragraphs) and the model
    assert parent.data.metrics["paragraphs"] == 130
    manifest = json.loads(next((models / "default").glob("*/manifest.json")).read_text())
    assert manifest["run_id"] == parent.info.run_id
    assert str(manifest["config"]["model"]["C"]) == best[0].data.params["model.C"]


def test_tune_without_a_grid_is_a_one_line_error(tmp_path):
    no_grid = ROOT / "experiments" / "word-logreg.toml"
    done = run_cli("tune", str(no_grid), "--no-track", "--models-dir", str(tmp_path))
    assert done.returncode == 1
    assert done.stderr.startswith("error: experiment 'word-logreg' has no [tune.grid]")
    assert "Traceback" not in done.stderr and not any(tmp_path.iterdir())
