"""Worker threads for the compiled kernels: a call split into runs of rows (or images), one
run on the calling thread and the others on a pool. The kernels release the GIL (Numba's
``nogil``, ctypes), so the runs go in parallel."""
from __future__ import annotations

import os
from typing import Any, Callable

from ..backend import get_num_threads

_pool: Any = None
_pool_size = 0


def _after_fork_in_child() -> None:
    """A forked child has none of the parent's threads: start a new pool there."""
    global _pool, _pool_size
    _pool, _pool_size = None, 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def over_parts(n: int, split: bool, work: Callable[[int, int, int], None]) -> int:
    """Run ``work(i0, i1, part)`` over equal runs of ``range(n)``: one run here, the others on
    worker threads (``get_num_threads()`` runs in all), when ``split`` (the call is large
    enough to pay for waking a thread), else ``work(0, n, 0)``. Returns the number of runs.

    Example:
        >>> seen = []
        >>> over_parts(5, False, lambda i0, i1, part: seen.append((i0, i1, part)))
        1
        >>> seen
        [(0, 5, 0)]
    """
    global _pool, _pool_size
    parts = min(get_num_threads(), n) if split else 1
    if parts <= 1:
        work(0, n, 0)
        return 1
    if _pool is None or _pool_size < parts - 1:
        from concurrent.futures import ThreadPoolExecutor

        _pool, _pool_size = ThreadPoolExecutor(parts - 1, "chainrule-kernels"), parts - 1
    bounds = [n * i // parts for i in range(parts + 1)]
    futures = [_pool.submit(work, bounds[i], bounds[i + 1], i) for i in range(1, parts)]
    try:
        work(bounds[0], bounds[1], 0)
    finally:
        for f in futures:
            f.result()
    return parts
