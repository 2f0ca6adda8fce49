"""Training and prediction speed of the default experiment on the seeds.

    python bench/bench_predict.py [--repeats 7] [--paragraphs 10000]

Measures, in one run: training time (cross-validation + final fit), `Predictor.predict` over a
batch of paragraphs against two baselines (the bare scikit-learn pipeline's `predict_proba` on the
same batch, and a Python loop that predicts one paragraph at a time), bundle save and load time
against a joblib pickle of the same pipeline (the unsafe format bundles used before), and the
wall time of the `classify predict` command on one seed article. Results: bench/results/predict.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import joblib
from _common import interleaved_medians, median_seconds, write_result

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--paragraphs", type=int, default=10_000)
    args = parser.parse_args()

    from classify.model.config import load_experiment
    from classify.predict.predictor import Predictor
    from classify.training.train import load_labeled_data, train

    config = load_experiment(ROOT / "experiments" / "default.toml")
    train_median, _ = median_seconds(lambda: train(config, n_jobs=-1), 3)
    result = train(config, n_jobs=-1)
    models = Path(tempfile.mkdtemp())
    bundle = result.save(models / "default")
    # baseline: the same fitted pipeline as a joblib pickle (the bundle format before issue 5)
    pickled = models / "pipeline.joblib"
    persistence = interleaved_medians(
        {
            "save": lambda: result.save(models / "default"),
            "save_pickle": lambda: joblib.dump(result.pipeline, pickled),
            "load": lambda: Predictor.load(bundle),
            "load_pickle": lambda: joblib.load(pickled),
        },
        args.repeats,
    )
    predictor = Predictor.load(bundle)

    # real article text to score: the seed paragraphs (the default model never trained on them)
    paragraphs = load_labeled_data(config).where(sources=["seeds"]).texts
    batch = (paragraphs * (args.paragraphs // len(paragraphs) + 1))[: args.paragraphs]
    medians = interleaved_medians(
        {
            "ours": lambda: predictor.predict(batch),
            "bare": lambda: result.pipeline.predict_proba(batch),
        },
        args.repeats,
    )
    ours, bare = medians["ours"], medians["bare"]
    loop_size = min(1000, len(batch))
    loop, _ = median_seconds(lambda: [predictor.predict([t]) for t in batch[:loop_size]], 3)
    loop_per_paragraph = loop / loop_size

    seed = ROOT / "seeds" / "004_69f23285355f99cd.txt"
    command = [
        sys.executable,
        "-m",
        "classify",
        "predict",
        str(seed),
        "-m",
        str(bundle),
        "-f",
        "jsonl",
    ]
    cli, _ = median_seconds(lambda: subprocess.run(command, check=True, capture_output=True), 5)
    imports = [sys.executable, "-c", "import sklearn.linear_model, sklearn.feature_extraction.text"]
    sklearn_import, _ = median_seconds(lambda: subprocess.run(imports, check=True), 5)

    n = len(batch)
    write_result(
        "predict",
        [
            f"Default experiment (`experiments/default.toml`: trained on the authored set, "
            f"cross-validated on the seeds), scoring copies of the {len(paragraphs)} seed "
            f"paragraphs; medians of {args.repeats} runs unless noted.",
            "",
            "| what | median | per paragraph | throughput | vs baseline |",
            "|---|---|---|---|---|",
            f"| `train(config, n_jobs=-1)`: CV + final fit (median of 3) "
            f"| {train_median:.2f} s | | | |",
            f"| save the bundle (engine arrays, skops pipeline, checksums, fsync) "
            f"| {persistence['save'] * 1000:.0f} ms | | "
            f"| {persistence['save'] / persistence['save_pickle']:.2f}x the pickle |",
            f"| `joblib.dump` of the same pipeline (baseline) "
            f"| {persistence['save_pickle'] * 1000:.0f} ms | | | 1.00x |",
            f"| load the bundle (checksums, engine arrays; no scikit-learn) "
            f"| {persistence['load'] * 1000:.0f} ms | | "
            f"| {persistence['load'] / persistence['load_pickle']:.2f}x the pickle |",
            f"| `joblib.load` of the same pipeline (baseline, unsafe) "
            f"| {persistence['load_pickle'] * 1000:.0f} ms | | | 1.00x |",
            f"| `Predictor.predict`, batch of {n:,} | {ours:.2f} s | {ours / n * 1e6:.0f} µs "
            f"| {n / ours:,.0f} /s | {ours / bare:.2f}x the bare pipeline |",
            f"| bare `pipeline.predict_proba`, same batch (baseline) | {bare:.2f} s "
            f"| {bare / n * 1e6:.0f} µs | {n / bare:,.0f} /s | 1.00x |",
            f"| `predict` one paragraph at a time, {loop_size:,} calls (median of 3) "
            f"| {loop:.2f} s | {loop_per_paragraph * 1e6:.0f} µs "
            f"| {1 / loop_per_paragraph:,.0f} /s "
            f"| {loop_per_paragraph / (ours / n):.0f}x slower than the batch |",
            f"| `classify predict` on one seed article (36 paragraphs), wall (median of 5) "
            f"| {cli:.2f} s | | | |",
            f"| importing scikit-learn alone, wall (median of 5) | {sklearn_import:.2f} s | | | |",
        ],
    )


if __name__ == "__main__":
    main()
