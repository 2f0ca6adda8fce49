"""Bytes to text: document files, standard input and table files, with errors that say where.

A UTF-8 byte-order mark is dropped. An undecodable byte is a :class:`ClassifyError` naming the
source, the byte offset and the line, unless ``errors`` is ``"replace"`` or ``"ignore"``; so is a
decoding that leaves unpaired surrogates (``errors="surrogateescape"``): no output could hold
them. Table files are streamed (:func:`open_table`), after a first pass that checks all of the
file decodes, so that a bad byte near the end stops the read before any row is used.
"""

from __future__ import annotations

import codecs
import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from classify.errors import ClassifyError

# Line breaks as editors count them: line numbers in errors here, in segment and in rows.
LINE_BREAK = re.compile(r"\r\n|\r|\n")
_SURROGATE = re.compile("[\ud800-\udfff]")
_ENCODING_HINT = "pass --encoding (e.g. cp1251; kz1048 for older Kazakh texts) or --errors replace"
_CHUNK = 1 << 20


def read_document(path: str | Path, *, encoding: str = "utf-8", errors: str = "strict") -> str:
    """Read a document file as text; offsets of its paragraphs index the returned string.

    A UTF-8 byte-order mark is dropped. Undecodable bytes raise a :class:`ClassifyError` naming the
    file, byte offset and line, unless ``errors`` is ``"replace"`` or ``"ignore"``.

    Example:
        >>> read_document("seeds/004_69f23285355f99cd.txt")[:30]
        'Kazakhstani security agencies '
    """
    path = Path(path)
    with _reading(path):
        data = path.read_bytes()
    return decode_text(data, str(path), encoding=encoding, errors=errors)


def decode_text(
    data: bytes, source: str, *, encoding: str = "utf-8", errors: str = "strict"
) -> str:
    """Decode bytes read from ``source``, dropping a UTF-8 byte-order mark.

    Undecodable bytes raise a :class:`ClassifyError` with their byte offset and line. So does a
    decoding that leaves unpaired surrogates (``errors="surrogateescape"``): no output could
    hold them.

    Example:
        >>> decode_text("\ufeffTashkent".encode(), "<stdin>")
        'Tashkent'
        >>> try:
        ...     decode_text(b"ok\\nbad \\xff", "a.txt")
        ... except ClassifyError as error:
        ...     print(error.message)
        a.txt: not valid utf-8 at byte 7, line 2 (invalid start byte)
    """
    codec = _codec(encoding)
    try:
        text = data.decode(codec, errors=errors)
    except UnicodeDecodeError as exc:
        # the line of the bad byte: line breaks in everything before it, decoded leniently
        before = data[: exc.start].decode(codec, errors="replace")
        line = len(LINE_BREAK.findall(before)) + 1
        raise _undecodable(source, encoding, exc.start, line, exc.reason) from None
    except UnicodeError as exc:  # codecs with their own checks (punycode)
        raise ClassifyError(f"{source}: not valid {encoding} ({exc})") from None
    except LookupError:
        raise ClassifyError(f"unknown encoding {encoding!r} or error handler {errors!r}") from None
    surrogate = _SURROGATE.search(text)
    if surrogate:
        line = len(LINE_BREAK.findall(text, 0, surrogate.start())) + 1
        raise _leaves_surrogates(source, encoding, errors, line)
    return text


def open_table(path: Path, *, encoding: str = "utf-8", errors: str = "strict") -> TextIO:
    """``path`` opened as text for streaming (``newline=""``), once all of it is known to decode.

    Example:
        >>> _ = (tmp / "rows.csv").write_bytes(b"text\\nok\\n\\xff\\n")
        >>> try:
        ...     open_table(tmp / "rows.csv")
        ... except ClassifyError as error:
        ...     print(error.message.rpartition("/")[2])
        rows.csv: not valid utf-8 at byte 8, line 3 (invalid start byte)
    """
    codec = _codec(encoding)
    try:
        with _reading(path):
            if errors not in ("replace", "ignore"):  # those never fail, nor leave surrogates
                _check_decodes(path, codec, encoding, errors)
            return open(path, encoding=codec, errors=errors, newline="")
    except LookupError:
        raise ClassifyError(f"unknown encoding {encoding!r} or error handler {errors!r}") from None


@contextlib.contextmanager
def _reading(path: Path) -> Iterator[None]:
    """Turn the OS errors of reading ``path`` into one-line :class:`ClassifyError` messages."""
    try:
        yield
    except FileNotFoundError:
        raise ClassifyError(f"no such file: {path}") from None
    except IsADirectoryError:
        raise ClassifyError(f"{path} is a directory, not a file") from None
    except OSError as exc:
        raise ClassifyError(f"{path}: cannot read it ({exc.strerror})") from None


def _check_decodes(path: Path, codec: str, encoding: str, errors: str) -> None:
    """Decode all of ``path`` in chunks, raising what :func:`decode_text` would."""
    decoder = codecs.getincrementaldecoder(codec)(errors)
    fed = 0  # bytes given to the decoder so far
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_CHUNK)
            pending = len(decoder.getstate()[0])
            try:
                text = decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                at = fed - pending + exc.start
                line = _lines_before(path, codec, at)
                raise _undecodable(path, encoding, at, line, exc.reason) from None
            except UnicodeError as exc:  # codecs with their own checks (punycode)
                raise ClassifyError(f"{path}: not valid {encoding} ({exc})") from None
            if errors != "strict" and _SURROGATE.search(text):  # strict never leaves one
                raise _leaves_surrogates(path, encoding, errors, _lines_before(path, codec, fed))
            fed += len(chunk)
            if not chunk:
                return


def _lines_before(path: Path, codec: str, offset: int) -> int:
    """The line that byte ``offset`` of ``path`` is on (the bytes before it decoded leniently)."""
    decoder = codecs.getincrementaldecoder(codec)("replace")
    breaks, last = 0, ""
    with open(path, "rb") as handle:
        while offset > 0:
            chunk = handle.read(min(_CHUNK, offset))
            if not chunk:
                break
            offset -= len(chunk)
            text = decoder.decode(chunk)
            breaks += len(LINE_BREAK.findall(text)) - (last == "\r" and text.startswith("\n"))
            last = text[-1:] or last
    return breaks + 1


def _codec(encoding: str) -> str:
    return "utf-8-sig" if encoding.lower().replace("_", "-") in ("utf-8", "utf8") else encoding


def _undecodable(source: object, encoding: str, at: int, line: int, reason: str) -> ClassifyError:
    return ClassifyError(
        f"{source}: not valid {encoding} at byte {at}, line {line} ({reason})", hint=_ENCODING_HINT
    )


def _leaves_surrogates(source: object, encoding: str, errors: str, line: int) -> ClassifyError:
    return ClassifyError(
        f"{source}: decoding as {encoding} with errors={errors} leaves an unpaired surrogate "
        f"at line {line}",
        hint="use --errors strict, replace or ignore, or another --encoding",
    )
