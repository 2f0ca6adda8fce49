"""The version folders of a model bundle: each save is complete before it becomes current.

A bundle folder holds one version folder per save and a one-line ``CURRENT`` file naming the one
to load. A save writes its version in a hidden, locked ``.<version>.partial`` folder, renames it
into place and switches ``CURRENT`` with an atomic rename, all under the bundle's lock
(:func:`locked`). A training killed at any moment leaves the previous version current and
loadable; whatever it left behind is removed by the next save. What goes *into* a version
folder is :mod:`classify.model.bundle`'s business.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from classify.atomic import write_file_atomically
from classify.errors import ClassifyError

MANIFEST = "manifest.json"  # in every version folder; its presence makes a folder a version
CURRENT = "CURRENT"
TRAIN_HINT = "train one with `classify train experiments/default.toml`, or pass --model"
_STALE_PARTIAL_SECONDS = 3600


def new_version_name() -> str:
    """A version folder name: the UTC time of the save and a random suffix.

    Example:
        >>> len(new_version_name()), new_version_name()[8]
        (23, 'T')
    """
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)


def check_writable(directory: Path) -> None:
    """Fail now, not after training, if a bundle cannot be written at ``directory``.

    Probes the folder, or the nearest one above it that exists, with a file it removes at once:
    nothing is left behind, not even a folder.

    Example:
        >>> check_writable(tmp / "models" / "default")
        >>> (tmp / "models").exists()
        False
    """
    existing = directory
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    probe = existing / f".write-check.{secrets.token_hex(4)}"
    try:
        probe.touch()
        probe.unlink()
    except OSError as exc:
        reason = f"{existing} is a file" if existing.is_file() else exc.strerror
        raise ClassifyError(f"cannot write a model bundle in {directory}: {reason}") from None


def resolve_version(path: Path) -> Path:
    """The version folder that ``path`` (a bundle or version folder) points at."""
    if (path / MANIFEST).is_file():
        return path
    current = path / CURRENT
    if current.is_file():
        version = current.read_text(encoding="utf-8").strip()
        if not version or "/" in version or "\\" in version or version.startswith("."):
            raise ClassifyError(f"model bundle {path}: {CURRENT} is corrupt", hint=TRAIN_HINT)
        return path / version
    if not path.exists():
        raise ClassifyError(f"model not found: {path}", hint=TRAIN_HINT)
    raise ClassifyError(
        f"{path} is not a model bundle (no {CURRENT} or {MANIFEST})", hint=TRAIN_HINT
    )


@contextlib.contextmanager
def partial_folder(directory: Path, version: str) -> Iterator[Path]:
    """The hidden folder a new version is written in, locked while its training is alive.

    The lock (an flock on the folder, which the system releases when the process dies, even by
    SIGKILL) tells a live training's folder from one a killed training left behind, so the
    next save can remove the latter at once. The folder is made and locked under the bundle lock,
    so a cleanup never sees it unlocked. On failure or Ctrl-C it is removed.
    """
    partial = directory / f".{version}.partial"
    held = None
    try:  # from before mkdir: a Ctrl-C just after it must remove the folder too
        with locked(directory):
            partial.mkdir()
            held = _lock_folder(partial)
        yield partial
    except BaseException as exc:
        shutil.rmtree(partial, ignore_errors=True)
        # Ctrl-C inside a zip write (np.savez, skops) surfaces as zipfile's ValueError about an
        # open writing handle, raised while closing; the user pressed Ctrl-C, so say that.
        interrupted = isinstance(exc.__context__, KeyboardInterrupt)
        if interrupted and not isinstance(exc, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        raise
    finally:
        if held is not None:
            os.close(held)


def publish(directory: Path, partial: Path, version: str) -> None:
    """Move the finished version into place, point CURRENT at it and remove everything else.

    All of it happens under the bundle lock: a training killed at any point leaves either the
    old CURRENT or the new one, each naming a complete version, and whatever it left behind
    (a version it never switched to, a temporary CURRENT, its partial folder) is removed by the
    next save. Concurrent saves switch one after the other; the last one wins.
    """
    with locked(directory):
        os.rename(partial, directory / version)
        write_file_atomically(directory / CURRENT, (version + "\n").encode())
        for entry in directory.iterdir():
            if entry.name == version:
                continue
            if _is_version_folder(entry) or (entry.suffix == ".partial" and _abandoned(entry)):
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.name.startswith(f".{CURRENT}.") and entry.suffix == ".tmp":
                with contextlib.suppress(OSError):
                    entry.unlink()


def _is_version_folder(entry: Path) -> bool:
    return entry.is_dir() and not entry.name.startswith(".") and (entry / MANIFEST).exists()


def _lock_folder(folder: Path) -> int | None:
    """Hold an exclusive flock on ``folder``; returns the descriptor to close (None: no fcntl)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    descriptor = os.open(folder, os.O_RDONLY)
    fcntl.flock(descriptor, fcntl.LOCK_EX)
    return descriptor


def _abandoned(partial: Path) -> bool:
    """Whether no living training holds ``partial`` (by age where flock is unavailable)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        with contextlib.suppress(OSError):
            return partial.stat().st_mtime < time.time() - _STALE_PARTIAL_SECONDS
        return False
    try:
        descriptor = os.open(partial, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False  # a training is writing it
    finally:
        os.close(descriptor)
    return True


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on the bundle folder (POSIX); a no-op where fcntl is unavailable."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(directory / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
