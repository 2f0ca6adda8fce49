"""Faults users hit, run for real: a training killed at any moment, trainings racing on one model
name, an unreachable tracking server, one Predictor shared by threads, a read-only models folder,
a CURRENT file naming a version that is gone, a Predictor that outlives its version folder.

Every training here is a real ``python -m classify train`` subprocess writing real files; kills
are real signals. The tests look at the bundle only from outside (its folder, CURRENT, each
version's manifest and checksums, Predictor.load) and never assert on durations.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
from helpers import ROOT, run_cli

from classify.errors import ClassifyError
from classify.model.bundle_folders import locked
from classify.predict.predictor import Predictor

fcntl = pytest.importorskip("fcntl", reason="POSIX file locks")

# A few paragraphs, English and Russian, whose scores tell one model from another.
PROBES = [
    "Special forces rehearsed freeing hostages in a counter-terrorism exercise at the airport.",
    "Recruiters on Telegram urged young men to travel to Syria and join armed groups.",
    "Parliament passed amendments to the law on countering extremism.",
    "Women and children returned from camps in north-eastern Syria were resettled in Almaty.",
    "Спецназ провёл учения по освобождению заложников в аэропорту.",
    "Вербовщики через Telegram звали молодых людей воевать в Сирию.",
]
# The killed trainings use another C than the starting bundle (the quick default, C=10), so a
# bundle that silently became the killed training's would not score like the old one.
OTHER_MODEL = "model.C=1"


class LeftoverVersions(AssertionError):
    """More than one version folder remains visible in a bundle."""


# --- bundle state, read from outside ------------------------------------------------------------


def current_version(bundle: Path) -> str:
    return (bundle / "CURRENT").read_text(encoding="utf-8").strip()


def visible_versions(bundle: Path) -> list[str]:
    return sorted(p.name for p in bundle.iterdir() if p.is_dir() and not p.name.startswith("."))


def hidden_entries(bundle: Path) -> set[str]:
    return {name for name in os.listdir(bundle) if name.startswith(".")}


def verify_version(version_dir: Path) -> dict:
    """Check a version folder is complete: exactly the manifest and the files it lists, each
    matching its sha256. Returns the manifest."""
    manifest = json.loads((version_dir / "manifest.json").read_text(encoding="utf-8"))
    files = manifest["files"]
    assert files, f"{version_dir}: the manifest lists no files"
    assert sorted(os.listdir(version_dir)) == sorted([*files, "manifest.json"]), version_dir
    for name, digest in files.items():
        assert hashlib.sha256((version_dir / name).read_bytes()).hexdigest() == digest, name
    return manifest


def scores_of(path: Path) -> np.ndarray:
    return Predictor.load(path).scores(PROBES)


def assert_one_version(bundle: Path, expected: str) -> None:
    versions = visible_versions(bundle)
    if versions != [expected]:
        raise LeftoverVersions(f"{bundle}: version folders {versions}, CURRENT is {expected}")


@contextlib.contextmanager
def holding_bundle_lock(bundle: Path) -> Iterator[None]:
    """Hold the bundle lock, as a training publishing its version at that moment would: other
    trainings then wait for it, before they start or publish a version."""
    if not Path("/proc/locks").is_file():
        pytest.skip("no /proc/locks: cannot see which process waits for the lock")
    with locked(bundle):  # the very lock save_bundle takes
        yield


def lock_waiters(bundle: Path) -> set[int]:
    """The processes blocked in flock on the bundle's lock file (Linux /proc/locks)."""
    info = os.stat(bundle / ".lock")
    file_id = f"{os.major(info.st_dev):02x}:{os.minor(info.st_dev):02x}:{info.st_ino}"
    waiters = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()  # "1: -> FLOCK ADVISORY WRITE <pid> <maj:min:inode> 0 EOF"
        if fields[1:3] == ["->", "FLOCK"] and fields[6] == file_id:
            waiters.add(int(fields[5]))
    return waiters


# --- running trainings --------------------------------------------------------------------------


