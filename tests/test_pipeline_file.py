"""Model files cannot run code: only trusted types load, pickles are never read.

Each malicious file is first shown to be real (loading it the unsafe way writes the marker file),
then loaded through classify, which must refuse it with a clear error before the marker appears.
The bundles are resealed (every checksum recomputed) so that only the type check stands between
the file and the user: checksums catch accidents, not attackers. Predicting never reads the
scikit-learn pipeline file at all (the scoring engine's arrays are plain numbers); it is built,
from trusted types only, when a user asks for ``predictor.pipeline``.
"""

import hashlib
import io
import itertools
import json
import pickle
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import skops.io

from classify.errors import ClassifyError
from classify.model.bundle import _CHECKSUM_KEY, ENGINE_FILE, _manifest_checksum
from classify.model.bundle_folders import MANIFEST, resolve_version
from classify.model.config import (
    CharFeatures,
    ExperimentConfig,
    FeaturesConfig,
    ModelConfig,
    WordFeatures,
)
from classify.model.pipeline import build_pipeline, theme_scores, vectorizers
from classify.model.pipeline_file import (
    PIPELINE_FILE,
    load_pipeline,
    save_pipeline,
    untrusted_types,
)
from classify.predict.predictor import Predictor

TEXTS = [
    "Police rehearsed freeing hostages at the airport.",
    "Recruiters approached migrant workers through messengers.",
    "Border guards seized heroin in a truck.",
    "Parliament amended the law on countering extremism.",
    "Women and children were repatriated from camps in Syria.",
    "Спецназ провёл учения по освобождению заложников.",
    "Вербовщики писали мигрантам в мессенджерах.",
    "Пограничники изъяли героин.",
]


def exec_code(marker: Path) -> str:
    return f"open({str(marker)!r}, 'w').write('code ran')"


class WritesMarker:
    """A pickle payload: unpickling it calls exec(), which writes the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (exec_code(self.marker),))


def skops_exec_node(marker: Path) -> dict:
    """A skops node that, when built, calls builtins.exec with code writing ``marker``."""
    code = {"__class__": "str", "__module__": "builtins", "__loader__": "JsonNode"}
    code |= {"content": json.dumps(exec_code(marker)), "is_json": True, "__id__": 1}
    args = {"__class__": "tuple", "__module__": "builtins", "__loader__": "TupleNode"}
    args |= {"content": [code], "__id__": 2}
    return {
        "__class__": "exec",
        "__module__": "builtins",
        "__loader__": "ConstructorFromReduceNode",
        "content": args,
        "__id__": 3,
    }


def with_payload(skops_file: Path, marker: Path) -> bytes:
    """A copy of a real pipeline file with the exec node hidden deep inside it (as the value of
    the Pipeline's ``verbose`` attribute), so the file still looks like a classify model."""
    source = zipfile.ZipFile(skops_file)
    schema = json.loads(source.read("schema.json"))
    schema["content"]["content"]["verbose"] = skops_exec_node(marker)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, json.dumps(schema) if item.filename == "schema.json" else data)
    return buffer.getvalue()


def reseal(version: Path, *, files: dict[str, bytes], format_version: int | None = None) -> None:
    """Write ``files`` into a version folder and recompute every checksum, as an attacker can."""
    manifest = json.loads((version / MANIFEST).read_text())
    for name, data in files.items():
        (version / name).write_bytes(data)
        manifest["files"][name] = hashlib.sha256(data).hexdigest()
    if format_version is not None:
        manifest["format_version"] = format_version
    manifest[_CHECKSUM_KEY] = _manifest_checksum(manifest)
    (version / MANIFEST).write_text(json.dumps(manifest))


@pytest.fixture
def bundle_copy(trained, tmp_path) -> Path:
    target = tmp_path / "shared-model"
    shutil.copytree(trained[1], target)
    return target


def test_a_skops_payload_runs_code_when_trusted_blindly_and_classify_refuses_it(
    bundle_copy, tmp_path
):
    version = resolve_version(bundle_copy)
    probe = tmp_path / "probe-marker"
    unsafe = tmp_path / "unsafe.skops"
    unsafe.write_bytes(with_payload(version / PIPELINE_FILE, probe))
    skops.io.load(unsafe, trusted=skops.io.get_untrusted_types(file=unsafe))
    assert probe.read_text() == "code ran"  # the payload is real

    marker = tmp_path / "marker"
    reseal(version, files={PIPELINE_FILE: with_payload(version / PIPELINE_FILE, marker)})
    predictor = Predictor.load(bundle_copy)  # predicting never reads the pipeline file
    assert predictor.predict(["Police rehearsed a hostage rescue."])
    with pytest.raises(ClassifyError, match=r"not trusted: .*builtins\.exec"):
        predictor.pipeline  # noqa: B018 (building it on request is what is refused)
    assert not marker.exists()


def test_a_pickle_in_place_of_the_pipeline_is_never_unpickled(bundle_copy, tmp_path):
    probe = tmp_path / "probe-marker"
    pickle.loads(pickle.dumps(WritesMarker(probe)))
    assert probe.read_text() == "code ran"  # the payload is real

    marker = tmp_path / "marker"
    version = resolve_version(bundle_copy)
    reseal(version, files={PIPELINE_FILE: pickle.dumps(WritesMarker(marker))})
    with pytest.raises(ClassifyError, match=r"pipeline\.skops is not a skops model file"):
        Predictor.load(bundle_copy).pipeline  # noqa: B018
    assert not marker.exists()


