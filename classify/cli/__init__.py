"""The ``classify`` command line: thin Typer commands over the library, one module per command."""

from __future__ import annotations

from classify.cli import (  # noqa: F401  (they register commands)
    compare,
    evaluate,
    predict,
    promote,
    runs,
    segment,
    train,
    tune,
)
from classify.cli._app import app


def main() -> None:
    """Console-script entry point."""
    app()


__all__ = ["app", "main"]
