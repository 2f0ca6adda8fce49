"""Training runs read back from MLflow, for the shell: list an experiment's runs, compare two.

What ``classify runs`` and ``classify compare`` show, as plain data a Python user can call too:
:func:`list_runs` gives :class:`RunSummary` records (newest first, child runs under their
parent), :func:`compare_runs` a :class:`Comparison` (per-theme metric deltas, B minus A, and the
paragraphs whose out-of-fold tags flipped). Like :mod:`classify.tracking`, MLflow is imported only
inside functions, so importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from classify.errors import ClassifyError
from classify.tables import CSV_LINE_END
from classify.text import printable

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

DEFAULT_EXPERIMENT = "classify"
OOF_ARTIFACT = "evaluation/oof_predictions.csv"
PARENT_TAG = "mlflow.parentRunId"
OVERALL = ("micro_precision", "micro_recall", "micro_f1", "macro_f1")
PER_THEME = ("precision", "recall", "f1")
_FULL_ID = re.compile(r"[0-9a-f]{32}")
_HEX = re.compile(r"[0-9a-f]+")
_MAX_CHILDREN = 1000  # child runs shown per parent (a tuning grid); more is not a table
_THEME_COLUMNS_MAX = 8  # above this many themes the runs table shows micro/macro F1 only
# the runs table's width without theme columns, and each theme column's (cell and gaps)
_FIXED_WIDTH, _THEME_WIDTH = 80, 8
_STRATEGIES = {"leave_one_document_out": "LODO", "group_kfold": "{folds}-fold"}

Change = Literal["better", "worse", "mixed"]


@dataclass(frozen=True)
class RunSummary:
    """One MLflow run of a training: who, when, on what data, and its out-of-fold metrics."""

    run_id: str
    name: str
    start_time: datetime | None
    status: str
    data: str  # the data mix and evaluation, short: "authored → seeds, LODO"
    evaluation: str  # the run's `evaluation` tag, in full
    label_set: str
    themes: tuple[str, ...]  # label-set order
    metrics: dict[str, float] = field(repr=False)  # every metric the run logged
    parent_id: str | None = None  # set on the child runs of a tuning run

    @property
    def short_id(self) -> str:
        return self.run_id[:8]

    @property
    def macro_f1(self) -> float | None:
        return self.metrics.get("macro_f1")

    @property
    def micro_f1(self) -> float | None:
        return self.metrics.get("micro_f1")

    def key_metrics(self) -> dict[str, float]:
        """Micro/macro metrics and each theme's precision, recall, F1 and support."""
        names = [*OVERALL]
        for theme in self.themes:
            names += [f"{m}/{theme}" for m in (*PER_THEME, "support")]
        return {n: self.metrics[n] for n in names if n in self.metrics}

    def as_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "run_id": self.run_id,
            "name": self.name,
            "parent_run_id": self.parent_id,
            "start_time": self.start_time.isoformat() if self.start_time else None,
            "status": self.status,
            "data": self.data,
            "evaluation": self.evaluation,
            "label_set": self.label_set,
            "themes": list(self.themes),
            "metrics": self.key_metrics(),
        }


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


