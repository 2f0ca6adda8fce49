"""Model bundles: atomic replacement, verification on load, clear errors."""

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from classify.errors import ClassifyError
from classify.model.bundle import SEEN_FILE, load_bundle
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


def test_round_trip_gives_identical_scores(trained):
    result, bundle = trained
    from classify.model.pipeline import theme_scores

    np.testing.assert_array_equal(
        Predictor.load(bundle).scores(TEXTS), theme_scores(result.pipeline, TEXTS)
    )


@pytest.mark.parametrize("name", [PIPELINE_FILE, VOCABULARY_FILE, SEEN_FILE])
@pytest.mark.parametrize("where", [0, 0.5, -1])
def test_a_flipped_byte_is_refused_naming_the_file(trained, tmp_path, name, where):
    bundle = copy_bundle(trained[1], tmp_path)
    path = resolve_version(bundle) / name
    data = bytearray(path.read_bytes())
    data[int(where * (len(data) - 1)) if where >= 0 else -1] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ClassifyError, match=rf"{name} does not match its checksum"):
        load_bundle(bundle)


@pytest.mark.parametrize("name", [PIPELINE_FILE, VOCABULARY_FILE, SEEN_FILE])
def test_a_truncated_or_swapped_file_is_refused(trained, tmp_path, name):
    bundle = copy_bundle(trained[1], tmp_path)
    version = resolve_version(bundle)
    data = (version / name).read_bytes()
    (version / name).write_bytes(data[: len(data) // 2])
    with pytest.raises(ClassifyError, match=rf"{name} does not match its checksum"):
        load_bundle(bundle)
    other = SEEN_FILE if name != SEEN_FILE else VOCABULARY_FILE
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
        (99, r"format version 99; this classify reads version 2; upgrade classify"),
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
    assert manifest["format_version"] == 2
    assert set(manifest["files"]) == {p.name for p in version.iterdir()} - {MANIFEST}
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


def test_other_library_versions_give_one_clear_warning(trained, tmp_path):
    from classify.model.bundle import BundleVersionWarning

    bundle = copy_bundle(trained[1], tmp_path)
    version = resolve_version(bundle)
    _rewrite_manifest(version, lambda m: m["versions"].update({"scikit-learn": "1.0.0"}))
    with pytest.warns(BundleVersionWarning, match=r"scikit-learn 1\.0\.0 \(this is 1\.") as seen:
        predictor = Predictor.load(bundle)
    assert len(seen) == 1  # one warning, not scikit-learn's one per estimator
    np.testing.assert_array_equal(predictor.scores(TEXTS), Predictor.load(trained[1]).scores(TEXTS))


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
    with pytest.raises(ClassifyError, match=r"cannot load .*written with skops 0\.9\.0 \(this is"):
        load_bundle(bundle)


def test_the_cli_shows_the_version_warning_as_one_line(trained, tmp_path):
    from tests.helpers import run_cli

    bundle = copy_bundle(trained[1], tmp_path)
    _rewrite_manifest(
        resolve_version(bundle), lambda m: m["versions"].update({"scikit-learn": "1.0.0"})
    )
    completed = run_cli("predict", "--text", TEXTS[0], "--model", str(bundle), "-f", "jsonl")
    assert completed.returncode == 0, completed.stderr
    warnings = [line for line in completed.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and warnings[0].startswith("warning: model bundle "), warnings
    assert "scikit-learn 1.0.0" in warnings[0]
