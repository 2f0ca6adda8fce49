"""The article report, rendered in a real headless Chromium.

The page renders with no console error, loads nothing but itself, shows hostile text as text,
and its theme filter hides and shows exactly the paragraphs carrying the theme (checked against
the JSONL output of the same run). The browser is the system's Chromium
(``scripts/install-browser``, or ``$CLASSIFY_BROWSER``), driven by Playwright.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from classify.data.inputs import InputParagraph
from classify.predict.report import ReportRow, article_html, report_closing, report_opening
from tests.conftest import SEEDS
from tests.helpers import run_cli

ARTICLE = SEEDS / "004_69f23285355f99cd.txt"
HOSTILE = (
    '<script>window.pwned = 1</script><img src="https://example.org/x.png" '
    'onerror="window.pwned = 2"> Police rehearsed a hostage rescue at the airport.'
)


def browser_path() -> str:
    found = os.environ.get("CLASSIFY_BROWSER") or next(
        filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None
    )
    if not found:  # not a skip: the README's test command installs one
        pytest.fail("no headless Chromium: run scripts/install-browser or set CLASSIFY_BROWSER")
    return found


@pytest.fixture(scope="module")
def page_of():
    """Open an HTML file in headless Chromium: (page, console messages, requests made)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=browser_path(), headless=True)

        def open_page(path: Path):
            page = browser.new_page(viewport={"width": 1100, "height": 1400})
            messages: list[str] = []
            requests: list[str] = []
            page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
            page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(path.as_uri())
            page.wait_for_load_state("load")
            return page, messages, requests

        yield open_page
        browser.close()


@pytest.fixture(scope="module")
def report(trained, tmp_path_factory):
    """The report of a seed article and a hostile paragraph, and the same run as JSONL."""
    folder = tmp_path_factory.mktemp("report")
    args = [str(ARTICLE), "-m", str(trained[1]), "--text", HOSTILE, "-q"]
    made = run_cli("predict", *args, "-f", "html", "-o", str(folder / "report.html"))
    assert made.returncode == 0, made.stderr
    rows = [
        json.loads(line)
        for line in run_cli("predict", *args, "-f", "jsonl", "--explain").stdout.splitlines()
    ]
    return folder / "report.html", rows


@pytest.mark.browser
def test_the_report_renders_offline_with_no_console_error(report, page_of, tmp_path):
    path, rows = report
    page, messages, requests = page_of(path)
    assert messages == []
    assert requests == [path.as_uri()]  # nothing else loaded: no image, font, script or style
    assert page.locator(".paragraph").count() == len(rows)
    assert page.locator("article").count() == 2  # the seed article and the --text paragraph
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.browser
def test_hostile_text_shows_as_text_and_runs_nothing(report, page_of):
    path, _ = report
    page, messages, _ = page_of(path)
    assert page.evaluate("window.pwned") is None
    assert page.locator("main script, main img").count() == 0
    shown = page.locator(".paragraph").last.locator(".text").inner_text()
    assert shown == HOSTILE
    assert messages == []


@pytest.mark.browser
def test_the_filter_shows_exactly_the_paragraphs_of_a_theme(report, page_of):
    path, rows = report
    page, messages, _ = page_of(path)
    themes = {theme for row in rows for theme in row["themes"]}
    assert {"drills", "recruitment"} <= themes
    for theme in sorted(themes):
        page.click(f'nav button[data-theme="{theme}"]')
        visible = page.locator(".paragraph:not([hidden])")
        expected = [row["id"] for row in rows if theme in row["themes"]]
        assert [v.locator(".id").inner_text() for v in visible.all()] == expected
        assert page.locator(f'nav button[data-theme="{theme}"]').get_attribute("aria-pressed") == (
            "true"
        )
        # an article without the theme is hidden whole
        sources = {row["source"] for row in rows}
        carrying = {row["source"] for row in rows if theme in row["themes"]}
        assert page.locator("article[hidden]").count() == len(sources - carrying)
    page.click('nav button[data-theme=""]')
    assert page.locator(".paragraph:not([hidden])").count() == len(rows)
    assert page.inner_text("#shown") == f"{len(rows)} of {len(rows)} paragraphs shown"
    assert messages == []


@pytest.mark.browser
def test_rationale_terms_are_highlighted_in_their_paragraph(report, page_of):
    path, rows = report
    page, _, _ = page_of(path)
    for i, row in enumerate(rows):
        marks = page.locator(".paragraph").nth(i).locator(".text mark").all_inner_texts()
        terms = {term for listed in row["rationale"].values() for term, _ in listed}
        # what the JSONL calls the rationale is what the page marks, at every place of a word
        assert {m.casefold() for m in marks} == {t.casefold() for t in terms}
        assert len(marks) >= len(terms)


def test_the_page_is_self_contained_and_escapes_everything(report):
    page = report[0].read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", page)
    assert "<script>window.pwned" not in page and "&lt;script&gt;window.pwned" in page
    policy = re.search(r'Content-Security-Policy" content="([^"]+)"', page)[1]
    assert "default-src 'none'" in policy and "unsafe-inline" not in policy


def test_an_empty_report_is_still_a_page():
    page = report_opening(["drills"], title="t", meta="m") + report_closing(empty=True)
    assert page.startswith("<!DOCTYPE html>") and "No paragraphs." in page


def test_an_article_escapes_ids_names_and_kinds():
    p = InputParagraph('"><b>x', '"><b>id', "text", kind='"><b>k', document='"><b>d')
    row = ReportRow(p, np.array([0.9]), np.array([True]), np.array([False]), None)
    html = article_html('"><b>d', [row], ['"><b>theme'], 0)
    assert "<b>" not in html


@pytest.fixture(scope="module")
def two_label_sets(trained, tmp_path_factory):
    """The report of the seed article tagged by a themes and a narratives model together, and
    the same run as JSONL."""
    from classify.model.config import load_experiment
    from classify.training.train import train_and_save

    folder = tmp_path_factory.mktemp("two")
    quick = ("features.char=false", 'thresholds.strategy="fixed"', "thresholds.value=0.3")
    narratives = load_experiment(SEEDS.parent / "experiments" / "narratives.toml", quick)
    _, bundle, _ = train_and_save(narratives, folder / "models")
    args = [str(ARTICLE), "-m", str(trained[1]), "-m", str(bundle), "-q"]
    made = run_cli("predict", *args, "-f", "html", "-o", str(folder / "report.html"))
    assert made.returncode == 0, made.stderr
    rows = [json.loads(line) for line in run_cli("predict", *args, "-f", "jsonl").stdout.split("\n")
            if line]  # fmt: skip
    return folder / "report.html", rows


@pytest.mark.browser
def test_a_report_of_two_label_sets_filters_by_either(two_label_sets, page_of):
    path, rows = two_label_sets
    page, messages, requests = page_of(path)
    labels = {(column, label) for row in rows for column in ("themes", "narratives")
              for label in row[column]}  # fmt: skip
    assert {column for column, _ in labels} == {"themes", "narratives"}
    for column, label in sorted(labels):
        page.click(f'nav button[data-theme="{label}"]')
        visible = page.locator(".paragraph:not([hidden])")
        expected = [row["id"] for row in rows if label in row[column]]
        assert [v.locator(".id").inner_text() for v in visible.all()] == expected
    page.click('nav button[data-theme=""]')
    assert page.locator(".paragraph:not([hidden])").count() == len(rows)
    assert messages == [] and requests == [path.as_uri()]
