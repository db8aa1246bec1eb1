"""The array namespace: the one seam between chainrule and the hardware.

Every op gets its array functions from here. Today that is NumPy; a CuPy backend would
return ``cupy`` from :func:`get_array_module` for device arrays without touching the ops.
Here too: the threads of the parallel kernels, the allocator setting, and the mode switch of
the optional compiled kernels (:func:`use_compiled`); the kernels themselves live in
:mod:`chainrule.kernels`, above this floor.
"""
from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

import numpy

xp = numpy
"""The default array namespace (NumPy)."""


def get_array_module(*arrays: Any) -> Any:
    """Return the array namespace that owns ``arrays`` (NumPy for now).

    Example:
        >>> import numpy as np
        >>> get_array_module(np.zeros(2)) is np
        True
    """
    return xp


def keep_freed_memory() -> bool:
    """Ask glibc to keep freed blocks (up to 64 MiB each) in the heap instead of the OS.

    By default glibc serves large blocks with mmap and trims the heap top on free, so every
    training step gets its multi-MiB activations and gradients as fresh pages from the kernel:
    ~1,500 page faults (each a zero-filled 4 KiB page) per LeNet-5 step, ~15% of its time.
    With fixed thresholds the freed memory is reused by the next step (what PyTorch's
    caching allocator does); the peak footprint is unchanged.

    This changes the whole process's allocator, so chainrule never calls it on import: the
    ``chainrule`` command and the benchmarks (for both frameworks alike) call it at start.

    Returns:
        True where it took effect (glibc), False elsewhere (a no-op).
    """
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3  # malloc.h
    return bool(mallopt(m_mmap_threshold, 64 << 20)) and bool(mallopt(m_trim_threshold,
                                                                       256 << 20))


# ============================================================================ threads
def _default_threads() -> int:
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:  # as PyTorch: OMP_NUM_THREADS sets the default
        return int(env)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_num_threads = _default_threads()


def get_num_threads() -> int:
    """The threads chainrule's own parallel kernels use, as ``torch.get_num_threads``.

    Default: ``OMP_NUM_THREADS`` if set, else the CPUs this process may run on.

    Example:
        >>> get_num_threads() >= 1
        True
    """
    return _num_threads


def set_num_threads(num: int) -> None:
    """Set the threads used for intra-op parallelism, as ``torch.set_num_threads``.

    The compiled direct convolution splits large batches over ``num`` threads; where
    ``threadpoolctl`` is installed, NumPy's BLAS (and OpenMP) pools are limited to ``num``
    too, so ``set_num_threads(1)`` makes every kernel single-threaded, as in PyTorch. Without
    it the BLAS keeps what ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS`` said at start-up.

    Args:
        num: a positive int.

    Example:
        >>> n = get_num_threads()
        >>> set_num_threads(1)
        >>> get_num_threads()
        1
        >>> set_num_threads(n)
    """
    global _num_threads
    if isinstance(num, bool) or not isinstance(num, int):
        raise TypeError(f"set_num_threads(): num must be an int, got {type(num).__name__}")
    if num < 1:
        raise ValueError(f"set_num_threads(): num must be positive, got {num}")
    _num_threads = num
    try:
        import threadpoolctl
    except ImportError:
        return
    threadpoolctl.threadpool_limits(limits=num)


# ============================================================================ compiled kernels
_compiled_on = os.environ.get("CHAINRULE_JIT", "1") != "0"


def compiled_enabled() -> bool:
    """Whether the compiled kernels may run (the mode :func:`use_compiled` switches).

    True unless the environment variable ``CHAINRULE_JIT`` was ``0`` at start, or inside
    ``use_compiled(False)``. The kernels themselves (and whether Numba is installed) are
    :mod:`chainrule.kernels`' business.

    Example:
        >>> with use_compiled(False):
        ...     compiled_enabled()
        False
    """
    return _compiled_on


@contextlib.contextmanager
def use_compiled(enabled: bool) -> Iterator[None]:
    """Switch the compiled kernels on or off inside the block (restored in ``finally``).

    Off, every op runs its NumPy formula: the reference the kernels are tested against.

    Args:
        enabled: use the kernels where Numba is available (True) or never (False).

    Example:
        >>> import chainrule as cr
        >>> x = cr.randn(4, 3, requires_grad=True)
        >>> with use_compiled(False):
        ...     cr.tanh(x).sum().backward()
        >>> x.grad.shape
        (4, 3)
    """
    global _compiled_on
    prev, _compiled_on = _compiled_on, bool(enabled)
    try:
        yield
    finally:
        _compiled_on = prev
