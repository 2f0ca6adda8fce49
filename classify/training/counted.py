"""N-grams counted once, the TF-IDF features of any training subset derived from the counts.

Cross-validation with thresholds tuned in inner folds fits the same pipeline dozens of times on
subsets of the same paragraphs; each fit used to tokenise every paragraph again. A
:class:`CountedCorpus` counts every paragraph's n-grams once per feature block (no pruning), and
:meth:`CountedCorpus.features` derives, for a subset of training rows, exactly what a
``TfidfVectorizer`` fitted on those rows gives: its vocabulary (the n-grams of those rows, pruned
by ``min_df``, ``max_df`` and ``max_features`` as scikit-learn prunes them), its idf (from those
rows only: nothing of a held-out row leaks in), and the TF-IDF rows of any paragraphs. The tests
hold it to the fitted vectorizer, value for value.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfTransformer, TfidfVectorizer

from classify.model.config import ExperimentConfig
from classify.model.pipeline import LONG_TEXT_CHARS, build_pipeline, vectorizers


class CountedCorpus:
    """Every paragraph's n-gram counts, per feature block of an experiment's pipeline.

    Example:
        >>> texts = ["Police held a drill.", "A drill at the airport.", "Heroin seized."]
        >>> corpus = CountedCorpus(ExperimentConfig(), texts)
        >>> x_train, (x_test,) = corpus.features([0, 1], [[2]])
        >>> x_train.shape[0], x_test.shape[0], x_train.shape[1] == x_test.shape[1]
        (2, 1, True)
    """

    def __init__(self, config: ExperimentConfig, texts: Sequence[str]) -> None:
        self.blocks: list[tuple[TfidfVectorizer, sp.csr_matrix]] = []
        for _, vectorizer in vectorizers(build_pipeline(config)):
            self.blocks.append((vectorizer, _count(vectorizer, texts)))

    @staticmethod
    def usable(texts: Sequence[str]) -> bool:
        """Whether the counts reproduce the pipeline for these texts: a text longer than
        ``LONG_TEXT_CHARS`` is scored chunk by chunk, which counting it whole would not match.
        """
        return all(len(text) <= LONG_TEXT_CHARS for text in texts)

    def features(
        self, train_rows: Sequence[int] | np.ndarray, test_rows: Sequence[Sequence[int]] = ()
    ) -> tuple[sp.csr_matrix, list[sp.csr_matrix]]:
        """The TF-IDF rows of ``train_rows`` and of each of ``test_rows``, as the experiment's
        features step fitted on ``train_rows`` transforms them."""
        train_rows = np.asarray(train_rows, dtype=np.int64)
        train_blocks: list[sp.csr_matrix] = []
        test_blocks: list[list[sp.csr_matrix]] = [[] for _ in test_rows]
        for vectorizer, counts in self.blocks:
            train_counts, kept = _fitted_counts(vectorizer, counts[train_rows])
            weighting = TfidfTransformer(
                norm=vectorizer.norm,
                use_idf=vectorizer.use_idf,
                smooth_idf=vectorizer.smooth_idf,
                sublinear_tf=vectorizer.sublinear_tf,
            ).fit(train_counts)
            train_blocks.append(weighting.transform(train_counts, copy=False))
            for k, rows in enumerate(test_rows):
                tested = counts[np.asarray(rows, dtype=np.int64)][:, kept]
                tested.sort_indices()  # a fitted vectorizer's transform sorts each row's columns
                test_blocks[k].append(weighting.transform(tested, copy=False))
        return _joined(train_blocks), [_joined(blocks) for blocks in test_blocks]


def _count(vectorizer: TfidfVectorizer, texts: Sequence[str]) -> sp.csr_matrix:
    """Every n-gram of every text, counted as ``CountVectorizer`` counts them: columns in the
    n-grams' sorted order, each row's entries in the order the n-grams first occur in its text
    (the order a fitted vectorizer's vocabulary is built in, which decides how its rows are
    laid out, and so, to the last bit, its sums)."""
    analyze = vectorizer.build_analyzer()
    vocabulary: dict[str, int] = {}
    indices: list[int] = []
    values: list[int] = []
    indptr = [0]
    for text in texts:
        counter: dict[int, int] = {}
        for gram in analyze(text):
            j = vocabulary.setdefault(gram, len(vocabulary))
            counter[j] = counter.get(j, 0) + 1
        indices.extend(counter)
        values.extend(counter.values())
        indptr.append(len(indices))
    alphabetical = np.empty(len(vocabulary), dtype=np.int32)
    alphabetical[[vocabulary[g] for g in sorted(vocabulary)]] = np.arange(len(vocabulary))
    return sp.csr_matrix(
        (
            np.asarray(values, dtype=vectorizer.dtype),
            alphabetical[np.asarray(indices, dtype=np.int64)],
            np.asarray(indptr, dtype=np.int64),
        ),
        shape=(len(texts), len(vocabulary)),
    )


def _fitted_counts(
    vectorizer: TfidfVectorizer, counts: sp.csr_matrix
) -> tuple[sp.csr_matrix, np.ndarray]:
    """The count rows ``CountVectorizer.fit_transform`` gives for these rows, laid out as it lays
    them out, and the columns of ``counts`` its vocabulary keeps.

    Its steps, on the same matrices: the vocabulary numbered in order of first occurrence
    (``_count_vocab``, rows sorted by that number), renumbered in sorted order
    (``_sort_features``) before or after pruning by document frequency and ``max_features``
    (``_limit_features``).
    """
    present, first = np.unique(counts.indices, return_index=True)  # first occurrence of each
    rank = np.empty(counts.shape[1], dtype=np.int64)
    rank[present[np.argsort(first, kind="stable")]] = np.arange(len(present))
    x = sp.csr_matrix(
        (counts.data, rank[counts.indices].astype(counts.indices.dtype), counts.indptr.copy()),
        shape=(counts.shape[0], len(present)),
    )
    x.sort_indices()  # _count_vocab
    sorted_position = np.empty(len(present), dtype=x.indices.dtype)
    sorted_position[rank[present]] = np.arange(len(present))  # present is in sorted order
    limited = vectorizer.max_features is not None
    if limited:
        x.indices = sorted_position.take(x.indices, mode="clip")  # _sort_features
    keep = _kept_columns(vectorizer, x)
    x = x[:, keep]
    if limited:
        return x, present[keep]
    x.indices = (
        np.argsort(np.argsort(sorted_position[keep]))
        .astype(x.indices.dtype)
        .take(x.indices, mode="clip")
    )  # _sort_features, after pruning
    return x, np.sort(present[np.argsort(rank[present])][keep])


def _kept_columns(vectorizer: TfidfVectorizer, x: sp.csr_matrix) -> np.ndarray:
    """``CountVectorizer._limit_features``: the columns of ``x`` kept by document frequency
    (``min_df``, ``max_df``) and ``max_features``, in increasing order."""
    n_doc = x.shape[0]
    max_df, min_df = vectorizer.max_df, vectorizer.min_df
    high = max_df if isinstance(max_df, Integral) else max_df * n_doc
    low = min_df if isinstance(min_df, Integral) else min_df * n_doc
    if high < low:
        raise ValueError("max_df corresponds to < documents than min_df")
    dfs = np.bincount(x.indices, minlength=x.shape[1])
    mask = (dfs <= high) & (dfs >= low)
    limit = vectorizer.max_features
    if limit is not None and mask.sum() > limit:
        tfs = np.asarray(x.sum(axis=0)).ravel()
        chosen = (-tfs[mask]).argsort()[:limit]  # scikit-learn's very call, on the same array
        new_mask = np.zeros(len(dfs), dtype=bool)
        new_mask[np.where(mask)[0][chosen]] = True
        mask = new_mask
    if not mask.any():
        raise ValueError("After pruning, no terms remain. Try a lower min_df or a higher max_df.")
    return np.where(mask)[0]


def _joined(blocks: list[sp.csr_matrix]) -> sp.csr_matrix:
    """One block as it is; several side by side, as ``FeatureUnion`` joins them."""
    if len(blocks) == 1:
        return sp.csr_matrix(blocks[0])
    return sp.hstack(blocks).tocsr()
