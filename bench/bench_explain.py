"""What rationales cost: scoring against explaining, the same paragraphs, one run.

    python bench/bench_explain.py [--repeats 5]

The shipped default model, trained in the same run. On the labeled paragraphs (seeds + authored):
paragraphs per second of Predictor.scores, of Predictor.predict, and of Predictor.explain (every
assigned and review theme and the nearest miss, with all terms); and `classify predict` of the
same paragraphs as a CSV file, to JSONL, with and without --explain (wall, start-up included).
Medians, contenders in turns. Results: bench/results/explain.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import interleaved_medians, write_result

ROOT = Path(__file__).resolve().parent.parent
ONE_CORE = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    os.environ.update(ONE_CORE)

    from classify.model.config import load_experiment
    from classify.predict.predictor import Predictor
    from classify.training.train import load_labeled_data, train

    config = load_experiment(ROOT / "experiments" / "default.toml")
    texts = load_labeled_data(config).texts
    work = Path(tempfile.mkdtemp(prefix="bench-explain-"))
    bundle = train(config, n_jobs=-1).save(work / "models" / "default")
    predictor = Predictor.load(bundle)
    seconds = interleaved_medians(
        {
            "scores": lambda: predictor.scores(texts),
            "predict": lambda: predictor.predict(texts),
            "explain": lambda: predictor.explain(texts),
        },
        args.repeats,
    )
    table = work / "paragraphs.csv"
    with open(table, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows((i, text) for i, text in enumerate(texts))
    command = [sys.executable, "-m", "classify", "predict", str(table), "-m", str(bundle), "-q"]
    command += ["-f", "jsonl", "-o", str(work / "out.jsonl")]
    cli = interleaved_medians(
        {
            "plain": lambda: subprocess.run(command, check=True),
            "explained": lambda: subprocess.run([*command, "--explain"], check=True),
        },
        args.repeats,
    )
    n = len(texts)
    rate = {key: n / value for key, value in seconds.items()}
    lines = [
        f"Command: `.venv/bin/python bench/bench_explain.py --repeats {args.repeats}`",
        "",
        f"The shipped default model (word 1-2 + char_wb 2-5, logistic regression), trained in the "
        f"same run; the {n:,} labeled paragraphs (seeds + authored). One thread; medians of "
        f"{args.repeats} runs, contenders in turns.",
        "",
        "| what | paragraphs/s | ms per paragraph | against scores |",
        "|---|---|---|---|",
    ]
    for key, label in (
        ("scores", "`Predictor.scores`"),
        ("predict", "`Predictor.predict`"),
        ("explain", "`Predictor.explain` (all terms of every explained theme)"),
    ):
        lines.append(
            f"| {label} | {rate[key]:,.0f} | {1000 / rate[key]:.3f} "
            f"| {seconds[key] / seconds['scores']:.1f}x |"
        )
    lines += [
        "",
        f"`classify predict` of the {n:,} paragraphs as CSV, JSONL to a file (wall, start-up "
        "included):",
        "",
        "| run | seconds | paragraphs/s |",
        "|---|---|---|",
        f"| plain | {cli['plain']:.2f} | {n / cli['plain']:,.0f} |",
        f"| --explain | {cli['explained']:.2f} | {n / cli['explained']:,.0f} |",
        "",
        f"--explain costs {(cli['explained'] - cli['plain']) / n * 1000:.2f} ms a paragraph "
        "here. Rationales are computed in Python on top of the compiled kernel's features (the "
        "n-grams located in the original text, their contributions shared out to words); "
        "--jobs spreads them over processes like the scores.",
    ]
    write_result("explain", lines)


if __name__ == "__main__":
    main()
