"""A second label set (narratives) and models of several label sets used together: in the
annotation files, in `classify predict --model A --model B`, in Python, and in MLflow runs."""

from __future__ import annotations

import csv
import io
import json
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from classify.data.annotations import load_annotations
from classify.data.labels import LabelSet, load_label_set
from classify.errors import ClassifyError

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "labels"
NARRATIVES = ["threat", "state_effectiveness", "victims_of_deception", "foreign_origin",
              "rights_and_costs"]  # fmt: skip
QUICK = ("features.char=false", 'thresholds.strategy="fixed"')
SEED = ROOT / "seeds" / "004_69f23285355f99cd.txt"


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """The themes and narratives experiments, made quick, trained into one models folder."""
    from classify.model.config import load_experiment
    from classify.training.train import train_and_save

    folder = tmp_path_factory.mktemp("models")
    for name in ("default", "narratives"):
        config = load_experiment(ROOT / "experiments" / f"{name}.toml", QUICK)
        train_and_save(config, folder)
    return folder


def test_the_narratives_label_set_quotes_the_definitions():
    narratives = load_label_set(LABELS / "narratives.toml")
    assert narratives.names == tuple(NARRATIVES)
    assert narratives.column == "narratives" and narratives.noun == "narrative"
    shared = ROOT.parent / "shared" / "narratives.md"
    if shared.is_file():  # the project's definitions, beside the checkout
        words = " ".join(shared.read_text(encoding="utf-8").split())
        for label in narratives.themes:
            assert " ".join(label.definition.split()) in words, label.name
    # the first label set keeps its fingerprint: no column written for "themes"
    themes = load_label_set(LABELS / "themes.toml")
    assert "column" not in themes.to_dict() and themes.column == "themes"
    again = LabelSet.from_dict(narratives.to_dict())
    assert again == narratives and again.fingerprint == narratives.fingerprint


def test_a_label_set_column_cannot_take_an_annotation_column():
    with pytest.raises(ClassifyError, match="cannot name its column"):
        LabelSet.from_dict({"name": "x", "column": "text", "labels": [{"name": "a"}]})


def test_the_seeds_carry_both_label_sets_in_their_own_columns(tmp_path):
    themes = load_annotations(LABELS / "seeds.csv", load_label_set(LABELS / "themes.toml"))
    narratives = load_annotations(LABELS / "seeds.csv", load_label_set(LABELS / "narratives.toml"))
    assert themes.ids == narratives.ids and len(narratives) == 159
    carried = Counter(n for p in narratives.paragraphs for n in p.themes)
    assert set(carried) == set(NARRATIVES)
    assert all(not p.themes for p in narratives.paragraphs if p.kind != "body")

    bad = tmp_path / "bad.csv"
    bad.write_text("id,text,narratives\na,Some text.,threat;doom\n", encoding="utf-8")
    with pytest.raises(ClassifyError, match=r"bad\.csv:2: unknown narrative 'doom'"):
        load_annotations(bad, load_label_set(LABELS / "narratives.toml"))
    missing = tmp_path / "missing.csv"
    missing.write_text("id,text,themes\na,Some text.,drills\n", encoding="utf-8")
    with pytest.raises(ClassifyError, match="missing column"):
        load_annotations(missing, load_label_set(LABELS / "narratives.toml"))


