"""The MLflow model registry: register a run's model, promote a version, load a registered model.

Like the rest of :mod:`classify.track`, this module imports MLflow only inside its functions, so
importing it (the CLI does) stays light. A registered model is the logged pyfunc model of a
training run, whose data folder is the model bundle itself: :func:`load_predictor` downloads it
and loads it with :meth:`Predictor.load <classify.predict.predictor.Predictor.load>`, so a
registry model predicts exactly like the local bundle it was logged from.

Example::

    from classify.track.registry import load_predictor, set_alias

    set_alias("themes", 3, "champion")  # what `classify promote themes 3 --alias champion` does
    predictor = load_predictor("models:/themes@champion")  # or models:/themes/3, runs:/ID/model
    predictor.predict(["Police rehearsed a hostage rescue at the airport."])
"""

from __future__ import annotations

import atexit
import contextlib
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classify.errors import ClassifyError

if TYPE_CHECKING:
    from classify.predict.predictor import Predictor

# what MLflow resolves to a logged model: a registered name with a version or alias, or a run's
MODEL_URI_SCHEMES = ("models:/", "runs:/")


@dataclass(frozen=True, slots=True)
class Promotion:
    """What :func:`set_alias` did: ``alias`` now points at ``version`` of ``name``."""

    name: str
    version: int
    alias: str
    previous: int | None  # the version the alias pointed at before, if any
    run_id: str | None  # the training run that logged this version's model


def is_model_uri(value: str) -> bool:
    """True for an MLflow model URI (``models:/...``, ``runs:/...``), False for a folder path.

    Example:
        >>> is_model_uri("models:/themes@champion"), is_model_uri("models/default")
        (True, False)
    """
    return value.startswith(MODEL_URI_SCHEMES)


def check_model_name(name: str) -> str:
    """A registered-model name usable in ``models:/NAME@ALIAS`` URIs, or a ClassifyError.

    Example:
        >>> check_model_name("themes")
        'themes'
        >>> check_model_name("a/b")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        classify.errors.ClassifyError: bad model name 'a/b': it contains /; use letters, ...
    """
    bad = [c for c in "/:@" if c in name]
    if not name.strip() or name != name.strip() or bad:
        why = f"it contains {' '.join(bad)}" if bad else "it is empty or has spaces around it"
        raise ClassifyError(
            f"bad model name {name!r}: {why}", hint="use letters, digits, - and _ (e.g. themes)"
        )
    return name


def store_uri(tracking_uri: str | None = None) -> str:
    """The MLflow store to read: ``tracking_uri``, else ``MLFLOW_TRACKING_URI``, else
    ``experiments/mlflow.db`` under the current folder (where ``classify train`` logs by default).

    Fails with a one-line error when that store is a server that does not answer or an SQLite
    file that does not exist (MLflow would silently create an empty one).
    """
    from classify.track.store import existing_store

    hint = "train with `classify train --register NAME`, or pass --tracking-uri"
    return existing_store(tracking_uri, hint=hint + " (or set MLFLOW_TRACKING_URI)")


def register_model(model_uri: str, name: str) -> int:
    """Register a logged model (``models:/<model id>`` or ``runs:/<run id>/model``) under
    ``name`` in the current MLflow store (the training run's), creating the registered model on
    first use; returns the new version number."""
    import mlflow

    check_model_name(name)
    try:
        version = mlflow.register_model(model_uri, name)
    except mlflow.MlflowException as exc:
        raise ClassifyError(
            f"cannot register {model_uri} as {name!r}: {_first_line(exc)}"
        ) from None
    return int(version.version)


def set_alias(
    name: str, version: int | str, alias: str, tracking_uri: str | None = None
) -> Promotion:
    """Point ``alias`` (e.g. ``champion``) at a registered version, moving it if it is set.

    Unknown names and versions are ClassifyErrors naming what exists.
    """
    from mlflow import MlflowException
    from mlflow.tracking import MlflowClient

    number = _version_number(version)
    uri = store_uri(tracking_uri)
    client = MlflowClient(tracking_uri=uri)
    model_version = _model_version(client, name, number, uri)
    previous = None
    with contextlib.suppress(MlflowException):  # raised when the alias is new
        previous = int(client.get_model_version_by_alias(name, alias).version)
    try:
        client.set_registered_model_alias(name, alias, str(number))
    except MlflowException as exc:
        raise ClassifyError(f"cannot set alias {alias!r} on {name}: {_first_line(exc)}") from None
    return Promotion(name, number, alias, previous, model_version.run_id)


