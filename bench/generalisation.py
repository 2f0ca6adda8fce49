"""How well models generalise: every shipped experiment x every data mix, evaluated honestly.

    python bench/generalisation.py [experiments/*.toml] [--track]

Experiments are grouped by label set, one result file each: bench/results/generalisation.md for
the themes, generalisation-<column>.md for another (generalisation-narratives.md). Out-of-core
experiments are left out (they evaluate on their training rows only).

For each experiment file and each data mix (`seeds`, `authored`, `seeds+authored`):

- "on seeds": the seed documents are held out one at a time (leave-one-document-out), each scored
  by a model trained on the mix minus that document. For the `authored` mix this is
  train-on-authored / test-on-seeds; for `seeds` it is seed LODO cross-validation; for
  `seeds+authored` the authored set trains in every fold.
- "on authored": the authored stories in 5 grouped folds, the same way (for the `seeds` mix:
  train-on-seeds / test-on-authored), split by language (en/ru).

Thresholds are tuned per theme inside each training side only. Nothing is tuned on the rows
scored. With --track every run is also logged to MLflow (experiment "generalisation"), so the
runs line up in the UI. Result: bench/results/generalisation.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _common import write_result

ROOT = Path(__file__).resolve().parent.parent
MIXES = ("seeds", "authored", "seeds+authored")
EVALUATIONS = {
    "seeds": ['cv.evaluate_on="seeds"', 'cv.strategy="leave_one_document_out"'],
    "authored": ['cv.evaluate_on="authored"', 'cv.strategy="group_kfold"'],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="*", type=Path)
    parser.add_argument("--track", action="store_true", help="log every run to MLflow")
    args = parser.parse_args()
    files = args.experiments or sorted((ROOT / "experiments").glob("*.toml"))

    from classify.data.labels import load_label_set
    from classify.model.config import load_experiment

    by_label_set: dict[str, list[Path]] = {}
    for path in files:
        config = load_experiment(path)
        if not config.training.out_of_core:
            column = load_label_set(config.resolve(config.data.label_set)).column
            by_label_set.setdefault(column, []).append(path)
    for column, paths in by_label_set.items():
        name = "generalisation" if column == "themes" else f"generalisation-{column}"
        _measure(paths, name, track=args.track)


def _measure(files: list[Path], result_name: str, *, track: bool) -> None:
    from classify.model.config import load_experiment
    from classify.training.train import train

    names = None
    seeds_rows: list[str] = []
    authored_rows: list[str] = []
    counts: list[str] = []
    for path in files:
        for mix in MIXES:
            for evaluated, overrides in EVALUATIONS.items():
                settings = [f'data.mix="{mix}"', 'mlflow_experiment="generalisation"', *overrides]
                config = load_experiment(path, settings)
                started = time.perf_counter()
                result = _train(config) if track else train(config, n_jobs=-1)
                seconds = time.perf_counter() - started
                names = result.label_set.names
                metrics = result.cv.metrics
                f1s = " | ".join(f"{t.f1:.2f}" for t in metrics.themes)
                row = f"| {config.name} | {mix} | {f1s} | **{metrics.macro_f1:.3f}** "
                if evaluated == "seeds":
                    seeds_rows.append(row + f"| {metrics.micro_f1:.3f} | {seconds:.0f} s |")
                    tagged = " | ".join(f"{t.predicted}/{t.support}" for t in metrics.themes)
                    counts.append(f"| {config.name} | {mix} | {tagged} |")
                else:
                    by_lang = result.cv.breakdown["lang"]
                    langs = " | ".join(
                        f"{by_lang[lang].macro_f1:.3f}" if lang in by_lang else "-"
                        for lang in ("en", "ru")
                    )
                    authored_rows.append(row + f"| {langs} | {seconds:.0f} s |")
                print(row, evaluated, flush=True)

    header = "| experiment | mix | " + " | ".join(names) + " | macro-F1 |"
    rule = "|---|---|" + "---|" * len(names) + "---|"
    write_result(
        result_name,
        [
            f"Command: `python bench/generalisation.py {' '.join(map(str, files))}`",
            "",
            "Per-theme F1 and macro-F1; every figure is out-of-fold (see the script's docstring "
            "for the protocol). Rows with mix `authored` in the first table are "
            "train-on-authored / test-on-seeds; rows with mix `seeds` in the second are "
            "train-on-seeds / test-on-authored.",
            "",
            "## Evaluated on the seed paragraphs (real articles, English; LODO by document)",
            "",
            header + " micro-F1 | time |",
            rule + "---|---|",
            *seeds_rows,
            "",
            "Paragraphs tagged / gold count per theme on the seeds:",
            "",
            "| experiment | mix | " + " | ".join(names) + " |",
            "|---|---|" + "---|" * len(names),
            *counts,
            "",
            "## Evaluated on the authored paragraphs (5 grouped folds; English and Russian)",
            "",
            header + " en macro-F1 | ru macro-F1 | time |",
            rule + "---|---|---|",
            *authored_rows,
        ],
    )


def _train(config):
    """Train with an MLflow run (no model bundle: these are evaluation runs)."""
    from classify.track.tracker import MlflowTracker
    from classify.training.train import train

    tracker = MlflowTracker()
    tracker.start(config)
    try:
        result = train(config, n_jobs=-1)
        tracker.log(result, None)
    except BaseException:
        tracker.finish(failed=True)
        raise
    tracker.finish(failed=False)
    return result


if __name__ == "__main__":
    main()
