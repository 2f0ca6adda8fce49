"""The package keeps its shape: the import contracts of pyproject.toml hold (and fail when an
import runs the wrong way), every top-level package is placed in them, and no module outgrows
400 lines, and the public names of ``classify`` stay what they are. What a plain prediction
loads at run time is checked in test_predictor.py."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "classify"
MAX_MODULE_LINES = 400
LAYERS = "Layers import downwards only"
MLFLOW_IN_TRACK = "Only classify.track imports MLflow"
LIGHT_PREDICTION = "Prediction, the model and the data layer never reach MLflow or matplotlib"
NO_CYCLES = "No import cycles between sibling modules or packages, at any depth"


def lint_imports(project: Path) -> subprocess.CompletedProcess:
    """import-linter's command on the ``classify`` package and ``pyproject.toml`` of
    ``project`` (it looks for both in its working folder)."""
    command = [str(Path(sys.executable).parent / "lint-imports"), "--no-cache"]
    return subprocess.run(command, cwd=project, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_hold():
    done = lint_imports(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    for contract in (LAYERS, MLFLOW_IN_TRACK, LIGHT_PREDICTION, NO_CYCLES):
        assert f"{contract} KEPT" in done.stdout
    assert "Contracts: 4 kept, 0 broken." in done.stdout


# An import that runs the wrong way, written into a copy of the package (a new module, or "+" lines
# added to an existing one), and the contract that must catch it.
WRONG_IMPORTS = {
    "data imports track": ({"data/wrong.py": "from classify.track import store\n"}, LAYERS),
    "training imports predict": (
        {"training/wrong.py": "from classify.predict import predictor\n"},
        LAYERS,
    ),
    "a lazy import upwards": (
        {"model/wrong.py": "def f():\n    from classify.training import train\n"},
        LAYERS,
    ),
    "a module outside every layer": ({"extra.py": "X = 1\n"}, LAYERS),
    "the CLI imports mlflow": ({"cli/wrong.py": "import mlflow\n"}, MLFLOW_IN_TRACK),
    "predict imports matplotlib": (
        {"predict/wrong.py": "def draw():\n    import matplotlib\n"},
        LIGHT_PREDICTION,
    ),
    "a leaf helper imports data": ({"atomic.py": "+from classify.data import rows\n"}, LAYERS),
    "two modules import each other": (
        {
            "track/wrong_a.py": "from classify.track import wrong_b\n",
            "track/wrong_b.py": "from classify.track import wrong_a\n",
        },
        NO_CYCLES,
    ),
}


@pytest.mark.parametrize("case", list(WRONG_IMPORTS))
def test_a_wrong_import_breaks_its_contract(case, tmp_path):
    files, contract = WRONG_IMPORTS[case]
    shutil.copytree(PACKAGE, tmp_path / "classify", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for name, text in files.items():
        path = tmp_path / "classify" / name
        if text.startswith("+"):
            text = path.read_text(encoding="utf-8") + text[1:]
        path.write_text(text, encoding="utf-8")
    done = lint_imports(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"{contract} BROKEN" in done.stdout, done.stdout
    culprit = Path(next(iter(files))).stem
    assert f"classify.{culprit}" in done.stdout or f".{culprit}" in done.stdout


def test_the_mlflow_contract_names_every_package_but_track():
    """A new top-level package must be placed in the contract that keeps MLflow out of it."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = {c["id"]: c for c in config["tool"]["importlinter"]["contracts"]}
    children = {
        f"classify.{path.stem}"
        for path in PACKAGE.iterdir()
        if (path.suffix == ".py" and path.name != "__init__.py")
        or (path.is_dir() and (path / "__init__.py").is_file())
    }
    assert set(contracts["mlflow-in-track-only"]["source_modules"]) == children - {"classify.track"}


def test_no_module_is_longer_than_400_lines():
    lengths = {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for path in PACKAGE.rglob("*.py")
    }
    assert lengths, "no modules found"
    too_long = {name: n for name, n in lengths.items() if n > MAX_MODULE_LINES}
    assert not too_long, f"split these along the seams of what they do: {too_long}"


def test_the_public_names_are_not_shadowed_by_submodules():
    """``classify.train`` and ``classify.segment`` are functions: once every module is imported, no
    subpackage or module of the same name may have replaced them (Python sets an attribute on
    the parent package for each submodule it imports)."""
    code = (
        "import importlib, pkgutil, types\n"
        "import classify\n"
        "for found in pkgutil.walk_packages(classify.__path__, 'classify.'):\n"
        "    if found.name != 'classify.__main__':  # that one runs the command line\n"
        "        importlib.import_module(found.name)\n"
        "shadowed = [n for n in classify.__all__\n"
        "            if isinstance(getattr(classify, n), types.ModuleType)]\n"
        "assert not shadowed, f'modules shadow the public names {shadowed}'\n"
        "assert classify.train.__module__ == 'classify.training.train'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
