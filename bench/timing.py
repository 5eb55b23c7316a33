"""Timing helpers shared by the benchmark scripts (run as `python bench/<script>.py`)."""

import time
from collections.abc import Callable


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile of `values` (any order)."""
    values = sorted(values)
    k = max(0, min(len(values) - 1, round(p / 100 * (len(values) - 1))))
    return values[k]


def timed(fn: Callable[[], object], n: int) -> list[float]:
    """Run `fn` n times; the duration of each call in milliseconds."""
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append((time.perf_counter() - start) * 1000)
    return out
