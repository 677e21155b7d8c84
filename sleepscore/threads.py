"""Split the epochs of a night over threads.

numpy releases the GIL inside its array loops and FFTs, so threads over disjoint rows of one
array use several cores without copying the night into other processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor


def run_in_threads(work: Callable[[slice], None], n_rows: int, threads: int, min_rows: int, align: int = 1) -> None:
    """Call ``work(rows)`` on consecutive row ranges covering ``range(n_rows)``, in up to
    ``threads`` threads.

    Each range holds about ``min_rows`` rows or more (fewer do not repay starting a thread) and
    starts at a multiple of ``align`` (so a caller working in blocks keeps whole blocks). With a
    single range, ``work`` runs in the calling thread and no pool is started.

    Examples
    --------
    >>> seen = []
    >>> run_in_threads(seen.append, 10, threads=4, min_rows=4, align=2)
    >>> sorted((part.start, part.stop) for part in seen)
    [(0, 4), (4, 10)]
    """
    parts = max(1, min(threads, n_rows // max(min_rows, 1)))
    edges = [round(i * n_rows / parts / align) * align for i in range(parts)] + [n_rows]
    ranges = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
    if parts == 1:
        work(ranges[0])
        return
    with ThreadPoolExecutor(parts) as pool:
        list(pool.map(work, ranges))  # list() re-raises a thread's exception here


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, which containers and ``taskset`` narrow)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
