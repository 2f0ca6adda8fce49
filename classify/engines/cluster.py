"""Scoring a partitioned dataset on a Dask cluster: one task per file, the model shipped once.

:func:`predict_on_cluster` lists the dataset's files (a folder, a glob, or any fsspec URL the
workers can read), registers the model bundle on every worker once (a worker plugin carries its
files, checked by their checksums on load; a worker that joins or restarts later gets it too),
and maps one task per file. A task reads its file exactly as ``classify predict`` does on one
machine (:class:`classify.data.inputs.InputStream`), tags it with the same code
(:func:`classify.predict.stream.tag_stream`), and writes one Parquet part with the same columns
(:class:`classify.predict.writers.ParquetWriter`), so the output equals the local engine's, row
for row. Parts are written under a temporary name and renamed, into a temporary folder renamed
when every part is in: a task Dask retries after losing a worker overwrites its own part, so
every row is written exactly once, and an interrupted run leaves no folder that looks complete.

The output may also be an fsspec URL (``s3://bucket/tags/``, ``gs://...``): workers without a
shared filesystem upload their parts (an object is written whole or not at all) into a
temporary prefix, which is moved to the output when every part is in; an object store cannot
rename a folder at once, so the move is followed by a ``_SUCCESS`` marker, the sign that the
output is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from distributed import WorkerPlugin, as_completed

from classify.atomic import atomic_path
from classify.data.inputs import InputStream, ReadOptions
from classify.data.parquet import is_parquet
from classify.data.rows import is_table
from classify.data.skipped import Skipped
from classify.errors import ClassifyError
from classify.model.bundle_folders import resolve_version
from classify.predict.predictor import Predictor, Threshold

PLUGIN_NAME = "classify-model-bundle"
SKIPPED_PER_PART = 10  # skipped rows a part lists (it counts them all)


@dataclass(frozen=True)
class ClusterRun:
    """What a cluster run did: files and rows scored, where the parts are, how long it took,
    and (``on_error="skip"``) the rows and files left out."""

    files: int
    rows: int
    output: Path | str  # a folder, or an fsspec URL
    seconds: float
    workers: int
    skipped: tuple[Skipped, ...] = ()  # the first few of each file's
    skipped_rows: int = 0
    skipped_files: int = 0


def dataset_files(location: str) -> list[str]:
    """The table files of a dataset: a file, a folder's files (sorted), a glob, or an fsspec URL
    (``s3://bucket/parts/``, ``gs://...``), in the order ``classify predict`` reads them.

    Example:
        >>> dataset_files("labels")
        ['labels/authored.jsonl', 'labels/narratives-authored.jsonl', 'labels/seeds.csv']
    """
    if "://" in location:
        import fsspec

        fs, _, paths = fsspec.get_fs_token_paths(location)
        if len(paths) == 1 and fs.isdir(paths[0]):
            paths = [p for p in fs.find(paths[0]) if not Path(p).name.startswith(".")]
        protocol = location.split("://", 1)[0]
        found = sorted(p if "://" in p else f"{protocol}://{p}" for p in paths)
    else:
        path = Path(location)
        if path.is_dir():
            found = sorted(
                str(f) for f in path.iterdir() if f.is_file() and not f.name.startswith(".")
            )
        elif path.is_file():
            found = [location]
        else:
            found = sorted(str(p) for p in Path().glob(location)) if "*" in location else []
    tables = [f for f in found if is_parquet(Path(f)) or is_table(Path(f))]
    if not tables:
        raise ClassifyError(
            f"no .parquet, .csv or .jsonl files in {location}",
            hint="--engine dask scores a partitioned table dataset",
        )
    return tables


def start_client(scheduler: str | None = None, *, workers: int | None = None) -> Any:
    """A Dask client: of the scheduler at ``scheduler`` (or ``$DASK_SCHEDULER_ADDRESS``), or of
    a new ``LocalCluster`` of worker processes (one thread each) on 127.0.0.1."""
    from distributed import Client, LocalCluster

    address = scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS")
    if address:
        try:
            return Client(address, timeout="20s")
        except OSError as exc:
            raise ClassifyError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
    cluster = LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=":0",  # a free port: never "8787 is already in use"
    )
    return Client(cluster)


def predict_on_cluster(
    client: Any,
    bundle: str | Path,
    files: Sequence[str],
    output: str | Path,
    *,
    options: ReadOptions | None = None,
    threshold: Threshold = None,
    top_k: int | None = None,
    explain: bool = False,
    on_done: Callable[[int, int], None] | None = None,
) -> ClusterRun:
    """Score ``files`` on ``client``'s cluster and write one Parquet part per file into the
    folder ``output`` (which must not exist yet). ``on_done(files_done, rows_done)`` is called
    as parts complete. For example, on a local cluster::

        client = start_client()  # or start_client("tcp://scheduler:8786")
        run = predict_on_cluster(client, "models/default", dataset_files("parts/"), "tags/")
        print(run.rows, "rows in", run.seconds, "s on", run.workers, "workers")
    """
    destination = Destination(output)
    if destination.exists():
        raise ClassifyError(f"{output} exists", hint="give a new folder for the Parquet parts")
    started = time.monotonic()
    plugin = BundlePlugin(bundle)
    client.register_plugin(plugin, name=PLUGIN_NAME)
    partial = destination.start()
    futures: list[Any] = []
    try:
        settings = (options or ReadOptions(), threshold, top_k, explain, plugin.key)
        for i, file in enumerate(files):
            part = f"{partial}/part-{i:05d}.parquet"
            key = f"classify-part-{i:05d}-{partial.rsplit('/', 1)[-1]}"
            futures.append(client.submit(score_file, file, part, *settings, key=key, pure=False))
        rows, skipped, skipped_rows, skipped_files = 0, [], 0, 0
        for done, future in enumerate(as_completed(futures), 1):
            part = future.result()  # a task's error (a bad file) is raised here
            rows += part.rows
            skipped += part.skipped
            skipped_rows += part.skipped_rows
            skipped_files += part.skipped_files
            if on_done is not None:
                on_done(done, rows)
        if not rows:
            raise ClassifyError(
                "nothing to tag: every row and file was skipped",
                hint=f"the first: {skipped[0]}" if skipped else None,
            )
        destination.commit(partial)
    except BaseException:
        client.cancel(futures)
        destination.discard(partial)
        raise
    finally:
        client.unregister_worker_plugin(PLUGIN_NAME)
    workers = len(client.scheduler_info().get("workers", {}))
    seconds = time.monotonic() - started
    counts = (tuple(skipped), skipped_rows, skipped_files)
    return ClusterRun(len(files), rows, destination.name, seconds, workers, *counts)


class Destination:
    """The output folder of a run: a local (or shared) path, or an fsspec URL. Parts go into a
    temporary folder beside it (:meth:`start`), which :meth:`commit` makes the output.

    Example:
        >>> Destination(tmp / "tags").exists(), Destination("memory://bucket/tags").remote
        (False, True)
    """

    def __init__(self, output: str | Path) -> None:
        text = str(output)
        self.remote = "://" in text and not text.startswith("file://")
        if self.remote:
            import fsspec

            try:
                self.fs, self.root = fsspec.core.url_to_fs(text.rstrip("/"))
            except (ImportError, ValueError) as exc:  # no package for the protocol, or no such
                raise ClassifyError(f"cannot write to {text}: {exc}") from None
            self.name: Path | str = text.rstrip("/")
        else:
            self.name = Path(text.removeprefix("file://"))

    def exists(self) -> bool:
        if not self.remote:
            return Path(self.name).exists()
        self.fs.invalidate_cache()
        return self.fs.exists(self.root)

    def start(self) -> str:
        """A new temporary folder beside the output; its path or URL."""
        token = secrets.token_hex(4)
        if not self.remote:
            local = Path(self.name)
            partial = local.with_name(f".{local.name}.{token}.partial")
            partial.mkdir(parents=True)
            return str(partial)
        parent, _, leaf = str(self.name).rpartition("/")
        return f"{parent}/.{leaf}.{token}.partial"

    def commit(self, partial: str) -> None:
        """The temporary folder becomes the output: renamed at once on a filesystem; on an
        object store moved part by part, then marked complete with ``_SUCCESS``."""
        if not self.remote:
            os.replace(partial, self.name)
            return
        self.fs.invalidate_cache()  # the workers wrote the parts: listings here are stale
        source = self._path(partial)
        for part in sorted(self.fs.find(source)):
            self.fs.copy(part, f"{self.root}/{part.rsplit('/', 1)[-1]}")
        self.fs.rm(source, recursive=True)
        self.fs.pipe_file(f"{self.root}/_SUCCESS", b"")

    def discard(self, partial: str) -> None:
        if not self.remote:
            shutil.rmtree(partial, ignore_errors=True)
            return
        with contextlib.suppress(FileNotFoundError, OSError):
            self.fs.rm(self._path(partial), recursive=True)

    def _path(self, url: str) -> str:
        return type(self.fs)._strip_protocol(url)


@dataclass(frozen=True)
class Part:
    """What one task did: rows written, and rows and files it left out."""

    rows: int
    skipped: tuple[Skipped, ...]
    skipped_rows: int
    skipped_files: int


class BundlePlugin(WorkerPlugin):
    """A Dask worker plugin carrying a model bundle's files: each worker writes them to its
    local directory and loads the predictor once (checksums verified), for every task."""

    idempotent = True

    def __init__(self, bundle: str | Path) -> None:
        version = resolve_version(Path(bundle))
        self.files = {f.name: f.read_bytes() for f in sorted(version.iterdir()) if f.is_file()}
        digest = hashlib.sha256()
        for name, data in self.files.items():
            digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
        self.key = digest.hexdigest()

    def setup(self, worker: Any) -> None:
        folder = Path(worker.local_directory) / f"classify-bundle-{self.key[:16]}"
        if not folder.exists():
            partial = Path(tempfile.mkdtemp(dir=worker.local_directory))
            for name, data in self.files.items():
                (partial / name).write_bytes(data)
            os.replace(partial, folder)
        _PREDICTORS[self.key] = Predictor.load(folder)

    def teardown(self, worker: Any) -> None:
        _PREDICTORS.pop(self.key, None)


_PREDICTORS: dict[str, Predictor] = {}  # in a worker: the bundles its plugins loaded, by key


def score_file(
    file: str,
    part: str,
    options: ReadOptions,
    threshold: Threshold,
    top_k: int | None,
    explain: bool,
    bundle_key: str,
) -> Part:
    """On a worker: tag one file as ``classify predict`` does and write its Parquet part
    (atomically); the rows written and left out."""
    from classify.predict.stream import tag_stream
    from classify.predict.writers import ParquetWriter

    predictor = _PREDICTORS.get(bundle_key)
    if predictor is None:
        raise RuntimeError("the classify model bundle plugin is not on this worker")
    remote = "://" in part and not part.startswith("file://")
    local_part = part.removeprefix("file://")
    with _local_copy(file) as (path, source), contextlib.ExitStack() as stack:
        if remote:  # written here first, then uploaded whole
            folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="classify-part-"))
            local_part = str(Path(folder) / part.rsplit("/", 1)[-1])
        stream = InputStream([path], options=options, keep_skipped=SKIPPED_PER_PART)
        rows = 0
        with atomic_path(local_part) as partial:
            writer = ParquetWriter(
                partial, predictor.themes, explain=explain, column=predictor.column
            )
            for batch in tag_stream(
                predictor, _allow_empty(stream), fmt="parquet", threshold=threshold,
                top_k=top_k, explain=explain,
            ):  # fmt: skip
                if source != path:  # a downloaded copy: the rows name the URL they came from
                    batch.paragraphs[:] = [_renamed(p, path, source) for p in batch.paragraphs]
                writer.add(batch)
                rows += len(batch.paragraphs)
            writer.finish()
        if remote:
            import fsspec

            fs, target = fsspec.core.url_to_fs(part)
            fs.put_file(local_part, target)  # a retried task overwrites its own part
    return Part(rows, tuple(stream.skipped), stream.skipped_rows, stream.skipped_files)


def _allow_empty(stream: InputStream) -> Iterator[Any]:
    """The stream's paragraphs; a file whose every row was skipped is an empty part, not an
    error (the run fails only if every part is empty)."""
    try:
        yield from stream
    except ClassifyError:
        if stream.paragraphs or not (stream.skipped_rows or stream.skipped_files):
            raise


@contextlib.contextmanager
def joblib_on_cluster(client: Any) -> Iterator[None]:
    """Every joblib ``Parallel`` in the block (the fits of ``train`` and ``tune``) runs its
    tasks on ``client``'s cluster, through joblib's Dask backend: the same tasks, the same
    results, more machines."""
    from joblib import parallel_config

    with client.as_current(), parallel_config(backend="dask", wait_for_workers_timeout=60):
        yield


@contextlib.contextmanager
def _local_copy(file: str) -> Iterator[tuple[str, str]]:
    """``(path, source)``: a local path as it is, or a URL's file downloaded to a temporary
    local path (removed afterwards) with the URL as the source."""
    if "://" not in file:
        yield file, file
        return
    import fsspec

    folder = tempfile.mkdtemp(prefix="classify-part-")
    try:
        local = str(Path(folder) / Path(file.split("://", 1)[1]).name)
        with fsspec.open(file, "rb") as remote, open(local, "wb") as copy:
            shutil.copyfileobj(remote, copy)
        yield local, file
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _renamed(paragraph: Any, path: str, source: str) -> Any:
    from dataclasses import replace

    document = source if paragraph.document == path else paragraph.document
    return replace(paragraph, source=source, document=document)
