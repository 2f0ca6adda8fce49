"""`classify runs` and `classify compare` on a real MLflow store holding two real trainings."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from helpers import run_cli

from classify.errors import ClassifyError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_EXPERIMENT = ROOT / "experiments" / "default.toml"
OOF = "evaluation/oof_predictions.csv"
THEMES = ("recruitment", "returnees", "legislation", "drills", "trafficking")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory, quick: tuple[str, ...]) -> SimpleNamespace:
    """One SQLite store: two quick trainings (C=0.1, then C=10, both named "default"), a tuning
    parent with a child, two runs whose OOF predictions carry ids only and cover different
    paragraphs, and an experiment "prefixes" where two runs share an id's first character."""
    from mlflow.tracking import MlflowClient

    from classify.model.config import load_experiment
    from classify.track.tracker import MlflowTracker
    from classify.training.train import train

    folder = tmp_path_factory.mktemp("runs")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    trained = {}
    # A is logged without paragraph text (ids only), B with it
    for key, settings in (("a", ["model.C=0.1", "tracking.log_text=false"]), ("b", ["model.C=10"])):
        config = load_experiment(DEFAULT_EXPERIMENT, [*quick, *settings])
        # the tracker exactly as train_and_save drives it, minus the bundle (not needed here)
        tracker = MlflowTracker(uri)
        tracker.start(config)
        tracker.log(train(config), None)
        tracker.finish(failed=False)
        trained[key] = tracker.run_id

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("classify").experiment_id
    oof = {
        key: pd.read_csv(
            client.download_artifacts(run_id, OOF, str(folder / key)),
            dtype=str,
            keep_default_na=False,
        )
        for key, run_id in trained.items()
    }
    clock = int(time.time() * 1000)

    def run(name: str, seconds: int, **tags: str) -> str:
        # explicit start times: the order newest-first must not hang on millisecond ties
        created = client.create_run(experiment, start_time=clock + seconds * 1000, tags=tags)
        client.set_tag(created.info.run_id, "mlflow.runName", name)
        client.set_terminated(created.info.run_id, end_time=clock + seconds * 1000 + 1)
        return created.info.run_id

    grid = run("grid", 1)
    # a tuning candidate: its (inner-CV) macro-F1 is high, but only top-level runs can be best
    candidate = {"tune.candidate": "0", "tune.settings": "model.C=1", "tune.best": "true"}
    child = run("grid-child", 2, **{"mlflow.parentRunId": grid}, **candidate)
    client.log_metric(child, "macro_f1", 0.99)
    client.log_metric(child, "micro_f1", 0.98)

    # two more text-free runs, from A's and B's predictions: A' lacks three paragraphs and each has
    # one paragraph the other never scored
    extra = {"document": "x", "source": "x", "lang": "en", "fold": "0", "correct": "True"}
    ids_a = oof["a"].iloc[3:]
    ids_a = pd.concat([ids_a, pd.DataFrame([{**extra, "id": "extra-a:001", "gold": ""}])])
    ids_b = oof["b"].drop(columns="text")
    ids_b = pd.concat([ids_b, pd.DataFrame([{**extra, "id": "extra-b:001", "gold": ""}])])
    text_free = {}
    for key, frame, seconds in (("ids-only-a", ids_a, 3), ("ids-only-b", ids_b, 4)):
        path = folder / key / "oof_predictions.csv"
        path.parent.mkdir()
        frame.fillna("").to_csv(path, index=False)
        text_free[key] = run(key, seconds)
        client.log_artifact(text_free[key], str(path), artifact_path="evaluation")

    prefixes = client.create_experiment("prefixes")
    first: dict[str, str] = {}
    while True:  # at most 17 runs until two ids share their first character
        run_id = client.create_run(prefixes, run_name="filler").info.run_id
        if run_id[0] in first:
            break
        first[run_id[0]] = run_id

    return SimpleNamespace(
        uri=uri,
        client=client,
        a=trained["a"],
        b=trained["b"],
        grid=grid,
        child=child,
        ids_a=text_free["ids-only-a"],
        ids_b=text_free["ids-only-b"],
        oof_a=oof["a"],
        oof_b=oof["b"],
        ambiguous=run_id[0],
        filler=run_id,
    )


def metrics(store: SimpleNamespace, run_id: str) -> dict[str, float]:
    return store.client.get_run(run_id).data.metrics


def tags(value: str) -> set[str]:
    return {t for t in value.split(";") if t}


def expected_flips(oof_a: pd.DataFrame, oof_b: pd.DataFrame) -> list[tuple[str, str]]:
    """(id, better|worse|mixed) for every paragraph both runs scored whose tag set differs."""
    b_rows = oof_b.set_index("id")
    flips = []
    for _, row in oof_a.iterrows():
        if row["id"] not in b_rows.index:
            continue
        other = b_rows.loc[row["id"]]
        predicted_a, predicted_b = tags(row["predicted"]), tags(other["predicted"])
        if predicted_a == predicted_b:
            continue
        wrong_a = len(predicted_a ^ tags(row["gold"]))
        wrong_b = len(predicted_b ^ tags(other["gold"]))
        change = "better" if wrong_b < wrong_a else "worse" if wrong_b > wrong_a else "mixed"
        flips.append((row["id"], change))
    return flips


