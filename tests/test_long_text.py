"""Very long paragraphs: vectorised in chunks (bounded memory), same scores, one output row."""

import json
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import FeatureUnion, Pipeline

from classify.data.inputs import InputParagraph
from classify.data.segment import segment
from classify.model.config import CharFeatures, ExperimentConfig, FeaturesConfig
from classify.model.pipeline import LONG_TEXT_CHARS, _features, build_pipeline, theme_scores
from classify.predict.outputs import format_predictions, prediction_records
from classify.predict.predictor import Prediction, Predictor
from classify.text import chunks as _chunks
from classify.text import normalise_text
from tests.helpers import run_cli

NO_THEME = Prediction((), {"drills": 0.1})


def one_paragraph(result, chars: int) -> str:
    """Real labeled paragraphs (English and Russian) run together into one line of ``chars``."""
    joined = " ".join(" ".join(text.split()) for text in result.training.texts)
    return (joined * (chars // len(joined) + 1))[:chars].strip()


@contextmanager
def traced() -> Iterator[Callable[[], int]]:
    """Trace Python allocations (numpy's too) in the block; yields a function giving the peak."""
    tracemalloc.start()
    peak = 0
    try:
        yield lambda: peak
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def plain_scores(pipeline: Pipeline, texts: list[str]) -> np.ndarray:
    """What theme_scores computed before chunking: the whole batch through one transform."""
    x = pipeline[:-1].transform(texts)
    return np.column_stack([e.predict_proba(x)[:, 1] for e in pipeline[-1].estimators_])


def char_wb_pipelines(result) -> list[Pipeline]:
    """A char_wb-only pipeline from the factory, and a hand-made weighted union of two."""
    texts, y = result.training.texts[:300], result.training.y[:300]
    config = ExperimentConfig(features=FeaturesConfig(char=CharFeatures(ngram_range=(2, 4))))

    def char_wb(low: int, high: int) -> TfidfVectorizer:
        return TfidfVectorizer(
            analyzer="char_wb",
            preprocessor=normalise_text,
            ngram_range=(low, high),
            sublinear_tf=True,
            dtype=np.float32,
        )

    union = FeatureUnion(
        [("short", char_wb(1, 2)), ("long", char_wb(3, 5))], transformer_weights={"long": 0.5}
    )
    weighted = Pipeline(
        [("features", union), ("classifier", OneVsRestClassifier(LogisticRegression(C=10.0)))]
    )
    return [build_pipeline(config).fit(texts, y), weighted.fit(texts, y)]


def test_chunks_end_at_whitespace_and_cover_the_text(trained):
    text = one_paragraph(trained[0], 31_000)
    chunks = list(_chunks(text, 10_000))
    assert "".join(chunks) == text
    assert len(chunks) == 4
    assert all(len(c) <= 10_000 and c[-1].isspace() for c in chunks[:-1])
    assert list(_chunks("x" * 25, 10)) == ["x" * 10, "x" * 10, "x" * 5]  # no whitespace: cut


def test_chunked_scores_match_the_plain_transform_just_above_the_limit(trained):
    result = trained[0]  # word 1-2-grams: one bigram per chunk boundary is lost
    long = one_paragraph(result, LONG_TEXT_CHARS + 5_000)
    texts = ["Police rehearsed a hostage rescue at the airport.", long, "Суд вынес приговор."]
    chunked = theme_scores(result.pipeline, texts)
    plain = plain_scores(result.pipeline, texts)
    np.testing.assert_array_equal(chunked[[0, 2]], plain[[0, 2]])  # short rows: the same batch
    np.testing.assert_allclose(chunked, plain, rtol=0, atol=1e-5)  # measured: 5e-7


@pytest.mark.slow
def test_char_wb_chunking_is_exact_with_union_weights(trained):
    result = trained[0]
    long = one_paragraph(result, LONG_TEXT_CHARS + 5_000)
    texts = [long, "Учения спецназа в аэропорту.", long[:1000]]
    for pipeline in char_wb_pipelines(result):
        chunked = _features(pipeline, texts)
        plain = pipeline[:-1].transform(texts)
        assert chunked.dtype == plain.dtype == np.float32
        assert (chunked != plain).nnz == 0
        scores = [e.predict_proba(plain)[:, 1] for e in pipeline[-1].estimators_]
        np.testing.assert_array_equal(theme_scores(pipeline, texts), np.column_stack(scores))


def test_other_features_steps_fall_back_to_the_plain_transform(trained):
    result = trained[0]
    long = one_paragraph(result, LONG_TEXT_CHARS + 5_000)
    texts, y = result.training.texts[:300], result.training.y[:300]
    counts = Pipeline(
        [("features", CountVectorizer()), ("classifier", OneVsRestClassifier(LogisticRegression()))]
    ).fit(texts, y)
    assert (_features(counts, [long]) != counts[:-1].transform([long])).nnz == 0


@pytest.mark.slow
def test_a_long_paragraph_is_scored_in_bounded_memory(trained):
    result = trained[0]
    text = one_paragraph(result, 1_000_000)
    with traced() as peak:
        theme_scores(result.pipeline, [text])
    # ~4 MB in chunks of 100,000 characters; the plain transform peaks at ~26 MB here (a list of
    # every word and bigram), and its peak grows with the paragraph
    assert peak() < 12e6


def test_the_table_shows_the_start_of_a_long_paragraph_quickly(trained):
    text = one_paragraph(trained[0], 1_000_000)
    records = prediction_records([InputParagraph("big.txt", "big:000", text)], [NO_THEME])
    with traced() as peak:
        table = format_predictions(records, [], ["drills"], "table", width=120)
    assert peak() < 20e6  # rich laid out the whole paragraph: 110 MB and seconds for this one
    (row,) = [line for line in table.splitlines() if line.lstrip().startswith("000")]
    assert text[:40] in row and row.rstrip().endswith("…")


@pytest.mark.slow
def test_a_20_mb_paragraph_is_one_paragraph_and_one_prediction(trained):
    result, bundle = trained
    text = one_paragraph(result, 20_000_000)
    with traced() as peak:
        paragraphs = segment(text, "big")
    assert peak() < 100e6  # one copy of the text (40 MB); splitting it into words took 250 MB
    assert [(p.kind, p.start, p.end) for p in paragraphs] == [("body", 0, len(text))]
    assert text[paragraphs[0].start : paragraphs[0].end] == paragraphs[0].text
    (prediction,) = Predictor.load(bundle).predict([paragraphs[0].text])
    assert all(0.0 <= s <= 1.0 for s in prediction.scores.values())


@pytest.mark.slow
def test_predict_command_tags_a_20_mb_paragraph_as_one_row(trained, tmp_path):
    result, bundle = trained
    text = one_paragraph(result, 20_000_000)
    file = tmp_path / "big.txt"
    file.write_text(text + "\n", encoding="utf-8")
    completed = run_cli("predict", str(file), "--model", str(bundle), "--format", "jsonl")
    assert completed.returncode == 0, completed.stderr
    (row,) = [json.loads(line) for line in completed.stdout.splitlines()]
    assert (row["id"], row["kind"], row["start"], row["end"]) == ("big:000", "body", 0, len(text))
    assert row["text"] == text
    assert all(0.0 <= s <= 1.0 for s in row["scores"].values())
