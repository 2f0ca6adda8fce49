"""The model registry end to end over HTTP: a real `mlflow server`, `classify train --register`,
`classify promote`, and `classify predict --model models:/...`, checked against the local bundle.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import numpy as np
import pytest

from tests.conftest import DEFAULT_EXPERIMENT, LABELS
from tests.helpers import run_cli
from tests.servers import free_port, log_in_process, running, server_env

TEXTS = [
    "Border guards seized 40 kg of heroin on the Tajik-Afghan border.",
    "Special forces rehearsed freeing hostages at Almaty airport.",
    "Парламент принял закон об ужесточении наказания за экстремизм.",
]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A real MLflow tracking server on a free local port: SQLite backend, proxied artifacts."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    args = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    args += ["--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}"]
    args += ["--artifacts-destination", str(root / "artifacts"), "--workers", "1"]
    url = f"http://127.0.0.1:{port}"
    with running(args, f"{url}/health", root / "logs", env=server_env(), cwd=root):
        yield url


@pytest.fixture(scope="module")
def registered(server, tmp_path_factory, quick):
    """The quick default experiment trained by the real CLI over HTTP and registered as
    `themes` version 1: (server URL, bundle folder, run id)."""
    models = tmp_path_factory.mktemp("registry-models")
    overrides = [arg for value in quick for arg in ("--set", value)]
    done = run_cli(
        "train",
        str(DEFAULT_EXPERIMENT),
        *overrides,
        "--models-dir",
        str(models),
        "--register",
        "themes",
        "--tracking-uri",
        server,
    )
    assert done.returncode == 0, done.stderr
    assert "registered themes version 1" in done.stdout
    run_id = next(
        line.split()[2] for line in done.stdout.splitlines() if line.startswith("MLflow run ")
    )
    return server, models / "default", run_id


def predicted_scores(done: subprocess.CompletedProcess, themes) -> np.ndarray:
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["text"] for row in rows] == TEXTS
    return np.array([[row["scores"][t] for t in themes] for row in rows])


@pytest.mark.slow
def test_a_registered_model_is_promoted_and_predicts_like_its_bundle(
    registered, tmp_path, monkeypatch
):
    from classify.predict.predictor import Predictor
    from classify.track.registry import load_predictor

    url, bundle, run_id = registered
    local = Predictor.load(bundle)
    texts = [arg for text in TEXTS for arg in ("--text", text)]

    promoted = run_cli("promote", "themes", "1", "--alias", "champion", "--tracking-uri", url)
    assert promoted.returncode == 0, promoted.stderr
    assert "themes version 1 is now @champion" in promoted.stdout

    # from an empty folder: nothing local to fall back on
    champion = run_cli(
        "predict",
        "--model",
        "models:/themes@champion",
        "--tracking-uri",
        url,
        "--format",
        "jsonl",
        *texts,
        cwd=tmp_path,
    )
    np.testing.assert_allclose(
        predicted_scores(champion, local.themes), local.scores(TEXTS), atol=1e-6
    )
    # a run's model, with the store from the environment instead of --tracking-uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    by_run = load_predictor(f"runs:/{run_id}/model", dst=tmp_path / "run-model")
    np.testing.assert_allclose(by_run.scores(TEXTS), local.scores(TEXTS))
    assert by_run.predict(TEXTS, threshold=0.5) == local.predict(TEXTS, threshold=0.5)
    assert by_run.thresholds == local.thresholds


@pytest.mark.slow
def test_each_registration_is_a_new_version_and_promote_moves_the_alias(registered, trained):
    from mlflow.tracking import MlflowClient

    from classify.track.tracker import MlflowTracker

    url, _, _ = registered
    result, bundle = trained
    tracker = MlflowTracker(url, register_as="themes")
    log_in_process(tracker, result, bundle)
    assert tracker.registered_version >= 2

    version = str(tracker.registered_version)
    promoted = run_cli("promote", "themes", version, "--alias", "champion", "--tracking-uri", url)
    assert promoted.returncode == 0, promoted.stderr
    assert f"themes version {version} is now @champion (was version 1)" in promoted.stdout
    client = MlflowClient(url)
    assert client.get_model_version_by_alias("themes", "champion").version == version
    assert client.get_model_version("themes", version).run_id == tracker.run_id


@pytest.mark.slow
def test_registry_mistakes_are_one_line_errors(registered, tmp_path, monkeypatch):
    from classify.errors import ClassifyError
    from classify.track.registry import load_predictor, set_alias

    url, _, _ = registered
    done = run_cli("predict", "--model", "models:/themes@nope", "--tracking-uri", url, "x")
    assert done.returncode == 1
    assert done.stderr.startswith(
        f"error: cannot load models:/themes@nope from {url}: "
        "Registered model alias nope not found; "
    )
    assert len(done.stderr.strip().splitlines()) == 1

    with pytest.raises(ClassifyError, match="Registered Model with name=nothing not found"):
        load_predictor("models:/nothing/1", url)
    with pytest.raises(ClassifyError, match=r"^themes has no version 99 \(versions: 1"):
        set_alias("themes", 99, "champion", url)
    with pytest.raises(ClassifyError, match=r"^no registered model 'nothing' in http"):
        set_alias("nothing", 1, "champion", url)
    with pytest.raises(ClassifyError, match=r"^bad model version 'one'"):
        set_alias("themes", "one", "champion", url)
    # no store where the default points: an error, not a new empty store
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")
    monkeypatch.chdir(tmp_path)
    missing = tmp_path / "experiments" / "mlflow.db"
    with pytest.raises(ClassifyError, match="^" + re.escape(f"no MLflow store at {missing}")):
        load_predictor("models:/themes@champion")
    assert not missing.parent.exists()


@pytest.mark.slow
def test_register_needs_tracking(tmp_path):
    models = tmp_path / "models"
    args = ("--models-dir", str(models), "--no-track", "--register", "themes")
    done = run_cli("train", str(DEFAULT_EXPERIMENT), *args)
    assert done.returncode == 1
    assert done.stderr == "error: --register needs an MLflow run; drop --no-track\n"
    assert not models.exists()  # refused before any training


def test_predict_and_train_default_to_the_same_store(tmp_path, monkeypatch):
    """No experiment at predict time: `experiments/mlflow.db` under the working folder, which is
    where a plain `classify train` (experiments/default.toml) logs from the same folder."""
    from classify.model.config import load_experiment
    from classify.track.registry import store_uri
    from classify.track.store import default_tracking_uri

    experiments = tmp_path / "experiments"
    experiments.mkdir()
    (experiments / "default.toml").write_text(
        f'name = "x"\n[data]\nannotations = ["a.csv"]\nlabel_set = "{LABELS / "themes.toml"}"\n',
        encoding="utf-8",
    )
    (experiments / "mlflow.db").touch()  # store_uri only checks that the store exists
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.chdir(tmp_path)
    train_default = default_tracking_uri(load_experiment(experiments / "default.toml"))
    assert store_uri() == train_default == f"sqlite:///{(experiments / 'mlflow.db').resolve()}"


@pytest.mark.slow
def test_predicting_from_a_local_bundle_never_imports_mlflow(trained):
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from classify.cli import app\n"
        f"done = CliRunner().invoke(app, ['predict', '--model', {str(trained[1])!r}, 'A drill.'])\n"
        "assert done.exit_code == 0, done.output\n"
        "assert 'mlflow' not in sys.modules, 'predict imported mlflow for a local bundle'\n"
        "heavy = [m for m in sys.modules if m.split('.')[0] == 'matplotlib'\n"
        "         or m.startswith('classify.training')]\n"
        "assert not heavy, f'predict imported {heavy[:5]}'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
