"""`--engine dask`: a partitioned dataset scored on a Dask cluster (`predict`), and the fits of
`train` and `tune` run there."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from classify.cli._app import stderr
from classify.data.inputs import ReadOptions
from classify.errors import ClassifyError
from classify.predict.predictor import Predictor, Threshold
from classify.text import printable


def predict_with_dask(
    predictor: Predictor,
    locations: list[str],
    output: str | None,
    *,
    scheduler: str | None,
    workers: int | None,
    options: ReadOptions,
    threshold: Threshold,
    top_k: int | None,
    explain: bool,
    quiet: bool,
) -> None:
    """Score every table file of ``locations`` on the cluster; Parquet parts into ``output``."""
    if output is None:
        raise ClassifyError("--engine dask writes Parquet parts to a folder", hint="add -o FOLDER")
    if not locations:
        raise ClassifyError("--engine dask scores a dataset", hint="give its folder, glob or URL")
    if predictor.path is None:
        raise ClassifyError("--engine dask needs a model bundle on disk")
    cluster = _engine()
    dataset_files, predict_on_cluster, start_client = (
        cluster.dataset_files, cluster.predict_on_cluster, cluster.start_client
    )  # fmt: skip

    destination = cluster.Destination(output)
    if destination.exists():
        raise ClassifyError(f"{output} exists", hint="give a new folder for the Parquet parts")
    files = [file for location in locations for file in dataset_files(location)]
    client = start_client(scheduler, workers=workers)
    try:
        shown = not quiet and stderr.is_terminal

        def progress(done: int, rows: int) -> None:
            if shown:
                stderr.print(f"\r{done}/{len(files)} files, {rows:,} paragraphs", end="")

        run = predict_on_cluster(
            client, predictor.path, files, output, options=options, threshold=threshold,
            top_k=top_k, explain=explain, on_done=progress,
        )  # fmt: skip
    finally:
        client.close()
        if client.cluster is not None:  # a LocalCluster this command started
            client.cluster.close()
    from classify.data.skipped import describe_skipped

    rate = run.rows / max(run.seconds, 1e-9)
    stderr.print(
        printable(
            f"{'' if not shown else chr(10)}{run.rows:,} paragraphs from {run.files} files in "
            f"{run.seconds:.1f} s ({rate:,.0f}/s) on {run.workers} Dask workers: "
            f"{str(run.output).rstrip('/')}/"
        ),
        soft_wrap=True,
    )
    for line in describe_skipped(run.skipped, counts=(run.skipped_rows, run.skipped_files)):
        stderr.print(printable(line), soft_wrap=True)


@contextlib.contextmanager
def on_engine(engine: str, scheduler: str | None, jobs: int) -> Iterator[None]:
    """The fits of the block on this machine, or on a Dask cluster (started here if no
    scheduler is given, and stopped after)."""
    if engine == "local":
        yield
        return
    cluster = _engine()
    client = cluster.start_client(scheduler, workers=jobs if jobs > 1 else None)
    try:
        with cluster.joblib_on_cluster(client):
            yield
    finally:
        client.close()
        if client.cluster is not None:
            client.cluster.close()


def _engine():
    """``classify.engines.cluster``, or a one-line error where Dask is not installed."""
    try:
        from classify.engines import cluster
    except ImportError as exc:
        raise ClassifyError(
            f"--engine dask needs Dask's distributed scheduler ({exc.name} is not installed)",
            hint="pip install 'classify[cluster]'",
        ) from None
    return cluster
