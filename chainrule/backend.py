"""The array namespace: the one seam between chainrule and the hardware.

Every op gets its array functions from here. Today that is NumPy; a CuPy backend would
return ``cupy`` from :func:`get_array_module` for device arrays without touching the ops.
:func:`compiled` hands out the optional compiled loop kernels (Numba) that a few
memory-bound ops use in place of their NumPy formulas.
"""
from __future__ import annotations

import contextlib
import functools
import os
from types import ModuleType
from typing import Any, Iterator, Optional

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


@functools.lru_cache(maxsize=None)
def _load_kernels() -> Optional[ModuleType]:
    """Import :mod:`chainrule.ops._jit` (and Numba) once; None where that fails."""
    try:
        from .ops import _jit
    except ImportError:  # no Numba, or one that does not support this NumPy/Python
        return None
    except Exception as err:  # e.g. no writable folder for Numba's on-disk cache
        import warnings

        warnings.warn(f"chainrule: compiled kernels unavailable ({err}); using NumPy",
                      RuntimeWarning, stacklevel=3)
        return None
    return _jit


def compiled() -> Optional[ModuleType]:
    """The compiled kernels (:mod:`chainrule.ops._jit`), or None: then ops use NumPy.

    None when Numba is not installed (or cannot load), when the environment variable
    ``CHAINRULE_JIT`` is ``0``, or inside ``use_compiled(False)``. Numba is imported on the
    first call, not by ``import chainrule``.

    Example:
        >>> with use_compiled(False):
        ...     compiled() is None
        True
    """
    return _load_kernels() if _compiled_on else None


def compiled_status() -> str:
    """One line for reports: ``"on (Numba X.Y.Z)"`` or ``"off (NumPy formulas)"``.

    Example:
        >>> with use_compiled(False):
        ...     compiled_status()
        'off (NumPy formulas)'
    """
    kernels = compiled()
    if kernels is None:
        return "off (NumPy formulas)"
    return f"on (Numba {kernels.numba.__version__})"


_COMPILED_DTYPES = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))


def compiled_for(*arrays: Any) -> Optional[ModuleType]:
    """:func:`compiled` when every array is float32 or float64 (what the kernels are built
    for), else None.

    Example:
        >>> import numpy as np
        >>> compiled_for(np.zeros(2, np.float16)) is None
        True
    """
    if all(a.dtype in _COMPILED_DTYPES for a in arrays):
        return compiled()
    return None


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
