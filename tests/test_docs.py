"""The README's Python examples run as written, and the code stays ruff-clean."""

import re
import shutil
import subprocess
import sys

import pytest
from helpers import ROOT

pytestmark = pytest.mark.slow


def test_readme_python_examples_run(tmp_path, monkeypatch, trained):
    blocks = re.findall(
        r"```python\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S
    )
    assert len(blocks) >= 2
    for folder in ("experiments", "labels", "seeds"):
        shutil.copytree(
            ROOT / folder,
            tmp_path / folder,
            ignore=shutil.ignore_patterns("mlflow.db", "mlartifacts"),
        )
    shutil.copytree(trained[1], tmp_path / "models" / "default")
    monkeypatch.chdir(tmp_path)
    # the narratives model of the "Themes and narratives together" example, made quick too
    from classify.model.config import load_experiment
    from classify.training.train import train_and_save

    quick = ("features.char=false", 'thresholds.strategy="fixed"')
    train_and_save(load_experiment("experiments/narratives.toml", quick), "models")
    for block in blocks:
        exec(compile(block, "README.md", "exec"), {})
    assert (tmp_path / "models" / "default" / "CURRENT").is_file()


@pytest.mark.parametrize("command", [["check"], ["format", "--check"]])
def test_ruff_clean(command):
    checked = ("classify", "tests", "bench", "scripts", "conftest.py")
    paths = [str(ROOT / p) for p in checked if (ROOT / p).exists()]
    done = subprocess.run(
        [sys.executable, "-m", "ruff", *command, *paths], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