def test_the_authored_narratives_set_meets_its_brief():
    authored = (LABELS / "narratives-authored.jsonl").read_text(encoding="utf-8")
    rows = [json.loads(line) for line in authored.splitlines()]
    per_label = Counter(n for r in rows for n in r["narratives"])
    assert all(per_label[n] >= 80 for n in NARRATIVES), per_label
    assert sum(not r["narratives"] for r in rows) >= 150
    assert sum(r["lang"] == "ru" for r in rows) / len(rows) >= 0.30
    both = {(n, r["lang"]) for r in rows for n in r["narratives"]}
    assert all((n, lang) in both for n in NARRATIVES for lang in ("en", "ru"))
    assert {r["source"] for r in rows} == {"authored"}
    # written from the definitions, never from the seeds: no seed paragraph is in it
    table = (LABELS / "seeds.csv").read_text(encoding="utf-8")
    seeds = {" ".join(r["text"].split()) for r in csv.DictReader(io.StringIO(table))}
    assert not seeds & {" ".join(r["text"].split()) for r in rows}
    # loads as annotations of the narratives label set, with unique ids
    loaded = load_annotations(LABELS / "narratives-authored.jsonl",
                              load_label_set(LABELS / "narratives.toml"))  # fmt: skip
    assert len(loaded) == len(rows)


def _jsonl(*args: str) -> list[dict]:
    done = run_cli("predict", str(SEED), "-f", "jsonl", *args)
    assert done.returncode == 0, done.stderr
    return [json.loads(line) for line in done.stdout.splitlines()]


def test_predict_tags_with_both_label_sets_in_one_pass(models):
    both = ("--model", str(models / "default"), "--model", str(models / "narratives"))
    records = _jsonl(*both)
    alone = {"themes": _jsonl("--model", str(models / "default")),
             "narratives": _jsonl("--model", str(models / "narratives"))}  # fmt: skip
    assert len(records) == len(alone["themes"]) > 30
    for i, record in enumerate(records):
        for column in ("themes", "narratives"):
            single = alone[column][i]
            assert record[column] == single[column]
            assert record["scores"][column] == single["scores"]
            assert record["review"][column] == single["review"]
        assert record["text"] == alone["themes"][i]["text"]
    assert any(r["narratives"] for r in records) and any(r["themes"] for r in records)
    # the same rows from worker processes
    assert _jsonl(*both, "--jobs", "2") == records

    done = run_cli("predict", str(SEED), *both, "-f", "csv")
    header = next(csv.reader(io.StringIO(done.stdout)))
    assert header[5:8] == ["themes", "themes.review", "themes.score_recruitment"]
    assert "narratives.score_rights_and_costs" in header and header[-1] == "text"
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [r["narratives"] for r in rows] == [";".join(r["narratives"]) for r in records]

    done = run_cli("predict", str(SEED), *both, "-f", "json", "--explain")
    document = json.loads(done.stdout)
    (summary,) = document["documents"]
    assert set(summary) == {"document", "paragraphs", "themes", "narratives", "best"}
    tagged = {n for r in records for n in r["narratives"]}
    assert set(summary["narratives"]) == tagged and set(summary["best"]["narratives"]) == set(
        NARRATIVES
    )
    explained = [p for p in document["paragraphs"] if p["narratives"]]
    assert all(set(p["rationale"]["narratives"]) >= set(p["narratives"]) for p in explained)


def test_parquet_table_and_report_carry_both_label_sets(models, tmp_path):
    import pyarrow.parquet as pq

    both = ("--model", str(models / "default"), "--model", str(models / "narratives"))
    done = run_cli("predict", str(SEED), *both, "-f", "parquet", "-o", str(tmp_path / "t.parquet"))
    assert done.returncode == 0, done.stderr
    table = pq.read_table(tmp_path / "t.parquet").to_pylist()
    records = _jsonl(*both)
    assert [r["narratives"] for r in table] == [r["narratives"] for r in records]
    assert [r["themes.score_drills"] for r in table] == [
        r["scores"]["themes"]["drills"] for r in records
    ]

    done = run_cli("predict", str(SEED), *both, "-f", "table")
    header = next(line for line in done.stdout.splitlines() if line.strip().startswith("#"))
    assert re.search(r"themes\s+narratives", header)

    done = run_cli("predict", str(SEED), *both, "-f", "html", "-o", str(tmp_path / "r.html"))
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "classify: themes and narratives by article" in page
    assert "narratives: threat, state_effectiveness" in page
    tagged = {n for r in records for n in r["narratives"]}
    assert all(f'class="chip c{5 + NARRATIVES.index(n)}">{n} ' in page for n in tagged)


