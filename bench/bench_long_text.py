"""Scoring one very long paragraph: chunked vectorisation against the plain transform.

    python bench/bench_long_text.py [--repeats 3] [--sizes 1 5 20] [--chunk-sizes 10000 ...]

Trains the default experiment (`experiments/default.toml`: word 1-2-grams + char_wb 2-5-grams),
then scores single paragraphs of 1, 5 and 20 million characters (real labeled paragraphs, English
and Russian, run together on one line) with `theme_scores`: chunked (the code as it is) and plain
(the same call with chunking switched off, `LONG_TEXT_CHARS = sys.maxsize`: one
`pipeline[:-1].transform` of the whole paragraph, as before). Every case runs in a process of its
own, which reports the wall and CPU time of the scoring call, its peak RSS while scoring (Linux
/proc/self/status, with the peak reset just before the call) and the process's peak overall.
Cases run in turns, so that machine load hits both alike. The plain case is skipped at a size
where its projected peak (linear in the length, from the two smaller sizes) is over `--max-gb`.
Then chunked runs with other chunk sizes (`LONG_TEXT_CHARS`) on the middle paragraph size show
what the chunk size costs. Last, `classify predict FILE -f jsonl` runs once on the largest
paragraph as a file: the whole path (reading, segmenting, scoring, writing), its peak RSS read
with `wait4`. Results: bench/results/long_text.md.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import write_result

ROOT = Path(__file__).resolve().parent.parent
MODES = ("chunked", "plain")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--sizes", type=int, nargs="+", default=[1, 5, 20], help="millions of chars"
    )
    parser.add_argument(
        "--max-gb", type=float, default=10.0, help="skip plain runs projected above"
    )
    parser.add_argument(
        "--chunk-sizes",
        type=int,
        nargs="*",
        default=[10_000, 30_000, 100_000, 300_000, 1_000_000],
        help="chunk sizes to compare on the middle paragraph size (none: skip)",
    )
    parser.add_argument(
        "--worker", nargs=3, metavar=("MODE", "CHARS", "BUNDLE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.worker:
        mode, chars, bundle = args.worker
        print(json.dumps(_score(mode, int(chars), Path(bundle))))
        return

    from classify.model.config import load_experiment
    from classify.training.train import train

    load_at_start = os.getloadavg()[0]
    started = time.perf_counter()
    result = train(load_experiment(ROOT / "experiments" / "default.toml"), n_jobs=-1)
    print(f"trained the default experiment in {time.perf_counter() - started:.0f} s", flush=True)
    folder = Path(tempfile.mkdtemp())
    bundle = result.save(folder / "default")

    runs: dict[tuple[str, int], list[dict]] = {}
    skipped: dict[int, float] = {}
    for size in sorted(args.sizes):
        chars = size * 1_000_000
        modes = list(MODES)
        projected = _projected_plain_gb(runs, chars)
        if projected is not None and projected > args.max_gb:
            skipped[size] = projected
            modes.remove("plain")
        for _ in range(args.repeats):
            for mode in modes:
                run = json.loads(_run([__file__, "--worker", mode, str(chars), str(bundle)]))
                runs.setdefault((mode, chars), []).append(run)
                print(mode, size, run, flush=True)

    # chunk sizes (LONG_TEXT_CHARS) on the middle paragraph size, in turns
    sweep = sorted(args.sizes)[len(args.sizes) // 2] * 1_000_000
    by_chunk: dict[int, list[dict]] = {}
    for _ in range(args.repeats if args.chunk_sizes else 0):
        for chunk in args.chunk_sizes:
            worker = [__file__, "--worker", f"chunked:{chunk}", str(sweep), str(bundle)]
            by_chunk.setdefault(chunk, []).append(json.loads(_run(worker)))
            print("chunk", chunk, by_chunk[chunk][-1], flush=True)

    # the whole command on the largest paragraph, as a file
    largest = max(args.sizes) * 1_000_000
    document = folder / "paragraph.txt"
    document.write_text(_paragraph(largest), encoding="utf-8")
    started = time.perf_counter()
    out = folder / "out.jsonl"
    command = ["predict", str(document), "-m", str(bundle), "-f", "jsonl", "-o", str(out)]
    output, peak_kb = _run_measured([sys.executable, "-m", "classify", *command])
    cli_seconds = time.perf_counter() - started
    rows = len(out.read_text(encoding="utf-8").splitlines())

    lines = [
        "Command: `.venv/bin/python bench/bench_long_text.py "
        f"--repeats {args.repeats} --sizes {' '.join(map(str, args.sizes))} "
        f"--chunk-sizes {' '.join(map(str, args.chunk_sizes))}`",
        "",
        "Default experiment (word 1-2-grams + char_wb 2-5-grams, one-vs-rest logistic regression), "
        "trained in the same run. One paragraph of real labeled text (English and Russian, "
        "one line), scored by `theme_scores` in a fresh process per run: *chunked* is the code as "
        "it is (chunks of `LONG_TEXT_CHARS` characters); *plain* switches chunking off "
        "(one `pipeline[:-1].transform` of the whole paragraph, the code before). Time: the "
        "scoring call only (medians; CPU time beside it, as the machine is shared). Memory "
        "(medians, from /proc/self/status): RSS just before the scoring call (Python, the model, "
        "the text), the peak RSS during the call (`VmHWM`, reset before it) and what the call "
        "added, and the process's peak overall (loading the model alone peaks at "
        f"{statistics.median(r['loaded_peak_mb'] for rs in runs.values() for r in rs):.0f} MB).",
        "",
        "| paragraph | UTF-8 size | way | runs | wall | CPU | RSS before | peak while scoring "
        "| added by scoring | process peak |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for size in sorted(args.sizes):
        chars = size * 1_000_000
        for mode in MODES:
            measured = runs.get((mode, chars))
            if not measured:
                lines.append(
                    f"| {size}M chars | | {mode} | 0 | skipped: projected peak "
                    f"{skipped[size]:.1f} GB > {args.max_gb:g} GB | | | | | |"
                )
                continue
            wall = statistics.median(r["seconds"] for r in measured)
            cpu = statistics.median(r["cpu_seconds"] for r in measured)
            before, scoring, peak = (
                statistics.median(r[key] for r in measured)
                for key in ("before_mb", "scoring_peak_mb", "peak_mb")
            )
            lines.append(
                f"| {size}M chars | {measured[0]['utf8_mb']:.1f} MB | {mode} | {len(measured)} "
                f"| {wall:.1f} s | {cpu:.1f} s | {before:,.0f} MB | {scoring:,.0f} MB "
                f"| +{scoring - before:,.0f} MB | {peak:,.0f} MB |"
            )
    if by_chunk:
        lines += [
            "",
            f"Chunk size (`LONG_TEXT_CHARS`) against speed and memory, chunked, one paragraph of "
            f"{sweep // 1_000_000}M characters (medians of {args.repeats} runs, in turns):",
            "",
            "| chunk size | wall | CPU | added by scoring |",
            "|---|---|---|---|",
        ]
        for chunk, measured in by_chunk.items():
            wall, cpu, before, peak = (
                statistics.median(r[key] for r in measured)
                for key in ("seconds", "cpu_seconds", "before_mb", "scoring_peak_mb")
            )
            lines.append(f"| {chunk:,} | {wall:.1f} s | {cpu:.1f} s | +{peak - before:,.0f} MB |")
    lines += [
        "",
        f"`classify predict` on the {max(args.sizes)}M-character paragraph as a file "
        f"(`-f jsonl -o out.jsonl`, one run): {cli_seconds:.1f} s wall, peak RSS "
        f"{peak_kb / 1024:,.0f} MB, {rows} output row(s).",
    ]
    if output:
        lines.append(f"stdout: {output.strip()[:200]}")
    lines += [
        "",
        f"Load average (1 min) at the start {load_at_start:.1f}, at the end "
        f"{os.getloadavg()[0]:.1f}, on {os.cpu_count()} cores (other work may share the machine).",
    ]
    write_result("long_text", lines)


def _score(mode: str, chars: int, bundle: Path) -> dict:
    """One case, in this (fresh) process: load the model, build the text, time the scoring."""
    import classify.model.pipeline
    from classify.predict.predictor import Predictor

    predictor = Predictor.load(bundle)
    text = _paragraph(chars)
    if mode == "plain":
        classify.model.pipeline.LONG_TEXT_CHARS = (
            sys.maxsize
        )  # every text goes through one transform
    elif mode.startswith("chunked:"):
        classify.model.pipeline.LONG_TEXT_CHARS = int(mode.removeprefix("chunked:"))
    loaded_peak = _status_mb("VmHWM")  # loading the model peaks higher than it stays
    gc.collect()
    before = _status_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM restarts from VmRSS
    started, cpu = time.perf_counter(), time.process_time()
    scores = classify.model.pipeline.theme_scores(predictor.pipeline, [text])
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    assert scores.shape == (1, len(predictor.themes))
    scoring_peak = _status_mb("VmHWM")
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "before_mb": before,
        "scoring_peak_mb": scoring_peak,
        "loaded_peak_mb": loaded_peak,
        "peak_mb": max(loaded_peak, scoring_peak),
        "utf8_mb": len(text.encode("utf-8")) / 1e6,
    }


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in MB."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024


def _paragraph(chars: int) -> str:
    """Real labeled paragraphs run together into one line of exactly ``chars`` characters."""
    from classify.model.config import load_experiment
    from classify.training.train import load_labeled_data

    texts = load_labeled_data(load_experiment(ROOT / "experiments" / "default.toml")).texts
    joined = " ".join(" ".join(text.split()) for text in texts) + " "
    return (joined * (chars // len(joined) + 1))[: chars - 1] + "."


def _run(command: list[str]) -> str:
    completed = subprocess.run([sys.executable, *command], check=True, capture_output=True)
    return completed.stdout.decode()


def _run_measured(command: list[str]) -> tuple[str, int]:
    """Run a command; its stdout and its own peak RSS in KB (``wait4`` reports per child)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT)
    output = process.stdout.read().decode() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed with status {process.returncode}")
    return output, usage.ru_maxrss


def _projected_plain_gb(runs: dict[tuple[str, int], list[dict]], chars: int) -> float | None:
    """The plain case's peak RSS at ``chars``, extrapolated from the two largest sizes run."""
    measured = sorted(
        (c, statistics.median(r["scoring_peak_mb"] for r in rs))
        for (mode, c), rs in runs.items()
        if mode == "plain"
    )
    if len(measured) < 2:
        return None
    (c1, p1), (c2, p2) = measured[-2:]
    return (p2 + (p2 - p1) / (c2 - c1) * (chars - c2)) / 1024


if __name__ == "__main__":
    main()
