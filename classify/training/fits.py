"""Many fits of one experiment on subsets of the same paragraphs, all in one parallel batch.

Nested cross-validation is a set of independent fits: for each outer fold, its inner folds
(whose out-of-fold scores tune the thresholds) and the outer fit itself. :func:`run_fits` takes
them all at once and spreads them over the cores, instead of running each outer fold's fits one
after another in its own process (which left cores idle at the end). Features come from a
:class:`~classify.training.counted.CountedCorpus` (n-grams counted once, each fit's vocabulary
and idf derived from its own training rows only) when the texts allow it, else from the
pipeline fitted on the texts; both give the same scores.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from joblib import Parallel, delayed

from classify.model.config import ExperimentConfig
from classify.model.pipeline import build_pipeline, classifier_scores, theme_scores
from classify.training.counted import CountedCorpus


@dataclass(frozen=True)
class Fit:
    """One fit: train on ``train`` (row indices), score each of ``tests``; ``pipeline``: also
    return the fitted pipeline (fitted on the texts, to be saved or reused)."""

    train: np.ndarray
    tests: tuple[np.ndarray, ...]
    pipeline: bool = False


def run_fits(
    config: ExperimentConfig,
    texts: Sequence[str],
    y: np.ndarray,
    fits: Sequence[Fit],
    *,
    n_jobs: int = 1,
    corpus: CountedCorpus | None = None,
    done: Callable[[int, int], None] | None = None,
) -> list[tuple[list[np.ndarray], object | None]]:
    """For each fit, in order: the scores of each test set, and the pipeline if asked for.

    Example:
        >>> fits = [Fit(np.arange(0, 100), (np.arange(100, 110),))]
        >>> (scores,), pipeline = run_fits(config, annotations.texts, annotations.y, fits)[0]
        >>> scores.shape, pipeline
        ((10, 5), None)
    """
    tasks = (_task(config, texts, y, fit, corpus) for fit in fits)
    results = []
    for count, result in enumerate(Parallel(n_jobs=n_jobs, return_as="generator")(tasks), 1):
        results.append(result)
        if done is not None:
            done(count, len(fits))
    return results


def counted_corpus(config: ExperimentConfig, texts: Sequence[str]) -> CountedCorpus | None:
    """The texts' n-grams counted once, or ``None`` where counting cannot stand in for the
    pipeline (a text long enough to be scored chunk by chunk, or hashed features: nothing to
    derive per fold, each fit hashes its texts)."""
    if config.features.hashed is not None or not CountedCorpus.usable(texts):
        return None
    return CountedCorpus(config, texts)


def _task(config, texts, y, fit: Fit, corpus: CountedCorpus | None):
    if fit.pipeline or corpus is None:
        train_texts = [texts[i] for i in fit.train]
        test_texts = [[texts[i] for i in test] for test in fit.tests]
        return delayed(_fit_texts)(config, train_texts, y[fit.train], test_texts, fit.pipeline)
    return delayed(_fit_counted)(config, corpus, y, fit.train, fit.tests)


def fit_pipeline(config: ExperimentConfig, texts: Sequence[str], y: np.ndarray):
    """Build and fit the experiment's pipeline, quiet about themes absent from ``y``.

    The same as ``build_pipeline(config).fit(texts, y)``, step by step, so that the features
    reach the classifier in the type its solver works in (:func:`_solver_input`).
    """
    pipeline = build_pipeline(config)
    with _quiet():
        x = pipeline[0].fit_transform(list(texts))
        pipeline[-1].fit(_solver_input(config, x), y)
    return pipeline


def _solver_input(config: ExperimentConfig, x):
    """The feature rows as the classifier's solver takes them: liblinear (logistic regression,
    linear SVM) copies float32 rows to float64 for every theme's fit, half the time of a fit of
    many themes; one copy here gives it the very same numbers. Ridge and SGD keep float32."""
    if config.model.type in ("logistic_regression", "linear_svm"):
        return x.astype(np.float64)
    return x


def _fit_texts(config, train_texts, y_train, test_texts, keep: bool):
    pipeline = fit_pipeline(config, train_texts, y_train)
    return [theme_scores(pipeline, texts) for texts in test_texts], pipeline if keep else None


def _fit_counted(config, corpus: CountedCorpus, y: np.ndarray, train, tests):
    x_train, x_tests = corpus.features(train, tests)
    classifier = build_pipeline(config)[-1]
    with _quiet():
        classifier.fit(_solver_input(config, x_train), y[train])
    return [classifier_scores(classifier, x) for x in x_tests], None


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """A theme with no positive paragraph in a training set gets a constant predictor, scored
    0, which is the honest answer: its warning (and convergence notes) are noise here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Label .* is present in all training examples")
        warnings.filterwarnings("ignore", message=".*failed to converge.*")
        yield
