"""The article report: one self-contained HTML page to look at, not read.

Each article shows its paragraphs in order with theme chips and scores, review marks, the
rationale terms highlighted in the text (:mod:`classify.predict.explain`), and a summary at the
top (which themes, how strongly, in which paragraphs); buttons filter the page by theme.

The page works offline and loads nothing: styles and script are inline, and its Content Security
Policy allows only them (by hash), so even a paragraph that slipped past escaping could run no
script. Every piece of input text is escaped: a paragraph holding ``<script>`` shows as text.
The page is written article by article as a stream passes (:func:`report_opening`,
:func:`article_html`, :func:`report_closing`).
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from classify.data.inputs import InputParagraph
from classify.predict.explain import Explanation

HIGHLIGHTED_TERMS = 5  # terms per assigned or review theme highlighted in the text
# distinct on white, readable under dark text when light; cycled past ten themes
_PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
    "#17becf", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
)  # fmt: skip

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; margin: 0; color: #1d1d1f; background: #f6f6f4; }
header { position: sticky; top: 0; background: #fff; border-bottom: 1px solid #ddd;
  padding: 10px 24px; z-index: 1; }
h1 { font-size: 20px; margin: 0 0 4px; }
.meta { color: #666; margin: 0 0 8px; font-size: 13px; }
nav button { font: inherit; font-size: 13px; margin: 0 4px 4px 0; padding: 2px 10px;
  border: 1px solid #bbb; border-radius: 12px; background: #fff; cursor: pointer; }
nav button[aria-pressed="true"] { background: #1d1d1f; color: #fff; border-color: #1d1d1f; }
nav .shown { color: #666; font-size: 13px; margin-left: 8px; }
main { max-width: 920px; margin: 0 auto; padding: 8px 24px 40px; }
article { background: #fff; border: 1px solid #ddd; border-radius: 8px; margin: 16px 0;
  padding: 12px 20px; }
article h2 { font-size: 17px; margin: 4px 0 8px; word-break: break-all; }
.summary { font-size: 13px; border-collapse: collapse; margin-bottom: 8px; }
.summary td, .summary th { padding: 2px 10px 2px 0; text-align: left; vertical-align: top; }
.summary td:nth-child(-n+3) { white-space: nowrap; }
.summary a { color: inherit; }
.paragraph { border-top: 1px solid #eee; padding: 8px 0; }
.paragraph .id { color: #999; font-size: 12px; margin-right: 6px; }
.kind-heading .text { font-weight: 600; }
.kind-byline .text, .kind-caption .text { color: #777; font-style: italic; }
.text { white-space: pre-wrap; margin: 4px 0; overflow-wrap: anywhere; }
.chip { display: inline-block; font-size: 12px; padding: 0 8px; border-radius: 10px;
  margin-right: 4px; color: #fff; background: var(--c); }
.chip.review { background: #fff; color: var(--c); border: 1px dashed var(--c); }
.none { color: #999; font-size: 12px; }
mark { background: color-mix(in srgb, var(--c) 22%, white); border-bottom: 2px solid var(--c);
  color: inherit; padding: 0 1px; }
mark.review { border-bottom-style: dashed; }
details { font-size: 13px; color: #444; }
details ul { margin: 4px 0; padding-left: 20px; }
.up { color: #1a7f37; } .down { color: #b42318; }
"""

_SCRIPT = """
(function () {
  var buttons = document.querySelectorAll("nav button");
  var paragraphs = document.querySelectorAll(".paragraph");
  var shown = document.getElementById("shown");
  buttons.forEach(function (button) {
    var theme = button.dataset.theme;
    var count = 0;
    paragraphs.forEach(function (p) { if (!theme || carries(p, theme)) count++; });
    button.querySelector(".count").textContent = count;
    button.addEventListener("click", function () { filter(theme); });
  });
  function carries(p, theme) { return p.dataset.themes.split(" ").indexOf(theme) >= 0; }
  function filter(theme) {
    var visible = 0;
    buttons.forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.theme === theme));
    });
    paragraphs.forEach(function (p) {
      p.hidden = Boolean(theme) && !carries(p, theme);
      if (!p.hidden) visible++;
    });
    document.querySelectorAll("article").forEach(function (a) {
      a.hidden = !a.querySelector(".paragraph:not([hidden])");
    });
    shown.textContent = visible + " of " + paragraphs.length + " paragraphs shown";
  }
  filter("");
})();
"""


