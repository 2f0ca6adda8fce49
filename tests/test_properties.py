"""Property-based tests: segmentation, decoding, table reading and prediction on any text.

Texts mix what scraped Central Asian news holds: ASCII, Russian and Kazakh letters, Hebrew and
Arabic, emoji (ZWJ sequences, skin tones, flags), combining accents, zero-width characters, NUL
and other control characters, every kind of whitespace and line break; plus arbitrary text.
Examples are derandomized (tests/conftest.py), so CI sees the same ones on every run.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from classify.data.decoding import decode_text, read_document
from classify.data.inputs import InputParagraph, ReadOptions, read_inputs
from classify.data.rows import is_blank
from classify.data.segment import KINDS, segment
from classify.errors import ClassifyError
from classify.predict.predictor import Predictor

KAZAKH = "әғқңөұүһіӘҒҚҢӨҰҮҺІ"
EMOJI = ["😀", "👍🏽", "👩🏿‍💻", "👨‍👩‍👧‍👦", "🏳️‍🌈", "🇰🇿", "❤️"]
COMBINING = ["\u0301", "\u0300", "\u0308", "\u0306", "\u0327"]
ZERO_WIDTH = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad"]
CONTROL = ["\x00", "\x01", "\x07", "\x08", "\x1b", "\x7f", "\x85", "\x9f"]
WHITESPACE = [" ", "\t", "\x0b", "\x0c", "\xa0", "\u1680", "\u2002", "\u2003", "\u202f", "\u3000"]
WHITESPACE += ["\x1c", "\x1d", "\x1e", "\x1f"]
LINE_BREAKS = ["\n", "\r\n", "\r", "\n\n", "\r\n\r\n", "\u2028", "\u2029"]


def _letters(first: int, last: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=first, max_codepoint=last), min_size=1, max_size=9)


PIECES = st.one_of(
    _letters(0x20, 0x7E),  # ASCII
    _letters(0x410, 0x44F),  # Russian
    st.text(st.sampled_from(KAZAKH + "абвгде"), min_size=1, max_size=9),
    _letters(0x5D0, 0x5EA),  # Hebrew
    _letters(0x621, 0x64A),  # Arabic
    st.sampled_from(EMOJI),
    st.sampled_from(COMBINING),
    st.sampled_from(ZERO_WIDTH),
    st.sampled_from(CONTROL),
    st.sampled_from(WHITESPACE),
    st.sampled_from(LINE_BREAKS),
)
MIXED = st.lists(PIECES, max_size=40).map("".join)
BLANK = st.lists(st.sampled_from(WHITESPACE + ZERO_WIDTH + LINE_BREAKS), max_size=12).map("".join)
TEXTS = st.one_of(MIXED, st.text(), BLANK)


def _lf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


@settings(max_examples=300)
@given(TEXTS)
def test_segment_never_fails_and_slices_back(text):
    paragraphs = segment(text, "doc")
    for p in paragraphs:
        assert text[p.start : p.end] == p.text
        assert p.text and not is_blank(p.text)  # not empty, not just whitespace/invisibles
        assert p.id == f"doc:{p.index:03d}"
    assert len({p.id for p in paragraphs}) == len(paragraphs)
    indexes = [p.index for p in paragraphs]
    assert indexes == sorted(set(indexes))
    if is_blank(text):
        assert paragraphs == []


@settings(max_examples=200)
@given(TEXTS)
def test_segment_is_the_same_for_every_newline_convention(text):
    unix = _lf(text)
    expected = [(p.id, p.kind, p.text) for p in segment(unix, "doc")]
    for newline in ("\r\n", "\r"):
        variant = unix.replace("\n", newline)
        got = [(p.id, p.kind, _lf(p.text)) for p in segment(variant, "doc")]
        assert got == expected, newline


@given(TEXTS)
def test_decode_drops_one_bom(text):
    assert decode_text(("\ufeff" + text).encode("utf-8"), "x") == text
    assert decode_text(text.encode("utf-8"), "x") == text.removeprefix("\ufeff")


@settings(max_examples=300)
@given(st.binary(max_size=64), st.sampled_from(["utf-8", "cp1251", "utf-16", "kz1048"]))
def test_any_bytes_decode_or_raise_a_classify_error(data, encoding):
    try:
        text = decode_text(data, "x", encoding=encoding)
    except ClassifyError as error:
        assert re.search(r"^x: not valid \S+ at byte \d+, line \d+ ", error.message)
    else:
        assert isinstance(text, str)
    replaced = decode_text(data, "x", encoding=encoding, errors="replace")
    assert isinstance(replaced, str)
    replaced.encode("utf-8")  # no lone surrogates: every output can hold it


# --- tables: what is written with the csv/json modules reads back as written -------------------

IDS = st.one_of(st.just(""), BLANK, MIXED.map(lambda s: s[:20]), st.text(max_size=10))
# a row, or None for a raw blank line written between rows
ROWS = st.lists(st.one_of(st.tuples(IDS, TEXTS), st.none()), max_size=12)


# Python's csv.writer quotes a field only for the characters of its line terminator: with "\n" it
# leaves a lone "\r" bare, which every CSV reader (Python's too) takes as a line break. So files
# with "\n" line ends are written with every field quoted.
CSV_STYLES = [("\r\n", csv.QUOTE_MINIMAL), ("\r\n", csv.QUOTE_ALL), ("\n", csv.QUOTE_ALL)]


def _csv_bytes(rows, style: tuple[str, int], bom: bool) -> tuple[bytes, list[int]]:
    """The CSV file, and the line each row starts on."""
    newline, quoting = style
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator=newline, quoting=quoting)
    writer.writerow(["id", "text"])
    lines = []
    for row in rows:
        lines.append(len(re.findall(r"\r\n|\r|\n", buffer.getvalue())) + 1)
        if row is None:
            buffer.write(newline)  # a blank line
        else:
            writer.writerow(row)
    return ("\ufeff" if bom else "").encode() + buffer.getvalue().encode(), lines


def _jsonl_bytes(rows, newline: str, bom: bool, ascii_only: bool) -> tuple[bytes, list[int]]:
    records = [
        "" if row is None else json.dumps({"id": row[0], "text": row[1]}, ensure_ascii=ascii_only)
        for row in rows
    ]
    text = "".join(record + newline for record in records)
    return ("\ufeff" if bom else "").encode() + text.encode(), list(range(1, len(rows) + 1))


def _expected(rows, lines, *, csv_padding: bool):
    """(paragraphs as (id, text), skipped lines) that reading the file must give.

    A row is *padding* (left out silently) when it is a blank line, or, in CSV, when every field
    is blank (whitespace and invisible characters only). A row that is not padding but has a blank
    text is *bad*: an error, or skipped. Every other row is read with its id and text unchanged; a
    blank id becomes ``line:N``.
    """
    paragraphs, bad = [], []
    for row, line in zip(rows, lines, strict=True):
        if row is None or (csv_padding and is_blank(row[0]) and is_blank(row[1])):
            continue
        row_id, text = row
        if is_blank(text):
            bad.append(line)
        else:
            paragraphs.append((row_id if not is_blank(row_id) else f"line:{line}", text))
    return paragraphs, bad


def _check_table(path, data, expected, bad):
    path.write_bytes(data)
    if not expected and not bad:
        with pytest.raises(ClassifyError, match="no rows to tag"):
            read_inputs([str(path)])
        return
    skip = ReadOptions(on_error="skip")
    if not expected:
        with pytest.raises(ClassifyError, match="nothing to tag"):
            read_inputs([str(path)], options=skip)
    else:
        inputs = read_inputs([str(path)], options=skip)
        assert [(p.id, p.text) for p in inputs] == expected
        assert {p.source for p in inputs} == {str(path)}
        assert [s.line for s in inputs.skipped] == bad
        assert all(s.reason == "empty 'text'" for s in inputs.skipped)
    if bad:  # by default the first bad row stops the read, naming its line
        with pytest.raises(ClassifyError, match=rf":{bad[0]}: empty 'text'"):
            read_inputs([str(path)])


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ROWS, st.sampled_from(CSV_STYLES), st.booleans())
def test_csv_rows_read_back_as_written(tmp_path, rows, style, bom):
    data, lines = _csv_bytes(rows, style, bom)
    expected, bad = _expected(rows, lines, csv_padding=True)
    _check_table(tmp_path / "rows.csv", data, expected, bad)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ROWS, st.sampled_from(["\r\n", "\n"]), st.booleans(), st.booleans())
def test_jsonl_rows_read_back_as_written(tmp_path, rows, newline, bom, ascii_only):
    data, lines = _jsonl_bytes(rows, newline, bom, ascii_only)
    expected, bad = _expected(rows, lines, csv_padding=False)
    _check_table(tmp_path / "rows.jsonl", data, expected, bad)


# --- documents read from files ----------------------------------------------------------------


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(TEXTS.map(lambda t: t.encode("utf-8")), st.binary(max_size=80)), st.booleans())
def test_read_inputs_on_any_document(tmp_path, data, skip):
    path = tmp_path / "article.txt"
    path.write_bytes(data)
    options = ReadOptions(on_error="skip" if skip else "fail")
    try:
        inputs = read_inputs([str(path)], options=options)
    except ClassifyError as error:  # only for a file that cannot be decoded or has no text
        assert str(path) in str(error)
        with contextlib.suppress(ClassifyError):
            assert segment(read_document(path), "article") == []
        return
    text = read_document(path)
    assert inputs and not inputs.skipped
    assert len({p.id for p in inputs}) == len(inputs)
    for p in inputs:
        assert text[p.start : p.end] == p.text
        assert p.source == p.document == str(path)


@given(TEXTS)
def test_a_literal_text_is_taken_as_it_is_or_refused_when_blank(text):
    try:
        (paragraph,) = read_inputs([], texts=[text])
    except ClassifyError as error:
        assert is_blank(text) and "text 1 is empty" in str(error)
    else:
        assert paragraph.text == text and paragraph.id == "text:1"


# --- prediction -------------------------------------------------------------------------------


@pytest.mark.slow  # loads the session's trained model (trained on first use)
def test_predictions_one_per_text_in_order_and_batch_independent(trained):
    predictor = Predictor.load(trained[1])

    @settings(max_examples=40)
    @given(st.lists(TEXTS, max_size=6), st.lists(st.sampled_from(KINDS), min_size=6, max_size=6))
    def check(texts, kinds):
        predictions = predictor.predict(texts)
        assert len(predictions) == len(texts)
        batch = predictor.scores(texts)
        for i, (text, prediction) in enumerate(zip(texts, predictions, strict=True)):
            assert list(prediction.scores) == list(predictor.themes)
            assert all(math.isfinite(s) and 0.0 <= s <= 1.0 for s in prediction.scores.values())
            alone = predictor.predict([text])[0]
            assert alone.themes == prediction.themes
            assert alone.scores == pytest.approx(prediction.scores, abs=1e-6)
            assert predictor.scores([text])[0] == pytest.approx(batch[i], abs=1e-12)
        paragraphs = [
            InputParagraph("<text>", f"t{i}", text, kind)
            for i, (text, kind) in enumerate(zip(texts, kinds, strict=False))
        ]
        tagged = predictor.predict_paragraphs(paragraphs)
        assert len(tagged) == len(paragraphs)
        for paragraph, prediction, plain in zip(paragraphs, tagged, predictions, strict=True):
            assert prediction.scores == plain.scores  # same texts, same scores
            if paragraph.kind != "body":
                assert prediction.themes == () and prediction.review == ()
            else:
                assert prediction.themes == plain.themes

    check()


@pytest.mark.slow  # loads the session's trained model (trained on first use)
def test_every_output_format_renders_any_text_id_and_source(trained):
    """Scraped text may look like rich markup ("[/b]") or carry terminal escapes: the table
    shows it literally with control characters escaped, and the machine formats keep it as it
    is, one record per paragraph, in order."""
    from classify.predict.documents import summarise_documents
    from classify.predict.outputs import (
        format_predictions,
        prediction_records,
        predictions_table,
        render_text,
    )

    predictor = Predictor.load(trained[1])
    markup = st.sampled_from(["[/b]", "[bold]", "[/]", "[link=x]", "[red]", "]", "[", "\\["])
    field = st.lists(st.one_of(PIECES, markup), max_size=12).map("".join)
    unprintable = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")

    @settings(max_examples=40)
    @given(st.lists(st.tuples(field, field, field), min_size=1, max_size=4))
    def check(rows):
        paragraphs = [
            InputParagraph(source, paragraph_id, text, document=source or None)
            for source, paragraph_id, text in rows
        ]
        predictions = predictor.predict_paragraphs(paragraphs)
        records = prediction_records(paragraphs, predictions)
        summaries = summarise_documents(
            (p.document, p.id, pred)
            for p, pred in zip(paragraphs, predictions, strict=True)
            if p.document
        )
        shown = render_text(predictions_table(records, summaries, predictor.themes), width=100)
        assert unprintable.search(shown) is None
        jsonl = format_predictions(records, summaries, predictor.themes, "jsonl")
        lines = jsonl.split("\n")  # not splitlines(): U+2028 or U+0085 may stand in a record
        written = [json.loads(line) for line in lines if line][: len(rows)]
        assert [(r["source"], r["id"], r["text"]) for r in written] == rows
        table = format_predictions(records, summaries, predictor.themes, "csv")
        read = list(csv.DictReader(io.StringIO(table, newline="")))
        assert [(r["source"], r["id"], r["text"]) for r in read] == rows

    check()
