"""Rationales are exact, read as words of the paragraph, and reach every output format.

Exact: a theme's intercept plus its terms' contributions (plus anything not placed) is the
decision value scikit-learn computes, for every model type. Words: every n-gram the engine
counts is found where scikit-learn's analyzers find it (so nothing is left unplaced on real
text), and character n-grams are shown as the words they came from.
"""

from __future__ import annotations

import csv
import io
import json
from collections import Counter

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

from classify.model.config import (
    load_experiment,
)
from classify.model.ngrams import locate_ngrams, words_of
from classify.model.pipeline import build_pipeline, vectorizers
from classify.predict.predictor import Predictor
from tests.conftest import DEFAULT_EXPERIMENT, ODD_TEXTS, SEEDS
from tests.helpers import run_cli
from tests.test_engine import ANY_TEXT

VARIANTS = [
    ("logistic_regression", "none"),
    ("linear_svm", "none"),
    ("ridge", "none"),
    ("sgd", "none"),
    ("logistic_regression", "sigmoid"),
    ("linear_svm", "isotonic"),
    ("ridge", "sigmoid"),
]
EN = "Special forces rehearsed freeing hostages at Almaty airport."
RU = "Спецназ КНБ провёл учения по освобождению заложников в аэропорту Алматы."


@pytest.fixture(scope="module")
def probe(labeled):
    """Seed and authored paragraphs in both languages, and odd text."""
    texts = labeled.texts
    return [*texts[::40], *ODD_TEXTS, EN, RU, "", "x"]


def reference_decisions(pipeline, texts) -> np.ndarray:
    """scikit-learn's own linear decision values (before any calibration), one column per theme."""
    x = pipeline[0].transform(texts)
    columns = []
    for estimator in pipeline[-1].estimators_:
        if hasattr(estimator, "calibrated_classifiers_"):
            estimator = estimator.calibrated_classifiers_[0].estimator
        columns.append(estimator.decision_function(x))
    return np.column_stack(columns)


def check_adds_up(predictor, pipeline, texts) -> None:
    reference = reference_decisions(pipeline, texts)
    float32 = predictor.engine.float32_dot
    features = [sum(len(c) for c, _ in predictor.engine.features(text)) for text in texts]
    for i, explanation in enumerate(predictor.explain(texts, threshold=0.0)):
        assert len(explanation.themes) == len(predictor.themes)  # threshold 0: all assigned
        for rationale in explanation.themes:
            j = predictor.themes.index(rationale.theme)
            total = rationale.intercept + rationale.unplaced
            total += sum(term.contribution for term in rationale.terms)
            # float32 models (ridge, SGD) sum their products in float32, the terms in float64:
            # within the rounding bound of a float32 sum, (n + 1) * 2**-24 * sum of |terms|
            size = abs(rationale.intercept) + sum(abs(t.contribution) for t in rationale.terms)
            tolerance = (features[i] + 1) * 2.0**-24 * size if float32 else 1e-9
            assert total == pytest.approx(rationale.decision, abs=tolerance)
            assert rationale.decision == pytest.approx(reference[i, j], abs=1e-6)
            assert rationale.unplaced == 0.0  # every n-gram found as words of the text


@pytest.mark.slow
@pytest.mark.parametrize(("model", "calibration"), VARIANTS)
def test_contributions_add_up_to_the_decision_value_for_every_model_type(
    labeled, probe, model, calibration
):
    config = load_experiment(
        DEFAULT_EXPERIMENT, [f'model.type="{model}"', f'model.calibration="{calibration}"']
    )
    texts, y = labeled.texts[::3], labeled.y[::3]
    pipeline = build_pipeline(config).fit(texts, y)
    predictor = Predictor(pipeline, labeled.label_set, dict.fromkeys(labeled.label_set.names, 0.5))
    check_adds_up(predictor, pipeline, probe)
    link = predictor.explain([EN])[0].themes[0].link
    assert ("calibrated" in link) == (calibration != "none")


def analyzer_settings(vectorizer) -> dict:
    stop = vectorizer.get_stop_words()
    return {
        "analyzer": vectorizer.analyzer,
        "ngram_range": vectorizer.ngram_range,
        "stop_words": frozenset(stop or ()),
    }


def check_located_as_scikit_learn(odd_pipelines, texts) -> None:
    for pipeline in odd_pipelines:
        for _, vectorizer in vectorizers(pipeline):
            analyze = vectorizer.build_analyzer()
            for text in texts:
                located = locate_ngrams(text, **analyzer_settings(vectorizer))
                counts = Counter({gram: len(found) for gram, found in located.items()})
                assert counts == Counter(analyze(text)), text


def test_every_ngram_is_located_where_scikit_learn_counts_it(odd_pipelines, labeled):
    check_located_as_scikit_learn(odd_pipelines, [*ODD_TEXTS, *labeled.texts[:60], "", " "])


@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow])
@given(ANY_TEXT)
def test_any_text_is_located_as_scikit_learn_counts_it(odd_pipelines, text):
    check_located_as_scikit_learn(odd_pipelines, [text])


def test_odd_models_add_up(odd_pipelines, labeled):
    texts = [*ODD_TEXTS, *labeled.texts[:30], EN, RU]
    for pipeline in odd_pipelines:
        predictor = Predictor(
            pipeline, labeled.label_set, dict.fromkeys(labeled.label_set.names, 0.5)
        )
        check_adds_up(predictor, pipeline, texts)


