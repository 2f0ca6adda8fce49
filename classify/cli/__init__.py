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
    _warnings_as_one_line()
    app()


def _warnings_as_one_line() -> None:
    """Show Python warnings as ``warning: message`` on stderr, not with a file and line."""
    import sys
    import warnings

    from classify.text import printable

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"warning: {printable(str(message))}", file=file or sys.stderr)

    warnings.showwarning = show


__all__ = ["app", "main"]
