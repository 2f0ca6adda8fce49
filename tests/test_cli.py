"""The real command line, in subprocesses: train, then predict in every format, and every error."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, run_cli

SEED = ROOT / "seeds" / "004_69f23285355f99cd.txt"
THEMES = ["recruitment", "returnees", "legislation", "drills", "trafficking"]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model(tmp_path_factory, quick) -> Path:
    """`classify train --no-track` once for this module; returns the bundle folder."""
    models = tmp_path_factory.mktemp("cli-models")
    settings = [arg for setting in quick for arg in ("--set", setting)]
    done = run_cli(
        "train", "experiments/default.toml", "--no-track", "--models-dir", str(models), *settings
    )
    assert done.returncode == 0, done.stderr
    assert "macro" in done.stdout and "model bundle:" in done.stdout
    return models / "default"


def assert_one_line_error(done, *fragments):
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_the_full_default_experiment_trains_and_is_tracked(tmp_path, private_mlflow_store):
    """The README's main command, for real: the shipped default experiment, tracked in MLflow."""
    from mlflow.tracking import MlflowClient

    done = run_cli("train", "--models-dir", str(tmp_path), "--set", "model.C=8")
    assert done.returncode == 0, done.stderr
    assert "mlflow ui --backend-store-uri " + private_mlflow_store in done.stdout
    assert "out-of-fold on seeds (leave_one_document_out), trained on authored" in done.stdout
    experiment = MlflowClient(private_mlflow_store).get_experiment_by_name("classify")
    (run,) = MlflowClient(private_mlflow_store).search_runs([experiment.experiment_id])
    assert run.data.params["model.C"] == "8.0"
    assert run.data.params["data.mix"] == "authored"
    assert run.data.metrics["macro_f1"] > 0.6
    assert (tmp_path / "default" / "CURRENT").is_file()


def test_predict_table_with_document_summary(model):
    done = run_cli(
        "predict", str(SEED), "--text", "Border guards seized heroin.", "--model", str(model)
    )
    assert done.returncode == 0, done.stderr
    assert str(SEED) in done.stdout and "Documents" in done.stdout
    assert "drills (" in done.stdout  # the summary says where the document carries drills
    for abbreviation in ("recru", "retur", "legis", "drill", "traff"):
        assert abbreviation in done.stdout


def test_predict_json(model):
    done = run_cli("predict", str(SEED), "--model", str(model), "--format", "json")
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    paragraphs = output["paragraphs"]
    assert len(paragraphs) == 36
    assert paragraphs[4]["id"] == "004_69f23285355f99cd:005"
    assert set(paragraphs[4]["scores"]) == set(THEMES)
    text = SEED.read_text(encoding="utf-8")
    assert all(text[p["start"] : p["end"]] == p["text"] for p in paragraphs)
    assert all(p["themes"] == [] for p in paragraphs if p["kind"] != "body")
    (summary,) = output["documents"]
    assert len(summary["themes"]["drills"]) >= 10


def test_predict_jsonl_from_stdin_and_texts(model):
    done = run_cli(
        "predict",
        "-",
        "--text",
        "Heroin was seized.",
        "--model",
        str(model),
        "-f",
        "jsonl",
        stdin="Police rehearsed freeing hostages at the airport.\n",
    )
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["source"], r["id"]) for r in rows] == [
        ("<stdin>", "stdin:000"),
        ("<text>", "text:1"),
    ]
    assert "drills" in rows[0]["themes"]


def test_predict_csv_table_input_keeps_ids_and_order(model, tmp_path):
    table = tmp_path / "rows.csv"
    table.write_text(
        'key,body\nr1,"Police drill, at the airport"\nr2,"Multi\nline, text"\n', encoding="utf-8"
    )
    done = run_cli(
        "predict",
        str(table),
        "--text-column",
        "body",
        "--id-column",
        "key",
        "--model",
        str(model),
        "-f",
        "csv",
    )
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert [r["id"] for r in rows] == ["r1", "r2"]
    assert [r["text"] for r in rows] == ["Police drill, at the airport", "Multi\nline, text"]
    assert all(0 <= float(r[f"score_{t}"]) <= 1 for r in rows for t in THEMES)


