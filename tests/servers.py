"""Real MLflow servers for tests: start one on a free local port, wait for it, stop it for sure."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

# generous for two shared cores, where an MLflow server takes 15-30 s to import and start
START_TIMEOUT_SECONDS = 180.0


def free_port() -> int:
    """A local TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(**extra: str) -> dict[str, str]:
    """The test's environment with this venv's scripts first on PATH (`mlflow models serve`
    execs `uvicorn` by name) and quiet, single-process MLflow servers."""
    venv_bin = str(Path(sys.executable).parent)
    return {
        **os.environ,
        "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}",
        # the server's background job runners (GenAI jobs) would only compete for the two cores
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
        **extra,
    }


@contextlib.contextmanager
def running(
    args: list[str], ready_url: str, logs: Path, *, env: dict[str, str], cwd: Path
) -> Iterator[subprocess.Popen]:
    """Run ``args`` in its own process group until the with-block ends; wait until
    ``ready_url`` answers 200, failing with the server's stderr if it exits or takes too long."""
    logs.mkdir(parents=True, exist_ok=True)
    with (logs / "stdout.txt").open("wb") as out, (logs / "stderr.txt").open("wb") as err:
        process = subprocess.Popen(
            args, stdout=out, stderr=err, env=env, cwd=cwd, start_new_session=True
        )
        try:
            _wait_until_ready(process, ready_url, logs / "stderr.txt")
            yield process
        finally:
            _stop(process)


def _wait_until_ready(process: subprocess.Popen, url: str, stderr_file: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited with {process.returncode} before {url} answered:\n"
                + _tail(stderr_file)
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    raise AssertionError(
        f"{url} did not answer within {START_TIMEOUT_SECONDS:.0f}s:\n" + _tail(stderr_file)
    )


def _stop(process: subprocess.Popen) -> None:
    # the whole group: `mlflow server` and `mlflow models serve` start uvicorn as a child
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=15)
    # anything of the group still alive (a stuck leader or an orphaned worker) is killed
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=5)


def _tail(path: Path, lines: int = 40) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
    return "\n".join(text.splitlines()[-lines:])


def log_in_process(tracker, result, bundle) -> None:
    """Record a trained model with an ``MlflowTracker`` the way ``train_and_save`` does, then
    undo the tracker's process-wide MLflow URI (MLflow also writes it to the environment)."""
    import mlflow

    before = os.environ.get("MLFLOW_TRACKING_URI")
    try:
        tracker.start(result.config)
        try:
            tracker.log(result, bundle)
        except BaseException:
            tracker.finish(failed=True)
            raise
        tracker.finish(failed=False)
    finally:
        mlflow.set_tracking_uri(None)
        if before is not None:
            os.environ["MLFLOW_TRACKING_URI"] = before