@pytest.mark.parametrize("how", ["an object array", "a pickle file"])
def test_pickled_data_in_place_of_the_engine_arrays_is_never_unpickled(bundle_copy, tmp_path, how):
    marker = tmp_path / "marker"
    payload = np.array([WritesMarker(marker)], dtype=object)
    buffer = io.BytesIO()
    if how == "an object array":
        np.savez(buffer, coef=payload)  # numpy pickles object arrays into the .npz
    else:
        buffer.write(pickle.dumps(payload))
    np.load(io.BytesIO(buffer.getvalue()), allow_pickle=True)  # the payload is real...
    if how == "an object array":
        np.load(io.BytesIO(buffer.getvalue()), allow_pickle=True)["coef"]
    assert marker.read_text() == "code ran"
    marker.unlink()
    reseal(resolve_version(bundle_copy), files={ENGINE_FILE: buffer.getvalue()})
    with pytest.raises(ClassifyError, match=r"engine\.npz is corrupt"):
        Predictor.load(bundle_copy)
    assert not marker.exists()


def test_an_old_pickle_bundle_is_refused_by_its_format_version(bundle_copy, tmp_path):
    marker = tmp_path / "marker"
    version = resolve_version(bundle_copy)
    payload = pickle.dumps(WritesMarker(marker))
    reseal(version, files={"pipeline.joblib": payload}, format_version=1)
    with pytest.raises(ClassifyError, match=r"format version 1 \(a pickle.*retrain"):
        Predictor.load(bundle_copy)
    assert not marker.exists()


def test_a_harmless_type_outside_the_list_is_refused_too(tmp_path):
    """The list in the code is the whole list: skops's own defaults do not widen it."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.pipeline import Pipeline

    pipeline = Pipeline(
        [("classifier", RandomForestClassifier(n_estimators=2).fit([[0], [1]], [0, 1]))]
    )
    skops.io.dump(pipeline, tmp_path / PIPELINE_FILE)
    with pytest.raises(ClassifyError, match=r"RandomForestClassifier"):
        load_pipeline((tmp_path / PIPELINE_FILE).read_bytes(), {}, where=PIPELINE_FILE)


def test_untrusted_node_kinds_are_refused_whatever_type_they_name():
    node = {"__class__": "str", "__module__": "builtins", "__loader__": "MethodNode"}
    assert untrusted_types({"content": {"deep": [node]}}) == {"MethodNode node (builtins.str)"}


def terms(pipeline) -> dict[str, list[str]]:
    """Each TF-IDF step's vocabulary as terms in column order, by its path in the pipeline."""
    return {path: sorted(v.vocabulary_, key=v.vocabulary_.get) for path, v in vectorizers(pipeline)}


def test_mismatched_vocabularies_are_refused(trained, tmp_path):
    data = (tmp_path / save_pipeline(trained[0].pipeline, tmp_path)).read_bytes()
    vocabularies = terms(trained[0].pipeline)
    step = next(iter(vocabularies))
    vocabularies[step] = vocabularies[step][:-1]
    with pytest.raises(ClassifyError, match=rf"vocabulary of {step} does not fit"):
        load_pipeline(data, vocabularies, where=PIPELINE_FILE)
    with pytest.raises(ClassifyError, match=r"do not match the pipeline's TF-IDF steps"):
        load_pipeline(data, {"features/other": []}, where=PIPELINE_FILE)


MODEL_VARIANTS = [
    pytest.param(model, calibration, features, id=f"{model}-{calibration}-{features}")
    for model, calibration, features in itertools.chain(
        itertools.product(
            ["logistic_regression", "linear_svm", "ridge", "sgd"], ["none"], ["both"]
        ),
        [("linear_svm", "sigmoid", "word"), ("sgd", "isotonic", "char")],
    )
]


@pytest.mark.filterwarnings("ignore:Label not 3 is present")
@pytest.mark.parametrize(("model", "calibration", "features"), MODEL_VARIANTS)
def test_every_pipeline_the_factory_builds_round_trips_bit_identically(
    tmp_path, model, calibration, features
):
    config = ExperimentConfig(
        features=FeaturesConfig(
            word=WordFeatures(stop_words="english") if features != "char" else None,
            char=CharFeatures() if features != "word" else None,
        ),
        model=ModelConfig(type=model, calibration=calibration),
    )
    labels = np.zeros((len(TEXTS) * 3, 5), dtype=int)
    for row in range(len(labels)):
        labels[row, row % 5] = 1
    labels[:, 3] = 0  # a theme without positives: scikit-learn keeps a constant predictor
    pipeline = build_pipeline(config).fit(TEXTS * 3, labels)
    save_pipeline(pipeline, tmp_path)
    schema = json.loads(zipfile.ZipFile(tmp_path / PIPELINE_FILE).read("schema.json"))
    assert untrusted_types(schema) == set(), "TRUSTED_TYPES misses a type this factory builds"
    probe = [*TEXTS, "", "Совсем другой текст 123"]
    data = (tmp_path / PIPELINE_FILE).read_bytes()
    loaded = load_pipeline(data, terms(pipeline), where=PIPELINE_FILE)
    assert np.array_equal(theme_scores(loaded, probe), theme_scores(pipeline, probe))
