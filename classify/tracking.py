"""MLflow tracking: the only module that imports MLflow, and only inside its functions.

Each training is one run: the flattened config as params, every cross-validation metric (overall
and per theme), tags for the data hash, label set and git commit, the out-of-fold predictions as a
CSV artifact, and the model bundle as an MLflow pyfunc model with a signature and input example.

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
from classify.outputs import metrics_table, render_text
from classify.provenance import git_commit

if TYPE_CHECKING:
    from classify.training import TrainingResult

STORE_FILE = "mlflow.db"
ARTIFACTS_FOLDER = "mlartifacts"
MODEL_NAME = "model"
_REACH_TIMEOUT_SECONDS = 5.0


def default_tracking_uri(config: ExperimentConfig) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else the SQLite store beside the experiment file
    (``sqlite:////project/experiments/mlflow.db`` for ``experiments/default.toml``)."""
    return (
        os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(config.base_dir) / STORE_FILE}"
    )


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

    def __init__(self, tracking_uri: str | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.run_id: str | None = None

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
                **({"bundle": str(Path(bundle_dir).resolve())} if bundle_dir else {}),
                "evaluation": result.describe_evaluation(),
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            result.out_of_fold_table().to_csv(folder / "oof_predictions.csv", index=False)
            (folder / "cv_metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
            (folder / "thresholds.json").write_text(json.dumps(result.thresholds, indent=2) + "\n")
            table = metrics_table(result.cv.metrics, f"{result.config.name}: out-of-fold metrics")
            (folder / "cv_metrics.txt").write_text(render_text(table))
            for name in (
                "oof_predictions.csv",
                "cv_metrics.json",
                "thresholds.json",
                "cv_metrics.txt",
            ):
                mlflow.log_artifact(str(folder / name), artifact_path="evaluation")
        if bundle_dir is not None:
            log_bundle_as_model(bundle_dir, result)

    def finish(self, *, failed: bool) -> None:
        import mlflow

        if self.run_id is not None:
            mlflow.end_run(status="FAILED" if failed else "FINISHED")


def log_bundle_as_model(bundle_dir: Path, result: TrainingResult) -> None:
    """Log the bundle as an MLflow pyfunc model (loader module + bundle files) in the active run."""
    import mlflow.pyfunc
    import pandas as pd
    from mlflow.models import infer_signature

    from classify.mlflow_model import PyfuncThemeModel
    from classify.predictor import Predictor

    version_dir = resolve_version(Path(bundle_dir))
    example = pd.DataFrame({"text": _example_texts(result)})
    output = PyfuncThemeModel(Predictor.load(version_dir)).predict(example)
    mlflow.pyfunc.log_model(
        name=MODEL_NAME,
        loader_module="classify.mlflow_model",
        data_path=str(version_dir),
        code_paths=[str(Path(classify.__file__).parent)],
        signature=infer_signature(example, output),
        input_example=example,
        pip_requirements=_requirements(),
    )


def _example_texts(result: TrainingResult) -> list[str]:
    # the two shortest body paragraphs: small, real, and with the input's true shape
    texts = sorted(result.training.texts, key=len)
    return texts[:2]


def _requirements() -> list[str]:
    from classify.provenance import library_versions

    versions = library_versions()
    return [
        f"{name}=={versions[name]}"
        for name in ("scikit-learn", "numpy", "scipy", "joblib", "pandas")
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


def _check_reachable(uri: str) -> None:
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
                f"cannot reach the MLflow tracking server at {uri} ({reason})",
                hint="start the server, fix MLFLOW_TRACKING_URI, or train with --no-track",
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
