"""Training runs read back from MLflow: list an experiment's runs, find the one a user means.

What ``classify runs`` shows, as plain data a Python user can call too: :func:`list_runs` gives
:class:`RunSummary` records (newest first, child runs under their parent) and :func:`find_run`
resolves a run id, id prefix or run name. Comparing two runs is :mod:`classify.track.compare`;
rendering them, :mod:`classify.track.run_tables`. MLflow is imported only inside functions, so
importing this module stays cheap.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from classify.errors import ClassifyError

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

DEFAULT_EXPERIMENT = "classify"
PARENT_TAG = "mlflow.parentRunId"
OVERALL = ("micro_precision", "micro_recall", "micro_f1", "macro_f1")
PER_THEME = ("precision", "recall", "f1")
_FULL_ID = re.compile(r"[0-9a-f]{32}")
_HEX = re.compile(r"[0-9a-f]+")
_MAX_CHILDREN = 1000  # child runs shown per parent (a tuning grid); more is not a table
_STRATEGIES = {"leave_one_document_out": "LODO", "group_kfold": "{folds}-fold"}


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
    label_set_column: str = ""  # its labels' column (themes, narratives); "" on older runs

    @property
    def label_set_short(self) -> str:
        """The label set as a table shows it: its column name, else its name."""
        return self.label_set_column or self.label_set

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
    with mlflow_client(tracking_uri) as (client, uri):
        experiment_id = _experiment_id(client, uri, experiment)
        top = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{PARENT_TAG}` IS NULL",
            max_results=limit,
            order_by=["attributes.start_time DESC"],
        )
        summaries: list[RunSummary] = []
        for run in top:
            summaries.append(run_summary(run))
            if children:
                kids = client.search_runs(
                    [experiment_id],
                    filter_string=f"tags.`{PARENT_TAG}` = '{run.info.run_id}'",
                    max_results=_MAX_CHILDREN,
                    order_by=["attributes.start_time DESC"],
                )
                summaries += [run_summary(kid) for kid in kids]
        return summaries


def best_runs(runs: Sequence[RunSummary]) -> list[RunSummary]:
    """:func:`best_run` of each label set's runs: macro-F1 compares only within a label set.

    Example:
        >>> best_runs([])
        []
    """
    label_sets = dict.fromkeys(r.label_set_short for r in runs)
    found = (best_run([r for r in runs if r.label_set_short == ls]) for ls in label_sets)
    return [run for run in found if run is not None]


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


def find_run(
    ref: str, *, experiment: str = DEFAULT_EXPERIMENT, tracking_uri: str | None = None
) -> RunSummary:
    """The run a user means by ``ref``: a full run id (in any experiment), else the most recent
    run named ``ref`` in ``experiment``, else the one run there whose id starts with ``ref``.

    Example:
        >>> find_run("default").short_id  # doctest: +SKIP
        '3f1c2a9b'
    """
    with mlflow_client(tracking_uri) as (client, uri):
        return run_summary(resolve_run(client, ref, experiment, uri))


def resolve_run(client: MlflowClient, ref: str, experiment: str, uri: str) -> Run:
    """The MLflow run a user means by ``ref`` (see :func:`find_run`), in ``client``'s store."""
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


@contextlib.contextmanager
def mlflow_client(tracking_uri: str | None) -> Iterator[tuple[MlflowClient, str]]:
    """An MLflow client on an existing store; MLflow's own errors become one-line errors."""
    from classify.track.store import existing_store, quiet_mlflow

    # check the store before importing MLflow, and before its minutes of connection retries
    hint = "train with `classify train` first, or pass --tracking-uri (or set MLFLOW_TRACKING_URI)"
    uri = existing_store(tracking_uri, hint=hint)
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    quiet_mlflow()
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


def run_summary(run: Run) -> RunSummary:
    """What ``classify runs`` shows of an MLflow run."""
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
        label_set_column=tags.get("label_set.column", ""),
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


def union_themes(groups: Any) -> tuple[str, ...]:
    """Every theme of several runs, once each, in the order first seen."""
    seen: dict[str, None] = {}
    for group in groups:
        seen.update(dict.fromkeys(group))
    return tuple(seen)
