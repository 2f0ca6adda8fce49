"""Text handling for both scripts: normalisation, language guess, and features from Cyrillic."""

import numpy as np

from classify.model.config import ExperimentConfig
from classify.model.pipeline import build_pipeline
from classify.text import detect_language, normalise_text


def test_normalisation_folds_case_width_and_yo_but_keeps_short_i():
    assert normalise_text("ЁЛКА Ёж") == "елка еж"
    assert normalise_text("Йошкар-Ола") == "йошкар-ола"  # й is not stripped to и
    assert normalise_text("ＫＮＢ") == "knb"  # full-width letters (NFKC)
    assert normalise_text("e\u0301") == "é"  # combining accent composed, not dropped


def test_language_guess():
    assert detect_language("Пограничники изъяли 40 кг героина") == "ru"
    assert detect_language("Border guards seized 40 kg of heroin") == "en"
    assert detect_language("КНБ: police drill") == "en"  # mostly Latin
    assert detect_language("2024 — 15:30") == "und"


def test_russian_paragraphs_produce_word_and_char_features():
    config = ExperimentConfig.from_dict({"features": {"word": {}, "char": {}}})
    features = build_pipeline(config)[0]
    texts = ["Спецназ отработал освобождение заложников", "СПЕЦНАЗ провёл учения", "Police drill"]
    matrix = features.fit_transform(texts)
    assert (matrix.getnnz(axis=1) > 0).all()
    vocabulary = features.transformer_list[0][1].vocabulary_
    assert "спецназ" in vocabulary and "провел" in vocabulary  # case and ё folded
    char_vocabulary = features.transformer_list[1][1].vocabulary_
    assert " спец" in char_vocabulary
    # the same word in either case maps to the same features
    a, b = features.transform(["Спецназ"]), features.transform(["СПЕЦНАЗ"])
    np.testing.assert_allclose(a.toarray(), b.toarray())
