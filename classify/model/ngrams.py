"""Where a paragraph's n-grams come from: the words of the original text behind each feature.

The scoring engine counts n-grams of the normalised text (:func:`classify.text.normalise_text`)
the way scikit-learn's analyzers do; an explanation needs to show them as words of the paragraph
the analyst reads, in either script. :func:`locate_ngrams` finds every n-gram of one analyzer
with the words it came from, as indices into :func:`words_of` (whitespace-separated words of the
original text with their character offsets).

Each whitespace or non-whitespace run of the original text is normalised on its own, so every
normalised character knows its word; for ordinary text the concatenation is exactly the
normalised paragraph. Where Unicode normalisation joins across a run boundary (a combining mark
after a space), an n-gram may not be found here: an explanation then reports its contribution as
not placed instead of guessing.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections import defaultdict
from dataclasses import dataclass

from classify.text import chunks, normalise_text

_RUNS = re.compile(r"\s+|\S+")
_WORDS = re.compile(r"\S+")
_TOKENS = re.compile(r"\w\w+")  # scikit-learn's default token pattern, \b\w\w+\b, on runs of \w
_SPACES = re.compile(r"\s\s+")  # the char analyzer's runs of whitespace, which become one space
_CORE = re.compile(r"\w(?:.*\w)?", re.DOTALL)  # a word without the punctuation around it


@dataclass(frozen=True, slots=True)
class Word:
    """A whitespace-separated word of a paragraph: its text without surrounding punctuation
    (the whole word if it is all punctuation), and that text's character offsets."""

    text: str
    start: int
    end: int


Occurrence = tuple[int, ...]  # the words (indices into words_of) one n-gram occurrence covers


def words_of(text: str) -> list[Word]:
    """The words of ``text`` in order, trimmed of punctuation, with offsets into ``text``.

    Example:
        >>> [(w.text, w.start, w.end) for w in words_of("(KNB) raided a cell.")]
        [('KNB', 1, 4), ('raided', 6, 12), ('a', 13, 14), ('cell', 15, 19)]
    """
    words = []
    for match in _WORDS.finditer(text):
        core = _CORE.search(match[0])
        start, end = (
            (match.start() + core.start(), match.start() + core.end())
            if core
            else (
                match.start(),
                match.end(),
            )
        )
        words.append(Word(text[start:end], start, end))
    return words


def locate_ngrams(
    text: str,
    analyzer: str,
    ngram_range: tuple[int, int],
    *,
    stop_words: frozenset[str] = frozenset(),
    chunk_chars: int | None = None,
) -> dict[str, list[Occurrence]]:
    """Every n-gram the engine counts in ``text`` for one feature block, with its occurrences.

    ``chunk_chars``: texts longer than this are counted chunk by chunk, as the engine does (no
    word n-gram spans two chunks).

    Example:
        >>> located = locate_ngrams("Police drill", "word", (1, 2))
        >>> located["police drill"], located["drill"]
        ([(0, 1)], [(1,)])
        >>> locate_ngrams("Drill", "char_wb", (2, 3))[" dr"]
        [(0,)]
    """
    located: dict[str, list[Occurrence]] = defaultdict(list)
    grams, words = ngram_occurrences(
        text, analyzer, ngram_range, stop_words=stop_words, chunk_chars=chunk_chars
    )
    for gram, occurrence in zip(grams, words, strict=True):
        located[gram].append(occurrence)
    return dict(located)