def one_line_error(done) -> str:
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    return done.stderr


@pytest.mark.slow
def test_runs_lists_the_logged_metrics_newest_first_with_children_under_their_parent(store):
    done = run_cli("runs", "--format", "json", "--tracking-uri", store.uri)
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    expected_order = [store.ids_b, store.ids_a, store.grid, store.child, store.b, store.a]
    assert [r["run_id"] for r in records] == expected_order
    by_id = {r["run_id"]: r for r in records}
    assert by_id[store.child]["parent_run_id"] == store.grid
    assert by_id[store.grid]["parent_run_id"] is None
    for run_id in (store.a, store.b):
        record, logged = by_id[run_id], metrics(store, run_id)
        assert record["themes"] == list(THEMES)
        assert record["data"] == "authored → seeds, LODO"
        assert record["status"] == "FINISHED"
        names = ["micro_f1", "macro_f1", *(f"{m}/{t}" for m in ("f1", "recall") for t in THEMES)]
        for name in names:
            assert record["metrics"][name] == logged[name]
    best = max((store.a, store.b), key=lambda run_id: metrics(store, run_id)["macro_f1"])
    assert [r["run_id"] for r in records if r["best"]] == [best]

    # the table, with the store taken from MLFLOW_TRACKING_URI as `classify train` would
    done = run_cli("runs", env={"MLFLOW_TRACKING_URI": store.uri})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    row = {run_id: next(i for i, ln in enumerate(lines) if run_id[:8] in ln) for run_id in by_id}
    assert [row[run_id] for run_id in expected_order] == sorted(row.values())
    assert "└ grid-child" in lines[row[store.child]]
    assert "chosen: model.C=1" in lines[row[store.child]]
    for run_id in (store.a, store.b):
        logged = metrics(store, run_id)
        shown = re.findall(r"\d\.\d{3}", lines[row[run_id]])
        wanted = [logged["micro_f1"], logged["macro_f1"], *(logged[f"f1/{t}"] for t in THEMES)]
        assert shown == [f"{value:.3f}" for value in wanted]
    assert f"*{metrics(store, best)['macro_f1']:.3f}" in lines[row[best]]
    assert lines[row[best]].count("*") == 1 and done.stdout.count("*") == 2  # and the caption


@pytest.mark.slow
def test_limit_children_and_csv(store):
    from classify.track.run_tables import runs_csv
    from classify.track.runs import list_runs

    runs = list_runs(tracking_uri=store.uri, limit=3)
    assert [r.run_id for r in runs] == [store.ids_b, store.ids_a, store.grid, store.child]
    assert [r.parent_id for r in runs] == [None, None, None, store.grid]
    runs = list_runs(tracking_uri=store.uri, limit=10, children=False)
    assert [r.run_id for r in runs] == [store.ids_b, store.ids_a, store.grid, store.b, store.a]

    rows = list(csv.DictReader(io.StringIO(runs_csv(runs))))
    row = next(r for r in rows if r["run_id"] == store.b)
    logged = metrics(store, store.b)
    for theme in THEMES:
        assert float(row[f"f1/{theme}"]) == logged[f"f1/{theme}"]
    assert float(row["macro_f1"]) == logged["macro_f1"]
    assert row["evaluation"].startswith("out-of-fold on seeds")
    assert sum(r["best"] == "True" for r in rows) == 1


@pytest.mark.slow
def test_compare_gives_b_minus_a_and_exactly_the_flipped_paragraphs(store):
    # A by an id prefix, B by name: "default" is the most recent run of that name
    done = run_cli(
        "compare", store.a[:10], "default", "--format", "json", "--tracking-uri", store.uri
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["a"]["run_id"], report["b"]["run_id"]) == (store.a, store.b)

    logged_a, logged_b = metrics(store, store.a), metrics(store, store.b)
    rows = {(m["theme"], m["metric"]): m for m in report["metrics"]}
    assert len(rows) == 3 * len(THEMES) + 3 + 1
    for (theme, metric), row in rows.items():
        name = f"{theme}_{metric}" if theme in ("micro", "macro") else f"{metric}/{theme}"
        assert row["a"] == logged_a[name] and row["b"] == logged_b[name]
        assert row["delta"] == pytest.approx(logged_b[name] - logged_a[name])

    wanted = expected_flips(store.oof_a, store.oof_b)
    assert wanted, "C=0.1 and C=10 should disagree on some paragraph"
    assert [(f["id"], f["change"]) for f in report["flips"]] == wanted
    assert "text" not in store.oof_a.columns  # A was logged with tracking.log_text = false
    texts = store.oof_b.set_index("id")["text"]  # so the text shown is B's
    gold = store.oof_b.set_index("id")["gold"]
    for flip in report["flips"]:
        assert flip["text"] == texts[flip["id"]]
        assert set(flip["gold"]) == tags(gold[flip["id"]])
        assert flip["a"] != flip["b"]
    counts = report["counts"]
    assert counts["scored_by_both"] == len(store.oof_a) == 130
    assert counts["flipped"] == len(wanted)
    assert counts["better"] == sum(change == "better" for _, change in wanted)
    assert counts["worse"] == sum(change == "worse" for _, change in wanted)
    assert report["only_a"] == report["only_b"] == [] and report["notes"] == []

    done = run_cli("compare", store.a, store.b, "--flips", "0", "--tracking-uri", store.uri)
    assert done.returncode == 0, done.stderr
    macro = logged_b["macro_f1"] - logged_a["macro_f1"]
    macro_line = next(ln for ln in done.stdout.splitlines() if ln.strip().startswith("macro"))
    assert re.findall(r"[+-]?\d\.\d{3}", macro_line) == [
        f"{logged_a['macro_f1']:.3f}",
        f"{logged_b['macro_f1']:.3f}",
        f"{macro:+.3f}",
    ]
    assert f"{len(wanted)} of 130 paragraphs changed tags: {counts['better']} better" in done.stdout
    for paragraph_id, change in wanted:
        (line,) = [ln for ln in done.stdout.splitlines() if f" {paragraph_id} " in ln]
        assert f" {change} " in line


