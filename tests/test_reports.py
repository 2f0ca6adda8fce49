"""What each MLflow run records beyond metrics: the reports, the dataset inputs, and no paragraph
text at all when ``tracking.log_text = false``. Real trainings, a real SQLite store read back
with ``MlflowClient``, and real fits of every model type for the n-gram extraction."""

from __future__ import annotations

import json
import struct
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from classify.model.config import (
    CharFeatures,
    ExperimentConfig,
    FeaturesConfig,
    ModelConfig,
    WordFeatures,
    load_experiment,
)
from classify.model.pipeline import build_pipeline, theme_weights
from classify.track.figures import plot_confusion, plot_precision_recall
from classify.track.reports import REPORT_FILES, mistakes_table, top_ngrams
from tests.helpers import run_cli

ROOT = Path(__file__).resolve().parent.parent
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header, after checking it is one."""
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and data[12:16] == b"IHDR", f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


def markdown_rows(text: str) -> dict[str, list[str]]:
    """The body rows of the Markdown table in ``text``, keyed by their first cell."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.splitlines()
        if line.startswith("|")
    ]
    return {row[0]: row[1:] for row in rows[2:]}  # past the header and the alignment row


@pytest.mark.slow
def test_a_run_records_the_reports_and_the_datasets(trained, tmp_path, private_mlflow_store):
    from mlflow.tracking import MlflowClient

    from classify.track.tracker import MlflowTracker

    result, _ = trained
    tracker = MlflowTracker()
    run_id = tracker.start(result.config)
    tracker.log(result, None)  # the logged model has its own test in test_training.py
    tracker.finish(failed=False)

    client = MlflowClient(private_mlflow_store)
    run = client.get_run(run_id)
    listed = {Path(a.path).name for a in client.list_artifacts(run_id, "reports")}
    assert listed == set(REPORT_FILES)
    folder = Path(client.download_artifacts(run_id, "reports", str(tmp_path)))
    names = result.label_set.names

    # figures: real PNGs, a panel per theme (5 themes: 3 x 2), legible sizes
    for figure in ("precision_recall.png", "confusion.png"):
        width, height = png_size(folder / figure)
        assert 900 <= width <= 1600 and 500 <= height <= 1200, (figure, width, height)
        assert (folder / figure).stat().st_size > 20_000

    # the metrics table: one row per theme, then micro and macro, equal to the run's metrics
    rows = markdown_rows((folder / "metrics.md").read_text(encoding="utf-8"))
    assert list(rows) == [*names, "micro", "macro"]
    for theme in names:
        assert float(rows[theme][2]) == pytest.approx(run.data.metrics[f"f1/{theme}"], abs=5e-4)
        assert int(rows[theme][3]) == run.data.metrics[f"support/{theme}"]
    assert float(rows["macro"][2]) == pytest.approx(run.data.metrics["macro_f1"], abs=5e-4)
    assert float(rows["micro"][2]) == pytest.approx(run.data.metrics["micro_f1"], abs=5e-4)
    page = (folder / "metrics.html").read_text(encoding="utf-8")
    assert page.count("<tr") == len(names) + 3  # header, themes, micro, macro
    assert f">{run.data.metrics['macro_f1']:.3f}<" in page

    # top n-grams: what a drills or trafficking paragraph obviously says
    ngrams = pd.read_csv(folder / "top_ngrams.csv")
    positive = ngrams[ngrams.direction == "positive"]
    drills = set(positive[positive.theme == "drills"].ngram)
    assert drills & {"exercise", "exercises", "drill", "drills", "учения", "учений"}
    assert set(positive[positive.theme == "trafficking"].ngram) & {"heroin", "drug", "drugs"}
    assert set(ngrams.theme) == set(names) and set(ngrams.family) == {"word"}
    markdown = (folder / "top_ngrams.md").read_text(encoding="utf-8")
    assert [line[3:] for line in markdown.splitlines() if line.startswith("## ")] == list(names)

    # mistakes: exactly the evaluated paragraphs whose gold themes differ from the tagged ones
    mistakes = pd.read_csv(folder / "mistakes.csv", keep_default_na=False)
    tagged = result.cv.tags.astype(bool)
    expected = {
        p.id
        for p, row in zip(result.evaluated.paragraphs, tagged, strict=True)
        if set(p.themes) != {n for n, on in zip(names, row, strict=True) if on}
    }
    assert expected and set(mistakes.id) == expected and len(mistakes) == len(expected)
    assert mistakes.error_margin.is_monotonic_decreasing
    first = mistakes.iloc[0]
    text = {p.id: p.text for p in result.evaluated.paragraphs}
    assert first.text == text[first.id]
    assert set(first.gold.split(";")) ^ set(filter(None, first.predicted.split(";")))

    # dataset inputs: training (the data mix) and evaluation (the held-out seeds), with hashes
    inputs = {
        tag.value: item
        for item in run.inputs.dataset_inputs
        for tag in item.tags
        if tag.key == "mlflow.data.context"
    }
    assert set(inputs) == {"training", "evaluation"}
    training, evaluation = inputs["training"], inputs["evaluation"]
    assert training.dataset.name == "authored" and evaluation.dataset.name == "seeds"
    assert training.dataset.digest == result.data_hash[:36]
    assert {t.key: t.value for t in training.tags}["data_hash"] == result.data_hash
    assert {t.key: t.value for t in evaluation.tags}["data_hash"] == result.evaluated.fingerprint()
    assert '"num_rows": 2039' in training.dataset.profile
    assert '"name": "text"' in training.dataset.schema  # log_text is on


