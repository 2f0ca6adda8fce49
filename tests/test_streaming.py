"""Predicting over archives: inputs streamed in batches, outputs written as they go, Parquet in
and out, worker processes, a progress bar on terminals only, Ctrl-C, and the Python batch and
DataFrame calls."""

from __future__ import annotations

import csv
import json
import os
import pty
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classify.data.inputs import InputParagraph, read_inputs
from classify.errors import ClassifyError
from classify.predict.documents import summarise_documents
from classify.predict.outputs import format_predictions, prediction_records
from classify.predict.predictor import Predictor
from classify.predict.writers import TABLE_ROWS
from tests.helpers import ROOT, run_cli

SENTENCES = [
    "Special forces rehearsed freeing hostages at the airport.",
    "Border guards seized forty kilograms of heroin on the Tajik-Afghan border.",
    "Recruiters contacted young migrants through messaging apps.",
    "Parliament toughened the penalties for extremism.",
    "Women and children returned from the camps in Syria.",
    "The weather in Bishkek stayed mild all week.",
    "Спецназ провёл учения по освобождению заложников в аэропорту.",
]


@pytest.fixture(scope="module")
def model(trained) -> str:
    return str(trained[1])


def write_csv(path: Path, rows: int) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        for i in range(rows):
            writer.writerow([f"r{i}", f"{SENTENCES[i % len(SENTENCES)]} ({i})"])
    return path


def test_json_streams_out_exactly_as_the_whole_document_is_formatted(model, tmp_path):
    article = tmp_path / "article.txt"
    article.write_text("Drills in Almaty\n\n" + "\n\n".join(SENTENCES[:3]) + "\n", "utf-8")
    done = run_cli("predict", str(article), "A seizure at the border.", "-m", model, "-f", "json")
    assert done.returncode == 0, done.stderr
    predictor = Predictor.load(model)
    paragraphs = read_inputs([str(article), "A seizure at the border."])
    predictions = predictor.predict_paragraphs(paragraphs)
    summaries = summarise_documents(
        (p.document, p.id, q) for p, q in zip(paragraphs, predictions, strict=True) if p.document
    )
    records = prediction_records(paragraphs, predictions)
    assert done.stdout == format_predictions(records, summaries, predictor.themes, "json")


def test_jobs_give_the_output_of_one_process(model, tmp_path):
    table = write_csv(tmp_path / "rows.csv", 2500)
    outputs = {}
    for jobs in ("1", "2"):
        out = tmp_path / f"tags-{jobs}.jsonl"
        done = run_cli(
            "predict", str(table), "-m", model, "-f", "jsonl", "-o", str(out), "-j", jobs
        )
        assert done.returncode == 0, done.stderr
        outputs[jobs] = out.read_bytes()
    assert outputs["1"] == outputs["2"]
    assert len(outputs["2"].splitlines()) == 2500


def test_parquet_in_and_out(model, tmp_path):
    rows = pa.table(
        {
            "id": ["a", None, "c", "d"],
            "body": [SENTENCES[0], SENTENCES[1], None, "   "],
            "other": [1, 2, 3, 4],
        }
    )
    source = tmp_path / "rows.parquet"
    pq.write_table(rows, source)
    out = tmp_path / "tags.parquet"
    done = run_cli(
        "predict", str(source), "-m", model, "--text-column", "body",
        "--on-error", "skip", "-f", "parquet", "-o", str(out),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "skipped 2 rows:",
        f"  {source}:3: no 'body' value (null)",
        f"  {source}:4: empty 'body'",
    ]
    tagged = pq.read_table(out)
    themes = Predictor.load(model).themes
    assert tagged.column_names == [
        "source", "id", "kind", "start", "end", "themes", "review",
        *(f"score_{t}" for t in themes), "text",
    ]  # fmt: skip
    assert tagged.column("id").to_pylist() == ["a", "row:2"]
    assert "drills" in tagged.column("themes").to_pylist()[0]
    assert tagged.column("text").to_pylist() == [SENTENCES[0], SENTENCES[1]]


def test_a_parquet_file_without_text_is_one_clear_error(model, tmp_path):
    source = tmp_path / "numbers.parquet"
    pq.write_table(pa.table({"text": [1, 2]}), source)
    done = run_cli("predict", str(source), "-m", model)
    assert done.returncode == 1
    assert done.stderr.strip().startswith(f"error: {source}: column 'text' holds int64, not text")
    not_parquet = tmp_path / "broken.parquet"
    not_parquet.write_bytes(b"PAR1 but not really")
    done = run_cli("predict", str(not_parquet), "-m", model)
    assert done.returncode == 1 and "not a Parquet file" in done.stderr
    assert "Traceback" not in done.stderr
    done = run_cli("predict", "A drill.", "-m", model, "-f", "parquet")
    assert done.returncode == 1 and "add -o FILE.parquet" in done.stderr


def test_a_large_input_shows_a_summary_not_a_table_of_every_row(model, tmp_path):
    table = write_csv(tmp_path / "rows.csv", TABLE_ROWS + 700)
    done = run_cli("predict", str(table), "-m", model)
    assert done.returncode == 0, done.stderr
    assert f"All {TABLE_ROWS + 700:,} paragraphs" in done.stdout
    assert "--format jsonl, csv or parquet, with -o FILE" in done.stdout
    assert f"r{TABLE_ROWS - 1} " in done.stdout or f"r{TABLE_ROWS - 1}\n" in done.stdout
    assert f" r{TABLE_ROWS} " not in done.stdout  # the rows past the limit are not listed
    small = run_cli("predict", str(write_csv(tmp_path / "few.csv", 20)), "-m", model)
    assert "paragraphs. For every" not in small.stdout and "r19" in small.stdout