def train_args(models: Path, overrides: tuple[str, ...] | list[str]) -> list[str]:
    sets = [arg for override in overrides for arg in ("--set", override)]
    return [
        "train", "experiments/default.toml", *sets,
        "--no-track", "--models-dir", str(models), "-j", "1",
    ]  # fmt: skip


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., tuple[subprocess.Popen, Path]]]:
    """Start ``python -m classify ARGS`` (stderr to a file); whatever still runs at teardown is
    killed, so a failing test leaves no training behind."""
    started: list[subprocess.Popen] = []

    def start(args: list[str], *, prefix: tuple[str, ...] = ()) -> tuple[subprocess.Popen, Path]:
        log = tmp_path / f"stderr-{len(started)}.txt"
        with open(log, "wb") as stderr:
            process = subprocess.Popen(
                [*prefix, sys.executable, "-m", "classify", *args],
                cwd=ROOT,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
                env={**os.environ, "COLUMNS": "160"},
            )
        started.append(process)
        return process, log

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


@dataclass
class Watch:
    """What the test saw of a training's bundle folder, polled every millisecond."""

    bundle: Path
    old_version: str
    stderr_log: Path
    pid: int | None = None  # the training's, to see it wait for the lock (see watch_lock)
    watch_lock: bool = False
    started: float = field(default_factory=time.monotonic)
    status_at: float | None = None  # when "training <name> from ..." appeared on stderr
    partials: set[str] = field(default_factory=set)  # hidden .<version>.partial folders
    partial_files: set[str] = field(default_factory=set)  # "<partial>/<file>"
    new_versions: set[str] = field(default_factory=set)  # visible version folders not the old
    waited_for_lock: bool = False
    alive_at_signal: bool = False
    signalled_after: float | None = None  # seconds from start

    def look(self) -> None:
        try:
            names = os.listdir(self.bundle)
        except FileNotFoundError:
            names = []
        for name in names:
            if name.endswith(".partial"):
                self.partials.add(name)
                with contextlib.suppress(FileNotFoundError):  # renamed into place meanwhile
                    self.partial_files.update(f"{name}/{f}" for f in os.listdir(self.bundle / name))
            elif not name.startswith(".") and name not in ("CURRENT", self.old_version):
                self.new_versions.add(name)
        if self.status_at is None and b"training " in self.stderr_log.read_bytes():
            self.status_at = time.monotonic()
        if self.watch_lock and not self.waited_for_lock:
            self.waited_for_lock = self.pid in lock_waiters(self.bundle)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def describe(self) -> str:
        files = sorted(f.split("/", 1)[1] for f in self.partial_files)
        return (
            f"signalled {self.signalled_after}s after start (alive: {self.alive_at_signal}); "
            f"status line {'seen' if self.status_at else 'not seen'}; "
            f"partial folders {sorted(self.partials)} with files {files}; "
            f"new versions {sorted(self.new_versions)}"
            + ("; waited for the switch lock" if self.waited_for_lock else "")
        )


def wait_for(
    process: subprocess.Popen, watch: Watch, when: Callable[[Watch], bool], timeout: float = 240.0
) -> None:
    """Poll the bundle folder every ~1 ms until ``when(watch)`` holds (the process runs on)."""
    while not when(watch):
        if process.poll() is not None:
            pytest.fail(f"the training ended before the awaited point: {watch.describe()}")
        if watch.elapsed() > timeout:
            pytest.fail(f"the awaited point never came in {timeout:.0f} s: {watch.describe()}")
        time.sleep(0.001)
        watch.look()


def watch_and_signal(
    process: subprocess.Popen,
    watch: Watch,
    when: Callable[[Watch], bool],
    sig: int = signal.SIGKILL,
    timeout: float = 240.0,
) -> Watch:
    """Poll the bundle folder every ~1 ms and send ``sig`` as soon as ``when(watch)`` holds.
    Returns once the process has ended (signalled, or finished on its own first)."""
    while True:
        watch.look()
        if process.poll() is not None:
            break
        if when(watch):
            watch.alive_at_signal = process.poll() is None
            process.send_signal(sig)
            watch.signalled_after = round(watch.elapsed(), 3)
            break
        if watch.elapsed() > timeout:
            pytest.fail(f"no signal after {timeout:.0f} s of training: {watch.describe()}")
        time.sleep(0.001)
    process.wait(timeout=120)
    watch.look()
    return watch