def test_predict_a_folder_into_an_output_file(model, tmp_path):
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text(
        "Drills at the airport\n\nSpecial forces rehearsed a rescue.", encoding="utf-8"
    )
    (folder / "b.jsonl").write_text('{"text": "Heroin seized at the border."}\n', encoding="utf-8")
    (folder / ".hidden").write_text("ignored", encoding="utf-8")
    out = tmp_path / "tags.json"
    done = run_cli("predict", str(folder), "--model", str(model), "-f", "json", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    output = json.loads(out.read_text(encoding="utf-8"))
    assert [p["id"] for p in output["paragraphs"]] == ["a:000", "a:001", "line:1"]
    assert not list(tmp_path.glob(".tags.json*"))  # no temporary file left behind


def test_threshold_and_top_k_options(model):
    def themes(*options: str) -> list[str]:
        done = run_cli(
            "predict", "--text", "Police drill.", "--model", str(model), "-f", "jsonl", *options
        )
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["themes"]

    assert len(themes("--threshold", "0", "--top-k", "2")) == 2
    assert "drills" not in themes("--threshold", "drills=1")


def test_evaluate_on_unseen_and_on_training_paragraphs(model):
    done = run_cli(
        "evaluate", "labels/seeds.csv", "--model", str(model), "--documents", "seeds", "-f", "json"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["seen_in_training"] == 0 and "warning" not in done.stderr
    assert result["support/drills"] == 19
    done = run_cli("evaluate", "labels/authored.jsonl", "--model", str(model))
    assert done.returncode == 0, done.stderr
    assert "were in this model's training data" in done.stderr
    assert "lang=ru" in done.stdout  # per-language tables when there are several


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (
            ["predict", "x", "--model", "models/missing"],
            ["model not found: models/missing", "classify train"],
        ),
        (["predict", "nofile.txt"], ["no such file: nofile.txt", "--text"]),
        (["train", "experiments/nope.toml"], ["experiment file not found"]),
        (["train", "--set", "model.CC=1", "--no-track"], ["unknown key 'model.CC'"]),
        (["predict", "--text", "x", "--threshold", "high"], ["bad --threshold 'high'"]),
    ],
)
def test_errors_are_one_line(args, fragments):
    assert_one_line_error(run_cli(*args), *fragments)


def test_input_file_errors(model, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("  \n\n", encoding="utf-8")
    assert_one_line_error(
        run_cli("predict", str(empty), "--model", str(model)), "empty.txt: no text to tag"
    )
    binary = tmp_path / "latin.txt"
    binary.write_bytes("Кириллица".encode("cp1251"))
    assert_one_line_error(
        run_cli("predict", str(binary), "--model", str(model)),
        "not valid utf-8 at byte 0",
        "--encoding",
    )
    done = run_cli(
        "predict", str(binary), "--model", str(model), "--encoding", "cp1251", "-f", "jsonl"
    )
    assert json.loads(done.stdout)["text"] == "Кириллица"
    table = tmp_path / "rows.csv"
    table.write_text("id,body\n1,text\n", encoding="utf-8")
    assert_one_line_error(
        run_cli("predict", str(table), "--model", str(model)), "no column 'text'", "--text-column"
    )
    assert_one_line_error(
        run_cli(
            "predict",
            "--text",
            "x",
            "--model",
            str(model),
            "-o",
            str(tmp_path / "no" / "dir" / "out.json"),
        ),
        "cannot write",
        "out.json: No such file or directory",
    )


def test_corrupt_model_and_bad_annotations(model, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("id,text,themes\np1,Some text,drils\n", encoding="utf-8")
    assert_one_line_error(
        run_cli("evaluate", str(labels), "--model", str(model)),
        "labels.csv:2: unknown theme 'drils'",
    )
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "manifest.json").write_text("{", encoding="utf-8")
    assert_one_line_error(
        run_cli("predict", "--text", "x", "--model", str(broken)), "manifest.json is corrupt"
    )


@pytest.mark.parametrize(
    "command", ["train", "predict", "evaluate", "segment", "tune", "runs", "compare", "promote"]
)
def test_every_command_has_help(command):
    done = run_cli(command, "--help")
    assert done.returncode == 0
    description = done.stdout.split("Options")[0]
    assert len(description.split()) > 6, f"{command} has no help text"


def test_segment_csv_is_an_annotation_template():
    done = run_cli("segment", str(SEED), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert list(rows[0]) == ["id", "document", "start", "end", "kind", "themes", "text"]
    assert len(rows) == 36 and all(r["themes"] == "" for r in rows)


def test_the_console_script_is_installed():
    script = Path(sys.executable).parent / ("classify.exe" if os.name == "nt" else "classify")
    done = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "predict" in done.stdout
