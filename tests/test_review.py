"""The review loop: suggest what to label, audit what is labeled, merge corrections back, train.

Real files, the real CLI, real trainings logged to a real MLflow store.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from mlflow import MlflowClient

from classify.data.annotations import load_annotations
from classify.data.inputs import InputParagraph
from classify.data.labels import load_label_set
from classify.data.near_duplicates import near_duplicate_pairs
from classify.predict.predictor import Predictor
from classify.training.suggest import suggest_paragraphs
from tests.conftest import LABELS, ROOT
from tests.helpers import run_cli

POOL = ROOT / "examples" / "pool"
THEMES = ("recruitment", "returnees", "legislation", "drills", "trafficking")
QUICK_SET = ["--set", "features.char=false", "--set", 'thresholds.strategy="fixed"']


def pool_paragraph(i: int, document: str, text: str, kind: str = "body") -> InputParagraph:
    return InputParagraph(document, f"{document}:{i}", text, kind=kind, document=document)


def words(i: int) -> str:
    """A distinct paragraph of ordinary length (no two share a word shingle)."""
    return f"report {i} describes event number {i} in district {i} at length today"


def test_suggestions_spread_over_themes_and_documents_and_skip_what_teaches_nothing():
    paragraphs = [pool_paragraph(i, f"doc{i % 4}", words(i)) for i in range(40)]
    paragraphs[0] = pool_paragraph(0, "doc0", "Short one.")  # too short to teach
    paragraphs[1] = pool_paragraph(1, "doc1", words(1), kind="heading")  # carries no label
    scores = np.full((40, 2), 0.02)
    scores[:, 0] = np.linspace(0.5, 0.9, 40)  # all near theme 0's cut-off, the first closest
    scores[30:, 1] = 0.45  # ten near theme 1's cut-off, less close
    thresholds = np.array([0.5, 0.5])
    picks = suggest_paragraphs(paragraphs, scores, None, thresholds, ["a", "b"], n=8)
    ids = [s.paragraph.id for s in picks]
    assert len(ids) == 8 and "doc0:0" not in ids and "doc1:1" not in ids
    assert [s.theme for s in picks].count("b") == 4  # in turns over the themes
    per_document = [sum(s.paragraph.document == f"doc{d}" for s in picks) for d in range(4)]
    assert per_document == [2, 2, 2, 2]  # spread: at most n / documents each
    assert picks[0].paragraph.id == "doc2:2" and picks[0].guess == ("a",)  # the closest first
    assert "a: score 0.52 against its cut-off 0.50" in picks[0].why


def test_near_duplicates_of_labeled_text_and_of_each_other_are_never_suggested():
    story = "border guards seized forty kilograms of heroin near the river crossing on monday"
    paragraphs = [
        pool_paragraph(0, "a", story.replace("monday", "tuesday")),  # near a labeled one
        pool_paragraph(1, "b", "Officials rehearsed an evacuation of the airport terminal today."),
        pool_paragraph(2, "c", "Officials rehearsed an evacuation of the airport terminal today!"),
        pool_paragraph(3, "d", words(3)),
    ]
    scores = np.array([[0.5], [0.49], [0.49], [0.1]])
    committee = np.stack([scores, 1 - scores])  # two fold models, split on every paragraph
    picks = suggest_paragraphs(
        paragraphs, scores, committee, np.array([0.5]), ["a"], n=4, labeled=[story]
    )
    assert [s.paragraph.id for s in picks] == ["b:1", "d:3"]
    assert "1 of 2 fold models put it above" in picks[0].why


def test_near_duplicate_pairs_are_found_without_comparing_everything():
    texts = [words(i) for i in range(300)] + [words(7) + " again"]
    assert [(i, j) for i, j, _ in near_duplicate_pairs(texts)] == [(7, 300)]


@pytest.fixture
def labels_copy(tmp_path) -> Path:
    """The shipped labels and an experiment reading them, in a scratch folder."""
    shutil.copytree(LABELS, tmp_path / "labels")
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    shutil.copytree(ROOT / "experiments", tmp_path / "experiments", ignore=_no_stores)
    return tmp_path


def _no_stores(folder, names):
    return [n for n in names if n.startswith("mlflow") or n == "mlartifacts"]


def read_csv(path: Path) -> list[dict]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))


@pytest.mark.slow
def test_the_loop_suggest_label_train_compare(trained, labels_copy, private_mlflow_store):
    experiment = str(labels_copy / "experiments" / "default.toml")
    review = labels_copy / "labels" / "pool-review.csv"
    suggested = run_cli(
        "suggest", str(POOL), "-n", "8", "-m", str(trained[1]), "-e", experiment, *QUICK_SET,
        "-o", str(review),
    )  # fmt: skip
    assert suggested.returncode == 0, suggested.stderr
    assert "picked 8 of" in suggested.stderr and "from 3 documents" in suggested.stderr
    rows = read_csv(review)
    assert len(rows) == 8 and all(r["why"] for r in rows)
    assert {r["document"] for r in rows} == {p.stem for p in POOL.glob("*.txt")}
    # the person corrects one guess (the model saw no theme in a paragraph about a sentence)
    rows[0]["themes"] = "legislation;returnees"
    with open(review, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    label_set = load_label_set(labels_copy / "labels" / "themes.toml")
    assert len(load_annotations(review, label_set, documents_dir=POOL)) == 8  # valid, offsets too

    models = labels_copy / "models"
    train = ["train", experiment, *QUICK_SET, "--models-dir", str(models)]
    before = run_cli(*train)
    assert before.returncode == 0, before.stderr
    seen_before = len(Predictor.load(models / "default").seen)
    annotations = '["../labels/seeds.csv", "../labels/authored.jsonl", "../labels/pool-review.csv"]'
    with_review = [
        "--set", f"data.annotations={annotations}", "--set", "data.mix=authored+pool-review",
        "--set", 'data.documents=""',  # offsets are checked against seeds/ only
    ]  # fmt: skip
    after = run_cli(*train, *with_review)
    assert after.returncode == 0, after.stderr
    client = MlflowClient(private_mlflow_store)
    runs = client.search_runs(
        [e.experiment_id for e in client.search_experiments()], order_by=["start_time ASC"]
    )
    first, second = runs[-2], runs[-1]
    assert first.data.tags["data_hash"] != second.data.tags["data_hash"]
    assert len(Predictor.load(models / "default").seen) == seen_before + 8  # trained on them
    compared = run_cli("compare", first.info.run_id, second.info.run_id)
    assert compared.returncode == 0, compared.stderr


@pytest.mark.slow
def test_audit_finds_a_planted_mistake_and_merge_puts_the_fix_back(trained, labels_copy):
    authored = labels_copy / "labels" / "authored.jsonl"
    records = [json.loads(line) for line in authored.read_text(encoding="utf-8").splitlines()]
    planted = next(r for r in records if r["themes"] == ["drills"] and r["lang"] == "en")
    planted["themes"] = ["trafficking"]  # a clear drill labeled as trafficking
    copy = dict(records[0], id="dup-1", document="dup-doc", themes=["legislation"])
    copy["text"] = records[0]["text"].rstrip(".") + "!"  # a near duplicate, labeled differently
    records.append(copy)
    authored.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8"
    )
    experiment = str(labels_copy / "experiments" / "default.toml")
    out = labels_copy / "audit.csv"
    done = run_cli("audit", experiment, *QUICK_SET, "-m", str(trained[1]), "-o", str(out))
    assert done.returncode == 0, done.stderr
    found = {r["id"]: r for r in read_csv(out)}
    mistake = found[planted["id"]]
    assert "label" in mistake["issue"] and float(mistake["confidence"]) >= 0.5
    assert "not labeled drills" in mistake["why"] or "labeled trafficking" in mistake["why"]
    assert "near duplicate" in found["dup-1"]["issue"] and records[0]["id"] in found["dup-1"]["why"]
    # the person fixes the planted row only, and merges the file back into its source
    fixed = [dict(r, themes="drills") if r["id"] == planted["id"] else r for r in found.values()]
    with open(out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(fixed[0]))
        writer.writeheader()
        writer.writerows(fixed)
    merged = run_cli(
        "merge", str(authored), str(out), "--labels", str(labels_copy / "labels" / "themes.toml")
    )
    assert merged.returncode == 0, merged.stderr
    assert f"{authored}: 1 paragraphs' themes changed, 0 added" in merged.stderr
    after = [json.loads(line) for line in authored.read_text(encoding="utf-8").splitlines()]
    assert next(r for r in after if r["id"] == planted["id"])["themes"] == ["drills"]
    assert [r for r in after if r["id"] != planted["id"]] == [
        r for r in records if r["id"] != planted["id"]
    ]  # every other row, and every field of it, as it was


def test_merge_refuses_changed_text_and_leaves_the_file_as_it_was(labels_copy):
    target = labels_copy / "labels" / "seeds.csv"
    before = target.read_bytes()
    first = read_csv(target)[5]
    fix = labels_copy / "fix.csv"
    fix.write_text(f"id,themes,text\n{first['id']},drills,{first['text']} (edited)\n")
    labels = ["--labels", str(labels_copy / "labels" / "themes.toml")]
    done = run_cli("merge", str(target), str(fix), *labels)
    assert done.returncode == 1 and "its text differs" in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.count("\n") == 1
    fix.write_text(f'id,themes,text\n{first["id"]},not-a-theme,"{first["text"]}"\n')
    done = run_cli("merge", str(target), str(fix), *labels)
    assert done.returncode == 1 and "not-a-theme" in done.stderr
    assert target.read_bytes() == before


def test_merge_adds_new_rows_only_when_asked(labels_copy):
    target = labels_copy / "labels" / "seeds.csv"
    new = labels_copy / "new.csv"
    new.write_text("id,themes,text\nnew:1,drills,Police rehearsed a hostage rescue.\n")
    labels = ["--labels", str(labels_copy / "labels" / "themes.toml")]
    left = run_cli("merge", str(target), str(new), *labels)
    assert left.returncode == 0 and "1 rows of the corrections are not in" in left.stderr
    added = run_cli("merge", str(target), str(new), *labels, "--add")
    assert added.returncode == 0 and "0 paragraphs' themes changed, 1 added" in added.stderr
    assert read_csv(target)[-1]["id"] == "new:1"
