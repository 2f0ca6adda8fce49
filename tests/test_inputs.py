"""Reading what users scraped: bad rows and files (fail or skip), messy CSV/JSONL, encodings.

The first tests read real files through ``read_inputs``; the last ones run ``classify predict``
for real (a few seconds each) to check what a user sees: one-line errors, the skip report, and
an ``--output`` file that is replaced whole or not at all.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from helpers import run_cli

from classify.data.decoding import decode_text
from classify.data.inputs import ReadOptions, read_inputs
from classify.data.skipped import Skipped, describe_skipped
from classify.errors import ClassifyError

SKIP = ReadOptions(on_error="skip")
RUSSIAN = "Учения в аэропорту\n\nСпецназ отработал освобождение заложников в аэропорту Алматы.\n"


def write(path: Path, data: str | bytes) -> str:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return str(path)


def test_bad_jsonl_rows_fail_at_the_first_or_are_all_skipped(tmp_path):
    rows = write(
        tmp_path / "a.jsonl",
        "\ufeff"  # a byte-order mark, CRLF line ends, blank lines
        '{"id": "r1", "text": "Police rehearsed a rescue."}\r\n'
        "\r\n"
        "not json\r\n"
        "[1, 2]\r\n"
        '{"id": "r5", "body": "no text column"}\r\n'
        '{"id": "r6", "text": 42}\r\n'
        '{"id": "r7", "text": null}\r\n'
        '{"id": "r8", "text": " \\t\\u200b"}\r\n'
        '\ufeff{"text": "Heroin seized at the border."}\r\n'  # a second BOM: files concatenated
        '{"id": 10, "text": "Drills in Shymkent."}\r\n'
        "   \r\n",
    )
    with pytest.raises(ClassifyError) as error:
        read_inputs([rows])
    assert error.value.message == f"{rows}:3: not valid JSON (Expecting value)"
    assert "--on-error skip" in error.value.hint

    inputs = read_inputs([rows], options=SKIP)
    assert [(p.id, p.text) for p in inputs] == [
        ("r1", "Police rehearsed a rescue."),
        ("line:9", "Heroin seized at the border."),
        ("10", "Drills in Shymkent."),
    ]
    assert [str(s) for s in inputs.skipped] == [
        f"{rows}:3: not valid JSON (Expecting value)",
        f"{rows}:4: expected a JSON object, found an array",
        f"{rows}:5: no column 'text' (columns: body, id)",
        f"{rows}:6: 'text' is a number, not a string",
        f"{rows}:7: 'text' is null, not a string",
        f"{rows}:8: empty 'text'",
    ]


def test_jsonl_lines_json_cannot_parse_are_bad_rows_not_crashes(tmp_path):
    rows = write(tmp_path / "b.jsonl", "[" * 100_000 + "\n" + "1" * 5000 + "\n{}\n")
    inputs = read_inputs([rows, "A text."], options=SKIP)
    assert [p.text for p in inputs] == ["A text."]
    assert [(s.line, s.reason.split(" (")[0]) for s in inputs.skipped] == [
        (1, "not valid JSON"),
        (2, "not valid JSON"),
        (3, "no column 'text'"),
    ]


def test_csv_quoted_newlines_padding_rows_nul_and_a_huge_cell(tmp_path):
    huge = "Контртеррористические учения. " * 700_000  # 21 MB, far over csv's 128 KiB field limit
    limit = csv.field_size_limit()
    table = write(
        tmp_path / "rows.csv",
        "id,text\r\n"
        '1,"Police rehearsed\r\na rescue, at the airport."\r\n'
        "\r\n"
        ",,\r\n"  # spreadsheet padding: every field empty
        " , \u200b\r\n"
        "2,Heroin\x00seized\r\n"
        f'3,"{huge}"\r\n'
        "4,last,,\r\n",  # empty extra fields are padding too
    )
    inputs = read_inputs([table])
    assert [(p.id, p.text) for p in inputs] == [
        ("1", "Police rehearsed\r\na rescue, at the airport."),
        ("2", "Heroin\x00seized"),
        ("3", huge),
        ("4", "last"),
    ]
    assert csv.field_size_limit() == limit  # raised for the read only


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('id,text\n1,ok\n2,"never closed\n3,x\n', "malformed CSV: a quoted field is never closed"),
        ('id,text\n1,ok\n2,"quoted" then text\n', "malformed CSV: text after a closing quote"),
        ("id,text\n1,ok\n2,a,b\n", "more fields than columns (3, header has 2)"),
        ("id,text,note\n1,ok,n\n2\n", "no 'text' value (fewer fields than the header)"),
        ("id,text\n1,ok\n2,   \n", "empty 'text'"),
    ],
)
def test_bad_csv_rows_name_their_line(tmp_path, content, message):
    table = write(tmp_path / "rows.csv", content)
    with pytest.raises(ClassifyError) as error:
        read_inputs([table])
    assert error.value.message.startswith(f"{table}:3: {message}")
    inputs = read_inputs([table], options=SKIP)
    assert [p.text for p in inputs] == ["ok"]
    (skipped,) = inputs.skipped
    assert skipped.line == 3 and skipped.reason.startswith(message)


def test_a_csv_without_the_text_column_is_one_error_listing_the_columns(tmp_path):
    table = write(tmp_path / "rows.csv", "id,body\n1,a\n2,b\n")
    with pytest.raises(ClassifyError, match=r"rows.csv: no column 'text' \(columns: body, id\)"):
        read_inputs([table])
    inputs = read_inputs([table, "A text."], options=SKIP)
    assert inputs.skipped == [Skipped(table, None, "no column 'text' (columns: body, id)")]
    named = ReadOptions(text_column="body", id_column="id")
    assert [(p.id, p.text) for p in read_inputs([table], options=named)] == [("1", "a"), ("2", "b")]


def test_undecodable_bytes_name_file_byte_and_line(tmp_path):
    russian = write(tmp_path / "ru.txt", RUSSIAN.encode("cp1251"))
    with pytest.raises(ClassifyError) as error:
        read_inputs([russian])
    reason = "not valid utf-8 at byte 0, line 1 (invalid continuation byte)"
    assert error.value.message == f"{russian}: {reason}"
    assert "--encoding (e.g. cp1251" in error.value.hint and "--errors replace" in error.value.hint
    cp1251 = read_inputs([russian], options=ReadOptions(encoding="cp1251"))
    assert [p.text for p in cp1251] == RUSSIAN.strip().split("\n\n")
    replaced = read_inputs([russian], options=ReadOptions(errors="replace"))
    assert len(replaced) == 2 and "\ufffd" in replaced[1].text

    late = b"line one\r\nline two\r\nthird \xff line\n"
    with pytest.raises(ClassifyError, match=r"^<stdin>: not valid utf-8 at byte 26, line 3 "):
        read_inputs(["-"], stdin=io.BytesIO(late))
    with pytest.raises(ClassifyError, match=r"x: not valid utf-8 at byte 26, line 3 "):
        decode_text(late, "x")


def test_a_folder_skips_unreadable_and_empty_files_on_request(tmp_path):
    folder = tmp_path / "scraped"
    folder.mkdir()
    write(folder / "a.txt", "Police rehearsed a rescue at the airport.\n")
    write(folder / "b.txt", RUSSIAN.encode("cp1251"))
    write(folder / "c.txt", " \n\u200b\n")
    write(folder / "d.jsonl", "\n\n")
    write(folder / "e.csv", 'id,text\n1,"never closed\n')
    with pytest.raises(ClassifyError, match=r"b.txt: not valid utf-8 at byte 0, line 1"):
        read_inputs([str(folder)])
    inputs = read_inputs([str(folder)], options=SKIP)
    assert [p.id for p in inputs] == ["a:000"]
    assert [str(s).removeprefix(str(folder) + "/") for s in inputs.skipped] == [
        "b.txt: not valid utf-8 at byte 0, line 1 (invalid continuation byte)",
        "c.txt: no text to tag (empty, or only boilerplate)",
        "d.jsonl: no rows to tag",
        "e.csv:2: malformed CSV: a quoted field is never closed (it runs to the end of the file)",
    ]
    assert describe_skipped(inputs.skipped)[0] == "skipped 1 row and 3 files:"


def test_nothing_left_to_tag_is_an_error(tmp_path):
    rows = write(tmp_path / "bad.jsonl", "nope\n{}\n")
    with pytest.raises(ClassifyError, match=r"nothing to tag: 2 rows skipped") as error:
        read_inputs([rows], options=SKIP)
    assert error.value.hint == f"the first: {rows}:1: not valid JSON (Expecting value)"


def test_settings_errors_are_never_skipped(tmp_path):
    document = write(tmp_path / "a.txt", "Some text.")
    for options, message in [
        (ReadOptions(encoding="no-such-codec", on_error="skip"), "unknown text encoding"),
        (ReadOptions(encoding="hex", on_error="skip"), "unknown text encoding 'hex'"),
        (ReadOptions(errors="sometimes", on_error="skip"), "unknown error handler 'sometimes'"),
        (ReadOptions(on_error="ignore"), "unknown on_error 'ignore'"),  # type: ignore[arg-type]
    ]:
        with pytest.raises(ClassifyError, match=message):
            read_inputs([document], options=options)


def test_decoding_that_would_leave_surrogates_is_refused():
    with pytest.raises(ClassifyError, match="unpaired surrogate at line 2"):
        decode_text(b"fine\nbad \xff", "x", errors="surrogateescape")
    with pytest.raises(ClassifyError, match="not valid punycode"):
        decode_text(b"\\ud800", "x", encoding="punycode")
    with pytest.raises(ClassifyError, match="text 1 holds undecodable bytes"):
        read_inputs(["caf\udce9"])  # what Python makes of a non-UTF-8 command-line argument


def test_the_skip_report_lists_ten_then_counts_the_rest():
    skipped = [Skipped("a.jsonl", n, "not valid JSON") for n in range(1, 14)]
    lines = describe_skipped(skipped)
    assert lines[0] == "skipped 13 rows:"
    assert lines[1:11] == [f"  a.jsonl:{n}: not valid JSON" for n in range(1, 11)]
    assert lines[11:] == ["  and 3 more"]
    assert describe_skipped([]) == []


# --- the real command line --------------------------------------------------------------------


@pytest.fixture(scope="module")
def model(trained) -> str:
    return str(trained[1])


def one_line_error(done) -> str:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    (line,) = [line for line in done.stderr.splitlines() if line.strip()]
    assert line.startswith("error: ")
    return line


def no_temporary_files(folder: Path) -> bool:
    return not [f for f in folder.iterdir() if f.name.startswith(".") or f.suffix == ".tmp"]


@pytest.mark.slow
def test_cli_bad_row_fails_or_is_skipped_and_the_output_is_replaced_whole(model, tmp_path):
    rows = write(
        tmp_path / "rows.jsonl",
        '{"id": "r1", "text": "Police rehearsed a hostage rescue at the airport."}\n'
        "{'id': 'r2'}\n"
        '{"id": "r3", "text": "Heroin was seized at the border."}\n',
    )
    out = tmp_path / "out" / "tags.json"
    out.parent.mkdir()
    old = b'{"old": "output of an earlier run"}\n' * 500
    out.write_bytes(old)

    failed = run_cli("predict", rows, "--model", model, "-f", "json", "-o", str(out))
    line = one_line_error(failed)
    assert f"{rows}:2: not valid JSON" in line and "--on-error skip" in line
    assert out.read_bytes() == old and no_temporary_files(out.parent)

    done = run_cli(
        "predict", rows, "--model", model, "-f", "json", "-o", str(out), "--on-error", "skip"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [
        "skipped 1 row:",
        f"  {rows}:2: not valid JSON (Expecting property name enclosed in double quotes)",
    ]
    tagged = json.loads(out.read_text(encoding="utf-8"))  # the whole file: nothing old is left
    assert [p["id"] for p in tagged["paragraphs"]] == ["r1", "r3"]
    assert "drills" in tagged["paragraphs"][0]["themes"]
    assert no_temporary_files(out.parent)


@pytest.mark.slow
def test_cli_output_is_untouched_when_the_model_is_bad(tmp_path):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "manifest.json").write_text("{", encoding="utf-8")
    out = tmp_path / "out" / "tags.csv"
    out.parent.mkdir()
    out.write_bytes(b"id,themes\nold,drills\n")
    done = run_cli("predict", "--text", "A drill.", "--model", str(broken), "-o", str(out))
    assert "manifest.json is corrupt" in one_line_error(done)
    assert out.read_bytes() == b"id,themes\nold,drills\n" and no_temporary_files(out.parent)


@pytest.mark.slow
def test_cli_reads_a_messy_csv(model, tmp_path):
    long_text = "Border guards seized heroin on the Tajik border. " * 3000  # 150k characters
    table = write(
        tmp_path / "scraped.csv",
        "id,text,source\r\n"
        '1,"Police rehearsed\r\nfreeing hostages at the airport.",a\r\n'
        "\r\n"
        ",,\r\n"
        "2,Heroin\x00was seized.,b\r\n"
        f'3,"{long_text}",c\r\n',
    )
    done = run_cli("predict", table, "--model", model, "-f", "json")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    paragraphs = json.loads(done.stdout)["paragraphs"]
    assert [(p["id"], p["text"]) for p in paragraphs] == [
        ("1", "Police rehearsed\r\nfreeing hostages at the airport."),
        ("2", "Heroin\x00was seized."),
        ("3", long_text),
    ]
    assert "trafficking" in paragraphs[2]["themes"]


@pytest.mark.slow
def test_cli_undecodable_file(model, tmp_path):
    russian = write(tmp_path / "ru.txt", RUSSIAN.encode("cp1251"))
    line = one_line_error(run_cli("predict", russian, "--model", model))
    assert f"{russian}: not valid utf-8 at byte 0, line 1" in line
    assert "--encoding (e.g. cp1251" in line and "--errors replace" in line

    done = run_cli("predict", russian, "--model", model, "--encoding", "cp1251", "-f", "jsonl")
    assert done.returncode == 0, done.stderr
    texts = [json.loads(row)["text"] for row in done.stdout.splitlines()]
    assert texts == ["Учения в аэропорту", RUSSIAN.split("\n\n")[1].strip()]

    done = run_cli("predict", russian, "--model", model, "--errors", "replace", "-f", "jsonl")
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 2 and "\\ufffd" not in done.stdout
    assert "\ufffd" in done.stdout


@pytest.mark.slow
def test_cli_table_shows_markup_and_terminal_escapes_as_text(model, tmp_path):
    """Scraped text that looks like rich markup used to crash the table ("closing tag '[/b]'
    doesn't match"); escape sequences reached the terminal (colours, window title)."""
    text = "Police held a drill [/b] at [bold]the airport \x1b[31mRED\x1b]0;title\x07\u202e."
    table = tmp_path / "rows.csv"
    write(table, 'id,text\n"row\x1b[2J",Border guards seized heroin [/i].\n')
    done = run_cli("predict", "--model", model, "--text", text, str(table), env={"COLUMNS": "300"})
    assert done.returncode == 0, done.stderr
    assert "[/b] at [bold]the airport \\x1b[31mRED\\x1b]0;title\\x07\\u202e." in done.stdout
    assert "row\\x1b[2J" in done.stdout and "heroin [/i]." in done.stdout
    assert "\x1b" not in done.stdout and "\u202e" not in done.stdout
    missing = run_cli("predict", "--model", model, "/tmp/no[/b]\x1b[2J.txt")
    assert (
        missing.stderr
        == "error: no such file: /tmp/no[/b]\\x1b[2J.txt; to tag it as text, pass it with --text\n"
    )