def load_predictor(
    uri: str, tracking_uri: str | None = None, *, dst: str | Path | None = None
) -> Predictor:
    """Download the model bundle behind an MLflow model URI and load it as a Predictor.

    ``uri``: ``models:/NAME@ALIAS``, ``models:/NAME/VERSION`` or ``runs:/RUN_ID/model``. The
    files go to ``dst`` if given, else to a temporary folder removed when Python exits (the
    predictor reads its bundle folder lazily). The store comes from :func:`store_uri`.
    """
    from mlflow import MlflowException
    from mlflow.artifacts import download_artifacts
    from mlflow.tracking import MlflowClient

    from classify.predict.predictor import Predictor

    if not is_model_uri(uri):
        raise ClassifyError(
            f"not an MLflow model URI: {uri}",
            hint="use models:/NAME@ALIAS, models:/NAME/VERSION or runs:/RUN_ID/model",
        )
    store = store_uri(tracking_uri)
    folder = Path(dst) if dst is not None else _scratch_folder()
    try:
        location = _model_location(MlflowClient(tracking_uri=store), uri)
        local = Path(
            download_artifacts(artifact_uri=location, dst_path=str(folder), tracking_uri=store)
        )
    except MlflowException as exc:
        where = "registered versions and aliases" if uri.startswith("models:/") else "run ids"
        raise ClassifyError(
            f"cannot load {uri} from {store}: {_first_line(exc)}",
            hint=f"see the {where} in the MLflow UI, or pass --tracking-uri",
        ) from None
    return Predictor.load(local / _bundle_path(local, uri))


def _model_location(client: Any, uri: str) -> str:
    """The artifact location of the model a URI names, resolved in ``client``'s store.

    Done here rather than by MLflow because MLflow 3 resolves a run's logged model in the
    process-wide default store, not in the one passed as ``tracking_uri``.
    """
    if uri.startswith("runs:/"):
        run_id, _, name = uri.removeprefix("runs:/").partition("/")
        name = name.strip("/")
        run = client.get_run(run_id)  # raises "Run ... not found"
        query = f"source_run_id = '{run_id}' AND name = '{name}'"
        logged = client.search_logged_models([run.info.experiment_id], filter_string=query)
        if logged:
            return logged[0].artifact_location
        return f"{run.info.artifact_uri.rstrip('/')}/{name}"  # a model stored in the run itself
    reference = uri.removeprefix("models:/").strip("/")
    if "@" in reference:
        name, alias = reference.split("@", 1)
        version = client.get_model_version_by_alias(name, alias).version
    elif "/" in reference:
        name, version = reference.split("/", 1)
    else:  # models:/<model id>, as `log_model` returns it
        return client.get_logged_model(reference).artifact_location
    return client.get_model_version_download_uri(name, version)


def _bundle_path(model_dir: Path, uri: str) -> str:
    """The pyfunc data path (the bundle folder) of a downloaded classify model."""
    from mlflow.models import Model

    from classify.track.pyfunc import LOADER_MODULE

    if not (model_dir / "MLmodel").is_file():
        raise ClassifyError(f"{uri} is not an MLflow model (no MLmodel file)")
    flavor: dict[str, Any] = Model.load(str(model_dir)).flavors.get("python_function", {})
    if flavor.get("loader_module") != LOADER_MODULE or not flavor.get("data"):
        raise ClassifyError(
            f"{uri} is not a classify model (loader {flavor.get('loader_module')!r})",
            hint="use a model logged by `classify train`",
        )
    return str(flavor["data"])


def _model_version(client: Any, name: str, number: int, uri: str) -> Any:
    from mlflow import MlflowException

    try:
        client.get_registered_model(name)
    except MlflowException:
        raise ClassifyError(
            f"no registered model {name!r} in {uri}",
            hint=f"register one with `classify train --register {name}`",
        ) from None
    try:
        return client.get_model_version(name, str(number))
    except MlflowException:
        versions = sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))
        have = ", ".join(map(str, versions)) or "none"
        raise ClassifyError(f"{name} has no version {number} (versions: {have})") from None


def _version_number(version: int | str) -> int:
    try:
        number = int(version)
    except (TypeError, ValueError):
        number = 0
    if number < 1:
        raise ClassifyError(
            f"bad model version {version!r}", hint="use a version number: 1, 2, ..."
        )
    return number


def _scratch_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="classify-model-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder


def _first_line(exc: Exception) -> str:
    # MLflow messages can carry a traceback-like tail (the CLI shows one line), and over HTTP
    # an error-code prefix ("RESOURCE_DOES_NOT_EXIST: ...") that a local store does not add
    message = str(getattr(exc, "message", exc)).strip()
    if not message:
        return type(exc).__name__
    return re.sub(r"^[A-Z_]+: ", "", message.splitlines()[0]).rstrip(".")
