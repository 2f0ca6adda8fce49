"""Document summaries: which themes each document carries, and in which paragraphs.

Built as tagged paragraphs stream past (:class:`DocumentSummaries`), so a summary needs no more
than the paragraph ids of its own themes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from classify.predict.predictor import Prediction


@dataclass
class DocumentSummary:
    """Which themes a document carries, and in which paragraphs."""

    document: str
    paragraphs: int = 0
    themes: dict[str, list[str]] = field(default_factory=dict)  # theme -> paragraph ids
    best: dict[str, float] = field(default_factory=dict)  # theme -> highest paragraph score


class DocumentSummaries:
    """Summaries built one tagged paragraph at a time, in the order documents first appear.

    Example:
        >>> summaries = DocumentSummaries()
        >>> summaries.add("a.txt", "a:001", ["drills"], {"drills": 0.9})
        >>> summaries.add("a.txt", "a:002", [], {"drills": 0.2})
        >>> summary = summaries.summaries()[0]
        >>> summary.paragraphs, summary.themes, summary.best
        (2, {'drills': ['a:001']}, {'drills': 0.9})
    """

    def __init__(self) -> None:
        self._documents: dict[str, DocumentSummary] = {}

    def add(
        self,
        document: str,
        paragraph_id: str,
        themes: Iterable[str],
        scores: Mapping[str, float],
    ) -> None:
        summary = self._documents.setdefault(document, DocumentSummary(document))
        summary.paragraphs += 1
        for theme in themes:
            summary.themes.setdefault(theme, []).append(paragraph_id)
        for theme, score in scores.items():
            summary.best[theme] = max(summary.best.get(theme, 0.0), score)

    def summaries(self) -> list[DocumentSummary]:
        return list(self._documents.values())

    def __len__(self) -> int:
        return len(self._documents)


def summarise_documents(tagged: Iterable[tuple[str, str, Prediction]]) -> list[DocumentSummary]:
    """Per document, the themes it carries and where: from ``(document, paragraph id, prediction)``.

    Example:
        >>> from classify.predict.predictor import Prediction
        >>> p = Prediction(("drills",), {"drills": 0.9})
        >>> summarise_documents([("a.txt", "a:001", p)])[0].themes
        {'drills': ['a:001']}
    """
    summaries = DocumentSummaries()
    for document, paragraph_id, prediction in tagged:
        summaries.add(document, paragraph_id, prediction.themes, prediction.scores)
    return summaries.summaries()
