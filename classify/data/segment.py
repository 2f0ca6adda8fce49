"""Turn a raw document into paragraphs, each with a stable id and its character offsets.

A paragraph is what an analyst would label on its own: one line of a one-paragraph-per-line
article, or one blank-line-separated block of a hard-wrapped text. Every paragraph keeps
``start``/``end`` offsets into the decoded document, so ``document_text[p.start:p.end] == p.text``
always holds and any label can be traced back to its source.

Site boilerplate (comment forms, "Do you like this article?", subscription footers) and repeated
photo captions are dropped; headings, bylines and captions are kept but marked with their ``kind``
so that training can leave them out (by the theme definitions they carry no label).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

from classify.data.decoding import read_document

ParagraphKind = Literal["body", "heading", "byline", "caption", "boilerplate"]
KINDS: tuple[str, ...] = ("body", "heading", "byline", "caption", "boilerplate")
SegmentMode = Literal["auto", "lines", "blocks"]

# Characters that carry no text: Unicode whitespace is handled by str.isspace; these are the
# invisible format characters that scraped pages are full of and str.strip() keeps.
INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff\u00ad"

# Boilerplate and captions are matched only on short paragraphs, so that a real paragraph quoting
# one of these phrases is never dropped or mislabeled.
_BOILERPLATE_MAX_CHARS = 400
BOILERPLATE_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"^do you like this article\??$",
        r"^\d+\s+comment\(?s?\)?$",
        r"comment policy|denotes required field|characters remaining",
        r"^\d+\s*/\s*\d+$",
        r"\b(sign up|subscribe)\b.*\b(newsletter|website|twitter|facebook|telegram|stories)\b",
        r"^(share|share this( article)?|print|read more|related( articles)?|advertisement)\s*:?$",
        r"^(©|\(c\)|copyright\b).*|all rights reserved",
        r"^(понравилась (ли )?(вам )?статья|поделиться|подписывайтесь|читайте также)\b",
    )
)
# Photo captions: a trailing bracketed credit, or a sentence that opens by naming the picture.
CAPTION_PATTERNS: tuple[re.Pattern[str], ...] = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\[[^\]]*\b(photo|screenshot|image|picture|фото|скриншот)\b[^\]]*\]\s*$",
        r"^(an? )?(screenshot|photo|image|picture)( (from|of) .{0,120}?)? (shows?|depicts?)\b",
        r"^(photo|фото)\s*[:/]",
    )
)
# "By" and up to four capitalised name words: "By Alexander Bogatik", not "By contrast, ...".
_NAME = r"[A-ZА-ЯЁ][\w.'’-]*"
_BYLINE = re.compile(rf"^(?i:by|автор:?)\s+{_NAME}(\s+{_NAME}){{0,3}}$")
_HEADING_MAX_WORDS = 12
_QUESTION_HEADING_MAX_WORDS = 6
_LIST_MARKER = re.compile(r"^([-*•–—]|\d+[.)])\s")
_SENTENCE_END = ".!;,:…"
_QUOTES = "\"'“”«»‘’"


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One paragraph of a document.

    ``id`` is ``"<document>:<index>"`` with a zero-padded index that counts every non-blank block
    of the document (dropped boilerplate included), so ids stay stable when the boilerplate rules
    change. ``start``/``end`` are offsets into the decoded document text.
    """

    id: str
    document: str
    index: int
    start: int
    end: int
    kind: str
    text: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def paragraph_id(document: str, index: int) -> str:
    """The stable id of paragraph ``index`` of ``document``.

    Example:
        >>> paragraph_id("004_69f23285355f99cd", 7)
        '004_69f23285355f99cd:007'
    """
    return f"{document}:{index:03d}"


def segment(
    text: str,
    document: str,
    *,
    mode: SegmentMode = "auto",
    keep_boilerplate: bool = False,
) -> list[Paragraph]:
    """Split ``text`` into paragraphs.

    ``mode="lines"`` makes every non-blank line a paragraph (most scraped articles);
    ``"blocks"`` makes every blank-line-separated block one (hard-wrapped text, e-mails);
    ``"auto"`` picks ``"blocks"`` only when the text looks hard-wrapped.

    Example:
        >>> text = "Drills in Almaty\\n\\nPolice rehearsed a rescue.\\n\\nDo you like this article?"
        >>> [(p.id, p.kind) for p in segment(text, "doc")]
        [('doc:000', 'heading'), ('doc:001', 'body')]
    """
    lines = list(_lines(text))
    if mode == "auto":
        mode = "blocks" if _looks_hard_wrapped(text, lines) else "lines"
    spans = _block_spans(text, lines) if mode == "blocks" else lines

    paragraphs: list[Paragraph] = []
    seen_captions: set[str] = set()
    for index, (start, end) in enumerate(spans):
        body = text[start:end]
        kind = classify_kind(body, is_first=index == 0)
        if kind == "caption":
            if body in seen_captions:
                continue  # the same photo caption printed twice
            seen_captions.add(body)
        if kind == "boilerplate" and not keep_boilerplate:
            continue
        paragraphs.append(
            Paragraph(paragraph_id(document, index), document, index, start, end, kind, body)
        )
    # A heading heads something: a short last line (or a one-line document) is text, not a title.
    if paragraphs and paragraphs[-1].kind == "heading":
        paragraphs[-1] = replace(paragraphs[-1], kind="body")
    return paragraphs


