"""The array namespace: the one seam between chainrule and the hardware.

Every op gets its array functions from here. Today that is NumPy; a CuPy backend would
return ``cupy`` from :func:`get_array_module` for device arrays without touching the ops.
"""
from __future__ import annotations

from typing import Any

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
