"""Model bundles: atomic replacement, verification on load, clear errors."""

import hashlib
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from classify.errors import ClassifyError
from classify.model.bundle import ENGINE_FILE, SEEN_FILE, load_bundle
from classify.model.bundle_folders import CURRENT, MANIFEST, resolve_version
from classify.model.pipeline_file import PIPELINE_FILE, VOCABULARY_FILE
from classify.predict.predictor import Predictor

TEXTS = ["Police rehearsed freeing hostages at the airport.", "Heroin was seized at the border."]


def copy_bundle(bundle: Path, tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(bundle, target)
    return target


def test_saving_again_replaces_the_version_and_removes_the_old_one(trained, tmp_path):
    result, _ = trained
    folder = tmp_path / "m"
    result.save(folder)
    first = resolve_version(folder)
    result.save(folder)
    second = resolve_version(folder)
    assert first != second and not first.exists() and second.exists()
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(
        [CURRENT, second.name]
    )


def test_a_failed_save_leaves_the_previous_bundle_intact(trained, tmp_path, monkeypatch):
    import skops.io

    result, _ = trained
    folder = tmp_path / "m"
    result.save(folder)
    before = Predictor.load(folder).scores(TEXTS)
    version = resolve_version(folder)

    def disk_full(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"half a pipel")  # a partial write, then the failure
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(skops.io, "dump", disk_full)
    with pytest.raises(OSError, match="No space left"):
        result.save(folder)
    assert resolve_version(folder) == version
    assert not list(folder.glob(".*.partial"))  # the partial version was cleaned up
    np.testing.assert_array_equal(Predictor.load(folder).scores(TEXTS), before)


def test_round_trip_gives_the_pipelines_scores(trained):
    result, bundle = trained
    from classify.model.pipeline import theme_scores

    # the scoring engine reproduces the pipeline to 1e-6 (tests/test_engine.py for the rest)
    np.testing.assert_allclose(
        Predictor.load(bundle).scores(TEXTS), theme_scores(result.pipeline, TEXTS), atol=1e-6
    )


@pytest.mark.parametrize("name", [ENGINE_FILE, PIPELINE_FILE, SEEN_FILE])
@pytest.mark.parametrize("where", [0, 0.5, -1])
def test_a_flipped_byte_is_refused_naming_the_file(trained, tmp_path, name, where):
    bundle = copy_bundle(trained[1], tmp_path)
    path = resolve_version(bundle) / name
    data = bytearray(path.read_bytes())
    data[int(where * (len(data) - 1)) if where >= 0 else -1] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ClassifyError, match=rf"{name} does not match its checksum"):
        load_bundle(bundle)


@pytest.mark.parametrize("name", [ENGINE_FILE, PIPELINE_FILE, SEEN_FILE])
def test_a_truncated_or_swapped_file_is_refused(trained, tmp_path, name):
    bundle = copy_bundle(trained[1], tmp_path)
    version = resolve_version(bundle)
    data = (version / name).read_bytes()
    (version / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(ClassifyError, match=rf"{name} does not match its checksum"):
        load_bundle(bundle)
    other = SEEN_FILE if name != SEEN_FILE else ENGINE_FILE
    (version / name).write_bytes((version / other).read_bytes())
    with pytest.raises(ClassifyError, match=rf"{name} does not match its checksum"):
        load_bundle(bundle)


def test_an_edited_manifest_is_refused(trained, tmp_path):
    bundle = copy_bundle(trained[1], tmp_path)
    manifest_path = resolve_version(bundle) / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["thresholds"]["drills"] = 0.01  # a quiet edit that would tag everything
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ClassifyError, match=r"manifest\.json does not match its checksum"):
        load_bundle(bundle)
    manifest_path.write_text(manifest_path.read_text()[:100])  # truncated
    with pytest.raises(ClassifyError, match=r"manifest\.json is corrupt"):
        load_bundle(bundle)


@pytest.mark.parametrize(
    ("version", "message"),
    [
        (1, r"format version 1 \(a pickle.*retrain the model"),
        (99, r"format version 99; this classify reads versions 2 and 3; upgrade classify"),
        ("two", r"format version two; .*retrain"),
    ],
)
def test_format_versions_are_checked(trained, tmp_path, version, message):
    bundle = copy_bundle(trained[1], tmp_path)
    manifest_path = resolve_version(bundle) / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = version
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ClassifyError, match=message):
        load_bundle(bundle)


def test_the_manifest_records_versions_and_every_file(trained):
    version = resolve_version(trained[1])
    manifest = json.loads((version / MANIFEST).read_text())
    assert manifest["format_version"] == 3
    assert set(manifest["files"]) == {p.name for p in version.iterdir()} - {MANIFEST}
    assert set(manifest["files"]) == {ENGINE_FILE, PIPELINE_FILE, SEEN_FILE}
    assert [b["analyzer"] for b in manifest["engine"]["blocks"]] == ["word"]
    assert {"python", "scikit-learn", "skops", "numpy", "scipy"} <= set(manifest["versions"])
    assert manifest["label_set"]["themes"]


