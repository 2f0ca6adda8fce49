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
            pipeline.joblib          # the fitted scikit-learn Pipeline
            seen.txt                 # fingerprints of the training paragraphs

Loading checks the format version and every file's sha256 before anything is deserialised.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from classify.atomic import fsync_tree, write_file_atomically
from classify.decision import review_bands
from classify.errors import ClassifyError
from classify.labels import LabelSet
from classify.text import normalise_text

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

    from classify.training import TrainingResult

FORMAT = "classify-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
PIPELINE_FILE = "pipeline.joblib"
SEEN_FILE = "seen.txt"
_STALE_PARTIAL_SECONDS = 3600
_TRAIN_HINT = "train one with `classify train experiments/default.toml`, or pass --model"


@dataclass(frozen=True)
class Bundle:
    """A loaded model bundle."""

    path: Path  # the version folder the files were read from
    pipeline: Pipeline
    label_set: LabelSet
    thresholds: dict[str, float]
    manifest: dict[str, Any]
    review: dict[str, float] = field(default_factory=dict)  # theme -> review band below cut-off


def fingerprint(text: str) -> str:
    """A short hash of a paragraph, insensitive to case and spacing.

    Example:
        >>> fingerprint("Police  held a DRILL.") == fingerprint("police held a drill.")
        True
    """
    canonical = " ".join(normalise_text(text).split())
    return hashlib.sha1(canonical.encode("utf-8")).hexdigest()[:16]


def save_bundle(
    result: TrainingResult, directory: str | Path, *, run_id: str | None = None
) -> Path:
    """Write ``result`` as the new current version of the bundle at ``directory``.

    Example:
        >>> save_bundle(result, tmp / "default").name
        'default'
        >>> (tmp / "default" / "CURRENT").is_file()
        True
    """
    import joblib

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
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)
    partial = directory / f".{version}.partial"
    partial.mkdir()
    try:
        joblib.dump(result.pipeline, partial / PIPELINE_FILE)
        seen = sorted({fingerprint(text) for text in result.training.texts})
        (partial / SEEN_FILE).write_text("\n".join(seen) + "\n", encoding="utf-8")
        files = {name: _sha256(partial / name) for name in (PIPELINE_FILE, SEEN_FILE)}
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "name": result.config.name,
            "version": version,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "label_set": result.label_set.to_dict(),
            "thresholds": result.thresholds,
            "review": review_bands(result.label_set.names, result.config.thresholds),
            "config": result.config.to_dict(),
            "training_data": {
                "hash": result.data_hash,
                "annotations": list(result.config.data.annotations),
                "paragraphs": len(result.training),
                "documents": len(set(result.training.groups)),
                "sources": dict(Counter(result.training.source_names)),
                "languages": dict(Counter(result.training.languages)),
                "kinds": list(result.config.data.kinds),
            },
            "cv_evaluation": result.describe_evaluation(),
            "cv_metrics": result.cv.metrics.as_dict(),
            "cv_metrics_by": {
                f"{name}={value}": metrics.as_dict()
                for name, values in result.cv.breakdown.items()
                for value, metrics in values.items()
            },
            "versions": library_versions(),
            "git_commit": git_commit(result.config.base_dir),
            "run_id": run_id,
            "files": files,
        }
        _write_json(partial / MANIFEST, manifest)
        fsync_tree(partial)
        os.rename(partial, directory / version)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _switch_current(directory, version)
    return directory


def load_bundle(path: str | Path) -> Bundle:
    """Load and verify a bundle folder (or one of its version folders).

    Example:
        >>> load_bundle(bundle_dir).label_set.names
        ('recruitment', 'returnees', 'legislation', 'drills', 'trafficking')
    """
    path = Path(path)
    for attempt in range(2):
        version_dir = resolve_version(path)
        try:
            return _load_version(version_dir)
        except FileNotFoundError:
            if attempt:  # a concurrent training may have replaced the version we read of
                raise ClassifyError(
                    f"model bundle {path} is incomplete (a file is missing)", hint=_TRAIN_HINT
                ) from None
    raise AssertionError("unreachable")


