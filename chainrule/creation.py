"""Tensor factories: ``tensor``, ``zeros``, ``ones``, ``arange``, ``randn``, ... (as in PyTorch).

Floating results default to float32; integers to int64.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import numpy

from .autograd.tensor import Tensor
from .backend import xp
from .random import get_rng

DTypeLike = Any
float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
float16 = numpy.dtype("float16")
int64 = numpy.dtype("int64")
int32 = numpy.dtype("int32")
int8 = numpy.dtype("int8")
uint8 = numpy.dtype("uint8")
bool_ = numpy.dtype("bool")
_DEFAULT = float32


def _shape(size: tuple) -> tuple[int, ...]:
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, numpy.integer)) or s < 0:
            raise ValueError(f"size must be a sequence of non-negative ints, got {size}")
    return tuple(int(s) for s in size)


def tensor(data: Any, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Build a tensor from data (copied), inferring dtypes like ``torch.tensor``.

    Python floats become float32 and ints int64; NumPy arrays keep their dtype.

    Args:
        data: a number, nested sequence, ndarray or Tensor.
        dtype: the dtype to convert to.
        requires_grad: track operations on the tensor for backward.

    Example:
        >>> import chainrule as cr
        >>> cr.tensor([[1, 2]]).dtype, cr.tensor([0.5]).dtype
        (dtype('int64'), dtype('float32'))
    """
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
        data = [d.data if isinstance(d, Tensor) else d for d in data]
    is_array = isinstance(data, (numpy.ndarray, numpy.generic))
    try:
        arr = xp.array(data, dtype=dtype, copy=True)
    except (ValueError, TypeError) as e:
        raise TypeError(f"tensor: could not convert data of type {type(data).__name__}: "
                        f"{e}") from None
    if dtype is None and not is_array:
        if arr.dtype == numpy.float64:
            arr = arr.astype(_DEFAULT)
        elif arr.dtype.kind == "i":
            arr = arr.astype(numpy.int64)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"tensor: unsupported dtype {arr.dtype}")
    return Tensor(arr, requires_grad=requires_grad)


def as_tensor(data: Any, dtype: DTypeLike = None) -> Tensor:
    """Like :func:`tensor`, but a Tensor of the right dtype is returned as is."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtype):
        return data
    return tensor(data, dtype)


def from_numpy(array: Any) -> Tensor:
    """Wrap an ndarray without copying."""
    return Tensor(array)


def _filled(fill: Any, size: tuple, dtype: DTypeLike, requires_grad: bool) -> Tensor:
    return Tensor(xp.full(_shape(size), fill, dtype=dtype or _DEFAULT),
                  requires_grad=requires_grad)


def zeros(*size: Any, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of the given size."""
    return _filled(0, size, dtype, requires_grad)


def ones(*size: Any, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of the given size."""
    return _filled(1, size, dtype, requires_grad)


def empty(*size: Any, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """An uninitialised tensor of the given size."""
    return Tensor(xp.empty(_shape(size), dtype=dtype or _DEFAULT), requires_grad=requires_grad)


def full(size: Sequence[int], fill_value: Any, dtype: DTypeLike = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value`` (float32 for floats, int64 for ints)."""
    if dtype is None:
        dtype = numpy.bool_ if isinstance(fill_value, bool) else \
            numpy.int64 if isinstance(fill_value, int) else _DEFAULT
    return Tensor(xp.full(_shape(tuple(size)), fill_value, dtype=dtype),
                  requires_grad=requires_grad)


def zeros_like(x: Tensor, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    return Tensor(xp.zeros(x.shape, dtype=dtype or x.dtype), requires_grad=requires_grad)


def ones_like(x: Tensor, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    return Tensor(xp.ones(x.shape, dtype=dtype or x.dtype), requires_grad=requires_grad)


def full_like(x: Tensor, fill_value: Any, dtype: DTypeLike = None) -> Tensor:
    return Tensor(xp.full(x.shape, fill_value, dtype=dtype or x.dtype))


def arange(start: float, end: Optional[float] = None, step: float = 1,
           dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 for integer arguments.

    Example:
        >>> import chainrule as cr
        >>> cr.arange(3).tolist(), cr.arange(0, 1, 0.5).tolist()
        ([0, 1, 2], [0.0, 0.5])
    """
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: step must be nonzero")
    if dtype is None:
        ints = all(isinstance(v, (int, numpy.integer)) for v in (start, end, step))
        dtype = numpy.int64 if ints else _DEFAULT
    return Tensor(xp.arange(start, end, step).astype(dtype), requires_grad=requires_grad)


def linspace(start: float, end: float, steps: int, dtype: DTypeLike = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise ValueError(f"linspace: number of steps must be non-negative, got {steps}")
    return Tensor(xp.linspace(start, end, steps).astype(dtype or _DEFAULT),
                  requires_grad=requires_grad)


def eye(n: int, m: Optional[int] = None, dtype: DTypeLike = None,
        requires_grad: bool = False) -> Tensor:
    """The identity matrix of size (n, m)."""
    return Tensor(xp.eye(n, m, dtype=dtype or _DEFAULT), requires_grad=requires_grad)


def randn(*size: Any, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from the global generator (see ``manual_seed``)."""
    dt = numpy.dtype(dtype or _DEFAULT)
    data = get_rng().standard_normal(_shape(size), dtype=dt if dt.kind == "f" and
                                     dt.itemsize >= 4 else numpy.float64).astype(dt, copy=False)
    return Tensor(data, requires_grad=requires_grad)


def rand(*size: Any, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Uniform samples in [0, 1) from the global generator."""
    dt = numpy.dtype(dtype or _DEFAULT)
    data = get_rng().random(_shape(size), dtype=dt if dt.kind == "f" and dt.itemsize >= 4
                            else numpy.float64).astype(dt, copy=False)
    return Tensor(data, requires_grad=requires_grad)


def randint(low: int, high: Optional[int] = None, size: Union[Sequence[int], None] = None,
            dtype: DTypeLike = None) -> Tensor:
    """Integers uniform in [low, high) (``randint(high, size)`` also works, as in PyTorch)."""
    if high is None or (size is None and isinstance(high, (tuple, list))):
        if size is None and isinstance(high, (tuple, list)):
            low, high, size = 0, low, high
        else:
            low, high = 0, low
    if size is None:
        raise TypeError("randint: missing the required argument 'size'")
    if high <= low:
        raise ValueError(f"randint: expected low < high, got low={low}, high={high}")
    return Tensor(get_rng().integers(low, high, size=_shape(tuple(size)))
                  .astype(dtype or numpy.int64))


def randperm(n: int) -> Tensor:
    """A random permutation of 0..n-1 (int64)."""
    return Tensor(get_rng().permutation(n).astype(numpy.int64))
