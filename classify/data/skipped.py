"""What an ``on_error="skip"`` read left out, and how it is reported.

Example:
    >>> print("\\n".join(describe_skipped([Skipped("a.csv", 3, "empty 'text'")])))
    skipped 1 row:
      a.csv:3: empty 'text'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Skipped:
    """A row (``line`` set) or a whole file (``line`` None) left out under ``on_error="skip"``.

    Example:
        >>> str(Skipped("a.jsonl", 3, "not valid JSON (Expecting value)"))
        'a.jsonl:3: not valid JSON (Expecting value)'
    """

    source: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = self.source if self.line is None else f"{self.source}:{self.line}"
        return f"{where}: {self.reason}"


def describe_count(skipped: Sequence[Skipped]) -> str:
    """``"2 rows and 1 file"``: how many rows and whole files were skipped.

    Example:
        >>> describe_count([Skipped("a.csv", 3, "x"), Skipped("b.txt", None, "y")])
        '1 row and 1 file'
    """
    rows = sum(1 for s in skipped if s.line is not None)
    return describe_counts(rows, len(skipped) - rows)


def describe_counts(rows: int, files: int) -> str:
    """``"2 rows and 1 file"``."""
    counts = ((rows, "row"), (files, "file"))
    return " and ".join(f"{n} {word}{'' if n == 1 else 's'}" for n, word in counts if n)


def describe_skipped(
    skipped: Sequence[Skipped], *, limit: int = 10, counts: tuple[int, int] | None = None
) -> list[str]:
    """Report lines for the skipped inputs: a count, the first ``limit``, then how many more.

    ``counts`` (rows, files) when ``skipped`` lists only the first of them (an InputStream's).

    Example:
        >>> skipped = [Skipped("a.jsonl", n, "not valid JSON") for n in (3, 7, 9)]
        >>> print("\\n".join(describe_skipped(skipped, limit=2)))
        skipped 3 rows:
          a.jsonl:3: not valid JSON
          a.jsonl:7: not valid JSON
          and 1 more
    """
    if not skipped:
        return []
    rows, files = counts if counts is not None else (None, None)
    total = len(skipped) if rows is None else rows + files
    header = describe_count(skipped) if rows is None else describe_counts(rows, files)
    lines = [f"skipped {header}:"]
    lines += [f"  {s}" for s in skipped[:limit]]
    if total > limit:
        lines.append(f"  and {total - limit} more")
    return lines
