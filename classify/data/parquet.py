"""Rows of Parquet files, read one batch at a time (pyarrow is imported only for Parquet).

Example:
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> pq.write_table(pa.table({"id": ["a", "b"], "text": ["Drill.", None]}), tmp / "t.parquet")
    >>> table = ParquetRows(tmp / "t.parquet")
    >>> table.columns, list(table.rows(["text"]))
    (['id', 'text'], [(1, {'text': 'Drill.'}), (2, {'text': None})])
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from classify.errors import ClassifyError

PARQUET_SUFFIXES = (".parquet",)
_BATCH_ROWS = 8192  # rows decoded at a time: memory stays flat in the size of the file


def is_parquet(path: Path) -> bool:
    return path.suffix.lower() in PARQUET_SUFFIXES


class ParquetRows:
    """The rows of one Parquet file, as ``(row number, {column: value})``, counted from 1."""

    def __init__(self, path: Path) -> None:
        try:
            import pyarrow.parquet as pq
        except ImportError:  # pragma: no cover - pyarrow is a dependency
            raise ClassifyError(
                "reading Parquet needs pyarrow", hint="pip install pyarrow"
            ) from None
        self.path = path
        try:
            self._file = pq.ParquetFile(path)
        except FileNotFoundError:
            raise ClassifyError(f"no such file: {path}") from None
        except Exception as exc:  # pyarrow reports a bad file as ArrowInvalid, OSError, ...
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ClassifyError(f"{path}: not a Parquet file ({reason})") from None
        self.columns: list[str] = list(self._file.schema_arrow.names)
        self.rows_total: int = self._file.metadata.num_rows

    def text_type(self, column: str) -> str | None:
        """The column's type if it does not hold text (strings, or nulls only), else ``None``."""
        import pyarrow as pa

        kind = self._file.schema_arrow.field(column).type
        textual = pa.types.is_string(kind) or pa.types.is_large_string(kind)
        return None if textual or pa.types.is_null(kind) else str(kind)

    def rows(self, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, Any]]]:
        """Every row's values of ``columns`` (those the file has)."""
        wanted = [c for c in columns if c in self.columns]
        number = 0
        for batch in self._file.iter_batches(batch_size=_BATCH_ROWS, columns=wanted):
            for record in batch.to_pylist():
                number += 1
                yield number, record
