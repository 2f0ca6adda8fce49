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
                                     # CV metrics, library versions, the scoring engine's
                                     # settings, sha256 of every file
            engine.npz               # the scoring engine's arrays: vocabularies, idf, weights
            pipeline.skops           # the fitted scikit-learn Pipeline (skops, no pickle),
                                     # without its vocabularies, loaded only on request
            seen.txt                 # fingerprints of the training paragraphs

Predicting needs the manifest and ``engine.npz`` only: plain numbers and code points, read with
``allow_pickle=False`` (:mod:`classify.model.engine`), so loading imports neither scikit-learn
nor skops. The scikit-learn pipeline is built from trusted types only, when it is asked for
(:mod:`classify.model.pipeline_file`). Loading checks the format version, the manifest's own
checksum and every file's sha256 before anything is read. The checksums catch truncated, edited
and swapped files; they are not a signature (whoever can edit a bundle can recompute them),
which is why nothing in a bundle can run code. Bundles of format 2 (the pipeline and
``vocabulary.json``, no engine arrays) still load, through scikit-learn, with a warning. How
versions are written and switched atomically is :mod:`classify.model.bundle_folders`.
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

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
from classify.model.engine import ScoringEngine, terms_of
from classify.model.pipeline_file import (
    PIPELINE_FILE,
    VOCABULARY_FILE,
    load_pipeline,
    read_vocabularies,
    save_pipeline,
)
from classify.text import fingerprint

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from classify.model.config import ExperimentConfig

FORMAT = "classify-bundle"
# 1: pipeline.joblib (pickle). 2: pipeline.skops + vocabulary.json, manifest checksum.
# 3: engine.npz (the scoring engine's arrays) + pipeline.skops without vocabularies.
FORMAT_VERSION = 3
READABLE_VERSIONS = (2, 3)
ENGINE_FILE = "engine.npz"
SEEN_FILE = "seen.txt"
_CHECKSUM_KEY = "manifest_sha256"
_REQUIRED_FILES = {
    2: (PIPELINE_FILE, VOCABULARY_FILE, SEEN_FILE),
    3: (ENGINE_FILE, PIPELINE_FILE, SEEN_FILE),
}
_PIPELINE_LIBRARIES = ("scikit-learn", "skops")  # the ones that build and read the pipeline


class BundleVersionWarning(UserWarning):
    """A bundle written with other versions of the libraries its pipeline is made of."""


class BundleFormatWarning(UserWarning):
    """A bundle of an older format, which loads slowly."""


