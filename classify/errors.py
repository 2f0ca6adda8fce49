"""The one exception users see.

Library functions raise :class:`ClassifyError` for anything the user can fix (a bad file, a missing
model, an unknown theme). The CLI turns it into a one-line message and exit code 1; Python callers
catch it like any other exception. Library code never exits the process.
"""

from __future__ import annotations


class ClassifyError(Exception):
    """A problem with the user's input, files or settings, with a hint on what to do.

    Example:
        >>> err = ClassifyError("model not found: models/x", hint="run `classify train` first")
        >>> str(err)
        'model not found: models/x; run `classify train` first'
    """

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}; {self.hint}" if self.hint else self.message
