from pathlib import Path

import pytest

from classify.data.decoding import decode_text, read_document
from classify.data.segment import classify_kind, segment, segment_file
from classify.errors import ClassifyError

SEEDS = sorted((Path(__file__).resolve().parent.parent / "seeds").glob("*.txt"))


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_offsets_slice_back_to_text_and_ids_are_stable(path):
    text = read_document(path)
    paragraphs = segment(text, path.stem)
    assert paragraphs
    for p in paragraphs:
        assert text[p.start : p.end] == p.text
        assert p.text == p.text.strip()
        assert p.id == f"{path.stem}:{p.index:03d}"
    indices = [p.index for p in paragraphs]
    assert indices == sorted(set(indices))
    assert segment(text, path.stem) == paragraphs  # deterministic


def test_boilerplate_is_dropped():
    texts = [p.text for path in SEEDS for p in segment_file(path)]
    joined = "\n".join(texts)
    for phrase in (
        "Do you like this article?",
        "Comment(s)",
        "Comment Policy",
        "Get The Astana Times",
    ):
        assert phrase not in joined


def test_boilerplate_kept_and_marked_on_request():
    text = "Drills held at the airport.\n\nDo you like this article?\n\n0 Comment(s)"
    paragraphs = segment(text, "d", keep_boilerplate=True)
    assert [p.kind for p in paragraphs] == ["body", "boilerplate", "boilerplate"]


def test_repeated_photo_caption_is_dropped_once():
    paragraphs = segment_file(SEEDS[2])  # 002: the same caption is printed twice
    captions = [p for p in paragraphs if p.kind == "caption"]
    assert len(captions) == 1
    assert captions[0].index == 2
    assert 3 not in {p.index for p in paragraphs}  # the repeat, with its id left as a gap


def test_kinds_of_title_byline_caption_and_headings():
    kinds = {p.index: p.kind for p in segment_file(SEEDS[4])}
    assert kinds[0] == "heading"  # title
    assert kinds[1] == "byline"
    assert kinds[2] == "caption"
    assert kinds[7] == "heading"  # "Rehearsing various scenarios"
    assert kinds[4] == "body"


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ("By Alexander Bogatik", "byline"),
        ("Автор: Иван Петров", "byline"),
        ("By contrast, the ministry disagreed with the court.", "body"),
        ("A photo of the suspect was published by the police on Monday after the trial.", "body"),
        ("A photo from the scene shows police officers at the border post.", "caption"),
        ("Extremists shown in a video. [VKontakte screenshot by A. B.]", "caption"),
    ],
)
def test_byline_and_caption_rules(line, kind):
    assert classify_kind(line) == kind


def test_short_final_line_and_one_line_document_are_body():
    assert segment("Police drill at the airport", "d")[0].kind == "body"
    assert [p.kind for p in segment("Title here\n\nBody text follows here.\n\nShort end", "d")] == [
        "heading",
        "body",
        "body",
    ]


def test_cyrillic_headings_and_body():
    text = "Учения в аэропорту\n\nСпецназ отработал освобождение заложников в аэропорту Алматы."
    assert [p.kind for p in segment(text, "ru")] == ["heading", "body"]


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_windows_and_old_mac_line_endings(newline):
    unix = "Title\n\nFirst paragraph here.\nSecond paragraph here.\n"
    text = unix.replace("\n", newline)
    paragraphs = segment(text, "d")
    assert [p.text for p in paragraphs] == [p.text for p in segment(unix, "d")]
    assert all(text[p.start : p.end] == p.text for p in paragraphs)


def test_hard_wrapped_text_becomes_one_paragraph_per_block():
    wrapped = (
        "Security services in Kazakhstan held a large counter-terrorism exercise\n"
        "at the Almaty airport on Tuesday, rehearsing the rescue of passengers\n"
        "taken hostage by a group of armed men in the departure hall.\n"
        "\n"
        "Officials said the drill involved police, special forces and medical\n"
        "teams, and that similar exercises would follow at railway stations\n"
        "across the country before the end of the year, as planned earlier.\n"
    )
    paragraphs = segment(wrapped, "w")
    assert len(paragraphs) == 2
    assert paragraphs[0].text.startswith("Security") and paragraphs[0].text.endswith("hall.")
    assert all(wrapped[p.start : p.end] == p.text for p in paragraphs)
    assert len(segment(wrapped, "w", mode="lines")) == 6


def test_whitespace_and_invisible_characters_are_not_paragraphs():
    text = "\ufeff \n\u200b\u200b\n\t\nA real paragraph.\n\u00a0\n"
    paragraphs = segment(text, "d")
    assert [p.text for p in paragraphs] == ["A real paragraph."]
    assert segment("", "d") == [] and segment(" \n\r\n ", "d") == []


def test_read_document_drops_bom_and_reports_bad_bytes(tmp_path):
    good = tmp_path / "bom.txt"
    good.write_bytes("\ufeffЗаголовок\n\nТекст статьи.".encode())
    assert read_document(good).startswith("Заголовок")
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine text \xff\xfe more")
    with pytest.raises(ClassifyError, match=r"bad.txt: not valid utf-8 at byte 10"):
        read_document(bad)
    assert "\ufffd" in read_document(bad, errors="replace")
    assert read_document(bad, encoding="latin-1").startswith("fine text")
    with pytest.raises(ClassifyError, match="no such file"):
        read_document(tmp_path / "missing.txt")


def test_decode_text_unknown_encoding():
    with pytest.raises(ClassifyError, match="unknown encoding"):
        decode_text(b"x", "<stdin>", encoding="no-such-codec")
