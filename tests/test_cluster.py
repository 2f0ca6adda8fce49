"""Scoring on a real Dask cluster: a LocalCluster of worker processes on 127.0.0.1.

The cluster's Parquet parts equal the local engine's output row for row; a worker killed in the
middle of a run loses nothing and duplicates nothing (Dask runs its tasks again); the model is
loaded once per worker; the CLI reports bad input in one line and leaves no output behind; and
parts go to an object store (a real S3-compatible server on 127.0.0.1) as they go to a folder.
"""

from __future__ import annotations

import csv
import os
import secrets
import signal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from classify.data.inputs import ReadOptions
from classify.engines import cluster as engine
from classify.engines.cluster import dataset_files, predict_on_cluster
from tests.helpers import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    # a LocalCluster sets OMP_NUM_THREADS=1 and the like in this process's environment, for its
    # workers to inherit; restored after, or every later subprocess would inherit it too
    environment = dict(os.environ)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
            dashboard_address=":0",
        ) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        yield client
    os.environ.clear()
    os.environ.update(environment)


@pytest.fixture(scope="module")
def texts():
    from classify.model.config import load_experiment
    from classify.training.train import load_labeled_data
    from tests.conftest import DEFAULT_EXPERIMENT

    return load_labeled_data(load_experiment(DEFAULT_EXPERIMENT)).texts


def write_dataset(folder: Path, texts: list[str], parts: int, copies: int = 1) -> Path:
    """``parts`` files of the texts (Parquet, the last one CSV), ids unique over the dataset."""
    folder.mkdir(parents=True)
    rows = texts * copies
    for k in range(parts):
        chunk = rows[k::parts]
        ids = [f"p{k}-{i}" for i in range(len(chunk))]
        if k == parts - 1:
            with open(folder / f"part-{k:02d}.csv", "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(["id", "text"])
                writer.writerows(zip(ids, chunk, strict=True))
        else:
            pq.write_table(pa.table({"id": ids, "text": chunk}), folder / f"part-{k:02d}.parquet")
    return folder


def local_engine(folder: Path, bundle: Path, out: Path, *extra: str) -> pa.Table:
    done = run_cli(
        "predict", str(folder), "-m", str(bundle), "-f", "parquet", "-o", str(out), *extra
    )
    assert done.returncode == 0, done.stderr
    return pq.read_table(out)


def parts(folder: Path) -> pa.Table:
    return pa.concat_tables(pq.read_table(p) for p in sorted(folder.glob("part-*.parquet")))


def test_the_cluster_writes_what_the_local_engine_writes(client, trained, texts, tmp_path):
    bundle = trained[1]
    folder = write_dataset(tmp_path / "dataset", texts, parts=5)
    files = dataset_files(str(folder))
    assert [Path(f).suffix for f in files] == [".parquet"] * 4 + [".csv"]
    run = predict_on_cluster(client, bundle, files, tmp_path / "out")
    assert run.files == 5 and run.rows == len(texts) and run.workers == 2
    expected = local_engine(folder, bundle, tmp_path / "local.parquet")
    assert parts(run.output).equals(expected)  # same columns, same rows, same order
    explained = predict_on_cluster(client, bundle, files, tmp_path / "why", explain=True)
    assert parts(explained.output).equals(
        local_engine(folder, bundle, tmp_path / "local-why.parquet", "--explain")
    )


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(client, trained, texts, tmp_path):
    bundle = trained[1]
    folder = write_dataset(tmp_path / "dataset", texts, parts=12, copies=40)  # ~87k rows
    pids_before = set(client.run(os.getpid).values())
    killed: list[int] = []

    def kill_a_busy_worker(done: int, rows: int) -> None:
        if killed:
            return
        busy = [w for w, keys in client.processing().items() if keys]
        if busy:
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            os.kill(pid, signal.SIGKILL)  # its nanny starts a new one; its tasks run again
            killed.append(pid)

    run = predict_on_cluster(
        client, bundle, dataset_files(str(folder)), tmp_path / "out", on_done=kill_a_busy_worker
    )
    assert killed and killed[0] in pids_before
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(os.getpid).values()) != pids_before  # the killed one was replaced
    table = parts(run.output)
    assert run.rows == table.num_rows == len(texts) * 40
    assert len(set(table["id"].to_pylist())) == table.num_rows  # every row exactly once
    assert table.equals(local_engine(folder, bundle, tmp_path / "local.parquet"))