def resolve_version(path: Path) -> Path:
    """The version folder that ``path`` (a bundle or version folder) points at."""
    if (path / MANIFEST).is_file():
        return path
    current = path / CURRENT
    if current.is_file():
        version = current.read_text(encoding="utf-8").strip()
        if not version or "/" in version or "\\" in version or version.startswith("."):
            raise ClassifyError(f"model bundle {path}: {CURRENT} is corrupt", hint=_TRAIN_HINT)
        return path / version
    if not path.exists():
        raise ClassifyError(f"model not found: {path}", hint=_TRAIN_HINT)
    raise ClassifyError(
        f"{path} is not a model bundle (no {CURRENT} or {MANIFEST})", hint=_TRAIN_HINT
    )


def read_manifest(version_dir: Path) -> dict[str, Any]:
    """The manifest of a version folder, checked for format and format version."""
    try:
        manifest = json.loads((version_dir / MANIFEST).read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ClassifyError(
            f"model bundle {version_dir}: {MANIFEST} is corrupt", hint=_TRAIN_HINT
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ClassifyError(f"{version_dir} is not a classify model bundle", hint=_TRAIN_HINT)
    written = manifest.get("format_version")
    if written != FORMAT_VERSION:
        newer = isinstance(written, int) and written > FORMAT_VERSION
        raise ClassifyError(
            f"model bundle {version_dir} has format version {written}; "
            f"this classify reads version {FORMAT_VERSION}",
            hint="upgrade classify" if newer else "retrain the model with this classify",
        )
    return manifest


def _load_version(version_dir: Path) -> Bundle:
    import joblib

    manifest = read_manifest(version_dir)
    files = manifest.get("files") or {}
    for name in (PIPELINE_FILE, SEEN_FILE):
        expected = files.get(name)
        if expected is None or _sha256(version_dir / name) != expected:
            raise ClassifyError(
                f"model bundle {version_dir}: {name} does not match its checksum "
                "(truncated, edited or swapped)",
                hint="re-copy or retrain the model",
            )
    try:
        pipeline = joblib.load(version_dir / PIPELINE_FILE)
        label_set = LabelSet.from_dict(manifest["label_set"], where=str(version_dir / MANIFEST))
        thresholds = {t: float(manifest["thresholds"][t]) for t in label_set.names}
        # bundles written before review bands existed have none
        review = {t: float(w) for t, w in (manifest.get("review") or {}).items()}
        label_set.check(list(review), where=f"{version_dir / MANIFEST}: review")
    except (KeyError, TypeError, ValueError, EOFError) as exc:
        raise ClassifyError(
            f"model bundle {version_dir} is corrupt: {exc}", hint=_TRAIN_HINT
        ) from None
    return Bundle(version_dir, pipeline, label_set, thresholds, manifest, review)


def _switch_current(directory: Path, version: str) -> None:
    with _locked(directory):
        current = directory / CURRENT
        previous = current.read_text(encoding="utf-8").strip() if current.is_file() else None
        write_file_atomically(current, (version + "\n").encode())
        if previous and previous != version and "/" not in previous:
            shutil.rmtree(directory / previous, ignore_errors=True)
        _remove_stale_partials(directory.glob(".*.partial"))


def _remove_stale_partials(partials: Iterable[Path]) -> None:
    """Folders left by trainings that were killed mid-write (old enough not to be running)."""
    cutoff = time.time() - _STALE_PARTIAL_SECONDS
    for partial in partials:
        with contextlib.suppress(OSError):
            if partial.stat().st_mtime < cutoff:
                shutil.rmtree(partial, ignore_errors=True)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """An exclusive lock on the bundle folder (POSIX); a no-op where fcntl is unavailable."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(directory / ".lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
