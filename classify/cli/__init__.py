"""The ``classify`` command line: thin Typer commands over the library, one module per command.

``classify predict ...`` imports only ``cli/predict.py``, not what training or MLflow commands
need, so a prediction starts quickly; ``app`` (``classify --help``, tests) has every command.
"""

from __future__ import annotations

import sys
from importlib import import_module
from typing import Any

# in the order `classify --help` lists them
COMMANDS = (
    "runs",
    "compare",
    "evaluate",
    "explain",
    "predict",
    "promote",
    "segment",
    "suggest",
    "audit",
    "merge",
    "train",
    "tune",
)


def main() -> None:
    """Console-script entry point."""
    from classify.cli._app import app

    _warnings_as_one_line()
    register(sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] in COMMANDS else None)
    app()


def register(command: str | None = None) -> None:
    """Import the module of ``command`` (every command's if ``None``), which adds it to ``app``."""
    for name in [command] if command else COMMANDS:
        import_module(f"classify.cli.{name}")


def __getattr__(name: str) -> Any:
    if name == "app":
        from classify.cli._app import app

        register()
        return app
    raise AttributeError(f"module 'classify.cli' has no attribute {name!r}")


def _warnings_as_one_line() -> None:
    """Show Python warnings as ``warning: message`` on stderr, not with a file and line."""
    import warnings

    from classify.text import printable

    def show(message, category, filename, lineno, file=None, line=None) -> None:
        print(f"warning: {printable(str(message))}", file=file or sys.stderr)

    warnings.showwarning = show


__all__ = ["COMMANDS", "app", "main", "register"]