def ngram_occurrences(
    text: str,
    analyzer: str,
    ngram_range: tuple[int, int],
    *,
    stop_words: frozenset[str] = frozenset(),
    chunk_chars: int | None = None,
) -> tuple[list[str], list[Occurrence]]:
    """:func:`locate_ngrams` as two parallel lists, one entry per occurrence: the n-gram, and
    the words it covers (the fast form, for explanations of many paragraphs).

    Example:
        >>> ngram_occurrences("Police drill", "word", (1, 2))
        (['police', 'drill', 'police drill'], [(0,), (1,), (0, 1)])
    """
    found = _Found()
    pieces = (
        [text]
        if chunk_chars is None or len(text) <= chunk_chars
        else list(chunks(text, chunk_chars))
    )
    word_starts = [match.start() for match in _WORDS.finditer(text)]
    piece_start = 0
    for piece in pieces:
        normalised, owners = _normalised_runs(piece, piece_start, word_starts)
        if analyzer == "word":
            _word_ngrams(normalised, owners, ngram_range, stop_words, found)
        elif analyzer == "char_wb":
            _char_wb_ngrams(normalised, owners, ngram_range, found)
        elif analyzer == "char":
            _char_ngrams(normalised, owners, ngram_range, found)
        else:
            raise ValueError(f"unknown analyzer {analyzer!r}")
        piece_start += len(piece)
    return found.grams, found.words


class _Found:
    """Occurrences as they are found: two parallel lists."""

    def __init__(self) -> None:
        self.grams: list[str] = []
        self.words: list[Occurrence] = []

    def add(self, gram: str, words: Occurrence) -> None:
        self.grams.append(gram)
        self.words.append(words)


def _normalised_runs(piece: str, piece_start: int, word_starts: list[int]) -> tuple[str, list[int]]:
    """``piece`` (of the text, from ``piece_start``) normalised run by run, and the word of
    each normalised character (its index among ``word_starts``; -1: whitespace)."""
    parts: list[str] = []
    owners: list[int] = []
    for match in _RUNS.finditer(piece):
        normalised = normalise_text(match[0])
        parts.append(normalised)
        if match[0][0].isspace():
            owners.extend([-1] * len(normalised))
        else:  # a chunk may cut a long blob: its second part still belongs to the same word
            word = bisect.bisect_right(word_starts, piece_start + match.start()) - 1
            owners.extend([word] * len(normalised))
    return "".join(parts), owners


def _covered(owners: list[int], start: int, end: int) -> Occurrence:
    """The distinct words behind the normalised characters ``start:end``, in order."""
    return tuple(dict.fromkeys(o for o in owners[start:end] if o >= 0))


def _word_ngrams(normalised, owners, ngram_range, stop_words, found: _Found) -> None:
    tokens = [
        (match[0], owners[match.start()])
        for match in _TOKENS.finditer(normalised)
        if match[0] not in stop_words
    ]
    low, high = ngram_range
    for n in range(low, high + 1):
        for i in range(len(tokens) - n + 1):
            gram = tokens[i : i + n]
            words = tuple(dict.fromkeys(word for _, word in gram if word >= 0))
            found.add(" ".join(token for token, _ in gram), words)


def _char_wb_ngrams(normalised, owners, ngram_range, found: _Found) -> None:
    low, high = ngram_range
    for match in _WORDS.finditer(normalised):
        grams = _padded_grams(f" {match[0]} ", low, high)
        found.grams.extend(grams)
        found.words.extend([_covered(owners, match.start(), match.end())] * len(grams))


@functools.lru_cache(maxsize=1 << 16)  # a paragraph's words are mostly words seen before
def _padded_grams(padded: str, low: int, high: int) -> tuple[str, ...]:
    """scikit-learn's ``_char_wb_ngrams`` of one padded word: a padded word shorter than n is
    counted once, whole."""
    grams = []
    for n in range(low, high + 1):
        grams.append(padded[:n])
        if len(padded) <= n:
            break
        grams.extend(padded[offset : offset + n] for offset in range(1, len(padded) - n + 1))
    return tuple(grams)


def _char_ngrams(normalised, owners, ngram_range, found: _Found) -> None:
    collapsed: list[str] = []
    kept: list[int] = []
    position = 0
    for match in _SPACES.finditer(normalised):  # a run of whitespace becomes one space
        collapsed.append(normalised[position : match.start()])
        kept.extend(owners[position : match.start()])
        collapsed.append(" ")
        kept.append(-1)
        position = match.end()
    collapsed.append(normalised[position:])
    kept.extend(owners[position:])
    text = "".join(collapsed)
    low, high = ngram_range
    for n in range(low, high + 1):
        for start in range(len(text) - n + 1):
            found.add(text[start : start + n], _covered(kept, start, start + n))
