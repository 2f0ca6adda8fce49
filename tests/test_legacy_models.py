"""Models logged before classify grew its subpackages still load.

The model is trained, logged and registered by the flat-layout code itself: the package, labels
and experiments of the last flat-layout commit, taken from the project's git history and run in
a subprocess. Its ``MLmodel`` names the loader ``classify.mlflow_model`` (as new models do) and
carries that old code.
This code then loads it through ``classify predict --model models:/...``, through
``mlflow.pyfunc.load_model`` in a process that has already imported this ``classify``, and in a
fresh process (where MLflow puts the model's own code first), and must score every text exactly
as the old code did.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers import ROOT, run_cli

pytestmark = pytest.mark.slow

FLAT_LAYOUT_COMMIT = "245d3fa2f7df02808c06fcfcda51b53b01d9e9a4"  # the last one before the move
MODEL = "models:/legacy/1"
TEXTS = [
    "Border guards seized 40 kg of heroin on the Tajik-Afghan border.",
    "Special forces rehearsed freeing hostages at Almaty airport.",
    "Парламент принял закон об ужесточении наказания за экстремизм.",
]
# Trains the quick default experiment with the old code, logs and registers it as "legacy",
# and prints the run id and the old Predictor's scores of TEXTS.
OLD_CODE_SCRIPT = """
import json, sys
import classify
assert classify.__file__.startswith(sys.argv[1]), classify.__file__
from classify.config import load_experiment
from classify.predictor import Predictor
from classify.tracking import MlflowTracker
from classify.training import train_and_save

quick = ["features.char=false", 'thresholds.strategy="fixed"']
config = load_experiment("experiments/default.toml", quick)
tracker = MlflowTracker(sys.argv[2], register_as="legacy")
result, bundle, run_id = train_and_save(config, "models", tracker=tracker)
scores = Predictor.load(bundle).scores(json.loads(sys.argv[3])).tolist()
print(json.dumps({"run_id": run_id, "scores": scores}))
"""


def _has_flat_layout_commit() -> bool:
    if shutil.which("git") is None:
        return False
    probe = ["git", "-C", str(ROOT), "cat-file", "-e", f"{FLAT_LAYOUT_COMMIT}^{{commit}}"]
    return subprocess.run(probe, capture_output=True).returncode == 0


@pytest.fixture(scope="module")
def legacy(tmp_path_factory):
    """The old code's registered model: (store URI, the folder the old code ran in, the old
    code's scores of TEXTS); its bundle is ``models/default`` in that folder."""
    if not _has_flat_layout_commit():
        pytest.skip(f"needs the git history with commit {FLAT_LAYOUT_COMMIT[:7]}")
    old = tmp_path_factory.mktemp("flat-layout")
    folders = ("classify", "labels", "experiments", "seeds")
    command = ["git", "-C", str(ROOT), "archive", FLAT_LAYOUT_COMMIT, *folders]
    archive = subprocess.run(command, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(old, filter="data")
    store = f"sqlite:///{old / 'mlflow.db'}"
    done = subprocess.run(
        [sys.executable, "-c", OLD_CODE_SCRIPT, str(old), store, json.dumps(TEXTS)],
        cwd=old,
        env={**os.environ, "PYTHONPATH": str(old), "MLFLOW_TRACKING_URI": store},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    logged = json.loads(done.stdout.strip().splitlines()[-1])
    return store, old, np.array(logged["scores"])


def test_the_old_model_names_the_flat_layout_loader(legacy, tmp_path):
    from mlflow.artifacts import download_artifacts
    from mlflow.models import Model
    from mlflow.tracking import MlflowClient

    store, _, _ = legacy
    location = MlflowClient(store).get_model_version_download_uri("legacy", "1")
    folder = download_artifacts(artifact_uri=location, dst_path=str(tmp_path), tracking_uri=store)
    flavor = Model.load(folder).flavors["python_function"]
    assert flavor["loader_module"] == "classify.mlflow_model"
    assert (Path(folder) / "code" / "classify" / "tracking.py").is_file()  # the flat layout


def test_classify_predict_scores_the_old_registered_model_as_the_old_code_did(legacy):
    store, _, old_scores = legacy
    done = run_cli("predict", "--model", MODEL, "--tracking-uri", store, "-f", "json", *TEXTS)
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)["paragraphs"]
    assert [r["text"] for r in records] == TEXTS
    scores = np.array([list(r["scores"].values()) for r in records])
    np.testing.assert_allclose(scores, old_scores, atol=1e-6)  # the JSON rounds to 6 places


def test_mlflow_loads_the_old_model_beside_this_classify(legacy):
    import mlflow
    from mlflow.tracking import MlflowClient

    import classify

    store, _, old_scores = legacy
    # by its location: MLflow would resolve models:/ in the process-wide store earlier tests set
    location = MlflowClient(store).get_model_version_download_uri("legacy", "1")
    model = mlflow.pyfunc.load_model(location)
    output = model.predict(pd.DataFrame({"text": TEXTS}))
    # this process had imported this classify: the loader name resolved to its entry point
    assert sys.modules["classify"] is classify
    assert sys.modules["classify.mlflow_model"].__file__ == str(ROOT / "classify/mlflow_model.py")
    scores = output[[c for c in output.columns if c.startswith("score_")]].to_numpy()
    np.testing.assert_allclose(scores, old_scores, atol=1e-9)


def test_a_fresh_process_loads_the_old_model_with_its_own_code(legacy, tmp_path):
    store, _, old_scores = legacy
    code = (
        "import json, sys\n"
        "import mlflow, pandas as pd\n"
        f"model = mlflow.pyfunc.load_model({MODEL!r})\n"
        "output = model.predict(pd.DataFrame({'text': json.loads(sys.argv[1])}))\n"
        "import classify\n"
        "scores = output[[c for c in output.columns if c.startswith('score_')]]\n"
        "print(json.dumps({'code': classify.__file__, 'scores': scores.to_numpy().tolist()}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(TEXTS)],
        cwd=tmp_path,  # not the project folder, whose classify would shadow nothing here anyway
        env={**os.environ, "MLFLOW_TRACKING_URI": store},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded["code"].endswith("/code/classify/__init__.py")  # the model's own, old code
    np.testing.assert_allclose(np.array(loaded["scores"]), old_scores, atol=1e-9)


def test_this_code_loads_the_old_bundle_and_keeps_its_manifest_entries(legacy, trained):
    """The old bundle (format 2) loads, with a warning, and scores as the old code did; the
    format-3 manifest keeps every entry the old one had, in order, and adds the engine's."""
    from classify.model.bundle import BundleFormatWarning, load_bundle
    from classify.predict.predictor import Predictor

    _, old, old_scores = legacy
    with pytest.warns(BundleFormatWarning, match="format version 2"):
        predictor = Predictor.load(old / "models" / "default")
    np.testing.assert_allclose(predictor.scores(TEXTS), old_scores, atol=1e-9)
    before = predictor.manifest
    after = load_bundle(trained[1]).manifest
    assert [entry for entry in after if entry != "engine"] == list(before)
    for entry in ("training_data", "versions"):
        assert set(after[entry]) == set(before[entry]), entry
    assert (before["format_version"], after["format_version"]) == (2, 3)
