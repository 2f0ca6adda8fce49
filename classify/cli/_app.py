"""The Typer app and the one place where library errors become one-line messages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import typer
from rich.console import Console

from classify.errors import ClassifyError
from classify.text import printable

app = typer.Typer(
    name="classify",
    help="Tag paragraphs of news and analysis with themes: segment, train, evaluate, predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


@app.callback()
def root() -> None:
    """Tag paragraphs of news and analysis with themes: segment, train, evaluate, predict."""
    # A callback keeps `classify COMMAND` a group even when only the command being run is
    # registered (see classify/cli/__init__.py); Typer would otherwise run a lone command bare.


# markup=False: file names, ids and paragraph text are printed as they are; a "[/b]" in a scraped
# paragraph must not be read as a style tag (it would raise).
stdout = Console(highlight=False, soft_wrap=False, markup=False)
stderr = Console(stderr=True, highlight=False, markup=False)

F = TypeVar("F", bound=Callable[..., Any])

# Options that `train` and `tune` share, spelled once.
Overrides = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one config value: section.key=value (repeatable)."),
]
ModelsDir = Annotated[Path, typer.Option(help="Where model bundles are written.")]
TrainingTrackingUri = Annotated[
    str | None,
    typer.Option(
        help="MLflow store. Default: $MLFLOW_TRACKING_URI, else mlflow.db beside the "
        "experiment file."
    ),
]
NoTrack = Annotated[bool, typer.Option("--no-track", help="Do not log to MLflow.")]
# The inputs `predict` and `explain` read (and `classify.data.inputs.InputStream` takes).
Inputs = Annotated[
    list[str] | None,
    typer.Argument(
        help="Texts, document files, folders, .csv/.jsonl/.parquet tables, or - for stdin.",
        show_default=False,
    ),
]
Model = Annotated[
    str,
    typer.Option(
        "--model",
        "-m",
        help="Model bundle folder, or an MLflow model: models:/NAME@ALIAS, models:/NAME/VERSION, "
        "runs:/RUN_ID/model.",
    ),
]
Models = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        "-m",
        help="Model bundle folder, or an MLflow model: models:/NAME@ALIAS, models:/NAME/VERSION, "
        "runs:/RUN_ID/model. Repeat it to tag with models of several label sets at once "
        "(default: models/default).",
    ),
]
Jobs = Annotated[
    int, typer.Option("--jobs", "-j", help="Parallel processes for the fits (-1: every core).")
]
FitsEngine = Annotated[
    Literal["local", "dask"],
    typer.Option(
        "--engine",
        help="local: --jobs processes here. dask: the fits run on a Dask cluster (joblib's Dask "
        "backend), with the same results.",
    ),
]
Scheduler = Annotated[
    str | None,
    typer.Option(
        help="Dask scheduler address. Default: $DASK_SCHEDULER_ADDRESS, else a local cluster "
        "of --jobs worker processes."
    ),
]


def reports_errors(command: F) -> F:
    """Turn the user's errors into ``error: ...`` on stderr and exit code 1, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except ClassifyError as exc:
            fail(str(exc))
        except OSError as exc:  # disk full, permission denied, ... while reading or writing
            where = f": {exc.filename}" if exc.filename else ""
            fail(f"{exc.strerror or exc}{where}")
        except KeyboardInterrupt:
            stderr.print("interrupted")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


def fail(message: str) -> None:
    stderr.print(f"error: {printable(message)}", soft_wrap=True)
    raise typer.Exit(1)


def load_models(models: list[str] | None, tracking_uri: str | None = None) -> Any:
    """:func:`load_model` of one ``--model``; several together as one ``Predictors``."""
    models = models or ["models/default"]
    if len(models) == 1:
        return load_model(models[0], tracking_uri)
    from classify.predict.predictors import Predictors

    return Predictors([load_model(model, tracking_uri) for model in models])


def load_model(model: str, tracking_uri: str | None = None) -> Any:
    """The ``Predictor`` of a bundle folder, or of an MLflow model URI (``models:/NAME@ALIAS``,
    ``runs:/RUN_ID/model``), which alone imports MLflow."""
    from classify.predict.predictor import Predictor
    from classify.track.registry import is_model_uri, load_predictor

    if is_model_uri(model):
        return load_predictor(model, tracking_uri)
    return Predictor.load(Path(model))
