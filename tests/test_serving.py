"""The logged MLflow model through MLflow itself: ``mlflow.pyfunc.load_model`` and a real
``mlflow models serve``, each checked row by row against the local Predictor."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest

from tests.servers import free_port, log_in_process, running, server_env

pytestmark = pytest.mark.slow

# five rows (three columns in the DataFrame below): a model that iterated over column names
# would answer three rows; English and Russian, several themes, and one off-topic paragraph
TEXTS = [
    "Border guards seized 40 kg of heroin on the Tajik-Afghan border.",
    "Special forces rehearsed freeing hostages at Almaty airport.",
    "Парламент принял закон об ужесточении наказания за экстремизм.",
    "Recruiters contacted young migrants through messaging apps.",
    "The weather in Bishkek stayed mild all week.",
]


@pytest.fixture(scope="module")
def logged(trained, tmp_path_factory):
    """The quick model logged by the real tracker to a store of this module:
    (store URI, run id, the local Predictor of the same bundle)."""
    from classify.predict.predictor import Predictor
    from classify.track.tracker import MlflowTracker

    result, bundle = trained
    uri = f"sqlite:///{tmp_path_factory.mktemp('serving-store') / 'mlflow.db'}"
    tracker = MlflowTracker(uri)
    log_in_process(tracker, result, bundle)
    return uri, tracker.run_id, Predictor.load(bundle)


@pytest.fixture(scope="module")
def pyfunc(logged):
    """The logged model as ``mlflow.pyfunc.load_model`` gives it."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri, run_id, _ = logged
    client = MlflowClient(uri)
    experiment = client.get_run(run_id).info.experiment_id
    (model,) = client.search_logged_models(
        [experiment], filter_string=f"source_run_id = '{run_id}'"
    )
    # by its artifact location: a runs:/ URI would be looked up in the test's default store
    return mlflow.pyfunc.load_model(model.artifact_location)


def behind_signature(pyfunc):
    """What the loader module returned (a PyfuncThemeModel): the model without MLflow's checks."""
    from classify.track.pyfunc import PyfuncThemeModel

    model = pyfunc._model_impl  # MLflow keeps it there; no public accessor for loader modules
    assert isinstance(model, PyfuncThemeModel)
    return model


def score_columns(predictor) -> list[str]:
    return [f"score_{t}" for t in predictor.themes]


def test_the_model_names_the_loader_every_classify_version_reads(pyfunc):
    flavor = pyfunc.metadata.flavors["python_function"]
    assert flavor["loader_module"] == "classify.mlflow_model"  # older versions look for it
    assert flavor["code"]  # the model carries its own classify code


def test_the_pyfunc_answers_one_row_per_paragraph_in_order(logged, pyfunc):
    _, _, predictor = logged
    rows = pd.DataFrame(
        {"id": ["a", "b", "c", "d", "e"], "text": TEXTS, "lang": ["en", "en", "ru", "en", "en"]},
        index=[40, 10, 30, 0, 20],  # not 0..n-1: the answer keeps the caller's index
    )
    output = pyfunc.predict(rows)

    assert len(output) == len(TEXTS)
    assert list(output.index) == [40, 10, 30, 0, 20]
    np.testing.assert_allclose(
        output[score_columns(predictor)].to_numpy(), predictor.scores(TEXTS), rtol=1e-9
    )
    expected = predictor.predict(TEXTS)
    assert [list(themes) for themes in output["themes"]] == [list(p.themes) for p in expected]
    assert "drills" in output["themes"].iloc[1] and "trafficking" in output["themes"].iloc[0]


def test_the_pyfunc_takes_records_and_a_named_series(logged, pyfunc):
    _, _, predictor = logged
    expected = predictor.scores(TEXTS)
    for model_input in ([{"text": t} for t in TEXTS], pd.Series(TEXTS, name="text")):
        output = pyfunc.predict(model_input)
        np.testing.assert_allclose(output[score_columns(predictor)].to_numpy(), expected)


def test_a_list_of_strings_works_only_behind_the_mlflow_signature(logged, pyfunc):
    """MLflow's schema check turns a bare list into a column named 0 and refuses it, clearly;
    the model behind the signature (and the serving endpoint, below) takes the list itself."""
    from mlflow.exceptions import MlflowException

    _, _, predictor = logged
    with pytest.raises(MlflowException, match=r"missing inputs \['text'\]"):
        pyfunc.predict(TEXTS)
    output = behind_signature(pyfunc).predict(TEXTS)
    assert len(output) == len(TEXTS)
    np.testing.assert_allclose(output[score_columns(predictor)].to_numpy(), predictor.scores(TEXTS))


def test_inputs_without_a_text_column_are_refused_not_misread(pyfunc):
    from mlflow.exceptions import MlflowException

    from classify.errors import ClassifyError

    two_columns = pd.DataFrame({"title": TEXTS[:2], "body": TEXTS[2:4]})
    with pytest.raises(MlflowException, match=r"missing inputs \['text'\]"):
        pyfunc.predict(two_columns)
    # the model's own guard, for callers that skip MLflow's schema check
    with pytest.raises(ClassifyError, match=r"no 'text' column \(columns: title, body\)"):
        behind_signature(pyfunc).predict(two_columns)
    with pytest.raises(ClassifyError, match="must be a string"):
        pyfunc.predict(pd.DataFrame({"text": ["A paragraph.", None]}))


@pytest.fixture(scope="module")
def served(logged, tmp_path_factory):
    """`mlflow models serve` of the logged run, from an empty working folder, with an installed
    `classify` that cannot be imported: only the code logged with the model can serve it."""
    uri, run_id, predictor = logged
    root = tmp_path_factory.mktemp("serve")
    poison = root / "site" / "classify"
    poison.mkdir(parents=True)
    (poison / "__init__.py").write_text(
        'raise ImportError("the installed classify was imported instead of the model\'s code")\n'
    )
    (root / "work").mkdir()
    port = free_port()
    args = [sys.executable, "-m", "mlflow", "models", "serve", "-m", f"runs:/{run_id}/model"]
    args += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port), "-w", "1"]
    # PYTHONPATH comes before site-packages, where the editable install of classify lives
    env = server_env(MLFLOW_TRACKING_URI=uri, PYTHONPATH=str(root / "site"))
    url = f"http://127.0.0.1:{port}"
    with running(args, f"{url}/ping", root / "logs", env=env, cwd=root / "work"):
        yield url, predictor


def invoke(url: str, payload: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def test_the_served_model_answers_each_paragraph_like_the_local_predictor(served):
    url, predictor = served
    expected = predictor.scores(TEXTS)
    themes = [list(p.themes) for p in predictor.predict(TEXTS)]
    split = {"dataframe_split": {"columns": ["text"], "data": [[t] for t in TEXTS]}}
    for payload in (split, {"inputs": TEXTS}):
        status, answer = invoke(url, payload)
        assert status == 200, answer
        rows = answer["predictions"]
        assert len(rows) == len(TEXTS)
        scores = [[row[c] for c in score_columns(predictor)] for row in rows]
        np.testing.assert_allclose(scores, expected, rtol=1e-9)
        assert [row["themes"] for row in rows] == themes


def test_the_served_model_refuses_rows_without_text(served):
    url, _ = served
    payload = {"dataframe_split": {"columns": ["title", "body"], "data": [["a", "b"]]}}
    status, answer = invoke(url, payload)
    assert status == 400
    assert "missing inputs ['text']" in answer["message"]
