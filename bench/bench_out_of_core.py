"""Out-of-core training: peak memory at 1x and 10x Reuters-21578, accuracy next to in memory.

    python bench/bench_out_of_core.py [--copies 10] [--data ../shared/data/reuters/...]

The 10x corpus is the 7,769 ModApte training documents cycled ``--copies`` times. Copy 0 is the
original; every other copy is a new paragraph (its own id) whose text is lightly perturbed,
seeded by copy and document: each word dropped with probability 0.05, and each remaining
neighbouring pair swapped with probability 0.05. The labels stay, and so does the group: every
copy of a document is in that document's group, so cross-validation never trains on one copy
and tests on another. It is written to a
temporary folder as one JSONL annotation file; nothing is copied into the project.

Each training runs in its own process (2 jobs), which reports its peak resident memory
(``ru_maxrss``), wall time and out-of-fold metrics; then the 3,019 test documents are scored
once with the bundle's engine. Peers in the same run: the in-memory linear SVM of
bench_reuters.py on the 1x corpus (its vocabulary, n-gram counts and every fold's matrices in
memory), and its peak memory on the 10x corpus with ``--in-memory-10x``.
Results: bench/results/out_of_core.md.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import write_result

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "reuters" / "reuters_modapte.jsonl.gz"
OUT_OF_CORE = {
    "features": {"hashed": {"analyzer": "word", "ngram_range": [1, 2], "n_features": 2**18}},
    "model": {"type": "sgd", "alpha": 1e-5, "class_weight": "none"},
    "training": {"out_of_core": True, "chunk_rows": 5000, "epochs": 5},
}
IN_MEMORY = {  # bench_reuters.py's linear SVM
    "features": {"word": {"ngram_range": [1, 2], "min_df": 2}},
    "model": {"type": "linear_svm", "C": 1.0, "class_weight": "none"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("--in-memory-10x", action="store_true")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return _child(args.child)

    with gzip.open(args.data, "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle]
    train_rows = [r for r in rows if r["split"] == "train"]
    test_rows = [r for r in rows if r["split"] == "test"]
    topics = sorted({t for r in rows for t in r["labels"]})
    folder = Path(tempfile.mkdtemp(prefix="bench-out-of-core-"))
    label_set = ['name = "reuters-r90"', 'version = "1"']
    label_set += [f'[[themes]]\nname = "{t}"' for t in topics]
    (folder / "topics.toml").write_text("\n".join(label_set) + "\n", encoding="utf-8")
    (folder / "test.json").write_text(json.dumps([[r["text"], r["labels"]] for r in test_rows]))
    sizes = {"1x": 1, f"{args.copies}x": args.copies}
    for name, copies in sizes.items():
        _write_cycled(folder / f"train-{name}.jsonl", train_rows, copies)
    del rows, train_rows, test_rows

    runs = [("out of core", "1x", OUT_OF_CORE), ("out of core", f"{args.copies}x", OUT_OF_CORE),
            ("in memory (linear SVM)", "1x", IN_MEMORY)]  # fmt: skip
    if args.in_memory_10x:
        runs.append(("in memory (linear SVM)", f"{args.copies}x", IN_MEMORY))
    table = [
        "| training | corpus | paragraphs | peak RSS | wall | CV micro / macro-F1 "
        "| test micro / macro-F1 |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, size, settings in runs:
        found = _run(folder, size, settings)
        table.append(
            f"| {label} | {size} | {found['paragraphs']:,} | {found['rss_mb']:,.0f} MB "
            f"| {found['seconds']:.0f} s | {found['cv_micro']:.3f} / {found['cv_macro']:.3f} "
            f"| {found['test_micro']:.3f} / {found['test_macro']:.3f} |"
        )
        print(table[-1], flush=True)
    write_result(
        "out_of_core",
        [
            f"Command: `python bench/bench_out_of_core.py --copies {args.copies}"
            + (" --in-memory-10x`" if args.in_memory_10x else "`"),
            "",
            *table,
            "",
            "Out of core: word 1-2-grams hashed into 2**18 columns, SGD (modified Huber, "
            "alpha 1e-5) by partial_fit, 5 epochs, chunks of 5,000 paragraphs, grouped 5-fold "
            "CV with F1 thresholds tuned inside each fold (one inner fold). In memory: "
            "bench_reuters.py's linear SVM (word 1-2-grams, min_df 2), 5-fold CV with F1 "
            "thresholds tuned on inner 5-fold CV. Both: 2 jobs, `thresholds.min_f1` 0.2 (the "
            "default), no MLflow, peak RSS of the training process (`ru_maxrss`). The 10x "
            "corpus is the training documents cycled with light perturbation (see the script's "
            "docstring); the test split is the ModApte test split in every row.",
        ],
    )


def _write_cycled(path: Path, rows: list[dict], copies: int) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for copy in range(copies):
            for r in rows:
                text = r["text"] if copy == 0 else _perturbed(r["text"], copy, int(r["id"]))
                record = {"id": f"{r['id']}~{copy}", "document": f"reuters-{r['id']}",
                          "text": text, "themes": r["labels"]}  # fmt: skip
                out.write(json.dumps(record) + "\n")


def _perturbed(text: str, copy: int, document: int) -> str:
    rng = np.random.default_rng([copy, document])
    words = [w for w in text.split() if rng.random() >= 0.05] or text.split()[:1]
    for i in range(len(words) - 1):
        if rng.random() < 0.05:
            words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def _run(folder: Path, size: str, settings: dict) -> dict:
    spec = folder / "child.json"
    spec.write_text(json.dumps({"folder": str(folder), "size": size, "settings": settings}))
    done = subprocess.run([sys.executable, __file__, "--child", str(spec)],
                          capture_output=True, text=True, check=False)  # fmt: skip
    if done.returncode:
        raise SystemExit(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _child(spec_path: Path) -> None:
    from classify.model.config import ExperimentConfig
    from classify.model.decision import apply_thresholds
    from classify.model.engine import ScoringEngine
    from classify.model.engine_export import export_pipeline
    from classify.training.metrics import compute_metrics
    from classify.training.train import train

    spec = json.loads(spec_path.read_text())
    folder = Path(spec["folder"])
    config = ExperimentConfig.from_dict(
        {
            "name": "reuters",
            "data": {"annotations": [f"train-{spec['size']}.jsonl"], "label_set": "topics.toml"},
            "thresholds": {"strategy": "f1"},
            "cv": {"strategy": "group_kfold", "folds": 5, "seed": 0},
            **spec["settings"],
            "base_dir": str(folder),
        }
    )
    started = time.perf_counter()
    result = train(config, n_jobs=2)
    seconds = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    names = result.label_set.names
    test = json.loads((folder / "test.json").read_text())
    engine = ScoringEngine(*export_pipeline(result.pipeline))
    scores = engine.scores([text for text, _ in test])
    tags = apply_thresholds(scores, np.array([result.thresholds[n] for n in names]))
    gold = np.array([[int(n in labels) for n in names] for _, labels in test])
    metrics = compute_metrics(gold, tags, names)
    print(json.dumps({
        "paragraphs": len(result.training), "rss_mb": rss_mb, "seconds": seconds,
        "cv_micro": result.cv.metrics.micro_f1, "cv_macro": result.cv.metrics.macro_f1,
        "test_micro": metrics.micro_f1, "test_macro": metrics.macro_f1,
    }))  # fmt: skip


if __name__ == "__main__":
    main()
