"""Helpers for tests that run the real command line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, stdin: str | bytes | None = None, cwd: Path = ROOT, env: dict | None = None
):
    """Run ``python -m classify`` with ``args``; returns the CompletedProcess with text output."""
    data = stdin.encode() if isinstance(stdin, str) else stdin
    completed = subprocess.run(
        [sys.executable, "-m", "classify", *args],
        input=data,
        capture_output=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "160", **(env or {})},
        timeout=300,
    )
    completed.stdout = completed.stdout.decode("utf-8")
    completed.stderr = completed.stderr.decode("utf-8")
    return completed