@dataclass(frozen=True)
class ReportRow:
    """One paragraph of the report with its results (rows of the batch's matrices)."""

    paragraph: InputParagraph
    scores: np.ndarray
    tags: np.ndarray
    review: np.ndarray
    explanation: Explanation | None


def report_opening(themes: Sequence[str], *, title: str, meta: str) -> str:
    """The page up to the first article: styles, the title, and the theme filter.

    Example:
        >>> "<nav" in report_opening(["drills"], title="Report", meta="model default")
        True
    """
    style = _STYLE + "".join(
        f".c{j} {{ --c: {_PALETTE[j % len(_PALETTE)]}; }}\n" for j in range(len(themes))
    )
    policy = (
        f"default-src 'none'; style-src '{_sha256(style)}'; script-src '{_sha256(_SCRIPT)}'; "
        "img-src data:"
    )
    buttons = ['<button type="button" data-theme="">all <span class="count"></span></button>']
    buttons += [
        f'<button type="button" class="c{j}" data-theme="{_e(t)}">{_e(t)} '
        '<span class="count"></span></button>'
        for j, t in enumerate(themes)
    ]
    buttons.append(
        '<button type="button" data-theme="review">to review <span class="count"></span></button>'
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{policy}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<link rel="icon" href="data:,">\n'
        f"<title>{_e(title)}</title>\n<style>{style}</style>\n</head>\n<body>\n"
        f'<header>\n<h1>{_e(title)}</h1>\n<p class="meta">{_e(meta)}</p>\n'
        f'<nav aria-label="Filter by theme">{"".join(buttons)}'
        '<span class="shown" id="shown"></span></nav>\n</header>\n<main>\n'
    )


def report_closing(empty: bool) -> str:
    """The end of the page, with its script."""
    note = '<p class="none">No paragraphs.</p>\n' if empty else ""
    return f"{note}</main>\n<script>{_SCRIPT}</script>\n</body>\n</html>\n"


def article_html(name: str, rows: Sequence[ReportRow], themes: Sequence[str], first: int) -> str:
    """One article: its summary, then its paragraphs in order (``first``: the page-wide number of
    its first paragraph, for unique anchors).

    Example:
        >>> p = InputParagraph("a.txt", "a:001", "A <b>drill</b>.", document="a.txt")
        >>> row = ReportRow(p, np.array([0.9]), np.array([True]), np.array([False]), None)
        >>> page = article_html("a.txt", [row], ["drills"], 0)
        >>> "&lt;b&gt;drill&lt;/b&gt;" in page, "<b>" in page
        (True, False)
    """
    anchors = [f"p{first + i}" for i in range(len(rows))]
    parts = [f"<article>\n<h2>{_e(name)}</h2>\n{_summary(rows, themes, anchors)}"]
    for row, anchor in zip(rows, anchors, strict=True):
        parts.append(_paragraph(row, themes, anchor))
    parts.append("</article>\n")
    return "".join(parts)


