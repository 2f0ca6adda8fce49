"""Write-then-rename helpers: a file or folder is either complete or absent, never half-written."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path


def write_file_atomically(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    An interrupted write leaves the old file (or no file) in place, never a truncated one.

    Example:
        >>> write_file_atomically("/tmp/classify-example.txt", b"ok")
    """
    with atomic_path(path) as partial, open(partial, "wb") as handle:
        handle.write(data)


def fsync_tree(folder: Path) -> None:
    """Flush every file of ``folder`` and the folder itself to disk before it is renamed."""
    for file in folder.iterdir():
        with open(file, "rb") as handle:
            os.fsync(handle.fileno())
    with contextlib.suppress(OSError):  # not every platform can open a directory for fsync
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to; renamed to ``path`` if the block succeeds,
    removed if it fails or is interrupted (Ctrl-C), so ``path`` is never left half-written.

    Example:
        >>> with atomic_path("/tmp/classify-example.txt") as partial:
        ...     _ = partial.write_text("ok")
        >>> open("/tmp/classify-example.txt").read()
        'ok'
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        yield temporary
        with open(temporary, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
