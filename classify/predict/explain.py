"""Rationales: the words of a paragraph that pushed each theme's score up or down, exactly.

A theme's decision value is linear: its intercept plus, for every n-gram feature the paragraph
has, the feature's TF-IDF value times the theme's weight (its contribution). The engine gives
those features exactly as it scores them, so the contributions plus the intercept are the
decision value (to float rounding). Each contribution is then shared among the n-gram's
occurrences in the paragraph, and each occurrence among the words it covers: a character n-gram
reads as the word it came from, a word bigram as its two words. Contributions of the same word
(case-folded) are merged into one term, with every place it occurs. Nothing is approximated or
sampled, and the same paragraph always gets the same rationale.

The score is a function of the decision value: the logistic function, modified Huber, or a
calibration (sigmoid or isotonic). For a calibrated model a rationale explains the linear
decision value before calibration; :attr:`ThemeRationale.link` says which.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain, repeat

import numpy as np

from classify.errors import ClassifyError
from classify.model.engine import ScoringEngine
from classify.model.ngrams import ngram_occurrences, words_of
from classify.text import normalise_text

NGRAMS_PER_TERM = 5  # the n-grams kept behind each term, largest first
# key terms (--explain, the report's marks): the largest few pushing up, leaving out those
# under this share of the largest one (a "the" at +0.01 next to "exercises" at +4.5)
KEY_TERM_SHARE = 0.1
_LINKS = {
    "logistic": "score = logistic(decision value)",
    "modified_huber": "score = (clip(decision value, -1, 1) + 1) / 2",
    "sigmoid": "calibrated (sigmoid): the terms explain the decision value before calibration",
    "isotonic": "calibrated (isotonic): the terms explain the decision value before calibration",
    "constant": "constant score: the theme had one class in training; no term moves it",
}


@dataclass(frozen=True, slots=True)
class Term:
    """A word (or a few words merged by case-folded text) and its contribution to a theme's
    decision value; ``spans`` are its character offsets in the paragraph, ``ngrams`` the
    features behind it with their shares (largest first, at most five)."""

    text: str
    contribution: float
    spans: tuple[tuple[int, int], ...]
    ngrams: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class ThemeRationale:
    """Why one theme scored as it did: ``intercept`` plus every term's contribution plus
    ``unplaced`` (n-grams not found as words of the text; normally 0) equals ``decision``.

    ``reason``: ``assigned``, ``review`` (just below the cut-off) or ``nearest miss`` (the
    best-scoring theme neither assigned nor in review). ``terms``: largest contribution first.
    """

    theme: str
    reason: str
    score: float
    decision: float
    intercept: float
    unplaced: float
    link: str
    terms: tuple[Term, ...]

    def up(self, k: int = 5) -> list[Term]:
        """The ``k`` terms that pushed the score up most.

        Example:
            >>> rationale = predictor.explain(["Police rehearsed a hostage rescue."])[0].themes[0]
            >>> [term.contribution > 0 for term in rationale.up(2)]
            [True, True]
        """
        return [t for t in self.terms if t.contribution > 0][:k]

    def down(self, k: int = 5) -> list[Term]:
        """The ``k`` terms that pushed the score down most (most negative first)."""
        return [t for t in reversed(self.terms) if t.contribution < 0][:k]

    def key_terms(self, k: int = 5) -> list[Term]:
        """At most ``k`` terms pushing up, each at least :data:`KEY_TERM_SHARE` of the
        largest: what ``--explain`` lists and the report marks.

        Example:
            >>> rationale = predictor.explain(["Police rehearsed a hostage rescue."])[0].themes[0]
            >>> top = rationale.key_terms(3)
            >>> all(t.contribution >= 0.1 * top[0].contribution for t in top)
            True
        """
        up = self.up(k)
        return [t for t in up if t.contribution >= KEY_TERM_SHARE * up[0].contribution]


RATIONALE_TERMS = 5  # terms per theme that --explain adds to every output row


@dataclass(frozen=True, slots=True)
class Explanation:
    """A paragraph's rationales: one per assigned theme, theme in review, and nearest miss."""

    text: str
    themes: tuple[ThemeRationale, ...]

    def top_terms(self, k: int = 5) -> dict[str, list[tuple[str, float]]]:
        """The ``k`` terms pushing up each assigned or review theme: what ``--explain`` adds to
        every output row.

        Example:
            >>> explanation = predictor.explain(["Police rehearsed a hostage rescue."])[0]
            >>> [(theme, len(terms)) for theme, terms in explanation.top_terms(1).items()]
            [('drills', 1)]
        """
        return {
            r.theme: [(t.text, round(t.contribution, 6)) for t in r.key_terms(k)]
            for r in self.themes
            if r.reason != "nearest miss"
        }