def test_predictors_in_python(models):
    from classify import Predictor, Predictors

    both = Predictors.load_many([models / "default", models / "narratives"])
    texts = ["Border guards seized heroin.", "The security services warn the threat is growing."]
    results = both.predict(texts)
    themes = Predictor.load(models / "default").predict(texts)
    narratives = Predictor.load(models / "narratives").predict(texts)
    assert [r["themes"] for r in results] == themes
    assert [r["narratives"] for r in results] == narratives
    # an override goes to the label set that has the label
    everything = both.predict(texts, threshold={"threat": 0.0})
    assert all("threat" in r["narratives"].themes for r in everything)
    assert [r["themes"] for r in everything] == themes
    with pytest.raises(ClassifyError, match="unknown label 'doom'"):
        both.predict(texts, threshold={"doom": 0.3})
    with pytest.raises(ClassifyError, match="same label set column: themes"):
        Predictors.load_many([models / "default", models / "default"])
    scores = both.scores(texts)
    assert scores.shape == (2, 10)
    np.testing.assert_array_equal(
        scores[:, 5:], Predictor.load(models / "narratives").scores(texts)
    )


def test_training_two_label_sets_logs_runs_that_compare_within_their_label_set(
    tmp_path, private_mlflow_store
):
    import mlflow

    done = run_cli(
        "train", str(ROOT / "experiments" / "default.toml"),
        str(ROOT / "experiments" / "narratives.toml"), "--models-dir", str(tmp_path / "m"),
        *[arg for setting in QUICK for arg in ("--set", setting)],
        env={"MLFLOW_TRACKING_URI": private_mlflow_store},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert re.search(r"┃ narrative\s", done.stdout) and re.search(r"┃ theme\s", done.stdout)
    client = mlflow.MlflowClient(private_mlflow_store)
    runs = client.search_runs(client.get_experiment_by_name("classify").experiment_id)
    by_column = {r.data.tags["label_set.column"]: r for r in runs}
    assert set(by_column) == {"themes", "narratives"}
    assert "narratives/macro_f1" in by_column["narratives"].data.metrics
    assert "narratives/macro_f1" not in by_column["themes"].data.metrics
    assert by_column["themes"].data.metrics["themes/micro_f1"] == pytest.approx(
        by_column["themes"].data.metrics["micro_f1"]
    )
    listed = run_cli("runs", env={"MLFLOW_TRACKING_URI": private_mlflow_store})
    assert listed.returncode == 0, listed.stderr
    shown = [line.split() for line in listed.stdout.splitlines()]
    assert {"narratives", "themes"} <= {word for words in shown for word in words}
    assert listed.stdout.count("* best macro-F1 of") == 2
    assert "* best macro-F1 of narratives: narratives" in listed.stdout


def test_corrections_merge_into_the_label_sets_own_column(tmp_path):
    from classify.data.annotation_files import merge_annotations, write_annotations

    narratives = load_label_set(LABELS / "narratives.toml")
    target = tmp_path / "mine.csv"
    rows = [{"id": "a:1", "text": "Police held a drill.", "narratives": []},
            {"id": "a:2", "text": "The threat is growing.", "narratives": []}]  # fmt: skip
    write_annotations(target, rows, ["id", "narratives", "text"], label_column="narratives")
    fixed = tmp_path / "fixed.csv"
    fixed.write_text("id,narratives,text,why\na:2,threat,The threat is growing.,x\n")
    assert merge_annotations(target, [fixed], narratives).changed == ("a:2",)
    merged = load_annotations(target, narratives)
    assert [p.themes for p in merged.paragraphs] == [(), ("threat",)]
    assert target.read_text().splitlines()[0] == "id,narratives,text"
