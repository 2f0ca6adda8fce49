"""Make docs/report.png: the HTML report of a seed article, as headless Chromium shows it.

Usage (after the README's main command has trained models/default):
    .venv/bin/python scripts/report_screenshot.py [--model models/default]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARTICLE = "seeds/004_69f23285355f99cd.txt"  # relative: the report names it as given


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "default"))
    parser.add_argument("--output", default=str(ROOT / "docs" / "report.png"))
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    browser_path = os.environ.get("CLASSIFY_BROWSER") or shutil.which("chromium")
    if not browser_path:
        sys.exit("no Chromium: run scripts/install-browser or set CLASSIFY_BROWSER")
    with tempfile.TemporaryDirectory() as work:
        report = Path(work) / "report.html"
        command = [sys.executable, "-m", "classify", "predict", ARTICLE, "-m", args.model]
        subprocess.run([*command, "-f", "html", "-o", str(report), "-q"], check=True, cwd=ROOT)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=browser_path, headless=True)
            page = browser.new_page(viewport={"width": 1000, "height": 1250})
            page.goto(report.as_uri())
            page.locator(".paragraph details").nth(3).evaluate("d => d.open = true")
            page.screenshot(path=args.output)
            browser.close()
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