def test_the_model_is_loaded_once_per_worker_and_gone_after(client, trained, texts, tmp_path):
    folder = write_dataset(tmp_path / "dataset", texts, parts=6)
    loaded: list[dict] = []

    def count_models(done: int, rows: int) -> None:
        loaded.append(client.run(lambda: len(engine._PREDICTORS)))

    predict_on_cluster(
        client, trained[1], dataset_files(str(folder)), tmp_path / "out", on_done=count_models
    )
    assert all(set(counts.values()) == {1} for counts in loaded)  # one bundle, on every worker
    assert set(client.run(lambda: len(engine._PREDICTORS)).values()) == {0}


def test_a_bad_file_fails_the_run_and_leaves_no_output(client, trained, texts, tmp_path):
    folder = write_dataset(tmp_path / "dataset", texts, parts=3)
    (folder / "part-99.csv").write_text("id,body\n1,no text column\n", encoding="utf-8")
    out = tmp_path / "out"
    with pytest.raises(Exception, match="no column 'text'"):
        predict_on_cluster(client, trained[1], dataset_files(str(folder)), out)
    assert not out.exists() and not list(tmp_path.glob(".out.*"))
    skipped = predict_on_cluster(
        client, trained[1], dataset_files(str(folder)), out, options=ReadOptions(on_error="skip")
    )
    assert skipped.rows == len(texts)