def _summary(rows: Sequence[ReportRow], themes: Sequence[str], anchors: Sequence[str]) -> str:
    lines = []
    for j, theme in enumerate(themes):
        carrying = [(row, a) for row, a in zip(rows, anchors, strict=True) if row.tags[j]]
        if not carrying:
            continue
        best = max(float(row.scores[j]) for row, _ in carrying)
        links = ", ".join(
            f'<a href="#{a}">{_e(_short(row.paragraph.id))}</a>' for row, a in carrying
        )
        lines.append(
            f'<tr><td><span class="chip c{j}">{_e(theme)}</span></td>'
            f"<td>{len(carrying)} of {len(rows)} paragraphs</td>"
            f'<td><meter min="0" max="1" value="{best:.2f}"></meter> best {best:.2f}</td>'
            f"<td>{links}</td></tr>"
        )
    if not lines:
        return '<p class="none">No theme in this article.</p>\n'
    return f'<table class="summary">{"".join(lines)}</table>\n'


def _paragraph(row: ReportRow, themes: Sequence[str], anchor: str) -> str:
    p = row.paragraph
    carried = [themes[j] for j in np.flatnonzero(row.tags)]
    reviewed = [themes[j] for j in np.flatnonzero(row.review)]
    chips = [
        f'<span class="chip c{j}">{_e(themes[j])} {row.scores[j]:.2f}</span>'
        for j in np.flatnonzero(row.tags)
    ]
    chips += [
        f'<span class="chip review c{j}" title="just below the cut-off: check">'
        f"{_e(themes[j])} {row.scores[j]:.2f}?</span>"
        for j in np.flatnonzero(row.review)
    ]
    if not chips:
        chips = [f'<span class="none">{"no theme" if p.kind == "body" else _e(p.kind)}</span>']
    data = " ".join([*carried, *(["review"] if reviewed else [])])
    return (
        f'<div class="paragraph kind-{_e(p.kind)}" id="{anchor}" data-themes="{_e(data)}">\n'
        f'<span class="id">{_e(p.id)}</span>{"".join(chips)}\n'
        f'<p class="text">{_highlighted(p.text, row.explanation, themes)}</p>\n'
        f"{_why(row.explanation, themes)}</div>\n"
    )


def _highlighted(text: str, explanation: Explanation | None, themes: Sequence[str]) -> str:
    """``text`` escaped, with the top rationale terms of each assigned or review theme marked
    (a word in several themes' rationales takes the colour of its largest contribution)."""
    if explanation is None:
        return _e(text)
    marks: dict[tuple[int, int], list[tuple[float, str, str]]] = {}
    for r in explanation.themes:
        if r.reason == "nearest miss":
            continue
        for term in r.key_terms(HIGHLIGHTED_TERMS):
            for span in term.spans:
                marks.setdefault(span, []).append((term.contribution, r.theme, r.reason))
    out, position = [], 0
    for (start, end), found in sorted(marks.items()):
        found.sort(reverse=True)
        _, theme, reason = found[0]
        title = "; ".join(f"{t} {c:+.2f}" for c, t, _ in found)
        css = f"c{list(themes).index(theme)}" + (" review" if reason == "review" else "")
        out.append(_e(text[position:start]))
        out.append(f'<mark class="{css}" title="{_e(title)}">{_e(text[start:end])}</mark>')
        position = end
    out.append(_e(text[position:]))
    return "".join(out)


def _why(explanation: Explanation | None, themes: Sequence[str]) -> str:
    if explanation is None or not explanation.themes:
        return ""
    items = []
    for r in explanation.themes:
        up = ", ".join(f"{_e(t.text)} {t.contribution:+.2f}" for t in r.up(HIGHLIGHTED_TERMS))
        down = ", ".join(f"{_e(t.text)} {t.contribution:+.2f}" for t in r.down(3))
        items.append(
            f"<li><b>{_e(r.theme)}</b> ({_e(r.reason)}, score {r.score:.2f}): "
            f'<span class="up">{up or "-"}</span> / <span class="down">{down or "-"}</span></li>'
        )
    return f"<details><summary>why</summary><ul>{''.join(items)}</ul></details>\n"


def _short(paragraph_id: str) -> str:
    """``doc:007`` -> ``007``: the article's heading already names the document."""
    return paragraph_id.rsplit(":", 1)[-1]


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _sha256(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")