def explain_rows(
    engine: ScoringEngine,
    themes: Sequence[str],
    texts: Sequence[str],
    scores: np.ndarray,
    tags: np.ndarray,
    review: np.ndarray,
) -> list[Explanation]:
    """The explanation of each text, given its scores, tags and review marks (rows in order).

    Example:
        >>> scores = predictor.scores(["Police rehearsed a hostage rescue."])
        >>> tags, review = predictor.decide(scores)
        >>> [e.themes[0].reason for e in explain_rows(
        ...     predictor.engine, predictor.themes, ["Police rehearsed a hostage rescue."],
        ...     scores, tags, review)]
        ['assigned']
    """
    if engine.hashed:
        raise ClassifyError(
            "this model's features are hashed (out-of-core training): its columns name no "
            "words, so it has no rationales",
            hint="explain with a model trained in memory",
        )
    decisions = np.asarray(engine.decision_values(texts), dtype=np.float64)
    settings = [engine.block_settings(b) for b in range(len(engine.spec["blocks"]))]
    explanations = []
    for i, text in enumerate(texts):
        chosen = _chosen_themes(scores[i], tags[i], review[i])
        explanations.append(
            _explain_one(engine, settings, text, chosen, themes, scores[i], decisions[i])
        )
    return explanations


def _chosen_themes(
    scores: np.ndarray, tags: np.ndarray, review: np.ndarray
) -> list[tuple[int, str]]:
    """Assigned themes by score, then themes in review, then the nearest miss."""
    order = np.argsort(-scores, kind="stable")
    chosen = [(int(j), "assigned") for j in order if tags[j]]
    chosen += [(int(j), "review") for j in order if review[j] and not tags[j]]
    misses = [int(j) for j in order if not tags[j] and not review[j]]
    return [*chosen, (misses[0], "nearest miss")] if misses else chosen


