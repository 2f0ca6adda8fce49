"""Small helpers shared by the benchmarks: timing with medians, and writing results down."""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def median_seconds(function: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """Run ``function`` ``repeats`` times after one warm-up; the median and all timings."""
    function()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return statistics.median(timings), timings


def interleaved_medians(
    functions: dict[str, Callable[[], object]], repeats: int
) -> dict[str, float]:
    """Median seconds of each function, run in turns (a, b, a, b, ...) after one warm-up each,
    so that a change in machine load hits every contender alike."""
    timings: dict[str, list[float]] = {name: [] for name in functions}
    for function in functions.values():
        function()
    for _ in range(repeats):
        for name, function in functions.items():
            started = time.perf_counter()
            function()
            timings[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in timings.items()}


def machine() -> str:
    import os

    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def write_result(name: str, lines: list[str]) -> Path:
    """Write a Markdown result file (and print it)."""
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join([f"# {name}", "", f"Measured {stamp} on {machine()}.", "", *lines, ""])
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.md"
    path.write_text(text, encoding="utf-8")
    print(text)
    return path