def segment_file(
    path: str | Path, *, encoding: str = "utf-8", errors: str = "strict", mode: SegmentMode = "auto"
) -> list[Paragraph]:
    """Read and segment one document file; the document name is the file's stem.

    Example:
        >>> segment_file("seeds/004_69f23285355f99cd.txt")[4].id
        '004_69f23285355f99cd:005'
    """
    path = Path(path)
    return segment(read_document(path, encoding=encoding, errors=errors), path.stem, mode=mode)


def classify_kind(paragraph: str, *, is_first: bool = False) -> str:
    """Guess what a paragraph is: ``body``, ``heading``, ``byline``, ``caption`` or ``boilerplate``.

    Example:
        >>> classify_kind("By Alexander Bogatik")
        'byline'
        >>> classify_kind("Recruitment and orders via internet")
        'heading'
    """
    # More words than _BOILERPLATE_MAX_CHARS make a text longer than that, and longer than any
    # heading or byline: body. Splitting only that far keeps a 20 MB paragraph from becoming a
    # list of millions of words (~10 bytes of memory per character).
    words = paragraph.split(maxsplit=_BOILERPLATE_MAX_CHARS)
    if len(words) > _BOILERPLATE_MAX_CHARS:
        return "body"
    flat = " ".join(words)
    if len(flat) <= _BOILERPLATE_MAX_CHARS and any(p.search(flat) for p in BOILERPLATE_PATTERNS):
        return "boilerplate"
    if len(flat) <= _BOILERPLATE_MAX_CHARS and any(p.search(flat) for p in CAPTION_PATTERNS):
        return "caption"
    if _BYLINE.match(flat):
        return "byline"
    if _looks_like_heading(flat):
        return "heading"
    return "body"


def _looks_like_heading(flat: str) -> bool:
    words = flat.split()
    if not words or len(words) > _HEADING_MAX_WORDS or _LIST_MARKER.match(flat):
        return False
    core = flat.strip(_QUOTES)
    if not core or not (core[0].isupper() or core[0].isdigit()):
        return False
    if core.endswith("?"):
        return len(words) <= _QUESTION_HEADING_MAX_WORDS
    return core[-1] not in _SENTENCE_END


def _lines(text: str) -> Iterator[tuple[int, int]]:
    """(start, end) of every non-blank line, trimmed of surrounding whitespace."""
    for match in re.finditer(r"[^\r\n]+", text):
        span = _trim(text, match.start(), match.end())
        if span is not None:
            yield span


def _trim(text: str, start: int, end: int) -> tuple[int, int] | None:
    while start < end and (text[start].isspace() or text[start] in INVISIBLE):
        start += 1
    while end > start and (text[end - 1].isspace() or text[end - 1] in INVISIBLE):
        end -= 1
    return (start, end) if start < end else None


def _block_spans(text: str, lines: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge consecutive lines that no blank line separates into one block."""
    blocks: list[tuple[int, int]] = []
    for start, end in lines:
        if blocks and not _has_blank_line(text[blocks[-1][1] : start]):
            blocks[-1] = (blocks[-1][0], end)
        else:
            blocks.append((start, end))
    return blocks


def _has_blank_line(gap: str) -> bool:
    return len(re.findall(r"\r\n|\r|\n", gap)) >= 2


def _looks_hard_wrapped(text: str, lines: list[tuple[int, int]]) -> bool:
    """True for text wrapped at a fixed width with blank lines between paragraphs.

    Articles stored one paragraph per line have long, ragged lines; wrapped text has most lines
    close to one width of at most ~100 characters.
    """
    lengths = sorted(end - start for start, end in lines)
    if len(lengths) < 4 or len(_block_spans(text, lines)) == len(lines):
        return False
    width = lengths[int(0.9 * (len(lengths) - 1))]
    if width > 100:
        return False
    near_width = sum(1 for n in lengths if n >= 0.7 * width)
    return near_width >= 0.5 * len(lengths)