@dataclass(frozen=True)
class Bundle:
    """A loaded model bundle: the scoring engine, and the scikit-learn pipeline on request."""

    path: Path  # the version folder the files were read from
    engine: ScoringEngine
    label_set: LabelSet
    thresholds: dict[str, float]
    manifest: dict[str, Any]
    review: dict[str, float] = field(default_factory=dict)  # theme -> review band below cut-off
    seen: frozenset[str] = frozenset()  # fingerprints of the training paragraphs
    pipeline_file: bytes = field(default=b"", repr=False)  # read with the rest: checksummed

    @cached_property
    def pipeline(self) -> Pipeline:
        """The fitted scikit-learn pipeline (imports scikit-learn and skops: seconds).

        Example:
            >>> type(load_bundle(bundle_dir).pipeline).__name__
            'Pipeline'
        """
        vocabularies = terms_of(self.engine.spec, self.engine.arrays)
        return _load_pipeline(self.path, self.manifest, self.pipeline_file, vocabularies)


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
    from classify.model.engine_export import export_pipeline  # imports scikit-learn

    engine, arrays = export_pipeline(pipeline)
    version = new_version_name()
    with partial_folder(directory, version) as partial:
        np.savez(partial / ENGINE_FILE, **arrays)  # plain numbers: loaded with allow_pickle=False
        written = (ENGINE_FILE, save_pipeline(pipeline, partial), SEEN_FILE)
        seen = sorted({fingerprint(text) for text in training_texts})
        (partial / SEEN_FILE).write_text("\n".join(seen) + "\n", encoding="utf-8")
        files = {name: _sha256((partial / name).read_bytes()) for name in written}
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
            "engine": engine,
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
    if written not in READABLE_VERSIONS:
        newer = isinstance(written, int) and written > FORMAT_VERSION
        pickled = " (a pickle, which can run code when loaded, so it is not read)"
        readable = " and ".join(map(str, READABLE_VERSIONS))
        raise ClassifyError(
            f"model bundle {version_dir} has format version {written}"
            f"{pickled if written == 1 else ''}; this classify reads versions {readable}",
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
    format_version = manifest["format_version"]
    files = manifest.get("files")
    required = _REQUIRED_FILES[format_version]
    missing = [n for n in required if not isinstance(files, dict) or n not in files]
    if missing:
        raise ClassifyError(
            f"model bundle {version_dir}: {MANIFEST} has no checksum for {', '.join(missing)}"
        )
    # read now, with the checksummed files: a later training may remove this version folder
    contents = {}
    for name, expected in files.items():
        if not _is_plain_name(name):
            raise ClassifyError(f"model bundle {version_dir}: {MANIFEST} names a bad file {name!r}")
        contents[name] = (version_dir / name).read_bytes()
        if _sha256(contents[name]) != expected:
            raise ClassifyError(
                f"model bundle {version_dir}: {name} does not match its checksum "
                "(truncated, edited or swapped)",
                hint="re-copy or retrain the model",
            )
    try:
        label_set = LabelSet.from_dict(manifest["label_set"], where=str(version_dir / MANIFEST))
        thresholds = {t: float(manifest["thresholds"][t]) for t in label_set.names}
        review = {t: float(w) for t, w in manifest["review"].items()}
        label_set.check(list(review), where=f"{version_dir / MANIFEST}: review")
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ClassifyError(
            f"model bundle {version_dir} is corrupt: {exc}", hint=TRAIN_HINT
        ) from None
    seen = frozenset(contents[SEEN_FILE].decode("utf-8").split())
    pipeline_file = contents[PIPELINE_FILE]
    if format_version == 2:
        engine, pipeline = _engine_of_format_2(version_dir, manifest, contents)
    else:
        engine, pipeline = _engine(version_dir, manifest, contents[ENGINE_FILE]), None
    if engine.n_themes != len(label_set.names):
        raise ClassifyError(
            f"model bundle {version_dir} is corrupt: its model scores {engine.n_themes} themes, "
            f"its label set has {len(label_set.names)}",
            hint=TRAIN_HINT,
        )
    bundle = Bundle(
        version_dir, engine, label_set, thresholds, manifest, review, seen, pipeline_file
    )
    if pipeline is not None:
        bundle.__dict__["pipeline"] = pipeline  # already built: cached_property's own slot
    return bundle


def _engine(version_dir: Path, manifest: dict[str, Any], data: bytes) -> ScoringEngine:
    """The scoring engine from the manifest's settings and ``engine.npz``."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
        return ScoringEngine(manifest["engine"], arrays)
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise ClassifyError(
            f"model bundle {version_dir}: {ENGINE_FILE} is corrupt ({exc})", hint=TRAIN_HINT
        ) from None


def _engine_of_format_2(
    version_dir: Path, manifest: dict[str, Any], contents: dict[str, bytes]
) -> tuple[ScoringEngine, Pipeline]:
    """A format-2 bundle has no engine arrays: build the pipeline, then export it (slow)."""
    from classify.model.engine_export import export_pipeline

    vocabularies = read_vocabularies(version_dir / VOCABULARY_FILE, contents[VOCABULARY_FILE])
    pipeline = _load_pipeline(version_dir, manifest, contents[PIPELINE_FILE], vocabularies)
    try:
        engine = ScoringEngine(*export_pipeline(pipeline))
    except ValueError as exc:
        raise ClassifyError(f"model bundle {version_dir}: {exc}", hint=TRAIN_HINT) from None
    warnings.warn(
        f"model bundle {version_dir} has format version 2, which loads through scikit-learn "
        "(seconds, not milliseconds): retrain it with this classify to load it fast",
        BundleFormatWarning,
        stacklevel=5,
    )
    return engine, pipeline


def _load_pipeline(
    version_dir: Path,
    manifest: dict[str, Any],
    data: bytes,
    vocabularies: Mapping[str, list[str]],
) -> Pipeline:
    """Build the pipeline; if it was written with other library versions, say so once, clearly.

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
            pipeline = load_pipeline(data, vocabularies, where=str(version_dir / PIPELINE_FILE))
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


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
