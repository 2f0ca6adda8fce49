"""Where a model came from: library versions and the git commit of the code that trained it."""

from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

LIBRARIES = ("classify", "scikit-learn", "skops", "numpy", "scipy", "joblib", "pandas")


def library_versions() -> dict[str, str]:
    """Versions of Python and of the libraries a model bundle depends on.

    Example:
        >>> "scikit-learn" in library_versions()
        True
    """
    versions = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def git_commit(path: str | Path = ".") -> str | None:
    """The commit checked out at ``path`` (with ``+dirty`` for local changes), or ``None``.

    Example:
        >>> git_commit("/")  # not a git checkout
    """
    try:
        head = subprocess.run(
            ["git", "-C", str(path), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(path), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{head}+dirty" if dirty else head
