"""Two training runs side by side: per-theme metric deltas and the paragraphs whose tags flipped.

:func:`compare_runs` reads both runs' metrics and out-of-fold predictions
(``evaluation/oof_predictions.csv``) from the MLflow store and returns a :class:`Comparison`:
precision, recall and F1 per theme, B minus A, and every paragraph scored by both runs whose
out-of-fold tags differ, judged against the gold labels each run was evaluated on.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from classify.errors import ClassifyError
from classify.track.runs import (
    DEFAULT_EXPERIMENT,
    PER_THEME,
    RunSummary,
    mlflow_client,
    resolve_run,
    run_summary,
    union_themes,
)

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

OOF_ARTIFACT = "evaluation/oof_predictions.csv"

Change = Literal["better", "worse", "mixed"]


@dataclass(frozen=True)
class MetricDelta:
    """One metric of both runs: ``theme`` is a theme, or ``micro`` / ``macro``."""

    theme: str
    metric: str  # precision, recall or f1
    a: float | None
    b: float | None

    @property
    def delta(self) -> float | None:
        """B minus A, or ``None`` when either run lacks the metric."""
        return None if self.a is None or self.b is None else self.b - self.a


@dataclass(frozen=True)
class Flip:
    """A paragraph whose out-of-fold tags differ between the two runs."""

    id: str
    gold: tuple[str, ...]
    a: tuple[str, ...]
    b: tuple[str, ...]
    # better/worse: B makes fewer/more wrong theme decisions than A; mixed: as many, but others
    change: Change
    text: str | None  # None when a run was logged without paragraph text


@dataclass(frozen=True)
class Comparison:
    """Run B against run A: metric deltas (B - A) and flipped paragraphs."""

    a: RunSummary
    b: RunSummary
    deltas: tuple[MetricDelta, ...]
    flips: tuple[Flip, ...]
    both: int  # paragraphs scored by both runs
    only_a: tuple[str, ...]  # ids of paragraphs scored by A only
    only_b: tuple[str, ...]
    notes: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        """How many paragraphs were compared, flipped, got better, worse, or neither."""
        changes = [f.change for f in self.flips]
        return {
            "scored_by_both": self.both,
            "flipped": len(self.flips),
            "better": changes.count("better"),
            "worse": changes.count("worse"),
            "mixed": changes.count("mixed"),
            "only_a": len(self.only_a),
            "only_b": len(self.only_b),
        }

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "a": self.a.as_dict(),
            "b": self.b.as_dict(),
            "metrics": [
                {"theme": d.theme, "metric": d.metric, "a": d.a, "b": d.b, "delta": d.delta}
                for d in self.deltas
            ],
            "counts": self.counts(),
            "flips": [
                {
                    "id": f.id,
                    "gold": list(f.gold),
                    "a": list(f.a),
                    "b": list(f.b),
                    "change": f.change,
                    "text": f.text,
                }
                for f in self.flips
            ],
            "only_a": list(self.only_a),
            "only_b": list(self.only_b),
            "notes": list(self.notes),
        }


def compare_runs(
    run_a: str,
    run_b: str,
    *,
    experiment: str = DEFAULT_EXPERIMENT,
    tracking_uri: str | None = None,
) -> Comparison:
    """Compare run B with run A: per-theme precision, recall and F1 deltas (B - A) and the
    paragraphs whose out-of-fold tags differ between the runs' ``oof_predictions.csv``.

    Runs are given by full id, a unique id prefix, or run name (the most recent run with that
    name); prefixes and names are looked up in ``experiment``.

    Example:
        >>> comparison = compare_runs("3f1c2a9b", "default")  # doctest: +SKIP
        >>> comparison.counts()["worse"], comparison.deltas[0]  # doctest: +SKIP
        (3, MetricDelta(theme='recruitment', metric='precision', a=0.82, b=0.79))
    """
    with mlflow_client(tracking_uri) as (client, uri):
        a = run_summary(resolve_run(client, run_a, experiment, uri))
        b = run_summary(resolve_run(client, run_b, experiment, uri))
        with tempfile.TemporaryDirectory() as tmp:
            rows_a = _oof_rows(client, a, Path(tmp) / "a")
            rows_b = _oof_rows(client, b, Path(tmp) / "b")
    return _compare(a, b, rows_a, rows_b)


def _oof_rows(client: MlflowClient, run: RunSummary, folder: Path) -> dict[str, dict[str, str]]:
    """The run's out-of-fold predictions by paragraph id."""
    folder.mkdir()
    parent, _, name = OOF_ARTIFACT.rpartition("/")
    listed = {Path(a.path).name for a in client.list_artifacts(run.run_id, parent)}
    if name not in listed:
        raise ClassifyError(
            f"run {run.name} {run.short_id} has no {OOF_ARTIFACT} artifact",
            hint="compare runs logged by `classify train`",
        )
    path = Path(client.download_artifacts(run.run_id, OOF_ARTIFACT, str(folder)))
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "gold", "predicted"} - set(reader.fieldnames or ())
        if missing:
            raise ClassifyError(
                f"run {run.name} {run.short_id}: {OOF_ARTIFACT} lacks the column(s) "
                f"{', '.join(sorted(missing))}"
            )
        rows: dict[str, dict[str, str]] = {}
        for row in reader:
            if row["id"] in rows:
                raise ClassifyError(
                    f"run {run.name} {run.short_id}: paragraph {row['id']!r} appears twice "
                    f"in {OOF_ARTIFACT}"
                )
            rows[row["id"]] = row
    return rows