def test_missing_or_foreign_folders(tmp_path):
    with pytest.raises(ClassifyError, match="model not found"):
        load_bundle(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ClassifyError, match="is not a model bundle"):
        load_bundle(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / CURRENT).write_text("../../etc\n")
    with pytest.raises(ClassifyError, match="CURRENT is corrupt"):
        load_bundle(tmp_path / "bad")


def test_a_version_folder_loads_directly(trained):
    version = resolve_version(trained[1])
    assert load_bundle(version).path == version


def _rewrite_manifest(version: Path, edit) -> None:
    from classify.model.bundle import _CHECKSUM_KEY, _manifest_checksum

    manifest = json.loads((version / MANIFEST).read_text())
    edit(manifest)
    manifest[_CHECKSUM_KEY] = _manifest_checksum(manifest)
    (version / MANIFEST).write_text(json.dumps(manifest))


def test_other_library_versions_give_one_clear_warning_when_the_pipeline_is_built(
    trained, tmp_path
):
    from classify.model.bundle import BundleVersionWarning

    bundle = copy_bundle(trained[1], tmp_path)
    version = resolve_version(bundle)
    _rewrite_manifest(version, lambda m: m["versions"].update({"scikit-learn": "1.0.0"}))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # predicting uses the engine: no scikit-learn involved
        predictor = Predictor.load(bundle)
        scores = predictor.scores(TEXTS)
    np.testing.assert_array_equal(scores, Predictor.load(trained[1]).scores(TEXTS))
    with pytest.warns(BundleVersionWarning, match=r"scikit-learn 1\.0\.0 \(this is 1\.") as seen:
        predictor.pipeline  # noqa: B018
    assert len(seen) == 1  # one warning, not scikit-learn's one per estimator


def test_a_pipeline_that_fails_to_load_names_the_versions_it_was_written_with(trained, tmp_path):
    import zipfile

    bundle = copy_bundle(trained[1], tmp_path)
    version = resolve_version(bundle)
    with zipfile.ZipFile(version / PIPELINE_FILE) as source:
        kept = [(i, source.read(i.filename)) for i in source.infolist()]
    with zipfile.ZipFile(version / PIPELINE_FILE, "w") as target:
        for item, data in kept:
            if not item.filename.endswith(".npy"):  # the arrays are gone
                target.writestr(item, data)

    def older(manifest):
        manifest["files"][PIPELINE_FILE] = hashlib.sha256(
            (version / PIPELINE_FILE).read_bytes()
        ).hexdigest()
        manifest["versions"]["skops"] = "0.9.0"

    _rewrite_manifest(version, older)
    loaded = load_bundle(bundle)  # the engine does not need the pipeline
    with pytest.raises(ClassifyError, match=r"cannot load .*written with skops 0\.9\.0 \(this is"):
        loaded.pipeline  # noqa: B018


def format_2_copy(bundle: Path, tmp_path: Path) -> Path:
    """The bundle as the previous format wrote it: the pipeline and vocabulary.json, no engine."""
    from classify.model.engine import terms_of

    copy = copy_bundle(bundle, tmp_path)
    version = resolve_version(copy)
    manifest = json.loads((version / MANIFEST).read_text())
    vocabularies = terms_of(manifest["engine"], load_bundle(copy).engine.arrays)
    (version / VOCABULARY_FILE).write_text(json.dumps(vocabularies), encoding="utf-8")
    (version / ENGINE_FILE).unlink()

    def older(manifest):
        del manifest["engine"], manifest["files"][ENGINE_FILE]
        manifest["format_version"] = 2
        digest = hashlib.sha256((version / VOCABULARY_FILE).read_bytes()).hexdigest()
        manifest["files"][VOCABULARY_FILE] = digest

    _rewrite_manifest(version, older)
    return copy


def test_a_format_2_bundle_loads_through_scikit_learn_with_a_warning(trained, tmp_path):
    from classify.model.bundle import BundleFormatWarning

    bundle = format_2_copy(trained[1], tmp_path)
    with pytest.warns(BundleFormatWarning, match=r"format version 2.*retrain it"):
        predictor = Predictor.load(bundle)
    np.testing.assert_allclose(
        predictor.scores(TEXTS), Predictor.load(trained[1]).scores(TEXTS), atol=1e-12
    )
    assert type(predictor.pipeline).__name__ == "Pipeline"  # built already, to build the engine


def test_the_cli_shows_a_bundle_warning_as_one_line(trained, tmp_path):
    from tests.helpers import run_cli

    bundle = format_2_copy(trained[1], tmp_path)
    completed = run_cli("predict", "--text", TEXTS[0], "--model", str(bundle), "-f", "jsonl")
    assert completed.returncode == 0, completed.stderr
    lines = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("warning: model bundle "), lines
    assert "format version 2" in lines[0]