@pytest.mark.slow
def test_log_text_false_keeps_every_paragraph_text_out_of_the_run(
    tmp_path, private_mlflow_store, quick
):
    import mlflow
    from mlflow.tracking import MlflowClient

    from classify.track.pyfunc import NEUTRAL_EXAMPLES
    from classify.training.train import load_labeled_data

    overrides = [a for q in (*quick, "tracking.log_text=false") for a in ("--set", q)]
    models = tmp_path / "models"
    completed = run_cli(
        "train", "experiments/default.toml", *overrides, "--models-dir", str(models), "-j", "1"
    )
    assert completed.returncode == 0, completed.stderr

    client = MlflowClient(private_mlflow_store)
    [run] = client.search_runs([client.get_experiment_by_name("classify").experiment_id])
    downloaded = Path(client.download_artifacts(run.info.run_id, "", str(tmp_path / "run")))
    mlflow.set_tracking_uri(private_mlflow_store)
    [model] = mlflow.search_logged_models(
        experiment_ids=[run.info.experiment_id], output_format="list"
    )
    model_files = mlflow.artifacts.download_artifacts(
        artifact_uri=model.artifact_location, dst_path=str(tmp_path / "model")
    )
    files = [p for root in (downloaded, Path(model_files)) for p in root.rglob("*") if p.is_file()]
    assert {"mistakes.csv", "oof_predictions.csv", "input_example.json"} <= {p.name for p in files}

    # the longest paragraphs of both sides, whole and as a 40-character piece of their middle
    data = load_labeled_data(load_experiment(ROOT / "experiments" / "default.toml", quick))
    texts = sorted(data.texts, key=len)
    sources = {p.text: p.source for p in data.paragraphs}
    probes = [t for t in texts[::-1] if sources[t] == "seeds"][:4]
    probes += [t for t in texts[::-1] if sources[t] == "authored"][:4]
    needles = [*probes, *(t[len(t) // 2 - 20 : len(t) // 2 + 20] for t in probes)]
    for path in files:
        content = path.read_bytes()
        for needle in needles:
            assert needle.encode() not in content, f"paragraph text in {path.name}"
            assert needle.encode("unicode_escape") not in content, f"escaped text in {path.name}"

    mistakes = pd.read_csv(next(p for p in files if p.name == "mistakes.csv"))
    assert len(mistakes) and "text" not in mistakes.columns
    example = json.loads(next(p for p in files if p.name == "input_example.json").read_text())
    assert [row[0] for row in example["data"]] == list(NEUTRAL_EXAMPLES)
    for item in client.get_run(run.info.run_id).inputs.dataset_inputs:
        recorded = item.dataset.source + item.dataset.profile + item.dataset.schema
        assert '"name": "text"' not in item.dataset.schema
        assert not any(needle in recorded for needle in needles)


# A tiny corpus in which "exercise"/"rehearsal" mark drills and "heroin" marks trafficking;
# the third theme has no positive paragraph (scikit-learn keeps a constant predictor for it).
TINY = [
    ("Police held a counter-terrorism exercise at the airport.", "drills"),
    ("Special forces staged a rehearsal of a hostage rescue.", "drills"),
    ("The exercise tested how quickly units could respond.", "drills"),
    ("A rehearsal and an exercise were held at the stadium.", "drills"),
    ("Border guards seized heroin on the river crossing.", "trafficking"),
    ("Couriers carried heroin across the mountains.", "trafficking"),
    ("Customs found heroin hidden in a truck of melons.", "trafficking"),
    ("The heroin route runs through the valley towns.", "trafficking"),
    ("The parliament debated the budget on Tuesday.", ""),
    ("Weather in the capital stayed warm and dry.", ""),
    ("The football club signed a new coach.", ""),
    ("Prices of bread rose in the markets this week.", ""),
]
THEMES = ["drills", "trafficking", "legislation"]
FEATURES = {
    "word": FeaturesConfig(word=WordFeatures()),
    "char": FeaturesConfig(char=CharFeatures(ngram_range=(3, 5))),
    "word+char": FeaturesConfig(word=WordFeatures(), char=CharFeatures(ngram_range=(3, 5))),
}
MODELS = ["logistic_regression", "linear_svm", "ridge", "sgd", "calibrated_svm"]


def tiny_fit(model: str, features: str):
    texts = [text for text, _ in TINY]
    y = np.array([[theme == name for name in THEMES] for _, theme in TINY], dtype=int)
    # the factory's calibrated SVM: CalibratedClassifierCV around LinearSVC, per theme
    settings = {"type": "linear_svm", "calibration": "sigmoid"} if model == "calibrated_svm" else {}
    config = ExperimentConfig(
        features=FEATURES[features], model=ModelConfig(**(settings or {"type": model}))
    )
    pipeline = build_pipeline(config)
    return pipeline.fit(texts, y), texts


def margins(estimator, x) -> np.ndarray:
    """The estimator's own margin without intercept (a calibrator: its folds' mean)."""
    if hasattr(estimator, "calibrated_classifiers_"):
        return np.mean([margins(c.estimator, x) for c in estimator.calibrated_classifiers_], 0)
    return estimator.decision_function(x) - np.ravel(estimator.intercept_)[0]


@pytest.mark.parametrize("features", list(FEATURES))
@pytest.mark.parametrize("model", MODELS)
def test_top_ngrams_for_every_model_type_and_feature_family(model, features):
    with warnings.catch_warnings():
        # tiny data: convergence and calibration warnings are expected noise here
        warnings.simplefilter("ignore")
        pipeline, texts = tiny_fit(model, features)
    names, weights = theme_weights(pipeline)
    x = pipeline[:-1].transform(texts)
    assert len(names) == x.shape[1]
    assert {family for family, _ in names} == set(features.split("+"))
    # the weights line up with the columns the model sees: they reproduce its margins
    for estimator, weight in zip(pipeline[-1].estimators_[:2], weights[:2], strict=True):
        np.testing.assert_allclose(x @ weight, margins(estimator, x), rtol=1e-4, atol=1e-5)
    assert weights[2] is None  # no legislation paragraph: nothing learned, nothing to show

    table = top_ngrams(pipeline, THEMES, n=8)
    assert set(table.theme) == {"drills", "trafficking"}
    for (_, direction), rows in table.groupby(["theme", "direction"]):
        assert list(rows["rank"]) == list(range(1, len(rows) + 1))
        signs = np.sign(rows.weight)
        assert (signs == (1 if direction == "positive" else -1)).all()
        assert rows.weight.abs().is_monotonic_decreasing
    if model == "sgd":
        return  # SGD's last-sample updates on twelve paragraphs rank words by chance
    top = table[(table.direction == "positive")]
    assert any(telling(g, ("exercise", "rehearsal")) for g in top[top.theme == "drills"].ngram)
    assert any(telling(g, ("heroin",)) for g in top[top.theme == "trafficking"].ngram)


def telling(ngram: str, words: tuple[str, ...]) -> bool:
    """Whether an n-gram contains one of ``words`` or is a piece of one (3 letters or more)."""
    piece = ngram.strip()
    return any(w in ngram or (len(piece) >= 3 and piece in w) for w in words)


@pytest.mark.slow
def test_figures_work_for_any_label_set(tmp_path):
    rng = np.random.default_rng(0)
    themes = [f"theme-{k}" for k in range(7)]
    gold = rng.random((60, 7)) < 0.3
    gold[:, 6] = False  # a theme nobody labeled still gets its panel
    scores = np.clip(gold * 0.4 + rng.random((60, 7)) * 0.6, 0, 1)
    thresholds = dict.fromkeys(themes, 0.5)
    sizes = []
    for name, figure in (
        ("pr.png", plot_precision_recall(gold, scores, themes, thresholds, "seven themes")),
        ("cm.png", plot_confusion(gold, scores >= 0.5, themes, "seven themes")),
    ):
        figure.savefig(tmp_path / name, dpi=50)
        sizes.append(png_size(tmp_path / name))
    # 7 themes: a 3 x 3 grid, about square
    assert all(0.7 < width / height < 1.4 for width, height in sizes), sizes


@pytest.mark.slow
def test_mistakes_are_sorted_by_how_wrong_they_are(trained):
    result, _ = trained
    table = mistakes_table(result, log_text=True)
    names = result.label_set.names
    row = table.iloc[0]
    i = result.evaluated.ids.index(row.id)
    threshold = result.cv.fold_thresholds[result.cv.fold[i]]
    gold = result.evaluated.y[i].astype(bool)
    wrong = gold != result.cv.tags[i]
    # the margin is the worst wrong score's distance from its own fold's threshold
    assert row.error_margin == pytest.approx(
        np.abs(result.cv.scores[i] - threshold)[wrong].max(), abs=1e-6
    )
    assert set(filter(None, row.missed.split(";"))) == {
        n for n, g, t in zip(names, gold, result.cv.tags[i], strict=True) if g and not t
    }
