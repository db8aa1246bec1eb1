"""Scratch memory: the fast kernels' temporaries, kept per thread and reused.

Temporaries of the fast kernels up to :data:`SCRATCH_MAX_BYTES` are kept per thread and
reused: allocating them afresh makes the C allocator hand pages back to the OS and fault them
in again on every call (thousands of page faults per training step, as much time as the GEMMs
at LeNet sizes).
"""
from __future__ import annotations

import math
import sys
import threading
from typing import Any

import numpy

from ..backend import xp

SCRATCH_MAX_BYTES = 64 << 20
"""The largest buffer kept for reuse (larger ones are allocated per call)."""
KEEP_POOL_SIZE = 4
"""Recycled long-lived buffers per key and thread (:func:`recycled`)."""
_local = threading.local()


def scratch(key: str, shape: tuple[int, ...], dtype: Any) -> Any:
    """A reusable temporary array of ``shape`` whose contents are undefined.

    One buffer per ``key`` and thread; a caller must be done with a key's array before it (or
    a function it calls) asks for that key again.

    Example:
        >>> a = scratch("doc", (2, 3), numpy.float32)
        >>> a.shape, scratch("doc", (3,), numpy.float32).base is a.base
        ((2, 3), True)
    """
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = _local.pool = {}
    dtype = numpy.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    buf = pool.get(key)
    if buf is None or buf.nbytes < nbytes:
        buf = xp.empty(max(nbytes, 1), dtype=numpy.uint8)
        if nbytes <= SCRATCH_MAX_BYTES:
            pool[key] = buf
    return buf[:nbytes].view(dtype).reshape(shape)


def recycled(key: str, shape: tuple[int, ...], dtype: Any) -> Any:
    """A fresh-contents array of ``shape`` that may outlive the call (unlike :func:`scratch`).

    Up to :data:`KEEP_POOL_SIZE` buffers per key and thread are recycled once nothing but the
    pool refers to them (every view of a buffer holds a reference to it), so the columns kept
    for the weight gradient do not page-fault a fresh multi-MiB allocation every step.

    Example:
        >>> a = recycled("doc", (4,), numpy.float64)
        >>> recycled("doc", (4,), numpy.float64).base is a.base  # a is alive: another buffer
        False
    """
    pool = getattr(_local, "recycled", None)
    if pool is None:
        pool = _local.recycled = {}
    dtype = numpy.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    bufs = pool.setdefault(key, [])
    found = None
    for buf in bufs:
        # references: the list, ``buf`` and getrefcount's argument: no view is alive
        if buf.nbytes >= nbytes and sys.getrefcount(buf) <= 3:
            found = buf
            break
    if found is None:
        found = xp.empty(max(nbytes, 1), dtype=numpy.uint8)
        if nbytes <= SCRATCH_MAX_BYTES and len(bufs) < KEEP_POOL_SIZE:
            bufs.append(found)
    return found[:nbytes].view(dtype).reshape(shape)
