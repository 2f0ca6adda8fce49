"""Speed at every size: the scoring engine against the pipeline it replaces and fastText.

    python bench/bench_speed.py [--repeats 5] [--sizes 100000 1000000]

Needs the bench extra (fastText): pip install -e '.[bench]'. In one run, one machine:

* Throughput, one core, the same paragraphs: the engine (Predictor.scores, one process, and
  spread over 2 processes), the scikit-learn pipeline it replaces (theme_scores), and fastText
  (default settings, and with word bigrams) trained on the same authored paragraphs. Two sets of
  paragraphs: the labeled ones (seeds + authored) and the body paragraphs of Reuters-21578
  (distinct news text, read from ../shared/data). Each timed engine run starts a fresh engine,
  so its memo of seen words starts empty: the figures are not those of a warm cache.
* Cold start: `classify predict "one paragraph"` wall time against `python -c "import sklearn"`,
  and Predictor.load plus one prediction in a fresh interpreter (medians, in turns).
* Archives: `classify predict` on CSV files of 200,000 rows (1 and 2 jobs) and of each --sizes,
  JSONL out to a file: wall time and peak RSS.
* The default model's bundle: size on disk and load time.

Results: bench/results/speed.md.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import interleaved_medians, write_result

ROOT = Path(__file__).resolve().parent.parent
REUTERS = ROOT.parent / "shared" / "data" / "reuters" / "reuters_modapte.jsonl.gz"
ONE_CORE = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
JOBS_PARAGRAPHS = 100_000  # the --jobs comparison scores the paragraphs over, to at least this


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    args = parser.parse_args()
    os.environ.update(ONE_CORE)

    from classify.model.config import load_experiment
    from classify.training.train import load_labeled_data, train

    config = load_experiment(ROOT / "experiments" / "default.toml")
    labeled = load_labeled_data(config)
    # fastText first: trained after scikit-learn has run in this process, it diverges (NaN)
    fasttext_models = train_fasttext([p for p in labeled.paragraphs if p.source == "authored"])
    result = train(config, n_jobs=-1)
    work = Path(tempfile.mkdtemp(prefix="bench-speed-"))
    bundle = result.save(work / "models" / "default")
    sets = {"labeled (seeds + authored)": labeled.texts, "Reuters-21578 body paragraphs": reuters()}

    lines = [
        "Command: `.venv/bin/python bench/bench_speed.py "
        f"--repeats {args.repeats} --sizes {' '.join(map(str, args.sizes))}`",
        "",
        "The shipped default model (word 1-2 + char_wb 2-5 TF-IDF, logistic regression per theme),",
        "trained in the same run. One thread each (OMP/OpenBLAS threads 1); medians of "
        f"{args.repeats} runs, contenders in turns.",
        "",
    ]
    lines += throughput(bundle, result.pipeline, sets, fasttext_models, args.repeats)
    lines += cold_start(bundle, args.repeats)
    lines += archives(bundle, labeled.texts, work, args.sizes)
    lines += bundle_figures(bundle, args.repeats)
    write_result("speed", lines)


def reuters() -> list[str]:
    from classify.data.segment import segment

    paragraphs = []
    with gzip.open(REUTERS, "rt", encoding="utf-8") as rows:
        for line in rows:
            document = json.loads(line)
            for p in segment(document["text"], str(document["id"])):
                if p.kind == "body":
                    paragraphs.append(p.text)
    return paragraphs


def throughput(bundle, pipeline, sets, fasttext_models, repeats) -> list[str]:
    lines = [
        "## Throughput (paragraphs per second, one core)",
        "",
        "| paragraphs | engine | engine, --jobs 2 | scikit-learn pipeline | fastText default "
        "| fastText word bigrams | engine / fastText default | engine / fastText bigrams "
        "| jobs 2 / jobs 1 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, texts in sets.items():
        seconds = contenders_seconds(bundle, pipeline, texts, fasttext_models, repeats)
        parallel = jobs_seconds(bundle, texts, repeats)
        rate = {key: len(texts) / value for key, value in seconds.items()}
        rate["jobs"] = parallel[0] / parallel[2]
        rate["one"] = parallel[0] / parallel[1]
        lines.append(
            f"| {name}: {len(texts):,}, {mean_chars(texts):,} characters on average "
            f"| {rate['engine']:,.0f} | {rate['jobs']:,.0f} | {rate['pipeline']:,.0f} "
            f"| {rate['fasttext']:,.0f} | {rate['bigrams']:,.0f} "
            f"| {rate['engine'] / rate['fasttext']:.2f} | {rate['engine'] / rate['bigrams']:.2f} "
            f"| {rate['jobs'] / rate['one']:.2f} |"
        )
    return [
        *lines,
        "",
        "Engine: `Predictor.scores` (normalisation, the compiled kernel, the themes' outputs). "
        "--jobs 2: `tag_stream` over the paragraphs again and again "
        f"(at least {JOBS_PARAGRAPHS:,}), one process against two worker processes (start-up "
        "included); the last column is that speed-up. fastText: "
        "`predict(texts, k=-1, threshold=0)` (every label's probability), trained on the authored "
        "paragraphs with its default settings.",
        "",
    ]


def contenders_seconds(bundle, pipeline, texts, fasttext_models, repeats) -> dict[str, float]:
    """Median seconds of each contender scoring ``texts``, run in turns."""
    from classify.model.pipeline import theme_scores
    from classify.predict.predictor import Predictor

    flat = [" ".join(t.split()) for t in texts]  # fastText reads one line per text

    def engine() -> float:
        predictor = Predictor.load(bundle)  # fresh: its memo of words starts empty
        started = time.perf_counter()
        predictor.scores(texts)
        return time.perf_counter() - started

    runs = {
        "engine": engine,
        "pipeline": lambda: timed(lambda: theme_scores(pipeline, texts)),
        "fasttext": lambda: timed(lambda: fasttext_models[0].predict(flat, k=-1, threshold=0)),
        "bigrams": lambda: timed(lambda: fasttext_models[1].predict(flat, k=-1, threshold=0)),
    }
    timings: dict[str, list[float]] = {key: [] for key in runs}
    for _ in range(repeats):  # in turns, so that a change in load hits every contender
        for key, run in runs.items():
            timings[key].append(run())
    return {key: statistics.median(values) for key, values in timings.items()}


def jobs_seconds(bundle, texts, repeats) -> dict[int, float]:
    from classify.data.inputs import InputParagraph
    from classify.predict.predictor import Predictor
    from classify.predict.stream import tag_stream

    times = max(1, -(-JOBS_PARAGRAPHS // len(texts)))  # enough that start-up is a small part
    paragraphs = [InputParagraph("<bench>", f"p:{i}", t) for i, t in enumerate(texts * times)]
    predictor = Predictor.load(bundle)

    def run(jobs: int) -> int:
        return sum(1 for _ in tag_stream(predictor, paragraphs, jobs=jobs))

    seconds = interleaved_medians({1: lambda: run(1), 2: lambda: run(2)}, repeats)
    return {0: len(paragraphs), **seconds}


def train_fasttext(paragraphs) -> list:
    import fasttext

    path = Path(tempfile.mkdtemp()) / "train.txt"
    with open(path, "w", encoding="utf-8") as out:
        for p in paragraphs:
            labels = " ".join(f"__label__{t}" for t in p.themes) or "__label__none"
            out.write(f"{labels} {' '.join(p.text.split())}\n")
    return [
        fasttext.train_supervised(str(path), verbose=0),
        fasttext.train_supervised(str(path), verbose=0, wordNgrams=2),
    ]


def cold_start(bundle, repeats) -> list[str]:
    predict = [sys.executable, "-m", "classify", "predict", "-m", str(bundle), "A drill."]
    load = [
        sys.executable,
        "-c",
        f"from classify import Predictor; Predictor.load({str(bundle)!r}).predict(['A drill.'])",
    ]
    sklearn = [sys.executable, "-c", "import sklearn"]
    medians = interleaved_medians(
        {name: lambda c=command: run_quietly(c) for name, command in
         (("predict", predict), ("load", load), ("sklearn", sklearn))},
        repeats,
    )  # fmt: skip
    return [
        "## Cold start (wall, fresh interpreter)",
        "",
        "| what | median | against `import sklearn` |",
        "|---|---|---|",
        f'| `classify predict "A drill."` | {medians["predict"]:.2f} s '
        f"| {medians['predict'] / medians['sklearn']:.2f} |",
        f"| `Predictor.load` + one prediction | {medians['load']:.2f} s "
        f"| {medians['load'] / medians['sklearn']:.2f} |",
        f'| `python -c "import sklearn"` | {medians["sklearn"]:.2f} s | 1.00 |',
        "",
    ]


def archives(bundle, texts, work, sizes) -> list[str]:
    lines = [
        "## Archives: `classify predict FILE.csv -f jsonl -o OUT.jsonl`",
        "",
        "| rows | jobs | wall | paragraphs/s | peak RSS |",
        "|---|---|---|---|---|",
    ]
    for rows, jobs in [(200_000, 1), (200_000, 2), *((size, 1) for size in sizes)]:
        table = work / f"rows-{rows}.csv"
        if not table.exists():
            write_rows(table, texts, rows)
        out = work / "out.jsonl"
        command = [sys.executable, "-m", "classify", "predict", str(table), "-m", str(bundle)]
        command += ["-f", "jsonl", "-o", str(out), "-j", str(jobs), "--quiet"]
        wall, peak = peak_rss(command)
        lines.append(
            f"| {rows:,} | {jobs} | {wall:.1f} s | {rows / wall:,.0f} | {peak / 2**20:,.0f} MB |"
        )
    return [
        *lines,
        "",
        "Rows: the labeled paragraphs again and again, each with its own id. Peak RSS: the "
        "largest of the command's processes (`wait4` from a fresh process), workers included. "
        "Before this engine, "
        "the 200,000-row CSV took 1 min 55 s and 3.3 GB (issue 11).",
        "",
    ]


def bundle_figures(bundle, repeats) -> list[str]:
    from classify.model.bundle_folders import resolve_version
    from classify.predict.predictor import Predictor

    version = resolve_version(Path(bundle))
    sizes = {p.name: p.stat().st_size for p in sorted(version.iterdir())}
    load = interleaved_medians({"load": lambda: Predictor.load(bundle)}, repeats)["load"]
    listed = ", ".join(f"{name} {size / 2**20:.1f} MB" for name, size in sizes.items())
    return [
        "## The default model bundle",
        "",
        f"Files: {listed}; {sum(sizes.values()) / 2**20:.1f} MB in all. "
        f"`Predictor.load` (warm file cache, median): {load * 1000:.0f} ms.",
        "",
    ]


def write_rows(path: Path, texts: list[str], rows: int) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        for i in range(rows):
            writer.writerow([f"r{i}", texts[i % len(texts)]])


# A fresh, small interpreter that starts the command and reports its peak RSS: Linux counts a
# process's peak from before exec, so a command started straight from this (large) process
# would report this one's peak; started from a fresh one it starts small.
_MEASURE = (
    "import os, subprocess, sys\n"
    "child = subprocess.Popen(sys.argv[1:])\n"
    "_, status, usage = os.wait4(child.pid, 0)\n"
    "print(usage.ru_maxrss, file=sys.stderr)\n"
    "sys.exit(os.waitstatus_to_exitcode(status))\n"
)


def peak_rss(command: list[str]) -> tuple[float, int]:
    """Wall seconds and the largest peak RSS (bytes) of the command and its children."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command], capture_output=True, text=True
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr}")
    kib = int(done.stderr.strip().splitlines()[-1])  # Linux: KiB, of it and its waited children
    return wall, kib * 1024


def run_quietly(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True)


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def mean_chars(texts: list[str]) -> int:
    return round(sum(map(len, texts)) / len(texts))


if __name__ == "__main__":
    main()