def list_runs(
    experiment: str = DEFAULT_EXPERIMENT,
    *,
    tracking_uri: str | None = None,
    limit: int = 20,
    children: bool = True,
) -> list[RunSummary]:
    """The ``limit`` most recent top-level runs of an MLflow experiment, newest first, each
    followed by its child runs (newest first) unless ``children`` is false.

    ``tracking_uri`` defaults to ``MLFLOW_TRACKING_URI``, else ``experiments/mlflow.db``.

    Example:
        >>> [(r.name, r.short_id, r.macro_f1) for r in list_runs()]  # doctest: +SKIP
        [('default', '3f1c2a9b', 0.708), ...]
    """
    if limit < 1:
        raise ClassifyError(f"limit must be at least 1, not {limit}")
    with _store(tracking_uri) as (client, uri):
        experiment_id = _experiment_id(client, uri, experiment)
        top = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{PARENT_TAG}` IS NULL",
            max_results=limit,
            order_by=["attributes.start_time DESC"],
        )
        summaries: list[RunSummary] = []
        for run in top:
            summaries.append(_summary(run))
            if children:
                kids = client.search_runs(
                    [experiment_id],
                    filter_string=f"tags.`{PARENT_TAG}` = '{run.info.run_id}'",
                    max_results=_MAX_CHILDREN,
                    order_by=["attributes.start_time DESC"],
                )
                summaries += [_summary(kid) for kid in kids]
        return summaries


def best_run(runs: Sequence[RunSummary]) -> RunSummary | None:
    """The top-level run with the highest macro-F1 (the newest among ties), or ``None``.

    Child runs are left out: a tuning candidate's metrics are its selection evidence (inner
    cross-validation, thresholds chosen on the same scores), optimistic next to a training's.

    Example:
        >>> best_run([])
    """
    scored = [r for r in runs if r.macro_f1 is not None and r.parent_id is None]
    # runs come newest first and max() keeps the first of equals
    return max(scored, key=lambda r: r.macro_f1, default=None)  # type: ignore[arg-type, return-value]


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
    with _store(tracking_uri) as (client, uri):
        a = _summary(_resolve_run(client, run_a, experiment, uri))
        b = _summary(_resolve_run(client, run_b, experiment, uri))
        with tempfile.TemporaryDirectory() as tmp:
            rows_a = _oof_rows(client, a, Path(tmp) / "a")
            rows_b = _oof_rows(client, b, Path(tmp) / "b")
    return _compare(a, b, rows_a, rows_b)


def find_run(
    ref: str, *, experiment: str = DEFAULT_EXPERIMENT, tracking_uri: str | None = None
) -> RunSummary:
    """The run a user means by ``ref``: a full run id (in any experiment), else the most recent
    run named ``ref`` in ``experiment``, else the one run there whose id starts with ``ref``.

    Example:
        >>> find_run("default").short_id  # doctest: +SKIP
        '3f1c2a9b'
    """
    with _store(tracking_uri) as (client, uri):
        return _summary(_resolve_run(client, ref, experiment, uri))


def _resolve_run(client: MlflowClient, ref: str, experiment: str, uri: str) -> Run:
    from mlflow.exceptions import MlflowException

    ref = ref.strip()
    if not ref:
        raise ClassifyError("empty run reference", hint="give a run id, id prefix or run name")
    if _FULL_ID.fullmatch(ref):
        try:
            return client.get_run(ref)
        except MlflowException:
            pass  # not an id after all: perhaps a name
    experiment_id = _experiment_id(client, uri, experiment)
    quote = '"' if "'" in ref else "'"
    if quote not in ref:
        named = client.search_runs(
            [experiment_id],
            filter_string=f"attributes.run_name = {quote}{ref}{quote}",
            max_results=1,
            order_by=["attributes.start_time DESC"],
        )
        if named:
            return named[0]
    if _HEX.fullmatch(ref):
        matches = client.search_runs(
            [experiment_id], filter_string=f"attributes.run_id LIKE '{ref}%'", max_results=6
        )
        if len(matches) == 1:
            return matches[0]
        if matches:
            shown = ", ".join(f"{m.info.run_id[:12]} ({m.info.run_name})" for m in matches[:5])
            more = " and more" if len(matches) > 5 else ""
            raise ClassifyError(
                f"run id prefix {ref!r} is ambiguous: it matches {shown}{more}",
                hint="give more characters of the id",
            )
    raise ClassifyError(
        f"no run {ref!r} in the MLflow experiment {experiment!r} (by id, id prefix or name)",
        hint="list the runs with `classify runs`, or pass --experiment",
    )


def runs_table(
    runs: Sequence[RunSummary], title: str = "runs", *, width: int | None = None
) -> Table:
    """The runs as a table: child runs indented under their parent, the best macro-F1 starred.

    Each theme's F1 gets a column when there are at most 8 themes and they fit in ``width``.
    """
    themes = _union(r.themes for r in runs)
    fits = width is None or width >= _FIXED_WIDTH + _THEME_WIDTH * len(themes)
    per_theme = bool(themes) and len(themes) <= _THEME_COLUMNS_MAX and fits
    with_status = any(r.status != "FINISHED" for r in runs)  # a column of "finished" is noise
    best = best_run(runs)
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
    table.add_column("run", overflow="fold", min_width=8)
    table.add_column("id", no_wrap=True)
    table.add_column("started", no_wrap=True)
    if with_status:
        table.add_column("status", no_wrap=True)
    table.add_column("data", overflow="fold", min_width=12)
    table.add_column("micro F1", justify="right", no_wrap=True)
    table.add_column("macro F1", justify="right", no_wrap=True)
    if per_theme:
        for header in _abbreviations(themes):
            table.add_column(header, justify="right", no_wrap=True, min_width=5)
    for run in runs:
        name = f"└ {run.name}" if run.parent_id else run.name
        macro = Text(_number(run.macro_f1))
        if best is not None and run is best:
            macro = Text(f"*{_number(run.macro_f1)}", style="bold green")
        cells: list[Any] = [
            Text(name, style="dim" if run.parent_id else ""),
            run.short_id,
            run.start_time.strftime("%Y-%m-%d %H:%M") if run.start_time else "-",
        ]
        if with_status:
            style = "" if run.status == "FINISHED" else "yellow"
            cells.append(Text(run.status.lower(), style=style))
        cells += [run.data or "-", _number(run.micro_f1), macro]
        if per_theme:
            cells += [_number(run.metrics.get(f"f1/{t}")) for t in themes]
        table.add_row(*cells)
    captions = [f"* best macro-F1: {best.name} {best.short_id}"] if best is not None else []
    if per_theme:
        captions.append("theme columns: F1")
    elif themes:
        captions.append("each theme's F1: a wider terminal or --format csv")
    table.caption = "; ".join(captions) or None
    table.caption_justify = "left"
    return table


def runs_csv(runs: Sequence[RunSummary]) -> str:
    """The runs as CSV: one row per run, every theme's F1 as a column."""
    themes = _union(r.themes for r in runs)
    best = best_run(runs)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator=CSV_LINE_END)
    head = ["run_id", "name", "parent_run_id", "start_time", "status", "data", "evaluation"]
    writer.writerow([*head, "label_set", "best", *OVERALL, *(f"f1/{t}" for t in themes)])
    for r in runs:
        values = [r.metrics.get(m, "") for m in OVERALL]
        values += [r.metrics.get(f"f1/{t}", "") for t in themes]
        start = r.start_time.isoformat() if r.start_time else ""
        row = [r.run_id, r.name, r.parent_id or "", start, r.status, r.data, r.evaluation]
        writer.writerow([*row, r.label_set, r is best, *values])
    return buffer.getvalue()


def runs_records(runs: Sequence[RunSummary]) -> list[dict[str, Any]]:
    """The runs as plain data for JSON, the best macro-F1 flagged ``best``."""
    best = best_run(runs)
    return [{**r.as_dict(), "best": r is best} for r in runs]


def comparison_view(comparison: Comparison, *, flips: int | None = None) -> RenderableType:
    """The comparison for people: who A and B are, the metric deltas, then the flipped
    paragraphs (the first ``flips`` of them, or all)."""
    a, b = comparison.a, comparison.b
    who = Table.grid(padding=(0, 1))
    for letter, run in (("A", a), ("B", b)):
        started = run.start_time.strftime("%Y-%m-%d %H:%M") if run.start_time else "-"
        who.add_row(f"{letter}:", Text(run.name, style="bold"), run.short_id, started, run.data)

    deltas = Table(title="metrics (Δ = B - A)", title_justify="left", box=box.SIMPLE_HEAD)
    deltas.add_column("theme")
    for metric in ("precision", "recall", "F1"):
        for column in ("A", "B", "Δ"):
            deltas.add_column(f"{metric} {column}" if column == "A" else column, justify="right")
    by_theme: dict[str, dict[str, MetricDelta]] = {}
    for d in comparison.deltas:
        by_theme.setdefault(d.theme, {})[d.metric] = d
    for theme, metrics in by_theme.items():
        if theme == "micro":
            deltas.add_section()
        cells: list[Any] = [theme]
        for metric in PER_THEME:
            d = metrics.get(metric)
            if d is None:
                cells += ["", "", ""]
            else:
                cells += [_number(d.a), _number(d.b), _delta(d.delta)]
        deltas.add_row(*cells, style="bold" if theme in ("micro", "macro") else "")

    counts = comparison.counts()
    shown = comparison.flips if flips is None else comparison.flips[:flips]
    title = (
        f"{counts['flipped']} of {counts['scored_by_both']} paragraphs changed tags: "
        f"{counts['better']} better, {counts['worse']} worse, {counts['mixed']} mixed"
    )
    if not comparison.flips:
        title = f"no paragraph changed tags (of {counts['scored_by_both']} scored by both runs)"
        return Group(who, deltas, Text(title), *_only_lines(comparison))
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, expand=True)
    table.add_column("paragraph", overflow="fold", min_width=10)
    table.add_column("gold", overflow="fold", min_width=6)
    table.add_column("A", overflow="fold", min_width=6)
    table.add_column("B", overflow="fold", min_width=6)
    table.add_column("change", no_wrap=True)
    with_text = any(f.text is not None for f in shown)
    if with_text:
        table.add_column("text", overflow="ellipsis", no_wrap=True, min_width=16, ratio=1)
    styles = {"better": "green", "worse": "red", "mixed": "yellow"}
    for f in shown:
        cells = [printable(f.id), _themes(f.gold), _themes(f.a), _themes(f.b)]
        cells.append(Text(f.change, style=styles[f.change]))
        if with_text:
            cells.append(printable(" ".join((f.text or "").split())))
        table.add_row(*cells)
    parts: list[RenderableType] = [who, deltas, table]
    if flips is not None and len(comparison.flips) > flips:
        parts.append(Text(f"... and {len(comparison.flips) - flips} more (--flips 0: all)"))
    return Group(*parts, *_only_lines(comparison))


def _only_lines(comparison: Comparison) -> list[Text]:
    lines = []
    for letter, ids in (("A", comparison.only_a), ("B", comparison.only_b)):
        if ids:
            example = ", ".join(ids[:3]) + (", ..." if len(ids) > 3 else "")
            what = _paragraphs(len(ids))
            lines.append(Text(f"{what} scored by run {letter} only, not compared: {example}"))
    return lines


# ---- reading the store ----


@contextlib.contextmanager
def _store(tracking_uri: str | None) -> Iterator[tuple[MlflowClient, str]]:
    """An MLflow client on an existing store; MLflow's own errors become one-line errors."""
    from classify.tracking import _quiet_mlflow, existing_store

    # check the store before importing MLflow, and before its minutes of connection retries
    hint = "train with `classify train` first, or pass --tracking-uri (or set MLFLOW_TRACKING_URI)"
    uri = existing_store(tracking_uri, hint=hint)
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    _quiet_mlflow()
    from sqlalchemy.exc import SQLAlchemyError  # MLflow's database stores; installed with it

    try:
        yield MlflowClient(uri), uri
    except (MlflowException, SQLAlchemyError) as exc:
        # e.g. a file that is no database, a store from a newer MLflow, a server's own error
        reason = getattr(exc, "orig", None) or getattr(exc, "message", None) or exc
        lines = str(reason).strip().splitlines() or [type(exc).__name__]
        raise ClassifyError(
            f"cannot read the MLflow store {uri}: {lines[0]}", hint="check --tracking-uri"
        ) from None


def _experiment_id(client: MlflowClient, uri: str, name: str) -> str:
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        names = [e.name for e in client.search_experiments()]
        raise ClassifyError(
            f"no MLflow experiment {name!r} in {uri}",
            hint=f"experiments there: {', '.join(names)}" if names else "train a model first",
        )
    return experiment.experiment_id


def _summary(run: Run) -> RunSummary:
    info, data = run.info, run.data
    tags, params, metrics = data.tags, data.params, dict(data.metrics)
    listed = [t for t in tags.get("label_set.themes", "").split(",") if t]
    # older runs lack the tag: their per-theme metric names, in the order MLflow returns them
    themes = tuple(listed) or tuple(k.removeprefix("f1/") for k in metrics if k.startswith("f1/"))
    start = (
        datetime.fromtimestamp(info.start_time / 1000, tz=UTC).astimezone()
        if info.start_time
        else None
    )
    return RunSummary(
        run_id=info.run_id,
        name=info.run_name or tags.get("mlflow.runName", ""),
        start_time=start,
        status=info.status,
        data=_describe_data(params, tags),
        evaluation=tags.get("evaluation", ""),
        label_set=tags.get("label_set", ""),
        themes=themes,
        metrics=metrics,
        parent_id=tags.get(PARENT_TAG),
    )


def _describe_data(params: dict[str, str], tags: dict[str, str]) -> str:
    """``authored → seeds, LODO`` from the run's config params (its evaluation tag if none);
    for a tuning candidate, its settings (``chosen: model.C=10`` for the one picked)."""
    if "tune.candidate" in tags:
        chosen = "chosen: " if tags.get("tune.best") == "true" else ""
        return f"{chosen}{tags.get('tune.settings', '')}"
    if "cv.strategy" not in params:
        return tags.get("evaluation", "")
    mix = params.get("data.mix") or "all"
    evaluate_on = params.get("cv.evaluate_on", "")
    strategy = params["cv.strategy"]
    cv = _STRATEGIES.get(strategy, strategy).format(folds=params.get("cv.folds", "k"))
    return f"{mix} → {evaluate_on}, {cv}" if evaluate_on else f"{mix}, {cv}"


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


# ---- comparing ----


def _compare(
    a: RunSummary,
    b: RunSummary,
    rows_a: dict[str, dict[str, str]],
    rows_b: dict[str, dict[str, str]],
) -> Comparison:
    themes = _union([a.themes, b.themes])
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
            f"{_paragraphs(len(only_a))} scored by run A only and {len(only_b)} by run B only "
            "are not compared"
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


# ---- small helpers ----


def _split(themes: str) -> frozenset[str]:
    return frozenset(t.strip() for t in themes.split(";") if t.strip())


def _ordered(themes: frozenset[str], order: Sequence[str]) -> tuple[str, ...]:
    rank = {t: i for i, t in enumerate(order)}
    return tuple(sorted(themes, key=lambda t: (rank.get(t, len(rank)), t)))


def _union(groups: Any) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:
        seen.update(dict.fromkeys(group))
    return tuple(seen)


def _abbreviations(themes: Sequence[str]) -> list[str]:
    """The shortest prefixes (at least 5 characters) that still tell the themes apart."""
    for size in range(5, max(map(len, themes), default=0) + 1):
        prefixes = [t[:size] for t in themes]
        if len(set(prefixes)) == len(prefixes):
            return prefixes
    return list(themes)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _delta(value: float | None) -> Text:
    if value is None:
        return Text("-", style="dim")
    if round(value, 3) == 0:
        return Text(f"{0:.3f}", style="dim")
    return Text(f"{value:+.3f}", style="green" if value > 0 else "red")


def _paragraphs(count: int) -> str:
    return f"{count} paragraph" if count == 1 else f"{count} paragraphs"


def _themes(themes: tuple[str, ...]) -> str:
    return ", ".join(themes) or "-"