def test_a_bad_row_in_a_small_run_prints_nothing(model, tmp_path):
    table = tmp_path / "rows.jsonl"
    good = [json.dumps({"text": s}) for s in SENTENCES]
    table.write_text("\n".join([*good, "not json", *good]) + "\n", encoding="utf-8")
    done = run_cli("predict", str(table), "-m", model, "-f", "jsonl")
    assert done.returncode == 1 and done.stdout == ""
    assert f"{table}:8: not valid JSON" in done.stderr


def run_on_a_terminal(args: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``classify`` with stderr on a pseudo-terminal; returns its exit code and what the
    terminal showed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "classify", *args],
        stdout=subprocess.DEVNULL,
        stderr=follower,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "120", "TERM": "xterm"},
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the process closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    return process.wait(timeout=300), shown.decode("utf-8", "replace")


@pytest.mark.slow
def test_a_progress_bar_on_a_terminal_only_and_not_with_quiet(model, tmp_path):
    table = write_csv(tmp_path / "rows.csv", 30_000)
    out = str(tmp_path / "tags.jsonl")
    code, terminal = run_on_a_terminal(["predict", str(table), "-m", model, "-o", out], tmp_path)
    assert code == 0, terminal
    assert "paragraphs" in terminal and "/s" in terminal and "%" in terminal
    code, quiet = run_on_a_terminal(
        ["predict", str(table), "-m", model, "-o", out, "--quiet"], tmp_path
    )
    assert code == 0 and quiet.strip() == ""
    piped = run_cli("predict", str(table), "-m", model, "-o", out)
    assert piped.returncode == 0 and piped.stderr == ""


@pytest.mark.slow
def test_ctrl_c_exits_130_and_leaves_no_output(model, tmp_path):
    table = write_csv(tmp_path / "rows.csv", 400_000)
    out = tmp_path / "tags.jsonl"
    args = ["predict", str(table), "-m", model, "-f", "jsonl", "-o", str(out)]
    process = subprocess.Popen(
        [sys.executable, "-m", "classify", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 120
    partial: list[Path] = []
    while time.monotonic() < deadline and not partial:  # output is written as it goes
        partial = [p for p in tmp_path.glob(".tags.jsonl.*.tmp") if p.stat().st_size > 0]
        time.sleep(0.05)
    assert partial, "no output was written before the input was read through"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert b"interrupted" in stderr and b"Traceback" not in stderr
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


def test_predict_batches_reads_an_iterable_as_it_goes(trained):
    predictor = Predictor.load(trained[1])
    read = []

    def texts():
        for i in range(25):
            read.append(i)
            yield SENTENCES[i % len(SENTENCES)]

    batches = predictor.predict_batches(texts(), batch_size=10)
    first = next(batches)
    assert len(first) == 10 and len(read) == 10  # not one text more than the batch needs
    rest = list(batches)
    assert [len(b) for b in rest] == [10, 5]
    assert [p.themes for p in first] == [p.themes for p in predictor.predict(SENTENCES * 2)][:10]


def test_predict_frame_keeps_the_index_and_the_threshold(trained):
    predictor = Predictor.load(trained[1])
    frame = pd.DataFrame({"body": SENTENCES[:3], "n": [1, 2, 3]}, index=["x", "y", "z"])
    tagged = predictor.predict_frame(frame, text_column="body")
    assert list(tagged.index) == ["x", "y", "z"]
    np.testing.assert_allclose(
        tagged[[f"score_{t}" for t in predictor.themes]].to_numpy(), predictor.scores(SENTENCES[:3])
    )
    everything = predictor.predict_frame(frame, text_column="body", threshold=0.0)
    assert all(len(themes) == len(predictor.themes) for themes in everything["themes"])
    with pytest.raises(ClassifyError, match="no 'text' column"):
        predictor.predict_frame(frame)


@settings(max_examples=80)
@given(
    st.lists(
        st.tuples(
            st.text(max_size=30),  # source
            st.text(max_size=30),  # id
            st.text(st.characters(codec="utf-8"), max_size=200),  # text: quotes, controls, ...
            st.sampled_from(["body", "heading", "caption"]),
            st.one_of(st.none(), st.integers(0, 10**9)),
            st.lists(st.floats(0, 1), min_size=3, max_size=3),
            st.lists(st.booleans(), min_size=6, max_size=6),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_jsonl_lines_are_json_dumps_of_the_records(rows):
    from classify.predict.outputs import batch_records, jsonl_lines

    themes = ["drills", "state_effectiveness", "a-b"]
    paragraphs = [InputParagraph(s, i, t, k, None, n, n) for s, i, t, k, n, _, _ in rows]
    scores = np.array([r[5] for r in rows])
    flags = np.array([r[6] for r in rows])
    tags, review = flags[:, :3], flags[:, 3:] & ~flags[:, :3]
    expected = "".join(
        json.dumps(r, ensure_ascii=False) + "\n"
        for r in batch_records(paragraphs, scores, tags, review, themes)
    )
    assert jsonl_lines(paragraphs, scores, tags, review, themes) == expected