def test_the_cli_on_a_scheduler_from_the_environment(client, trained, texts, tmp_path):
    folder = write_dataset(tmp_path / "dataset", texts, parts=2)
    out = tmp_path / "out"
    address = {"DASK_SCHEDULER_ADDRESS": client.scheduler.address}
    done = run_cli(
        "predict", str(folder), "-m", str(trained[1]), "--engine", "dask", "-o", str(out),
        env=address,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "on 2 Dask workers" in done.stderr
    assert parts(out).equals(local_engine(folder, trained[1], tmp_path / "local.parquet"))
    assert len(client.scheduler_info()["workers"]) == 2  # the cluster is still up, not closed


def test_the_cli_on_a_local_cluster(trained, texts, tmp_path):
    bundle = str(trained[1])
    folder = write_dataset(tmp_path / "dataset", texts, parts=3)
    out = tmp_path / "out"
    done = run_cli(
        "predict", str(folder), "-m", bundle, "--engine", "dask", "-o", str(out), "-j", "2"
    )
    assert done.returncode == 0, done.stderr
    assert (
        f"{len(texts):,} paragraphs from 3 files" in done.stderr and "2 Dask workers" in done.stderr
    )
    assert parts(out).equals(local_engine(folder, trained[1], tmp_path / "local.parquet"))
    for args, message in (
        ([str(folder), "--engine", "dask"], "add -o FOLDER"),
        ([str(folder), "--engine", "dask", "-o", str(out)], "exists"),
        ([str(tmp_path / "none"), "--engine", "dask", "-o", str(tmp_path / "x")], "no .parquet"),
        ([str(folder), "--engine", "dask", "-f", "csv", "-o", str(tmp_path / "y")], "Parquet"),
    ):
        failed = run_cli("predict", *args, "-m", bundle)
        assert failed.returncode == 1 and message in failed.stderr, failed.stderr
        assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr


def test_tune_on_the_cluster_gives_the_local_results(client, quick, tmp_path):
    from classify.engines.cluster import joblib_on_cluster
    from classify.model.config import load_experiment
    from classify.training.tune import tune
    from tests.conftest import DEFAULT_EXPERIMENT

    grid = 'tune.grid = {"model.C" = [1.0, 10.0], "thresholds.min_f1" = [0.1, 0.3]}'
    config = load_experiment(DEFAULT_EXPERIMENT, [*quick, grid, 'thresholds.strategy="f1"'])
    local = tune(config, n_jobs=2)
    with joblib_on_cluster(client):
        remote = tune(config, n_jobs=-1)
    assert remote.best == local.best and remote.chosen_by_fold == local.chosen_by_fold
    np.testing.assert_array_equal(remote.final.cv.scores, local.final.cv.scores)
    assert remote.final.thresholds == local.final.thresholds
    done = run_cli(
        "tune", str(DEFAULT_EXPERIMENT), *[f"--set={o}" for o in (*quick, grid)],
        "--engine", "dask", "--no-track", "--models-dir", str(tmp_path / "models"),
        env={"DASK_SCHEDULER_ADDRESS": client.scheduler.address},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "best: " in done.stdout and (tmp_path / "models" / "default" / "CURRENT").is_file()


def test_train_on_the_cluster_gives_the_local_model(client, quick, tmp_path):
    from classify.engines.cluster import joblib_on_cluster
    from classify.model.config import load_experiment
    from classify.training.train import train
    from tests.conftest import DEFAULT_EXPERIMENT

    config = load_experiment(DEFAULT_EXPERIMENT, [*quick, 'thresholds.strategy="f1"'])
    local = train(config, n_jobs=2)
    with joblib_on_cluster(client):
        remote = train(config, n_jobs=-1)
    np.testing.assert_array_equal(remote.cv.scores, local.cv.scores)
    assert remote.thresholds == local.thresholds and remote.data_hash == local.data_hash
    done = run_cli(
        "train", str(DEFAULT_EXPERIMENT), *[f"--set={o}" for o in quick], "--engine", "dask",
        "--no-track", "--models-dir", str(tmp_path / "models"),
        env={"DASK_SCHEDULER_ADDRESS": client.scheduler.address},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "models" / "default" / "CURRENT").is_file()


@pytest.fixture
def s3_store(client, monkeypatch):
    """A real S3-compatible server on 127.0.0.1 (moto's), with this process and every worker
    pointed at it through fsspec's configuration: an object store with no shared filesystem."""
    import socket

    import fsspec
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    settings = {"endpoint_url": f"http://127.0.0.1:{port}", "key": "test", "secret": "test"}

    def point_at_server(settings=settings):
        import fsspec

        fsspec.config.conf["s3"] = dict(settings)

    point_at_server()
    client.run(point_at_server)
    fs = fsspec.filesystem("s3", skip_instance_cache=True)
    bucket = f"tags-{secrets.token_hex(4)}"  # moto's store outlives a server: a new bucket
    fs.mkdir(bucket)
    yield fs, bucket
    fsspec.config.conf.pop("s3", None)
    client.run(lambda: __import__("fsspec").config.conf.pop("s3", None))
    server.stop()


def test_parts_go_to_an_object_store_and_are_marked_complete(
    client, trained, texts, tmp_path, s3_store
):
    fs, bucket = s3_store
    bundle = trained[1]
    folder = write_dataset(tmp_path / "dataset", texts[:400], parts=3)
    url = f"s3://{bucket}/run-1"
    run = predict_on_cluster(client, bundle, dataset_files(str(folder)), url)
    assert run.output == url and run.rows == 400
    listed = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(f"{bucket}/run-1"))
    assert listed == ["_SUCCESS", "part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert fs.ls(bucket) == [f"{bucket}/run-1"]  # no temporary prefix left behind
    table = pa.concat_tables(
        pq.read_table(fs.open(f"{bucket}/run-1/part-{k:05d}.parquet", "rb")) for k in range(3)
    )
    assert table.equals(local_engine(folder, bundle, tmp_path / "local.parquet"))
    with pytest.raises(Exception, match="exists"):
        predict_on_cluster(client, bundle, dataset_files(str(folder)), url)


def test_the_cli_writes_to_an_object_store(client, trained, texts, tmp_path, s3_store):
    import fsspec

    fs, bucket = s3_store
    folder = write_dataset(tmp_path / "dataset", texts[:200], parts=2)
    settings = fsspec.config.conf["s3"]
    done = run_cli(
        "predict", str(folder), "--engine", "dask", "-m", str(trained[1]), "-q",
        "--scheduler", client.scheduler.address, "-o", f"s3://{bucket}/cli",
        env={"FSSPEC_S3_ENDPOINT_URL": settings["endpoint_url"], "FSSPEC_S3_KEY": "test",
             "FSSPEC_S3_SECRET": "test"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "200 paragraphs from 2 files" in done.stderr and f"s3://{bucket}/cli/" in done.stderr
    fs.invalidate_cache()
    assert sorted(p.rsplit("/", 1)[-1] for p in fs.ls(f"{bucket}/cli"))[0] == "_SUCCESS"
