"""Write-then-rename helpers: a file or folder is either complete or absent, never half-written."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_file_atomically(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    An interrupted write leaves the old file (or no file) in place, never a truncated one.

    Example:
        >>> write_file_atomically("/tmp/classify-example.txt", b"ok")
    """
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(temporary, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise


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