def _compare(
    a: RunSummary,
    b: RunSummary,
    rows_a: dict[str, dict[str, str]],
    rows_b: dict[str, dict[str, str]],
) -> Comparison:
    themes = union_themes([a.themes, b.themes])
    deltas = [
        MetricDelta(t, m, a.metrics.get(f"{m}/{t}"), b.metrics.get(f"{m}/{t}"))
        for t in themes
        for m in PER_THEME
    ]
    deltas += [
        MetricDelta("micro", m, a.metrics.get(f"micro_{m}"), b.metrics.get(f"micro_{m}"))
        for m in PER_THEME
    ]
    deltas.append(MetricDelta("macro", "f1", a.metrics.get("macro_f1"), b.metrics.get("macro_f1")))

    flips: list[Flip] = []
    relabeled = 0
    for pid, row_a in rows_a.items():  # A's order: its evaluation order, document by document
        row_b = rows_b.get(pid)
        if row_b is None:
            continue
        tags_a, tags_b = _split(row_a["predicted"]), _split(row_b["predicted"])
        gold_a, gold_b = _split(row_a["gold"]), _split(row_b["gold"])
        relabeled += gold_a != gold_b
        if tags_a == tags_b:
            continue
        # each run is judged against the labels it was evaluated on
        wrong_a, wrong_b = len(tags_a ^ gold_a), len(tags_b ^ gold_b)
        change: Change = (
            "better" if wrong_b < wrong_a else "worse" if wrong_b > wrong_a else "mixed"
        )
        text = row_b.get("text") or row_a.get("text") or None
        flips.append(
            Flip(
                pid,
                _ordered(gold_b, themes),
                _ordered(tags_a, themes),
                _ordered(tags_b, themes),
                change,
                text,
            )
        )
    only_a = tuple(pid for pid in rows_a if pid not in rows_b)
    only_b = tuple(pid for pid in rows_b if pid not in rows_a)

    notes = []
    if a.evaluation != b.evaluation:
        notes.append(
            f"the runs were evaluated differently (A: {a.evaluation or '?'}; "
            f"B: {b.evaluation or '?'}): their metrics measure different things"
        )
    if a.themes != b.themes:
        notes.append("the runs have different label sets: themes missing from one show blank")
    if relabeled:
        notes.append(
            f"{relabeled} paragraphs have different gold themes in the two runs (the labels "
            "changed in between); each run is judged against its own"
        )
    if only_a or only_b:
        notes.append(
            f"{paragraphs_phrase(len(only_a))} scored by run A only and {len(only_b)} by run B "
            "only are not compared"
        )
    return Comparison(
        a=a,
        b=b,
        deltas=tuple(deltas),
        flips=tuple(flips),
        both=sum(pid in rows_b for pid in rows_a),
        only_a=only_a,
        only_b=only_b,
        notes=tuple(notes),
    )


def _split(themes: str) -> frozenset[str]:
    return frozenset(t.strip() for t in themes.split(";") if t.strip())


def _ordered(themes: frozenset[str], order: Sequence[str]) -> tuple[str, ...]:
    rank = {t: i for i, t in enumerate(order)}
    return tuple(sorted(themes, key=lambda t: (rank.get(t, len(rank)), t)))


def paragraphs_phrase(count: int) -> str:
    """``1 paragraph``, ``2 paragraphs``."""
    return f"{count} paragraph" if count == 1 else f"{count} paragraphs"
