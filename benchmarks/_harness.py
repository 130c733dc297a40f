"""Shared timing harness: medians of batched samples, with the machine's noise shown.

Each sample times a batch of calls (so timer overhead is negligible) and reports the per-call
cost; a table prints min / median / max per row and the ratio of each median to the baseline
row measured in the same run.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable

import attrs


@attrs.frozen
class Timing:
    name: str
    samples_ns: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ns)

    @property
    def low(self) -> float:
        return min(self.samples_ns)

    @property
    def high(self) -> float:
        return max(self.samples_ns)


def measure(
    name: str, fn: Callable[[], object], *, samples: int = 31, batch: int | None = None
) -> Timing:
    """Time `fn` in `samples` batches after a warm-up; the batch size targets ~20 ms."""
    for _ in range(3):
        fn()
    if batch is None:
        start = time.perf_counter_ns()
        fn()
        once = max(time.perf_counter_ns() - start, 1)
        batch = max(1, int(20_000_000 / once))
    results = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        for _ in range(samples):
            start = time.perf_counter_ns()
            for _ in range(batch):
                fn()
            results.append((time.perf_counter_ns() - start) / batch)
    finally:
        if gc_was_enabled:
            gc.enable()
    return Timing(name, tuple(results))


def format_ns(ns: float) -> str:
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.0f} ns"


def table(title: str, rows: list[Timing], baseline: Timing) -> str:
    width = max(len(r.name) for r in rows) + 2
    lines = [title, "-" * len(title)]
    lines.append(f"{'operation':<{width}}{'median':>12}{'min':>12}{'max':>12}{'ratio':>9}")
    for r in rows:
        ratio = r.median / baseline.median
        lines.append(
            f"{r.name:<{width}}{format_ns(r.median):>12}{format_ns(r.low):>12}"
            f"{format_ns(r.high):>12}{ratio:>8.2f}x"
        )
    lines.append(f"(ratio = median / median of '{baseline.name}', measured in the same run)")
    return "\n".join(lines)
