"""MLflow tracking: the only module that imports MLflow, and only inside its functions.

Each training is one run: the flattened config as params, every cross-validation metric (overall
and per theme), tags for the data hash, label set and git commit, the out-of-fold predictions as a
CSV artifact, the figures and tables of :mod:`classify.reports` (``reports/``), the training and
evaluated paragraphs as dataset inputs, and the model bundle as an MLflow pyfunc model with a
signature and input example. With ``tracking.log_text = false`` none of it holds paragraph text.

The default store is an SQLite file beside the experiment file (``experiments/mlflow.db``) with
artifacts in ``experiments/mlartifacts``; ``MLFLOW_TRACKING_URI`` (or ``--tracking-uri``)
overrides it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import classify
from classify.bundle import resolve_version
from classify.config import ExperimentConfig, flatten
from classify.errors import ClassifyError
from classify.provenance import git_commit

if TYPE_CHECKING:
    from classify.training import TrainingResult
    from classify.tuning import TuningResult

STORE_FILE = "mlflow.db"
STORE_FOLDER = "experiments"  # the default experiment file's folder, relative to the project
ARTIFACTS_FOLDER = "mlartifacts"
MODEL_NAME = "model"
_REACH_TIMEOUT_SECONDS = 5.0
_MAX_DIGEST = 36  # MLflow's limit on a dataset digest


def default_tracking_uri(config: ExperimentConfig | None = None) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the SQLite store beside the experiment file
    (``sqlite:////project/experiments/mlflow.db`` for ``experiments/default.toml``).

    Without an experiment (``classify runs``, ``classify compare``): the store beside the
    default experiment file, ``experiments/mlflow.db`` under the current folder, which is where
    a plain ``classify train`` logs.
    """
    folder = Path(config.base_dir) if config is not None else Path(STORE_FOLDER).resolve()
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{folder / STORE_FILE}"


def ui_command(tracking_uri: str) -> str:
    """The shell command that opens the MLflow UI on a store."""
    if tracking_uri.startswith(("http://", "https://")):
        return f"open {tracking_uri} in a browser"
    return f"mlflow ui --backend-store-uri {tracking_uri} --port 5000   # then open http://127.0.0.1:5000"