# --- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def models(trained, tmp_path: Path) -> Path:
    """A models folder holding a copy of the quick trained bundle as ``default``."""
    target = tmp_path / "models"
    shutil.copytree(trained[1], target / "default")
    return target


@pytest.fixture(scope="session")
def old_scores(trained) -> np.ndarray:
    return scores_of(trained[1])


# --- 1. SIGKILL during training -----------------------------------------------------------------


@dataclass(frozen=True)
class KillPoint:
    what: str
    overrides: tuple[str, ...]  # of the killed training (after QUICK unless full)
    when: Callable[[Watch], bool]
    reached: Callable[[Watch], bool]
    full: bool = False  # the full default experiment (char n-grams, tuned thresholds: ~40 s)
    hold_lock: bool = False


KILL_POINTS = {
    "startup": KillPoint(
        "0.2 s after start: interpreter start-up, imports, reading the experiment",
        (OTHER_MODEL,),
        when=lambda w: w.elapsed() >= 0.2,
        reached=lambda w: w.alive_at_signal and w.status_at is None,
    ),
    "fitting": KillPoint(
        "1 s after the 'training default' line of a full training: loading data, cross-validation",
        (),
        when=lambda w: w.status_at is not None and time.monotonic() - w.status_at >= 1.0,
        reached=lambda w: w.alive_at_signal and not w.partials,
        full=True,
    ),
    "partial_folder": KillPoint(
        "as soon as the hidden .<version>.partial folder appears",
        (OTHER_MODEL,),
        when=lambda w: bool(w.partials),
        reached=lambda w: w.alive_at_signal and bool(w.partials) and not w.new_versions,
    ),
    "file_in_partial": KillPoint(
        "as soon as a file appears inside the partial folder",
        (OTHER_MODEL,),
        when=lambda w: bool(w.partial_files),
        reached=lambda w: w.alive_at_signal and bool(w.partial_files) and not w.new_versions,
    ),
    "complete_version": KillPoint(
        "with the new version complete, waiting to move it into place and switch CURRENT: the "
        "test holds the bundle lock from when the partial folder appears, as a concurrent "
        "training switching at that moment would",
        (OTHER_MODEL,),
        when=lambda w: w.waited_for_lock,
        reached=lambda w: (
            w.alive_at_signal
            and w.waited_for_lock
            and any(f.endswith("/manifest.json") for f in w.partial_files)
        ),
        hold_lock=True,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("point", list(KILL_POINTS))
def test_a_training_killed_at_any_point_leaves_the_previous_bundle_working(
    point, models, quick, old_scores, spawn, record_property
):
    kill = KILL_POINTS[point]
    bundle = models / "default"
    old_version = current_version(bundle)
    overrides = kill.overrides if kill.full else (*quick, *kill.overrides)

    process, log = spawn(train_args(models, overrides))
    watch = Watch(bundle, old_version, log, pid=process.pid, watch_lock=kill.hold_lock)
    if kill.hold_lock:  # once the partial folder exists, as a concurrent training switching would
        wait_for(process, watch, lambda w: bool(w.partials))
    with holding_bundle_lock(bundle) if kill.hold_lock else contextlib.nullcontext():
        watch_and_signal(process, watch, kill.when)
    record_property("kill_point", f"{point}: {watch.describe()}")
    print(f"kill point {point}: {watch.describe()}")
    if process.returncode != -signal.SIGKILL:
        assert process.returncode == 0, log.read_text(encoding="utf-8")
        pytest.skip(f"kill point {point!r} never reached: the training finished first")
    if not kill.reached(watch):
        pytest.skip(f"kill point {point!r} ({kill.what}) was not hit: {watch.describe()}")

    # The bundle still loads, from a complete version that CURRENT names.
    current = current_version(bundle)
    verify_version(bundle / current)
    loaded = Predictor.load(bundle)
    assert loaded.path == bundle / current
    if current == old_version:
        np.testing.assert_array_equal(loaded.scores(PROBES), old_scores)
    else:  # the kill came after the switch: then it is the killed training's complete version
        assert current in watch.new_versions
        assert not (bundle / old_version).exists()
    if point == "complete_version":
        assert current == old_version  # the lock kept CURRENT from switching
        (partial,) = watch.partials  # complete, but never moved into place
        verify_version(bundle / partial)
        assert not np.array_equal(scores_of(bundle / partial), old_scores)

    # A normal training afterwards succeeds and is the one version left.
    done = run_cli(*train_args(models, quick))
    assert done.returncode == 0, done.stderr
    after = current_version(bundle)
    assert after not in (old_version, *watch.new_versions)
    verify_version(bundle / after)
    np.testing.assert_array_equal(scores_of(bundle), old_scores)  # same config, same model
    # Left behind: the lock file only. A killed training's partial folder is removed by the
    # next save, since no living training holds its lock.
    assert hidden_entries(bundle) == {".lock"}
    assert_one_version(bundle, after)


@pytest.mark.slow
def test_ctrl_c_while_the_bundle_is_written_removes_the_partial_folder(
    models, quick, old_scores, spawn
):
    bundle = models / "default"
    old_version = current_version(bundle)
    process, log = spawn(train_args(models, (*quick, OTHER_MODEL)))
    watch = watch_and_signal(
        process, Watch(bundle, old_version, log), lambda w: bool(w.partials), signal.SIGINT
    )
    if not (watch.alive_at_signal and watch.partials):
        pytest.skip(f"the partial folder was never seen while the training ran: {watch.describe()}")
    stderr = log.read_text(encoding="utf-8")
    assert process.returncode == 130, stderr
    assert stderr.splitlines()[-1] == "interrupted"
    assert "Traceback" not in stderr
    assert hidden_entries(bundle) <= {".lock"}  # the partial folder is gone
    assert visible_versions(bundle) == [old_version] == [current_version(bundle)]
    np.testing.assert_array_equal(scores_of(bundle), old_scores)


# --- 2. trainings racing on one name ------------------------------------------------------------


class Reader:
    """Loads the bundle over and over in a thread while trainings replace it."""

    def __init__(self, bundle: Path) -> None:
        self.bundle = bundle
        self.loaded: Counter[str] = Counter()  # version folder name -> loads
        self.refused: list[str] = []  # ClassifyError messages: clear, one line, allowed
        self.unexpected: list[str] = []  # anything else: a bug
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Reader:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                predictor = Predictor.load(self.bundle)
                predictor.predict(PROBES[:2])
                self.loaded[predictor.path.name] += 1
            except ClassifyError as exc:
                self.refused.append(str(exc))
            except Exception as exc:  # recorded: asserted on below
                self.unexpected.append(repr(exc))
            self._stop.wait(0.2)  # leave the cores to the trainings


@pytest.mark.slow
def test_trainings_racing_on_one_name_end_with_one_complete_version(
    models, quick, old_scores, spawn
):
    """Four trainings of one name started together, while a reader loads the bundle over and
    over. Once the first training starts writing its version, the test takes the bundle lock and
    holds it until at least two trainings wait for it, so those go through back to back while
    the others are still writing."""
    bundle = models / "default"
    old_version = current_version(bundle)
    writers = {c: f"model.C={c}" for c in (1.0, 2.0, 3.0, 30.0)}  # not the old model's C=10
    with Reader(bundle) as reader:
        running = [spawn(train_args(models, (*quick, c))) for c in writers.values()]
        pids = {process.pid for process, _ in running}
        deadline = time.monotonic() + 240
        while not any(name.endswith(".partial") for name in os.listdir(bundle)):
            if time.monotonic() > deadline:
                pytest.fail("no training started writing its version")
            time.sleep(0.001)
        with holding_bundle_lock(bundle):
            while True:
                alive = {process.pid for process, _ in running if process.poll() is None}
                if len(alive & lock_waiters(bundle)) >= min(2, len(alive)):
                    break
                if any(process.returncode not in (None, 0) for process, _ in running):
                    pytest.fail("a training failed while the test held the bundle lock")
                if time.monotonic() > deadline:
                    pytest.fail("no two trainings ever waited for the switch lock")
                time.sleep(0.005)
            waiting = len(pids & lock_waiters(bundle))
            in_place = len(visible_versions(bundle)) - 1
        for process, log in running:
            assert process.wait(timeout=240) == 0, log.read_text(encoding="utf-8")
    print(
        f"at the lock's release {waiting} trainings waited for it, {in_place} new versions were "
        f"in place; the reader loaded {dict(reader.loaded)}, was refused {reader.refused}"
    )

    current = current_version(bundle)
    assert current != old_version
    assert visible_versions(bundle) == [current]
    assert hidden_entries(bundle) <= {".lock"}  # no partial folder, no temporary CURRENT
    manifest = verify_version(bundle / current)
    assert manifest["config"]["model"]["C"] in writers  # one of the racing trainings won
    assert not np.array_equal(scores_of(bundle), old_scores)
    # Loads during the race gave a verified model or a clear error, never anything else.
    assert reader.unexpected == []
    assert sum(reader.loaded.values()) > 0


# --- 3. unreachable tracking server, through the command line -----------------------------------


@pytest.mark.slow
def test_an_unreachable_tracking_server_stops_the_cli_before_training(tmp_path, quick):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # closed: connecting to it is refused
    uri = f"http://127.0.0.1:{port}"
    models = tmp_path / "models"
    command = [arg for arg in train_args(models, quick) if arg != "--no-track"]

    failed = run_cli(*command, "--tracking-uri", uri)
    assert failed.returncode == 1, failed.stderr
    assert "Traceback" not in failed.stderr
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, failed.stderr
    assert uri in errors[0] and "--no-track" in errors[0]
    others = [line for line in failed.stderr.splitlines() if line.strip() and line not in errors]
    assert [line.split()[:2] for line in others] == [["training", "default"]]  # status line
    assert failed.stdout == ""  # no metrics table
    assert not models.exists()  # nothing was trained or saved

    trained = run_cli(*command, "--tracking-uri", uri, "--no-track")
    assert trained.returncode == 0, trained.stderr
    bundle = models / "default"
    verify_version(bundle / current_version(bundle))
    assert Predictor.load(bundle).predict(PROBES[:1])[0].scores


# --- 4. one Predictor, many threads -------------------------------------------------------------


def _authored_texts() -> dict[str, list[str]]:
    by_lang: dict[str, list[str]] = {"en": [], "ru": []}
    with open(ROOT / "labels" / "authored.jsonl", encoding="utf-8") as rows:
        for line in rows:
            row = json.loads(line)
            by_lang.setdefault(row["lang"], []).append(row["text"])
    return by_lang


@pytest.mark.slow
def test_one_predictor_shared_by_eight_threads_gives_one_threads_results(trained):
    loaded = Predictor.load(trained[1])
    # review bands, so the review marks are exercised too (the quick bundle has none)
    predictor = Predictor(
        loaded.pipeline,
        loaded.label_set,
        loaded.thresholds,
        manifest=loaded.manifest,
        path=loaded.path,
        review={theme: 0.25 for theme in loaded.themes},
    )
    texts = _authored_texts()
    pool = [*texts["en"][:150], *texts["ru"][:150], "", "   ", "12 345", "Teрроризм ✓ 🚨"]
    random.Random(0).shuffle(pool)
    sizes = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89]
    batches = [pool[i : i + size] for i, size in enumerate(sizes * 4)]
    seeds = sorted((ROOT / "seeds").glob("*.txt"))[:6]
    documents = [path.read_text(encoding="utf-8") for path in seeds]
    documents.append("\n\n".join(texts["ru"][:12]))

    def batch_result(i: int):
        return predictor.predict(batches[i]), predictor.scores(batches[i]).tobytes()

    def document_result(i: int):
        return predictor.predict_document(documents[i], f"doc{i}")

    expected = [batch_result(i) for i in range(len(batches))]
    expected_documents = [document_result(i) for i in range(len(documents))]
    assert any(p.themes for ps, _ in expected for p in ps)
    assert any(p.review for ps, _ in expected for p in ps)

    jobs = [("batch", i) for i in range(len(batches))] * 3
    jobs += [("document", i) for i in range(len(documents))] * 3
    random.Random(1).shuffle(jobs)

    def run(job: tuple[str, int]):
        kind, i = job
        return batch_result(i) if kind == "batch" else document_result(i)

    with ThreadPoolExecutor(max_workers=8) as threads:
        results = list(threads.map(run, jobs))
    for (kind, i), got in zip(jobs, results, strict=True):
        assert got == (expected[i] if kind == "batch" else expected_documents[i]), (kind, i)


# --- 5. other faults ----------------------------------------------------------------------------


def _without_root_powers() -> tuple[str, ...]:
    """A command prefix under which file permissions apply: nothing for an ordinary user; for
    root, ``setpriv`` dropping the capabilities that bypass them (root owns the files and keeps
    its identity, so it can still read the interpreter under /root)."""
    if os.geteuid() != 0:
        return ()
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot be made to apply")
    return ("setpriv", "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--")


@pytest.mark.slow
def test_a_read_only_models_folder_is_a_clear_error_and_loses_nothing(
    models, quick, old_scores, spawn
):
    bundle = models / "default"
    old_version = current_version(bundle)
    before = sorted(os.listdir(bundle))
    prefix = _without_root_powers()
    os.chmod(bundle, 0o555)
    os.chmod(models, 0o555)
    try:
        write = (
            f"try: open({str(bundle / 'probe')!r}, 'w')\nexcept PermissionError: print('denied')"
        )
        probe = subprocess.run(
            [*prefix, sys.executable, "-c", write], capture_output=True, text=True
        )
        if probe.stdout.strip() != "denied":
            pytest.skip(f"permissions cannot be made to apply: {probe.stderr or 'write allowed'}")
        process, log = spawn(train_args(models, quick), prefix=prefix)
        process.wait(timeout=240)
    finally:
        os.chmod(models, 0o755)
        os.chmod(bundle, 0o755)
    stderr = log.read_text(encoding="utf-8")
    assert process.returncode == 1, stderr
    assert "Traceback" not in stderr
    (error,) = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert "Permission denied" in error and str(bundle) in error
    assert sorted(os.listdir(bundle)) == before
    assert current_version(bundle) == old_version
    np.testing.assert_array_equal(scores_of(bundle), old_scores)


@pytest.mark.slow
def test_a_current_file_naming_a_missing_version_is_a_clear_error(models):
    bundle = models / "default"
    shutil.rmtree(bundle / current_version(bundle))  # deleted by hand, or never copied
    with pytest.raises(ClassifyError, match=f"model bundle {re.escape(str(bundle))} is incomplete"):
        Predictor.load(bundle)

    predicted = run_cli("predict", "--model", str(bundle), "--text", PROBES[0])
    assert predicted.returncode == 1
    assert "Traceback" not in predicted.stderr
    assert predicted.stderr.startswith(f"error: model bundle {bundle} is incomplete")
    assert len(predicted.stderr.strip().splitlines()) == 1


def test_a_loaded_predictor_outlives_the_version_it_was_loaded_from(
    trained, models, old_scores, seed_annotations
):
    from classify.training.metrics import evaluate_predictor

    result, _ = trained
    bundle = models / "default"
    predictor = Predictor.load(bundle)
    seen = predictor.seen_fingerprints()
    expected = evaluate_predictor(predictor, seed_annotations)

    result.save(bundle)  # what a training in another process does meanwhile
    assert not predictor.path.exists()  # the version it was loaded from is gone
    np.testing.assert_array_equal(predictor.scores(PROBES), old_scores)  # the model is in memory
    assert predictor.seen_fingerprints() == seen
    assert evaluate_predictor(predictor, seed_annotations).seen == expected.seen
