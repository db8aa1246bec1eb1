"""The compiled and scheduled code under the ops: imported only by :mod:`chainrule.ops`.

The ops state what they compute (the formulas a learner reads); this floor holds how the
hottest of them run fast, with the same results:

* :mod:`.scratch`: per-thread temporaries reused from call to call (no page faults);
* :mod:`.conv_schedules`: conv2d's blocked im2col + GEMM paths (planar, channels-last,
  dense) and the choice between them and the direct kernels;
* :mod:`.pool_schedules`: pooling by strided slices over the window offsets;
* :mod:`.numba_loops` (with :mod:`.direct_conv`): the optional compiled kernels, Numba loops
  and an LLVM-IR direct convolution, handed out by :func:`compiled`;
* :func:`along_rows`: per-channel vectors laid out for fast broadcasting.

The compiled kernels are imported on first use, never by ``import chainrule`` (Numba takes
~0.3 s to import). They are switched off by ``CHAINRULE_JIT=0`` or inside
:func:`chainrule.backend.use_compiled` ``(False)``; every one has a NumPy twin in the op or
schedule that calls it.
"""
from __future__ import annotations

import functools
from types import ModuleType
from typing import Any, Optional

import numpy

from ..backend import compiled_enabled, xp


@functools.lru_cache(maxsize=None)
def _load() -> Optional[ModuleType]:
    """Import :mod:`.numba_loops` (and Numba) once; None where that fails."""
    try:
        from . import numba_loops
    except ImportError:  # no Numba, or one that does not support this NumPy/Python
        return None
    except Exception as err:  # e.g. no writable folder for Numba's on-disk cache
        import warnings

        warnings.warn(f"chainrule: compiled kernels unavailable ({err}); using NumPy",
                      RuntimeWarning, stacklevel=3)
        return None
    return numba_loops


def compiled() -> Optional[ModuleType]:
    """The compiled kernels (:mod:`chainrule.kernels.numba_loops`), or None: then ops use
    NumPy.

    None when Numba is not installed (or cannot load), when the environment variable
    ``CHAINRULE_JIT`` is ``0``, or inside ``use_compiled(False)``. Numba is imported on the
    first call, not by ``import chainrule``. The direct convolution is its attribute
    ``direct`` (:mod:`chainrule.kernels.direct_conv`).

    Example:
        >>> from chainrule.backend import use_compiled
        >>> with use_compiled(False):
        ...     compiled() is None
        True
    """
    return _load() if compiled_enabled() else None


def compiled_status() -> str:
    """One line for reports: ``"on (Numba X.Y.Z)"`` or ``"off (NumPy formulas)"``.

    Example:
        >>> from chainrule.backend import use_compiled
        >>> with use_compiled(False):
        ...     compiled_status()
        'off (NumPy formulas)'
    """
    kernels = compiled()
    if kernels is None:
        return "off (NumPy formulas)"
    return f"on (Numba {kernels.numba.__version__})"


COMPILED_DTYPES = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))
"""What the compiled kernels are built for."""


def compiled_for(*arrays: Any) -> Optional[ModuleType]:
    """:func:`compiled` when every array (None skipped: an absent bias, say) is float32 or
    float64 (what the kernels are built for), else None.

    Example:
        >>> import numpy as np
        >>> compiled_for(np.zeros(2, np.float16)) is None
        True
    """
    for a in arrays:
        if a is not None and a.dtype not in COMPILED_DTYPES:
            return None
    return _load() if compiled_enabled() else None


def compiled_alike(*arrays: Any) -> Optional[ModuleType]:
    """:func:`compiled_for` for a kernel that reads all the arrays (None skipped) in one dtype:
    None when their dtypes differ.

    Example:
        >>> import numpy as np
        >>> compiled_alike(np.zeros(2, np.float32), np.zeros(2)) is None
        True
    """
    given = [a for a in arrays if a is not None]
    if any(a.dtype != given[0].dtype for a in given):
        return None
    return compiled_for(*given)


def along_rows(v: Any, S: int) -> Any:
    """A per-channel (C,) vector as a (C*S,) row that broadcasts over (N, C*S).

    NumPy broadcasts a (C, 1) vector over (N, C, S) one (n, c) run of S values at a time;
    over the rows of (N, C*S) its inner loop runs C*S values: 1.5x-2x faster at LeNet's sizes
    (batch norm, convolution bias).

    Example:
        >>> along_rows(numpy.array([1.0, 2.0]), 3).tolist()
        [1.0, 1.0, 1.0, 2.0, 2.0, 2.0]
    """
    return v if S == 1 else xp.repeat(v, S)
