import json
from pathlib import Path

import pytest

from classify.data.annotations import load_annotations
from classify.data.labels import LabelSet, Theme, load_label_set
from classify.data.segment import segment_file
from classify.errors import ClassifyError

ROOT = Path(__file__).resolve().parent.parent
HEADER = "id,document,start,end,kind,themes,text\n"


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def test_label_set_has_the_five_themes_with_their_definitions(label_set):
    assert label_set.names == ("recruitment", "returnees", "legislation", "drills", "trafficking")
    definitions = ROOT.parent / "shared" / "themes.md"
    for theme in label_set.themes:
        assert len(theme.definition) > 80
        if definitions.exists():  # the shared definitions, where this checkout sits beside them
            flat = " ".join(definitions.read_text(encoding="utf-8").split())
            assert " ".join(theme.definition.split()) in flat


def test_shipped_annotations_hold_every_seed_paragraph(seed_annotations):
    expected = {
        p.id: p for path in sorted((ROOT / "seeds").glob("*.txt")) for p in segment_file(path)
    }
    labeled = {p.id: p for p in seed_annotations.paragraphs}
    assert labeled.keys() == expected.keys()
    for pid, paragraph in expected.items():
        assert labeled[pid].text == paragraph.text
        assert labeled[pid].kind == paragraph.kind
        assert (labeled[pid].start, labeled[pid].end) == (paragraph.start, paragraph.end)
    assert all(not p.themes for p in seed_annotations.paragraphs if p.kind != "body")


def test_every_theme_occurs_in_the_seeds(seed_annotations):
    support = seed_annotations.y.sum(axis=0)
    assert (support > 0).all()
    assert seed_annotations.y.shape == (159, 5)


def test_fingerprint_changes_with_a_label(seed_annotations):
    from dataclasses import replace

    changed = list(seed_annotations.paragraphs)
    changed[5] = replace(changed[5], themes=("drills",))
    assert (
        replace(seed_annotations, paragraphs=tuple(changed)).fingerprint()
        != seed_annotations.fingerprint()
    )


def test_unknown_theme_names_the_line(tmp_path, label_set):
    path = write(tmp_path, "a.csv", HEADER + "a:1,a,,,body,drills,fine\na:2,a,,,body,drils,typo\n")
    with pytest.raises(ClassifyError, match=r"a\.csv:3: unknown theme 'drils'"):
        load_annotations(path, label_set)


def test_duplicate_id_names_both_lines(tmp_path, label_set):
    path = write(
        tmp_path, "a.csv", HEADER + "x,a,,,body,,one\ny,a,,,body,,two\nx,a,,,body,,three\n"
    )
    with pytest.raises(ClassifyError, match=r"a\.csv:4: duplicate id 'x' \(first at .*a\.csv:2\)"):
        load_annotations(path, label_set)


def test_empty_text_is_an_error(tmp_path, label_set):
    path = write(tmp_path, "a.csv", HEADER + 'x,a,,,body,,"   "\n')
    with pytest.raises(ClassifyError, match=r"a\.csv:2: empty text"):
        load_annotations(path, label_set)


def test_line_numbers_count_quoted_newlines(tmp_path, label_set):
    path = write(tmp_path, "a.csv", HEADER + 'x,a,,,body,,"two\nlines"\ny,a,,,body,nope,z\n')
    with pytest.raises(ClassifyError, match=r"a\.csv:4: unknown theme"):
        load_annotations(path, label_set)


def test_text_that_drifted_from_its_seed_is_an_error(tmp_path, label_set):
    rows = (ROOT / "labels" / "seeds.csv").read_text(encoding="utf-8")
    drifted = rows.replace("Participants were glad to help.", "Participants were happy to help.")
    path = write(tmp_path, "seeds.csv", drifted)
    line = next(i for i, row in enumerate(drifted.splitlines(), 1) if "happy to help" in row)
    with pytest.raises(
        ClassifyError,
        match=rf"seeds\.csv:{line}: text of '004_69f23285355f99cd:018' no longer matches",
    ):
        load_annotations(path, label_set, documents_dir=ROOT / "seeds")


def test_missing_source_document_is_an_error(tmp_path, label_set):
    path = write(tmp_path, "a.csv", HEADER + "x,gone,0,3,body,,abc\n")
    with pytest.raises(ClassifyError, match="source document 'gone' not found"):
        load_annotations(path, label_set, documents_dir=tmp_path)


