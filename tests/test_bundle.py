"""Model bundles: atomic replacement, verification on load, clear errors."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from classify.bundle import (
    CURRENT,
    MANIFEST,
    PIPELINE_FILE,
    load_bundle,
    resolve_version,
    save_bundle,
)
from classify.errors import ClassifyError
from classify.predictor import Predictor

TEXTS = ["Police rehearsed freeing hostages at the airport.", "Heroin was seized at the border."]


def copy_bundle(bundle: Path, tmp_path: Path) -> Path:
    target = tmp_path / "bundle"
    shutil.copytree(bundle, target)
    return target


def test_saving_again_replaces_the_version_and_removes_the_old_one(trained, tmp_path):
    result, _ = trained
    folder = tmp_path / "m"
    save_bundle(result, folder)
    first = resolve_version(folder)
    save_bundle(result, folder)
    second = resolve_version(folder)
    assert first != second and not first.exists() and second.exists()
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) == sorted(
        [CURRENT, second.name]
    )


def test_a_failed_save_leaves_the_previous_bundle_intact(trained, tmp_path, monkeypatch):
    import joblib

    result, _ = trained
    folder = tmp_path / "m"
    save_bundle(result, folder)
    before = Predictor.load(folder).scores(TEXTS)
    version = resolve_version(folder)

    def disk_full(obj, path, *args, **kwargs):
        Path(path).write_bytes(b"half a pipel")  # a partial write, then the failure
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(joblib, "dump", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_bundle(result, folder)
    assert resolve_version(folder) == version
    assert not list(folder.glob(".*.partial"))  # the partial version was cleaned up
    np.testing.assert_array_equal(Predictor.load(folder).scores(TEXTS), before)


def test_round_trip_gives_identical_scores(trained):
    result, bundle = trained
    from classify.pipeline import theme_scores

    np.testing.assert_array_equal(
        Predictor.load(bundle).scores(TEXTS), theme_scores(result.pipeline, TEXTS)
    )


def test_a_flipped_byte_is_refused(trained, tmp_path):
    bundle = copy_bundle(trained[1], tmp_path)
    pipeline = resolve_version(bundle) / PIPELINE_FILE
    data = bytearray(pipeline.read_bytes())
    data[len(data) // 2] ^= 0x01
    pipeline.write_bytes(bytes(data))
    with pytest.raises(ClassifyError, match=r"pipeline\.joblib does not match its checksum"):
        load_bundle(bundle)


def test_format_versions_are_checked(trained, tmp_path):
    bundle = copy_bundle(trained[1], tmp_path)
    manifest_path = resolve_version(bundle) / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    manifest["format_version"] = 99
    manifest_path.write_text(json.dumps(manifest))
    with pytest.raises(ClassifyError, match=r"format version 99.*upgrade classify"):
        load_bundle(bundle)
    manifest_path.write_text("{ not json")
    with pytest.raises(ClassifyError, match=r"manifest\.json is corrupt"):
        load_bundle(bundle)


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
