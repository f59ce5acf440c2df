"""Small helpers shared by the benchmark scripts: a timer, the peak resident memory, a plain-text table.

Kept generic on purpose (no transfuse imports) so every `benchmarks/bench_*.py` can reuse them.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

SST2 = Path(__file__).resolve().parents[2] / "shared" / "data" / "classification" / "sst2"


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a JSON-lines file, blank lines skipped (e.g. `SST2 / "train.jsonl"`)."""
    return [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


class Timer:
    """Wall-clock and CPU seconds of a `with` block: `with Timer() as t: ...; t.seconds, t.cpu_seconds`.

    `cpu_seconds` is the CPU time of this process (all its threads): on a machine shared with other jobs it
    grows much less with their load than wall time does.
    """

    def __enter__(self) -> Timer:
        self.seconds = self.cpu_seconds = 0.0
        self._start, self._cpu_start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = time.perf_counter() - self._start
        self.cpu_seconds = time.process_time() - self._cpu_start


@contextmanager
def timed(results: list[float]) -> Iterator[None]:
    """Append the wall-clock seconds of the block to `results`."""
    start = time.perf_counter()
    yield
    results.append(time.perf_counter() - start)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def interquartile_range(values: Sequence[float]) -> tuple[float, float]:
    """25th and 75th percentiles: the spread of the middle half of `values`."""
    if len(values) < 2:
        return (values[0], values[0]) if values else (float("nan"), float("nan"))
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q3


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if platform.system() == "Darwin" else peak / 1024


def environment() -> dict[str, Any]:
    """Where the figures were measured: enough to tell two result files apart."""
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A GitHub-markdown table with columns padded to their widest cell; floats get thousands separators."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
        return str(value)

    cells = [[cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.ljust(w) for v, w in zip(values, widths)) + " |"

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in cells)])


def save_json(path: str | Path, payload: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2) + "\n")
