"""Model bundles: atomic, verifiable save and load of a trained model.

A bundle is a folder ``models/<name>/``. Every training writes a complete new version folder
beside the current one, then switches the one-line ``CURRENT`` file to it with an atomic rename
and removes the version it replaced. A training that fails or is killed at any moment therefore
leaves the previous version in place and loadable, and two trainings racing on one name end
with one complete version::

    models/default/
        CURRENT                      # "20261123T101500Z-3f9a1c"
        20261123T101500Z-3f9a1c/
            manifest.json            # format, label set, thresholds, config, data hash,
                                     # CV metrics, library versions, sha256 of every file
            pipeline.skops           # the fitted scikit-learn Pipeline (skops, no pickle)
            vocabulary.json          # its TF-IDF vocabularies
            seen.txt                 # fingerprints of the training paragraphs

Loading checks the format version, the manifest's own checksum and every file's sha256 before
anything is deserialised, and then builds the pipeline from trusted types only
(:mod:`classify.model.pipeline_file`). The checksums catch truncated, edited and swapped files;
they are not a signature (whoever can edit a bundle can recompute them), which is why the type
check, not the checksum, is what keeps a shared model file from running code. How versions are
written and switched atomically is :mod:`classify.model.bundle_folders`.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classify.atomic import fsync_tree
from classify.data.labels import LabelSet
from classify.errors import ClassifyError
from classify.model.bundle_folders import (
    MANIFEST,
    TRAIN_HINT,
    new_version_name,
    partial_folder,
    publish,
    resolve_version,
)
from classify.model.decision import review_bands
from classify.model.pipeline_file import (
    PIPELINE_FILE,
    VOCABULARY_FILE,
    load_pipeline,
    save_pipeline,
)
from classify.text import fingerprint

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from classify.model.config import ExperimentConfig

FORMAT = "classify-bundle"
# 1: pipeline.joblib (pickle). 2: pipeline.skops + vocabulary.json, manifest checksum.
FORMAT_VERSION = 2
SEEN_FILE = "seen.txt"
_CHECKSUM_KEY = "manifest_sha256"
_REQUIRED_FILES = (PIPELINE_FILE, VOCABULARY_FILE, SEEN_FILE)
_PIPELINE_LIBRARIES = ("scikit-learn", "skops")  # the ones that build and read the pipeline


class BundleVersionWarning(UserWarning):
    """A bundle written with other versions of the libraries its pipeline is made of."""


@dataclass(frozen=True)
class Bundle:
    """A loaded model bundle."""

    path: Path  # the version folder the files were read from
    pipeline: Pipeline
    label_set: LabelSet
    thresholds: dict[str, float]
    manifest: dict[str, Any]
    review: dict[str, float] = field(default_factory=dict)  # theme -> review band below cut-off
    seen: frozenset[str] = frozenset()  # fingerprints of the training paragraphs


def save_bundle(
    directory: str | Path,
    pipeline: Pipeline,
    label_set: LabelSet,
    thresholds: Mapping[str, float],
    config: ExperimentConfig,
    *,
    training_texts: Iterable[str],
    evidence: Mapping[str, Any] | None = None,
    run_id: str | None = None,
) -> Path:
    """Write a fitted pipeline, its label set, thresholds and experiment as the new current
    version of the bundle at ``directory``.

    ``training_texts`` are the paragraphs it was fitted on (only their fingerprints are kept).
    ``evidence`` is what the training recorded about its data and evaluation, stored in the
    manifest as it is (``training_data``, ``cv_metrics``, ...); ``run_id`` its MLflow run.

    Example:
        >>> save_bundle(tmp / "default", result.pipeline, result.label_set, result.thresholds,
        ...             result.config, training_texts=result.training.texts).name
        'default'
        >>> (tmp / "default" / "CURRENT").is_file()
        True
    """
    from classify.provenance import git_commit, library_versions

    directory = Path(directory)
    if (directory / MANIFEST).is_file():
        raise ClassifyError(
            f"{directory} is a bundle version folder", hint="save to its parent bundle folder"
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ClassifyError(f"cannot create {directory}: {exc.strerror}") from None
    version = new_version_name()
    with partial_folder(directory, version) as partial:
        written = save_pipeline(pipeline, partial)
        seen = sorted({fingerprint(text) for text in training_texts})
        (partial / SEEN_FILE).write_text("\n".join(seen) + "\n", encoding="utf-8")
        files = {name: _sha256(partial / name) for name in (*written, SEEN_FILE)}
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": config.name,
            "version": version,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "label_set": label_set.to_dict(),
            "thresholds": {name: float(thresholds[name]) for name in label_set.names},
            "review": review_bands(label_set.names, config.thresholds),
            "config": config.to_dict(),
            **(evidence or {}),
            "versions": library_versions(),
            "git_commit": git_commit(config.base_dir),
            "run_id": run_id,
            "files": files,
        }
        manifest[_CHECKSUM_KEY] = _manifest_checksum(manifest)
        _write_json(partial / MANIFEST, manifest)
        fsync_tree(partial)
        publish(directory, partial, version)
    return directory


def load_bundle(path: str | Path) -> Bundle:
    """Load and verify a bundle folder (or one of its version folders).

    Example:
        >>> load_bundle(bundle_dir).label_set.names
        ('recruitment', 'returnees', 'legislation', 'drills', 'trafficking')
    """
    path = Path(path)
    for attempt in range(2):
        try:
            return _load_version(resolve_version(path))
        except FileNotFoundError as exc:
            if attempt:  # a concurrent training may have replaced the version we read of
                missing = f"{exc.filename} is missing" if exc.filename else "a file is missing"
                raise ClassifyError(
                    f"model bundle {path} is incomplete ({missing})", hint=TRAIN_HINT
                ) from None
    raise AssertionError("unreachable")


def read_manifest(version_dir: Path) -> dict[str, Any]:
    """The manifest of a version folder, checked for format and format version."""
    try:
        manifest = json.loads((version_dir / MANIFEST).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ClassifyError(
            f"model bundle {version_dir}: {MANIFEST} is corrupt", hint=TRAIN_HINT
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ClassifyError(f"{version_dir} is not a classify model bundle", hint=TRAIN_HINT)
    written = manifest.get("format_version")
    if written != FORMAT_VERSION:
        newer = isinstance(written, int) and written > FORMAT_VERSION
        pickled = " (a pickle, which can run code when loaded, so it is not read)"
        raise ClassifyError(
            f"model bundle {version_dir} has format version {written}"
            f"{pickled if written == 1 else ''}; this classify reads version {FORMAT_VERSION}",
            hint="upgrade classify" if newer else "retrain the model with this classify",
        )
    if manifest.get(_CHECKSUM_KEY) != _manifest_checksum(manifest):
        raise ClassifyError(
            f"model bundle {version_dir}: {MANIFEST} does not match its checksum (edited)",
            hint="re-copy or retrain the model",
        )
    return manifest


def _load_version(version_dir: Path) -> Bundle:
    manifest = read_manifest(version_dir)
    files = manifest.get("files")
    missing = [n for n in _REQUIRED_FILES if not isinstance(files, dict) or n not in files]
    if missing:
        raise ClassifyError(
            f"model bundle {version_dir}: {MANIFEST} has no checksum for {', '.join(missing)}"
        )
    for name, expected in files.items():
        if not _is_plain_name(name):
            raise ClassifyError(f"model bundle {version_dir}: {MANIFEST} names a bad file {name!r}")
        if _sha256(version_dir / name) != expected:
            raise ClassifyError(
                f"model bundle {version_dir}: {name} does not match its checksum "
                "(truncated, edited or swapped)",
                hint="re-copy or retrain the model",
            )
    pipeline = _load_pipeline_checking_versions(version_dir, manifest)
    try:
        label_set = LabelSet.from_dict(manifest["label_set"], where=str(version_dir / MANIFEST))
        thresholds = {t: float(manifest["thresholds"][t]) for t in label_set.names}
        review = {t: float(w) for t, w in manifest["review"].items()}
        label_set.check(list(review), where=f"{version_dir / MANIFEST}: review")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ClassifyError(
            f"model bundle {version_dir} is corrupt: {exc}", hint=TRAIN_HINT
        ) from None
    # read now, with the checksummed files: a later training may remove this version folder
    seen = frozenset((version_dir / SEEN_FILE).read_text(encoding="utf-8").split())
    return Bundle(version_dir, pipeline, label_set, thresholds, manifest, review, seen)


def _load_pipeline_checking_versions(version_dir: Path, manifest: dict[str, Any]) -> Pipeline:
    """Load the pipeline; if it was written with other library versions, say so once, clearly.

    scikit-learn only promises that a model behaves the same in the version that fitted it. It
    warns once per estimator on a mismatch; one warning that names the versions replaces them.
    """
    from sklearn.exceptions import InconsistentVersionWarning

    from classify.provenance import library_versions

    written = manifest.get("versions") or {}
    running = library_versions()
    differ = [
        f"{name} {written[name]} (this is {running[name]})"
        for name in _PIPELINE_LIBRARIES
        if isinstance(written.get(name), str) and written[name] != running.get(name)
    ]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InconsistentVersionWarning)
            pipeline = load_pipeline(version_dir)
    except ClassifyError as exc:
        if not differ:
            raise
        raise ClassifyError(
            exc.message,
            hint=f"it was written with {', '.join(differ)}: install those versions or retrain",
        ) from None
    if any(d.startswith("scikit-learn") for d in differ):
        warnings.warn(
            f"model bundle {version_dir} was written with {', '.join(differ)}; "
            "its scores may differ slightly: retrain it with these versions to be sure",
            BundleVersionWarning,
            stacklevel=4,
        )
    return pipeline


def _manifest_checksum(manifest: dict[str, Any]) -> str:
    """sha256 of the manifest's content (without the checksum itself), in a canonical form."""
    content = {k: v for k, v in manifest.items() if k != _CHECKSUM_KEY}
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _is_plain_name(name: object) -> bool:
    """A file name inside the version folder: no path separators, not hidden, not ``..``."""
    return (
        isinstance(name, str)
        and bool(name)
        and not name.startswith(".")
        and "/" not in name
        and "\\" not in name
    )


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
