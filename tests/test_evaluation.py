import numpy as np
import pytest
from sklearn.metrics import f1_score

from classify.errors import ClassifyError
from classify.model.config import CVConfig, ExperimentConfig
from classify.model.decision import apply_thresholds, best_f1_threshold, resolve_thresholds
from classify.training.cross_validation import cross_validate, grouped_folds
from classify.training.metrics import compute_metrics


@pytest.mark.parametrize("cv", [CVConfig(), CVConfig(strategy="group_kfold", folds=3, seed=7)])
def test_no_document_on_both_sides_and_every_paragraph_tested_once(seed_annotations, cv):
    groups = seed_annotations.groups
    folds = grouped_folds(groups, cv)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(groups)))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])
    if cv.strategy == "leave_one_document_out":
        assert len(folds) == 5 and all(len(set(groups[test])) == 1 for _, test in folds)


def test_one_document_is_not_enough():
    with pytest.raises(ClassifyError, match="at least 2 documents"):
        grouped_folds(np.array(["a", "a"]), CVConfig())


def _toy_corpus():
    """Four documents; 'drills' and 'trafficking' paragraphs in each, so every fold can learn."""
    words = {
        "drills": ["exercise", "rehearsed", "drill", "scenario", "hostage"],
        "trafficking": ["heroin", "smuggling", "border", "seized", "drugs"],
    }
    rng = np.random.default_rng(0)
    texts, y, groups = [], [], []
    for doc in "abcd":
        for i in range(12):
            theme = i % 3  # 0 drills, 1 trafficking, 2 none
            vocab = (
                words["drills"]
                if theme == 0
                else words["trafficking"]
                if theme == 1
                else ["weather", "city"]
            )
            texts.append(" ".join(rng.choice(vocab, 6)) + f" {doc}{i}")
            y.append([int(theme == 0), int(theme == 1)])
            groups.append(doc)
    return texts, np.array(y), np.array(groups)


def test_thresholds_and_scores_of_a_fold_ignore_its_held_out_labels():
    """Leakage check: relabel the held-out document; its fold's thresholds and scores stay put."""
    config = ExperimentConfig.from_dict({"thresholds": {"strategy": "f1"}})
    texts, y, groups = _toy_corpus()
    base = cross_validate(config, texts, y, groups, ["drills", "trafficking"])
    flipped = y.copy()
    held_out = groups == "b"
    flipped[held_out] = 1 - flipped[held_out]
    other = cross_validate(config, texts, flipped, groups, ["drills", "trafficking"])
    fold_b = base.fold[np.flatnonzero(held_out)[0]]
    np.testing.assert_array_equal(base.fold_thresholds[fold_b], other.fold_thresholds[fold_b])
    np.testing.assert_allclose(base.scores[held_out], other.scores[held_out])
    # ...while the folds that trained on document b did change
    assert not np.allclose(base.scores[~held_out], other.scores[~held_out])
    assert base.metrics.macro_f1 > 0.9


def test_cross_validation_metrics_are_out_of_fold(seed_annotations):
    config = ExperimentConfig()
    body = seed_annotations.where(kinds=["body"])
    cv = cross_validate(config, body.texts, body.y, body.groups, body.label_set.names)
    # drills occur in one document only: the fold that holds it out has no drills paragraph to
    # learn from, so that document's drills scores are exactly 0, not a leak from its own labels
    drills = body.label_set.names.index("drills")
    only_drills_document = body.groups == "004_69f23285355f99cd"
    assert body.y[~only_drills_document, drills].sum() == 0
    assert (cv.scores[only_drills_document, drills] == 0).all()
    assert cv.metrics.themes[drills].recall == 0
    assert (cv.fold >= 0).all()