def test_character_ngrams_read_as_the_words_they_came_from(odd_pipelines, labeled):
    pipeline = odd_pipelines[3]  # char_wb only: every feature is a character n-gram
    predictor = Predictor(pipeline, labeled.label_set, dict.fromkeys(labeled.label_set.names, 0.5))
    text = "Спецназ  провёл УЧЕНИЯ (drills) at the airport."
    rationale = predictor.explain([text], threshold=0.0)[0].themes[0]
    words = {w.text: (w.start, w.end) for w in words_of(text)}
    for term in rationale.terms:
        assert term.text in words  # a word of the paragraph, as written, punctuation trimmed
        assert text[term.spans[0][0] : term.spans[0][1]] == term.text
        assert all(len(gram) >= 4 for gram, _ in term.ngrams)  # built from 4- to 7-grams
    assert {"УЧЕНИЯ", "drills", "провёл"} <= {t.text for t in rationale.terms}


def test_a_word_used_twice_is_one_term_with_both_places(trained):
    predictor = Predictor.load(trained[1])
    text = "Drills, drills and more DRILLS at the airport."
    rationale = predictor.explain([text], threshold=0.0)[0].themes[0]
    drills = next(t for t in rationale.terms if t.text.casefold() == "drills")
    assert [text[a:b] for a, b in drills.spans] == ["Drills", "drills", "DRILLS"]


def test_themes_explained_are_the_assigned_the_review_and_the_nearest_miss(trained):
    predictor = Predictor.load(trained[1])
    prediction = predictor.predict([EN])[0]
    explanation = predictor.explain([EN])[0]
    reasons = [(r.theme, r.reason) for r in explanation.themes]
    expected = [(t, "assigned") for t in sorted(prediction.themes, key=prediction.scores.get)[::-1]]
    expected += [(t, "review") for t in prediction.review]
    assert reasons[: len(expected)] == expected
    missed = [t for t in predictor.themes if t not in prediction.themes + prediction.review]
    assert reasons[-1] == (max(missed, key=prediction.scores.get), "nearest miss")
    assert explanation == predictor.explain([EN])[0]  # deterministic


def test_classify_explain_shows_both_languages_and_the_json_adds_up(trained):
    shown = run_cli("explain", "-m", str(trained[1]), "-t", EN, "-t", RU)
    assert shown.returncode == 0, shown.stderr
    assert "drills  assigned" in shown.stdout and "nearest miss" in shown.stdout
    assert "rehearsed +" in shown.stdout and "учения +" in shown.stdout
    as_json = run_cli("explain", "-m", str(trained[1]), "-t", RU, "-f", "jsonl", "--terms", "2")
    record = json.loads(as_json.stdout)
    for r in record["rationales"]:
        assert len([t for t in r["terms"] if t["contribution"] > 0]) <= 2
        total = r["intercept"] + r["unplaced"] + r["other_terms"]
        total += sum(t["contribution"] for t in r["terms"])
        assert total == pytest.approx(r["decision"], abs=1e-9)


def test_classify_explain_reads_a_seed_article(trained):
    shown = run_cli("explain", "-m", str(trained[1]), str(SEEDS / "004_69f23285355f99cd.txt"))
    assert shown.returncode == 0, shown.stderr
    assert "(heading: never tagged)" in shown.stdout
    assert shown.stdout.count("assigned") >= 3


def test_classify_explain_bad_input_is_one_line(trained, tmp_path):
    for args in (["--terms", "-1", "-t", EN], ["-m", str(tmp_path / "none"), "-t", EN]):
        failed = run_cli("explain", *args)
        assert failed.returncode == 1
        assert failed.stderr.startswith("error: ") and "Traceback" not in failed.stderr


def test_predict_explain_adds_the_rationale_to_every_format(trained, tmp_path):
    model = str(trained[1])
    article = str(SEEDS / "004_69f23285355f99cd.txt")
    lines = run_cli("predict", article, "-m", model, "-f", "jsonl", "--explain").stdout
    rows = [json.loads(line) for line in lines.splitlines()]
    tagged = [r for r in rows if r["themes"]]
    assert tagged and all(set(r["themes"]) <= set(r["rationale"]) for r in tagged)
    assert all(r["rationale"][t][0][1] > 0 for r in tagged for t in r["themes"])
    assert list(rows[0]) == [
        "source", "id", "kind", "start", "end", "themes", "review", "scores", "rationale", "text"
    ]  # fmt: skip
    table = run_cli("predict", article, "-m", model, "--explain").stdout
    assert "why" in table
    plain = run_cli("predict", article, "-m", model, "-f", "csv").stdout
    explained = run_cli("predict", article, "-m", model, "-f", "csv", "--explain").stdout
    csv_rows = list(csv.DictReader(io.StringIO(explained)))
    assert [json.loads(r["rationale"]) for r in csv_rows] == [r["rationale"] for r in rows]
    assert "rationale" not in plain.splitlines()[0]
    out = tmp_path / "tags.parquet"
    done = run_cli("predict", article, "-m", model, "-f", "parquet", "-o", str(out), "--explain")
    assert done.returncode == 0, done.stderr
    assert [json.loads(r) for r in pq.read_table(out)["rationale"].to_pylist()] == [
        r["rationale"] for r in rows
    ]
    both = run_cli("predict", article, "-m", model, "-f", "jsonl", "--explain", "-j", "2")
    assert both.stdout == lines  # workers explain exactly as this process does


def test_a_paragraph_longer_than_a_chunk_adds_up(trained, labeled):
    predictor = Predictor.load(trained[1])
    size = predictor.engine.long_text_chars
    text = " ".join(labeled.texts)[: int(2.5 * size)]
    rationale = predictor.explain([text], threshold=0.0)[0].themes[0]
    assert rationale.unplaced == 0.0
    total = rationale.intercept + sum(t.contribution for t in rationale.terms)
    assert total == pytest.approx(rationale.decision, abs=1e-9)
