"""The per-theme decision policy: F1 or precision-target thresholds, and the review band, from
the experiment file through the bundle to `predict`."""

import json
from pathlib import Path

import numpy as np
import pytest

from classify.errors import ClassifyError
from classify.model.config import ThresholdConfig, load_experiment
from classify.model.decision import best_f1_threshold, choose_thresholds, precision_threshold
from classify.predict.predictor import Predictor
from classify.track.pyfunc import PyfuncThemeModel
from classify.training.train import train, train_and_save
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "experiments" / "default.toml"


def _precision_at(scores, truth, cut):
    tagged = scores >= cut
    return truth[tagged].sum() / max(tagged.sum(), 1), tagged.sum()


@pytest.mark.parametrize("seed", range(20))
def test_precision_threshold_gives_the_most_recall_that_reaches_the_target(seed):
    rng = np.random.default_rng(seed)
    truth = rng.random(60) < 0.3
    scores = np.round(np.clip(truth * 0.3 + rng.random(60) * 0.7, 0, 1), 2)  # ties on purpose
    target = 0.8
    cut = precision_threshold(scores, truth.astype(int), target, default=0.5)
    levels = np.unique(scores)
    reachable = [c for c in levels if _precision_at(scores, truth, c)[0] >= target]
    if not reachable:
        assert cut == 0.5
        return
    precision, tagged = _precision_at(scores, truth, cut)
    assert precision >= target
    # no lower cut (one that tags more paragraphs) also reaches the target
    assert tagged == max(_precision_at(scores, truth, c)[1] for c in reachable)


def test_a_precision_target_of_one_cuts_no_lower_than_the_f1_best_cut():
    rng = np.random.default_rng(7)
    truth = (rng.random(200) < 0.25).astype(int)
    scores = np.clip(truth * 0.35 + rng.random(200) * 0.65, 0, 1)
    strict = precision_threshold(scores, truth, 1.0, default=0.5)
    assert strict >= best_f1_threshold(scores, truth, default=0.5)
    assert truth[scores >= strict].all()


def test_per_theme_targets_override_the_global_one():
    y = np.array([[1, 1], [1, 0], [0, 1], [0, 0], [1, 0]])
    scores = np.array([[0.9, 0.9], [0.8, 0.8], [0.7, 0.7], [0.6, 0.6], [0.5, 0.5]])
    loose = ThresholdConfig(strategy="precision", precision=0.5)
    strict_b = ThresholdConfig(strategy="precision", precision=0.5, precision_by_theme={"b": 1.0})
    a_loose, b_loose = choose_thresholds(scores, y, ["a", "b"], loose)
    a_same, b_strict = choose_thresholds(scores, y, ["a", "b"], strict_b)
    assert a_same == a_loose and b_strict > b_loose


def test_a_precision_target_for_an_unknown_theme_is_an_error(quick):
    settings = [*quick, "thresholds.precision_by_theme = {droppings = 0.9}"]
    with pytest.raises(ClassifyError, match=r"\[thresholds\]: unknown theme 'droppings'"):
        train(load_experiment(DEFAULT, settings))


@pytest.fixture(scope="module")
def reviewed(tmp_path_factory):
    """A quick model with precision-target thresholds and a 0.15 review band (0.3 for drills)."""
    settings = [
        "features.char=false",
        'thresholds.strategy="precision"',
        "thresholds.precision=0.7",
        "thresholds.review=0.15",
        "thresholds.review_by_theme={drills = 0.3}",
        "cv.folds=3",
    ]
    models = tmp_path_factory.mktemp("models")
    result, bundle, _ = train_and_save(load_experiment(DEFAULT, settings), models)
    return result, bundle


@pytest.mark.slow
def test_the_bundle_keeps_the_policy_and_predict_marks_the_review_band(reviewed):
    result, bundle = reviewed
    predictor = Predictor.load(bundle)
    assert predictor.review == {t: (0.3 if t == "drills" else 0.15) for t in predictor.themes}
    assert predictor.thresholds == result.thresholds
    texts = list(result.evaluated.texts)
    predictions = predictor.predict(texts)
    scores = predictor.scores(texts)
    for row, prediction in zip(scores, predictions, strict=True):
        for j, theme in enumerate(predictor.themes):
            cut, band = predictor.thresholds[theme], predictor.review[theme]
            assert (theme in prediction.themes) == (row[j] >= cut)
            assert (theme in prediction.review) == (cut - band <= row[j] < cut)
    assert any(p.review for p in predictions)  # the band is not empty on real paragraphs

    # an override moves the band with the cut-off
    moved = predictor.predict(texts, threshold=0.9)
    for row, prediction in zip(scores, moved, strict=True):
        for j, theme in enumerate(predictor.themes):
            band = predictor.review[theme]
            assert (theme in prediction.review) == (0.9 - band <= row[j] < 0.9)

    # the MLflow pyfunc output carries the same review column
    frame = PyfuncThemeModel(predictor).predict(texts[:20])
    assert frame["review"].tolist() == [list(p.review) for p in predictions[:20]]


@pytest.mark.slow
def test_predict_cli_reports_review_in_every_format(reviewed):
    _, bundle = reviewed
    predictor = Predictor.load(bundle)
    texts = list(reviewed[0].evaluated.texts)
    flagged = next(t for t, p in zip(texts, predictor.predict(texts), strict=True) if p.review)
    expected = list(predictor.predict([flagged])[0].review)

    done = run_cli("predict", "--model", str(bundle), "--format", "jsonl", "--text", flagged)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["review"] == expected

    done = run_cli("predict", "--model", str(bundle), "--format", "csv", "--text", flagged)
    header, row = done.stdout.splitlines()[:2]
    assert header.split(",")[6] == "review" and ";".join(expected) in row

    done = run_cli("predict", "--model", str(bundle), "--text", flagged)
    header, row = (line.split() for line in done.stdout.splitlines()[2:5:2])
    assert header[:3] == ["#", "themes", "review"]
    assert row[2].rstrip(",") == expected[0]  # the review column