def test_best_f1_threshold():
    scores = np.array([0.9, 0.8, 0.4, 0.35, 0.1])
    truth = np.array([1, 1, 1, 0, 0])
    assert best_f1_threshold(scores, truth, 0.5) == pytest.approx(0.375)
    assert best_f1_threshold(scores, np.zeros(5, int), 0.5) == 0.5  # nothing to tune on
    # positives only at the bottom: no cut-off finds one, keep the default
    assert best_f1_threshold(np.array([0.9, 0.8, 0.1]), np.array([0, 0, 1]), 0.5) == 0.5


def test_apply_thresholds_and_top_k():
    scores = np.array([[0.9, 0.7, 0.6], [0.1, 0.2, 0.3]])
    thresholds = np.array([0.5, 0.5, 0.5])
    assert apply_thresholds(scores, thresholds).tolist() == [
        [True, True, True],
        [False, False, False],
    ]
    assert apply_thresholds(scores, thresholds, top_k=2).tolist() == [
        [True, True, False],
        [False, False, False],
    ]
    assert resolve_thresholds(["a", "b"], {"a": 0.5, "b": 0.5}, 0.2).tolist() == [0.2, 0.2]


def test_metrics_match_scikit_learn():
    rng = np.random.default_rng(1)
    y_true = rng.integers(0, 2, (50, 3))
    y_pred = rng.integers(0, 2, (50, 3))
    metrics = compute_metrics(y_true, y_pred, ["a", "b", "c"])
    assert metrics.micro_f1 == pytest.approx(f1_score(y_true, y_pred, average="micro"))
    assert metrics.macro_f1 == pytest.approx(f1_score(y_true, y_pred, average="macro"))
    assert [t.support for t in metrics.themes] == y_true.sum(axis=0).tolist()
    assert [t.predicted for t in metrics.themes] == y_pred.sum(axis=0).tolist()
    flat = metrics.as_dict()
    assert flat["f1/b"] == pytest.approx(f1_score(y_true[:, 1], y_pred[:, 1]))


def test_macro_f1_skips_themes_absent_from_truth_and_predictions():
    y_true = np.array([[1, 0], [0, 0]])
    y_pred = np.array([[1, 0], [0, 0]])
    assert compute_metrics(y_true, y_pred, ["a", "b"]).macro_f1 == 1.0


def test_held_out_source_is_only_tested_and_other_sources_always_train():
    """`cv.evaluate_on`: folds over one source's documents; the other source trains every fold."""
    config = ExperimentConfig.from_dict({"cv": {"strategy": "leave_one_document_out"}})
    texts, y, groups = _toy_corpus()
    test_rows = np.isin(groups, ["a", "b"])  # plays the seeds
    train_rows = ~test_rows  # plays the authored set: trains, never tested
    cv = cross_validate(
        config,
        texts,
        y,
        groups,
        ["drills", "trafficking"],
        train_rows=train_rows,
        test_rows=test_rows,
    )
    assert set(cv.rows.tolist()) == set(np.flatnonzero(test_rows).tolist())
    assert len(cv.fold_thresholds) == 2  # one fold per held-out document
    # train-on-c,d / test-on-a,b: both folds train on the same rows, so they score alike
    lone = cross_validate(
        config,
        [texts[i] for i in np.flatnonzero(train_rows)],
        y[train_rows],
        groups[train_rows],
        ["drills", "trafficking"],
    )
    assert cv.metrics.macro_f1 > 0.9 and lone.metrics.macro_f1 > 0.9


def test_metrics_are_broken_down_by_slice():
    config = ExperimentConfig()
    texts, y, groups = _toy_corpus()
    languages = np.array(["en" if i % 2 else "ru" for i in range(len(texts))], dtype=object)
    cv = cross_validate(
        config, texts, y, groups, ["drills", "trafficking"], slices={"lang": languages}
    )
    assert set(cv.breakdown["lang"]) == {"en", "ru"}
    assert cv.breakdown["lang"]["en"].paragraphs + cv.breakdown["lang"]["ru"].paragraphs == len(
        texts
    )