def _explain_one(
    engine: ScoringEngine,
    settings: list[dict],
    text: str,
    chosen: list[tuple[int, str]],
    themes: Sequence[str],
    scores: np.ndarray,
    decisions: np.ndarray,
) -> Explanation:
    columns = [j for j, _ in chosen]
    words = words_of(text)
    # one (word, feature, weight) per word an occurrence of a feature covers: the word's share
    # of the feature's contribution is weight * contribution
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # words, features, weights
    grams: list[str] = []
    blocks: list[np.ndarray] = []
    unplaced = np.zeros(len(columns))
    for block, (features, values) in enumerate(engine.features(text)):
        if not len(features):
            continue
        contributions = values.astype(np.float64)[:, None] * engine.coef[features][:, columns]
        block_grams = engine.terms(features)
        found, covered = ngram_occurrences(
            text, chunk_chars=engine.long_text_chars, **settings[block]
        )
        feature_of = {gram: f for f, gram in enumerate(block_grams)}
        # every occurrence's feature (-1: not one of the paragraph's) and the words it covers;
        # the occurrences of features that cover at least one word share its contribution
        feature = np.fromiter(map(feature_of.get, found, repeat(-1)), np.int64, len(found))
        widths = np.fromiter(map(len, covered), np.int64, len(covered))
        kept = (feature >= 0) & (widths > 0)
        occurrences = np.bincount(feature[kept], minlength=len(block_grams))
        unplaced += contributions[occurrences == 0].sum(axis=0)
        # each occurrence's share of its feature, shared again among the words it covers
        word_of = np.fromiter(chain.from_iterable(covered), np.int64, int(widths.sum()))
        on_word = np.repeat(kept, widths)
        feature, widths = feature[kept], widths[kept]
        weight = 1.0 / (occurrences[feature] * widths)
        parts.append(
            (word_of[on_word], np.repeat(feature + len(grams), widths), np.repeat(weight, widths))
        )
        grams += block_grams
        blocks.append(contributions)
    contributions = np.vstack(blocks) if blocks else np.zeros((0, len(columns)))
    word_rows, feature_rows, weights = (
        np.concatenate([p[k] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
        for k in range(3)
    )
    shares = weights[:, None] * contributions[feature_rows]
    # words merged into terms by case-folded text, in order of first appearance
    keys: dict[str, int] = {}
    term_of_word = np.full(len(words), -1, dtype=np.int64)
    for w in np.unique(word_rows).tolist():
        term_of_word[w] = keys.setdefault(normalise_text(words[w].text), len(keys))
    term_rows = term_of_word[word_rows]
    per_term = np.zeros((len(keys), len(columns)))
    np.add.at(per_term, term_rows, shares)
    # each term's n-grams: shares summed per (term, feature)
    stride = max(len(grams), 1)
    pairs, pair_of_row = np.unique(term_rows * stride + feature_rows, return_inverse=True)
    per_pair = np.zeros((len(pairs), len(columns)))
    np.add.at(per_pair, pair_of_row, shares)
    pair_terms, pair_features = np.divmod(pairs, stride)
    places: list[list[int]] = [[] for _ in keys]
    for w in np.flatnonzero(term_of_word >= 0).tolist():
        places[term_of_word[w]].append(w)
    rationales = []
    for k, (j, reason) in enumerate(chosen):
        # per term, its n-grams by largest share first (ties: the n-gram's column)
        order = np.lexsort((pair_features, -np.abs(per_pair[:, k]), pair_terms))
        firsts = np.searchsorted(pair_terms[order], np.arange(len(keys) + 1))
        terms = []
        for t, group in enumerate(places):
            contribution = float(per_term[t, k])
            if contribution == 0.0:
                continue
            top = order[firsts[t] : min(firsts[t + 1], firsts[t] + NGRAMS_PER_TERM)]
            terms.append(
                Term(
                    text=words[group[0]].text,
                    contribution=contribution,
                    spans=tuple((words[w].start, words[w].end) for w in group),
                    ngrams=tuple(
                        (grams[f], float(v))
                        for f, v in zip(
                            pair_features[top].tolist(), per_pair[top, k].tolist(), strict=True
                        )
                    ),
                )
            )
        terms.sort(key=lambda term: (-term.contribution, term.spans[0]))
        rationales.append(
            ThemeRationale(
                theme=themes[j],
                reason=reason,
                score=float(scores[j]),
                decision=float(decisions[j]),
                intercept=float(engine.intercept[j]),
                unplaced=float(unplaced[k]),
                link=_LINKS[engine.outputs[j]["kind"]],
                terms=tuple(terms),
            )
        )
    return Explanation(text, tuple(rationales))


def explanation_record(explanation: Explanation, *, terms: int | None = None) -> dict:
    """An explanation as plain data (JSON): each theme's rationale with its terms, at most
    ``terms`` pushing up and ``terms`` pushing down (all when ``None``).

    Example:
        >>> record = explanation_record(predictor.explain(["A hostage-rescue drill."])[0], terms=2)
        >>> r = record["rationales"][0]
        >>> shown = sum(term["contribution"] for term in r["terms"]) + r["other_terms"]
        >>> bool(abs(r["intercept"] + shown + r["unplaced"] - r["decision"]) < 1e-9)
        True
    """
    rationales = []
    for r in explanation.themes:
        kept = list(r.terms) if terms is None else r.up(terms) + r.down(terms)[::-1]
        shown = {id(t) for t in kept}
        rationales.append(
            {
                "theme": r.theme,
                "reason": r.reason,
                "score": r.score,
                "decision": r.decision,
                "intercept": r.intercept,
                "unplaced": r.unplaced,
                "link": r.link,
                "terms": [
                    {
                        "text": t.text,
                        "contribution": t.contribution,
                        "spans": [list(span) for span in t.spans],
                        "ngrams": [list(gram) for gram in t.ngrams],
                    }
                    for t in kept
                ],
                # the terms left out, summed: the record still adds up to the decision value
                "other_terms": sum(t.contribution for t in r.terms if id(t) not in shown),
            }
        )
    return {"rationales": rationales}
