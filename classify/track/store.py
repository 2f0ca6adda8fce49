"""Where runs are kept: the MLflow store a command uses, checked before MLflow is asked.

The default store is an SQLite file beside the experiment file (``experiments/mlflow.db``) with
artifacts in ``experiments/mlartifacts``; ``MLFLOW_TRACKING_URI`` (or ``--tracking-uri``)
overrides it. A server that does not answer, or an SQLite file that does not exist where one is
read, is a one-line error in seconds instead of MLflow's minutes of retries or a new empty store.
"""

from __future__ import annotations

import logging
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from classify.errors import ClassifyError

if TYPE_CHECKING:
    from classify.model.config import ExperimentConfig

STORE_FILE = "mlflow.db"
STORE_FOLDER = "experiments"  # the default experiment file's folder, relative to the project
ARTIFACTS_FOLDER = "mlartifacts"
_REACH_TIMEOUT_SECONDS = 5.0


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


def existing_store(tracking_uri: str | None, *, hint: str) -> str:
    """The store to *read* (``tracking_uri``, else :func:`default_tracking_uri`), checked before
    MLflow is asked: a server must answer, an SQLite file must exist (MLflow would silently
    create an empty one). ``hint`` says how to get a store."""
    uri = tracking_uri or default_tracking_uri()
    if uri.startswith(("http://", "https://")):
        check_reachable(uri, hint="start the server, or pass --tracking-uri")
    elif uri.startswith("sqlite:///"):
        database = Path(uri.removeprefix("sqlite:///"))
        if not database.is_file():
            raise ClassifyError(f"no MLflow store at {database}", hint=hint)
    return uri


def check_reachable(
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


def quiet_mlflow() -> None:
    """Keep MLflow's INFO chatter off the terminal."""
    # MLflow and alembic announce database migrations at INFO on every new store
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


def experiment_id(uri: str, name: str) -> str:
    """The id of the MLflow experiment ``name`` in the store at ``uri``, created if new."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        client = MlflowClient(uri)
    except MlflowException as exc:  # e.g. a folder store, which MLflow no longer takes
        first = str(exc).strip().split(". ")[0]
        raise ClassifyError(
            f"cannot use the MLflow store {uri}: {first}",
            hint="use a database store, e.g. --tracking-uri sqlite:///experiments/mlflow.db",
        ) from None
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return experiment.experiment_id
    artifact_location = None
    if uri.startswith("sqlite:///"):
        # keep artifacts beside the database, not in whatever folder the user ran from
        database = Path(uri.removeprefix("sqlite:///"))
        artifact_location = (database.parent / ARTIFACTS_FOLDER).resolve().as_uri()
    return client.create_experiment(name, artifact_location=artifact_location)
