"""Text normalisation shared by features and fingerprints, and a script-based language guess."""

from __future__ import annotations

import unicodedata


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
