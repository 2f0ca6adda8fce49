"""Near-duplicate paragraphs: the same text with small edits (a reworded lead, a wire story
republished with a different dateline), found by the Jaccard similarity of word shingles.

A paragraph's shingles are its runs of three consecutive words (case-folded, Unicode-normalised,
punctuation ignored), or its words when it has fewer than three. Two paragraphs are near
duplicates when the shingles they share are at least ``threshold`` of all their shingles.
:class:`ShingleIndex` finds the near duplicates of a paragraph among many without comparing it
to every one: only paragraphs sharing a shingle are compared.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from classify.text import normalise_text

_WORD = re.compile(r"\w+")
SHINGLE_WORDS = 3
DEFAULT_THRESHOLD = 0.8


def shingles(text: str) -> frozenset[str]:
    """The word shingles of ``text``.

    Example:
        >>> sorted(shingles("Police held a drill."))
        ['held a drill', 'police held a']
        >>> sorted(shingles("A drill!"))
        ['a', 'drill']
    """
    words = _WORD.findall(normalise_text(text))
    if len(words) < SHINGLE_WORDS:
        return frozenset(words)
    return frozenset(" ".join(words[i : i + SHINGLE_WORDS]) for i in range(len(words) - 2))


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    """Shared shingles over all shingles (0 for two empty sets).

    Example:
        >>> jaccard(shingles("Police held a drill"), shingles("Police held a drill today"))
        0.6666666666666666
    """
    union = len(a | b)
    return len(a & b) / union if union else 0.0


class ShingleIndex:
    """Paragraphs indexed by shingle, to find near duplicates of new text among them.

    Example:
        >>> index = ShingleIndex()
        >>> index.add("Border guards seized 40 kg of heroin near the Tajik border on Monday.")
        0
        >>> index.similar("Border guards seized 40 kg of heroin near the Tajik border on Tuesday.")
        [(0, 0.8333333333333334)]
    """

    def __init__(self, threshold: float = DEFAULT_THRESHOLD) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError("a near-duplicate threshold is in (0, 1]")
        self.threshold = threshold
        self._shingles: list[frozenset[str]] = []
        self._postings: dict[str, list[int]] = defaultdict(list)

    def __len__(self) -> int:
        return len(self._shingles)

    def add(self, text: str) -> int:
        """Index ``text``; its number in the index."""
        number = len(self._shingles)
        found = shingles(text)
        self._shingles.append(found)
        for shingle in found:
            self._postings[shingle].append(number)
        return number

    def similar(self, text: str, *, threshold: float | None = None) -> list[tuple[int, float]]:
        """The indexed paragraphs at least ``threshold`` similar to ``text``, most similar
        first: ``(number, similarity)``."""
        limit = self.threshold if threshold is None else threshold
        found = shingles(text)
        candidates = {n for shingle in found for n in self._postings.get(shingle, ())}
        scored = [(n, jaccard(found, self._shingles[n])) for n in sorted(candidates)]
        return sorted(
            ((n, s) for n, s in scored if s >= limit and s > 0.0), key=lambda item: -item[1]
        )


def near_duplicate_pairs(
    texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD
) -> list[tuple[int, int, float]]:
    """Every pair ``(i, j, similarity)``, ``i < j``, of ``texts`` at least ``threshold``
    similar, most similar first.

    Example:
        >>> near_duplicate_pairs(["Police held a drill at the airport.", "A raid.",
        ...                       "Police held a drill at the airport!"])
        [(0, 2, 1.0)]
    """
    index = ShingleIndex(threshold)
    pairs = []
    for j, text in enumerate(texts):
        pairs += [(i, j, s) for i, s in index.similar(text)]
        index.add(text)
    return sorted(pairs, key=lambda pair: (-pair[2], pair[0], pair[1]))