@pytest.mark.slow
def test_paragraphs_scored_by_one_run_are_counted_and_ids_suffice(store):
    from classify.predict.outputs import render_text
    from classify.track.compare import compare_runs
    from classify.track.run_tables import comparison_view

    comparison = compare_runs("ids-only-a", "ids-only-b", tracking_uri=store.uri)
    assert comparison.only_a == ("extra-a:001",)
    assert comparison.only_b == (*store.oof_b["id"][:3], "extra-b:001")
    assert comparison.both == 127
    wanted = [f for f in expected_flips(store.oof_a, store.oof_b) if f[0] not in comparison.only_b]
    assert [(f.id, f.change) for f in comparison.flips] == wanted
    assert all(f.text is None for f in comparison.flips)
    assert any(
        "1 paragraph scored by run A only and 4 by run B only" in n for n in comparison.notes
    )

    shown = render_text(comparison_view(comparison), width=160)
    assert "1 paragraph scored by run A only, not compared: extra-a:001" in shown
    assert "4 paragraphs scored by run B only" in shown
    header = next(line for line in shown.splitlines() if " change" in line)
    assert "paragraph" in header and "text" not in header  # no text, no text column


@pytest.mark.slow
def test_runs_are_found_by_full_id_unique_prefix_or_latest_name(store):
    from classify.track.runs import find_run

    assert find_run(store.a, tracking_uri=store.uri).run_id == store.a
    assert find_run(store.a[:6], tracking_uri=store.uri).run_id == store.a
    assert find_run("default", tracking_uri=store.uri).run_id == store.b  # the newest "default"
    assert find_run("grid-child", tracking_uri=store.uri).parent_id == store.grid
    # a full id is found in any experiment; prefixes and names only in the one searched
    assert find_run(store.filler, tracking_uri=store.uri).name == "filler"
    with pytest.raises(ClassifyError, match="no run 'filler' in the MLflow experiment 'classify'"):
        find_run("filler", tracking_uri=store.uri)
    with pytest.raises(ClassifyError, match=f"run id prefix '{store.ambiguous}' is ambiguous"):
        find_run(store.ambiguous, experiment="prefixes", tracking_uri=store.uri)
    missing = r"no MLflow experiment 'missing'.*experiments there: .*prefixes"
    with pytest.raises(ClassifyError, match=missing):
        find_run("x", experiment="missing", tracking_uri=store.uri)


@pytest.mark.slow
def test_bad_runs_and_stores_are_one_line_errors(store, tmp_path, monkeypatch):
    from classify.track.runs import list_runs

    done = run_cli("compare", "grid", "default", "--tracking-uri", store.uri)
    assert f"run grid {store.grid[:8]} has no {OOF} artifact" in one_line_error(done)
    # (unknown runs and ambiguous prefixes: test_runs_are_found_by_...)

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = run_cli("runs", "--tracking-uri", f"http://127.0.0.1:{port}")
    assert f"cannot reach the MLflow tracking server at http://127.0.0.1:{port}" in (
        one_line_error(done)
    )
    # no --tracking-uri and no MLFLOW_TRACKING_URI: experiments/mlflow.db under the current folder
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ClassifyError, match="no MLflow store at ") as caught:
        list_runs()
    assert caught.value.message.endswith(str(tmp_path / "experiments" / "mlflow.db"))
    assert not (tmp_path / "experiments").exists()  # and none was created
    (tmp_path / "junk.db").write_text("not a database")
    with pytest.raises(ClassifyError, match=r"cannot read the MLflow store .*not a database"):
        list_runs(tracking_uri=f"sqlite:///{tmp_path / 'junk.db'}")


def test_the_default_store_is_the_one_classify_train_logs_to(monkeypatch):
    from classify.model.config import load_experiment
    from classify.track.store import default_tracking_uri

    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.chdir(ROOT)
    assert default_tracking_uri() == default_tracking_uri(load_experiment(DEFAULT_EXPERIMENT))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    assert default_tracking_uri() == "http://127.0.0.1:5000"
