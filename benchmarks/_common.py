"""What the benchmarks share. They run as scripts (``python benchmarks/bench_X.py``), so
their own folder is on the path and they import this module by name."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

__all__ = ["best_of"]


def best_of(fn: Callable[[], Any], repeat: int = 1, *,
            clock: Callable[[], float] = time.perf_counter,
            before: Callable[[], Any] | None = None) -> tuple[float, Any]:
    """The least of ``repeat`` timings of ``fn()`` on ``clock`` (seconds), and the last
    result; ``before()`` runs untimed ahead of each call (say, emptying a cache)."""
    best, out = float("inf"), None
    for _ in range(repeat):
        if before is not None:
            before()
        start = clock()
        out = fn()
        best = min(best, clock() - start)
    return best, out
