import json
import subprocess
import sys

import numpy as np
import pytest

from classify.data.segment import Paragraph
from classify.errors import ClassifyError
from classify.predict.documents import summarise_documents
from classify.predict.predictor import Predictor


def test_predict_returns_themes_and_every_score_in_order(trained):
    predictor = Predictor.load(trained[1])
    texts = [
        "Special forces rehearsed freeing hostages in a counter-terrorism exercise at the airport.",
        "Extremist recruiters target young people online through social networks and propaganda.",
        "",
    ]
    predictions = predictor.predict(texts)
    assert len(predictions) == 3
    assert "drills" in predictions[0].themes
    assert "recruitment" in predictions[1].themes
    for p in predictions:
        assert list(p.scores) == list(predictor.themes)
        assert all(0.0 <= s <= 1.0 for s in p.scores.values())
        assert set(p.themes) == {t for t, s in p.scores.items() if s >= predictor.thresholds[t]}


def test_batch_equals_one_by_one(trained):
    predictor = Predictor.load(trained[1])
    texts = [f"Police exercise number {i} took place at the station." for i in range(20)]
    batch = predictor.scores(texts)
    single = np.vstack([predictor.scores([t]) for t in texts])
    np.testing.assert_allclose(batch, single)
    assert predictor.scores([]).shape == (0, 5)


def test_threshold_override_and_top_k(trained):
    predictor = Predictor.load(trained[1])
    text = ["Police rehearsed a hostage rescue; the court sentenced recruiters."]
    assert len(predictor.predict(text, threshold=0.0)[0].themes) == 5
    assert predictor.predict(text, threshold=1.0)[0].themes == ()
    assert len(predictor.predict(text, threshold=0.0, top_k=2)[0].themes) == 2
    assert "drills" not in predictor.predict(text, threshold={"drills": 1.0})[0].themes
    with pytest.raises(ClassifyError, match="unknown theme 'drill'"):
        predictor.predict(text, threshold={"drill": 0.5})
    with pytest.raises(ClassifyError, match="not a single string"):
        predictor.predict("a bare string")


def test_headings_are_scored_but_not_tagged(trained):
    predictor = Predictor.load(trained[1])
    text = "Counter-terrorism drills at Almaty airport"
    heading = Paragraph("d:000", "d", 0, 0, len(text), "heading", text)
    body = Paragraph("d:001", "d", 1, 0, len(text), "body", text)
    as_heading, as_body = predictor.predict_paragraphs([heading, body], threshold=0.0)
    assert as_heading.themes == () and as_heading.scores == as_body.scores
    assert len(as_body.themes) == 5


def test_document_prediction_and_summary(trained):
    predictor = Predictor.load(trained[1])
    document = (
        "Drills in Almaty\n\nSpecial forces rehearsed freeing hostages at the airport in a "
        "counter-terrorism exercise.\n\nDo you like this article?"
    )
    tagged = predictor.predict_document(document, "almaty")
    assert [p.id for p, _ in tagged] == ["almaty:000", "almaty:001"]
    summary = summarise_documents(("almaty", p.id, pred) for p, pred in tagged)
    assert summary[0].paragraphs == 2
    assert summary[0].themes.get("drills") == ["almaty:001"]


HEAVY = ("sklearn", "scipy", "pandas", "skops", "mlflow", "matplotlib", "classify.training")


def heavy_modules(modules: list[str], also: tuple[str, ...] = ()) -> list[str]:
    """The modules of ``HEAVY`` (and ``also``) among ``modules``: packages and their submodules."""
    return [
        m
        for m in modules
        if m.startswith(tuple(f"{h}." for h in (*HEAVY, *also))) or m in (*HEAVY, *also)
    ]


def test_loading_and_predicting_import_no_sklearn_scipy_pandas_skops_or_mlflow(trained):
    code = (
        "import json, sys\n"
        "from classify import Predictor\n"
        f"p = Predictor.load({str(trained[1])!r})\n"
        "p.predict(['Police drill at the airport.'])\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert heavy_modules(json.loads(done.stdout), also=("classify.track",)) == []


def test_the_predict_command_imports_no_sklearn_scipy_pandas_skops_or_mlflow(trained, tmp_path):
    listing = tmp_path / "modules.json"
    code = (
        "import atexit, json, runpy, sys\n"
        f"out = open({str(listing)!r}, 'w')\n"
        "atexit.register(lambda: out.write(json.dumps(sorted(sys.modules))) and out.close())\n"
        f"sys.argv = ['classify', 'predict', '--model', {str(trained[1])!r}, 'A drill.']\n"
        "runpy.run_module('classify', run_name='__main__')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    modules = json.loads(listing.read_text())
    assert "classify.model.engine" in modules  # it did predict
    assert heavy_modules(modules) == []


def test_predictor_is_the_top_level_export():
    import classify

    assert classify.Predictor is Predictor
    with pytest.raises(AttributeError):
        classify.NoSuchThing  # noqa: B018