def test_missing_column_and_bad_offset(tmp_path, label_set):
    with pytest.raises(ClassifyError, match=r"missing column.*themes"):
        load_annotations(write(tmp_path, "a.csv", "id,text\nx,y\n"), label_set)
    with pytest.raises(ClassifyError, match=r"a\.csv:2: offset 'ten' is not a whole number"):
        load_annotations(write(tmp_path, "a.csv", HEADER + "x,a,ten,,body,,t\n"), label_set)


def test_jsonl_annotations(tmp_path, label_set):
    lines = [
        {"id": "p1", "text": "Drills at the airport.", "themes": ["drills"], "lang": "en"},
        {"id": "p2", "text": "Нет темы.", "themes": []},
        {"id": "p3", "text": "Heroin seized.", "themes": "trafficking;legislation"},
    ]
    path = write(
        tmp_path, "a.jsonl", "\n".join(json.dumps(r, ensure_ascii=False) for r in lines) + "\n"
    )
    annotations = load_annotations(path, label_set)
    # themes come back in label-set order, whatever order the file used
    assert [p.themes for p in annotations.paragraphs] == [
        ("drills",),
        (),
        ("legislation", "trafficking"),
    ]
    assert annotations.paragraphs[0].group == "p1"  # no document: each paragraph is its own group
    bad = write(tmp_path, "b.jsonl", json.dumps(lines[0]) + "\n{not json\n")
    with pytest.raises(ClassifyError, match=r"b\.jsonl:2: not valid JSON"):
        load_annotations(bad, label_set)


def test_label_set_validation(tmp_path):
    with pytest.raises(ClassifyError, match="listed twice"):
        LabelSet("x", "1", (Theme("a"), Theme("a")))
    with pytest.raises(ClassifyError, match="bad theme name"):
        LabelSet("x", "1", (Theme("Has Space"),))
    with pytest.raises(ClassifyError, match="not valid TOML"):
        load_label_set(write(tmp_path, "l.toml", "name = \n"))


def test_authored_set_meets_its_brief(label_set):
    """The authored training set: >= 80 paragraphs per theme, >= 150 with none, >= 25% Russian,
    every theme in both languages, every row marked authored, language tags right."""
    from classify.text import detect_language

    authored = load_annotations(ROOT / "labels" / "authored.jsonl", label_set)
    assert authored.sources == ("authored",)
    y = authored.y
    assert (y.sum(axis=0) >= 80).all(), dict(zip(label_set.names, y.sum(axis=0), strict=True))
    assert (y.sum(axis=1) == 0).sum() >= 150
    languages = authored.languages
    assert (languages == "ru").mean() >= 0.25
    for j in range(len(label_set.names)):
        assert set(languages[y[:, j] == 1]) == {"en", "ru"}
    assert all(p.lang == detect_language(p.text) for p in authored.paragraphs)
    assert all(p.document for p in authored.paragraphs)  # stories stay together in CV


def test_authored_text_is_not_taken_from_the_seeds(seed_annotations, label_set):
    import re

    def shingles(text: str) -> set[tuple[str, ...]]:
        words = re.findall(r"\w+", text.lower())
        return {tuple(words[i : i + 8]) for i in range(len(words) - 7)}

    seen = set().union(*(shingles(p.text) for p in seed_annotations.paragraphs))
    authored = load_annotations(ROOT / "labels" / "authored.jsonl", label_set)
    copied = [p.id for p in authored.paragraphs if shingles(p.text) & seen]
    assert not copied


def test_sources_and_languages_default_from_file_and_script(tmp_path, label_set):
    path = write(
        tmp_path,
        "extra.jsonl",
        '{"id": "x1", "text": "Учения прошли в аэропорту", "themes": ["drills"]}\n'
        '{"id": "x2", "text": "Drill at the airport", "themes": ["drills"], "source": "wire"}\n',
    )
    extra = load_annotations(path, label_set)
    assert [(p.source, p.lang) for p in extra.paragraphs] == [("extra", "ru"), ("wire", "en")]
    with pytest.raises(ClassifyError, match=r"duplicate id 'x1' \(first at .*extra\.jsonl:1\)"):
        load_annotations([path, path], label_set)