class MlflowTracker:
    """Logs trainings to an MLflow store (see :class:`classify.training.Tracker`).

    Example::

        tracker = MlflowTracker("sqlite:////tmp/mlflow.db")
        result, bundle_dir, run_id = train_and_save(config, "models", tracker=tracker)
    """

    def __init__(self, tracking_uri: str | None = None, register_as: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.run_id: str | None = None
        # a registered-model name: each logged model becomes its next version (see registry.py)
        self.register_as = register_as
        self.registered_version: int | None = None

    def start(self, config: ExperimentConfig) -> str:
        import mlflow

        _quiet_mlflow()
        uri = self.tracking_uri or default_tracking_uri(config)
        self.tracking_uri = uri
        _check_reachable(uri)
        mlflow.set_tracking_uri(uri)
        experiment_id = _experiment_id(uri, config.mlflow_experiment)
        run = mlflow.start_run(
            experiment_id=experiment_id,
            run_name=config.name,
            nested=mlflow.active_run() is not None,  # inside a caller's own run: a child run
        )
        self.run_id = run.info.run_id
        mlflow.log_params(flatten(config.to_dict()))
        commit = git_commit(config.base_dir)
        mlflow.set_tags(
            {
                "classify.version": classify.__version__,
                **({"mlflow.source.git.commit": commit, "git_commit": commit} if commit else {}),
            }
        )
        if config.description:
            mlflow.set_tag("mlflow.note.content", config.description)
        return self.run_id

    def log(self, result: TrainingResult, bundle_dir: Path | None) -> None:
        """Log metrics, tags and evaluation artifacts; and the bundle as a model, when given."""
        import mlflow

        metrics = result.cv.metrics.as_dict()
        for name, values in result.cv.breakdown.items():
            if len(values) > 1:  # one slice would only repeat the overall metrics
                for value, sliced in values.items():
                    metrics.update({f"{name}_{value}/{k}": v for k, v in sliced.as_dict().items()})
        metrics.update({f"seconds/{k}": v for k, v in result.seconds.items()})
        mlflow.log_metrics(metrics)
        mlflow.set_tags(
            {
                "data_hash": result.data_hash,
                "label_set": result.label_set.name,
                "label_set.version": result.label_set.version,
                "label_set.fingerprint": result.label_set.fingerprint,
                # the themes in label-set order, so `classify runs` can order its columns
                "label_set.themes": _themes_tag(result.label_set.names),
                **({"bundle": str(Path(bundle_dir).resolve())} if bundle_dir else {}),
                "evaluation": result.describe_evaluation(),
                "cv.folds": result.folds_fingerprint()[:16],  # equal: the same grouped folds
            }
        )
        log_text = result.config.tracking.log_text
        log_datasets(result, log_text=log_text)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            oof = result.out_of_fold_table()
            if not log_text:  # ids only: the run must not carry paragraph text
                oof = oof.drop(columns=["text"])
            oof.to_csv(folder / "oof_predictions.csv", index=False)
            (folder / "cv_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
            (folder / "thresholds.json").write_text(json.dumps(result.thresholds, indent=2) + "\n")
            from classify.outputs import metrics_table, render_text
            from classify.reports import write_reports

            table = metrics_table(result.cv.metrics, f"{result.config.name}: out-of-fold metrics")
            (folder / "cv_metrics.txt").write_text(render_text(table))
            for name in (
                "oof_predictions.csv",
                "cv_metrics.json",
                "thresholds.json",
                "cv_metrics.txt",
            ):
                mlflow.log_artifact(str(folder / name), artifact_path="evaluation")
            write_reports(result, folder / "reports", log_text=log_text)
            mlflow.log_artifacts(str(folder / "reports"), artifact_path="reports")
        if bundle_dir is not None:
            model_uri = log_bundle_as_model(bundle_dir, result)
            if self.register_as:
                from classify.registry import register_model

                self.registered_version = register_model(model_uri, self.register_as)

    def log_candidates(self, tuned: TuningResult) -> None:
        """One child run per tuning candidate under the open (parent) run, the best one marked.

        A child's metrics are its selection evidence: inner grouped CV of the training rows.
        """
        import mlflow

        metric = tuned.final.config.tune.metric
        parent = mlflow.active_run()
        experiment_id = parent.info.experiment_id if parent else None  # children beside it
        best_run = None
        for position, score in enumerate(tuned.candidates):
            candidate = score.candidate
            is_best = position == tuned.best
            with mlflow.start_run(
                experiment_id=experiment_id, run_name=f"candidate {candidate.index}", nested=True
            ) as run:
                mlflow.log_params(flatten(candidate.config.to_dict()))
                mlflow.log_metrics(score.metrics.as_dict())
                mlflow.set_tags(
                    {
                        "tune.candidate": str(candidate.index),
                        "tune.settings": candidate.label,
                        "tune.best": str(is_best).lower(),
                        "evaluation": "selection: inner grouped CV of the training rows "
                        f"({metric}; thresholds chosen on the same scores, so optimistic)",
                    }
                )
            if is_best:
                best_run = run.info.run_id
        best = tuned.best_candidate
        mlflow.set_tags(
            {
                "tune.best_run": best_run or "",
                "tune.best_settings": best.label,
                "tune.candidates": str(len(tuned.candidates)),
                "tune.chosen_by_fold": ",".join(map(str, tuned.chosen_by_fold)),
            }
        )
        mlflow.log_params({f"best.{key}": value for key, value in best.settings.items()})

    def finish(self, *, failed: bool) -> None:
        import mlflow

        if self.run_id is not None:
            mlflow.end_run(status="FAILED" if failed else "FINISHED")


def log_bundle_as_model(bundle_dir: Path, result: TrainingResult) -> str:
    """Log the bundle as an MLflow pyfunc model (loader module + bundle files) in the active run;
    returns the logged model's URI (``models:/<model id>``)."""
    import mlflow.pyfunc
    import pandas as pd
    from mlflow.models import infer_signature

    from classify.mlflow_model import PyfuncThemeModel
    from classify.predictor import Predictor

    version_dir = resolve_version(Path(bundle_dir))
    example = pd.DataFrame({"text": _example_texts(result)})
    output = PyfuncThemeModel(Predictor.load(version_dir)).predict(example)
    info = mlflow.pyfunc.log_model(
        name=MODEL_NAME,
        loader_module="classify.mlflow_model",
        data_path=str(version_dir),
        code_paths=[str(Path(classify.__file__).parent)],
        signature=infer_signature(example, output),
        input_example=example,
        pip_requirements=_requirements(),
    )
    return info.model_uri


# With tracking.log_text off no training paragraph may reach the store: made-up input instead
NEUTRAL_EXAMPLES = (
    "The city council met on Tuesday to discuss the new bus timetable.",
    "Городской совет обсудил новое расписание автобусов.",
)


def _example_texts(result: TrainingResult) -> list[str]:
    if not result.config.tracking.log_text:
        return list(NEUTRAL_EXAMPLES)
    # the two shortest body paragraphs: small, real, and with the input's true shape
    texts = sorted(result.training.texts, key=len)
    return texts[:2]


def log_datasets(result: TrainingResult, *, log_text: bool = True) -> None:
    """Record the training paragraphs as the active run's "training" input, and the evaluated
    ones as its "evaluation" input when they are other paragraphs (``cv.evaluate_on``).

    Each is an MLflow pandas dataset named after its sources (``authored``), with the data
    hash as digest (its first 36 characters, MLflow's limit; the whole hash is the input's
    ``data_hash`` tag). Only its schema and size reach the store, and with ``log_text=False``
    the schema has no text column.

    Example::

        with mlflow.start_run():
            log_datasets(result, log_text=False)  # ids, documents, sources, langs, themes
    """
    import mlflow
    from mlflow.data.code_dataset_source import CodeDatasetSource

    from classify.reports import paragraph_table

    inputs = [("training", result.training, result.data_hash)]
    if set(result.evaluated.ids) != set(result.training.ids):
        inputs.append(("evaluation", result.evaluated, result.evaluated.fingerprint()))
    for context, paragraphs, digest in inputs:
        source = CodeDatasetSource(
            {"annotations": paragraphs.path, "kinds": ",".join(result.config.data.kinds)}
        )
        dataset = mlflow.data.from_pandas(
            paragraph_table(paragraphs, log_text=log_text),
            source=source,
            name="+".join(paragraphs.sources),
            digest=digest[:_MAX_DIGEST],
        )
        mlflow.log_input(dataset, context=context, tags={"data_hash": digest})


def _requirements() -> list[str]:
    from classify.provenance import library_versions

    versions = library_versions()
    return [
        f"{name}=={versions[name]}"
        for name in ("scikit-learn", "skops", "numpy", "scipy", "joblib", "pandas")
        if versions.get(name, "unknown") != "unknown"
    ]


def _experiment_id(uri: str, name: str) -> str:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifact_location = None
    if uri.startswith("sqlite:///"):
        # keep artifacts beside the database, not in whatever folder the user ran from
        database = Path(uri.removeprefix("sqlite:///"))
        artifact_location = (database.parent / ARTIFACTS_FOLDER).resolve().as_uri()
    return client.create_experiment(name, artifact_location=artifact_location)


def _themes_tag(names: tuple[str, ...] | list[str]) -> str:
    # MLflow caps tag values (5,000 characters on older stores): a huge label set goes untagged
    joined = ",".join(names)
    return joined if len(joined) <= 5000 else ""


def existing_store(tracking_uri: str | None, *, hint: str) -> str:
    """The store to *read* (``tracking_uri``, else :func:`default_tracking_uri`), checked before
    MLflow is asked: a server must answer, an SQLite file must exist (MLflow would silently
    create an empty one). ``hint`` says how to get a store."""
    uri = tracking_uri or default_tracking_uri()
    if uri.startswith(("http://", "https://")):
        _check_reachable(uri, hint="start the server, or pass --tracking-uri")
    elif uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///"))
        if not database.is_file():
            raise ClassifyError(f"no MLflow store at {database}", hint=hint)
    return uri


def _check_reachable(
    uri: str, hint: str = "start the server, fix MLFLOW_TRACKING_URI, or train with --no-track"
) -> None:
    """Fail in seconds, not after MLflow's minutes of retries, when a server is down."""
    if uri.startswith(("http://", "https://")):
        try:
            with urllib.request.urlopen(
                f"{uri.rstrip('/')}/health", timeout=_REACH_TIMEOUT_SECONDS
            ):
                pass
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ClassifyError(
                f"cannot reach the MLflow tracking server at {uri} ({reason})", hint=hint
            ) from None
    elif uri.startswith("sqlite:///"):
        folder = Path(uri.removeprefix("sqlite:///")).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ClassifyError(
                f"cannot create the MLflow store folder {folder}: {exc.strerror}",
                hint="pass --tracking-uri or --no-track",
            ) from None


def _quiet_mlflow() -> None:
    # MLflow and alembic announce database migrations at INFO on every new store
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
