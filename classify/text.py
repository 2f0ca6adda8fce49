"""Text normalisation shared by features and fingerprints, a script-based language guess, and
terminal-safe display of text."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterator

# C0 and C1 control characters but tab and newline, and the bidirectional embeddings, overrides
# and isolates: in scraped text they can recolour, retitle or reorder what a terminal shows.
# Everything up to the last whitespace character of a window (greedy: backtracks from its end).
_UP_TO_LAST_SPACE = re.compile(r".*\s", re.DOTALL)
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def normalise_text(text: str) -> str:
    """Unicode NFKC, case folding, and Russian "ё" folded into "е", for Latin and Cyrillic alike.

    ``strip_accents`` is deliberately not used: it would turn Russian "й" into "и". "ё" is folded
    because Russian media write it as "е" most of the time.

    Example:
        >>> normalise_text("ＫＮＢ Straße")
        'knb strasse'
        >>> normalise_text("Учёные ЗАЯВИЛИ")
        'ученые заявили'
    """
    return unicodedata.normalize("NFKC", text).casefold().replace("ё", "е")


def fingerprint(text: str) -> str:
    """A short hash of a paragraph, insensitive to case and spacing: how a model bundle
    remembers which paragraphs it was trained on.

    Example:
        >>> fingerprint("Police  held a DRILL.") == fingerprint("police held a drill.")
        True
    """
    canonical = " ".join(normalise_text(text).split())
    return hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:16]


def detect_language(text: str) -> str:
    """``"ru"`` for mostly-Cyrillic text, ``"en"`` for mostly-Latin text, ``"und"`` without
    letters.

    A count of scripts, not a language model: enough to split metrics by the analysts' two
    reading languages. Kazakh, Kyrgyz or Tajik Cyrillic would be counted as ``"ru"``; give a
    ``lang`` column where that matters.

    Example:
        >>> detect_language("Спецназ провёл учения в аэропорту"), detect_language("Police drill")
        ('ru', 'en')
    """
    cyrillic = latin = 0
    for char in text:
        if char.isalpha():
            if "\u0400" <= char <= "\u04ff":
                cyrillic += 1
            elif char.isascii():
                latin += 1
    if not cyrillic and not latin:
        return "und"
    return "ru" if cyrillic > latin else "en"


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes, safe to print to a terminal.

    Example:
        >>> print(printable("drill\\x1b[31m red\\u202e"))
        drill\\x1b[31m red\\u202e
    """
    return _UNPRINTABLE.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def chunks(text: str, size: int) -> Iterator[str]:
    """Consecutive pieces of ``text`` of at most ``size`` characters, each ending just after a
    whitespace character where the window has one.

    Example:
        >>> list(chunks("one two three", 9))
        ['one two ', 'three']
    """
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if end < len(text):
            match = _UP_TO_LAST_SPACE.match(text, start, end)
            # a window without whitespace is no prose (a data blob): cut it where it ends
            end = match.end() if match else end
        yield text[start:end]
        start = end
