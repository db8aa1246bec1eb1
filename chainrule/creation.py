"""Tensor factories: ``tensor``, ``zeros``, ``ones``, ``arange``, ``randn``, ... (as in PyTorch).

Floating results default to float32; integers to int64.
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import numpy

from .autograd.errors import OpError
from .autograd.tensor import Tensor
from .backend import xp
from .ops import promote
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


def _shape(size: tuple, keyword: Any = None, op: str = "size") -> tuple[int, ...]:
    """The shape given as varargs ``(2, 3)``, one sequence ``((2, 3),)`` or ``size=(2, 3)``."""
    if keyword is not None:
        if size:
            raise TypeError(f"{op}: got the size both positionally and as size=")
        size = (keyword,)
    if not size:
        raise TypeError(f"{op}: missing the required argument 'size'")
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor) and s._data.ndim == 0 and s._data.dtype.kind in "iu":
            s = int(s._data)  # a 0-d integer tensor is a size, as in PyTorch
        if isinstance(s, (bool, numpy.bool_)) or not isinstance(s, (int, numpy.integer)) \
                or s < 0:
            raise OpError(f"{op}: size must be a sequence of non-negative ints, got {size}")
        out.append(int(s))
    return tuple(out)


_PY_DTYPES = {bool: bool_, int: int64, float: _DEFAULT}


def _infer_dtype(data: Any) -> Optional[numpy.dtype]:
    """The dtype ``torch.tensor`` infers for a nested sequence, or None if it has no elements.

    Python floats count as the default float32 and ints as int64; NumPy scalars and arrays and
    Tensors keep their own dtype (so a NumPy float64 element makes the result float64).
    """
    dtype: Optional[numpy.dtype] = None
    kinds = set(map(type, data))
    for t in kinds & _PY_DTYPES.keys():  # the common case, with no Python loop over the data
        dtype = promote(dtype, _PY_DTYPES[t])
    if kinds - _PY_DTYPES.keys():
        for x in data:
            if type(x) in _PY_DTYPES:
                continue
            if isinstance(x, (list, tuple)):
                dt = _infer_dtype(x)
                if dt is None:
                    continue
            elif isinstance(x, Tensor):
                dt = x._data.dtype
            else:
                dt = xp.asarray(x).dtype  # NumPy scalars and arrays, or anything else
                if dt.kind not in "biuf":
                    return dt  # not a number: reported by the caller
            dtype = promote(dtype, dt)
    return dtype


def tensor(data: Any, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Build a tensor from data (copied), inferring dtypes like ``torch.tensor``.

    Python floats become float32 and ints int64; NumPy arrays and scalars keep their dtype,
    also inside a list (``[np.float64(1.0), 2.0]`` gives float64, as in PyTorch).

    Args:
        data: a number, nested sequence, ndarray or Tensor.
        dtype: the dtype to convert to.
        requires_grad: track operations on the tensor for backward.

    Example:
        >>> import chainrule as cr, numpy as np
        >>> cr.tensor([[1, 2]]).dtype, cr.tensor([0.5]).dtype
        (dtype('int64'), dtype('float32'))
        >>> cr.tensor([np.float64(0.5), 1.0]).dtype
        dtype('float64')
    """
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
        data = [d._data if isinstance(d, Tensor) else d for d in data]
    is_array = isinstance(data, (numpy.ndarray, numpy.generic))
    try:
        arr = xp.array(data, dtype=dtype, copy=True)
    except ValueError as e:  # a ragged nested list
        raise ValueError(f"tensor: could not convert data of type {type(data).__name__}: "
                         f"{e}") from None
    except TypeError as e:
        raise TypeError(f"tensor: could not convert data of type {type(data).__name__}: "
                        f"{e}") from None
    if dtype is None and not is_array:
        inferred = _infer_dtype(data) if isinstance(data, (list, tuple)) else None
        if inferred is not None and inferred.kind in "biuf" and arr.dtype.kind in "biuf":
            if arr.dtype != inferred:
                arr = arr.astype(inferred)
        elif arr.dtype == numpy.float64:
            arr = arr.astype(_DEFAULT)
        elif arr.dtype.kind == "i":
            arr = arr.astype(numpy.int64)
    return Tensor(arr, requires_grad=requires_grad)  # refuses dtypes torch lacks (check_dtype)


def as_tensor(data: Any, dtype: DTypeLike = None) -> Tensor:
    """Like :func:`tensor`, but a Tensor of the right dtype is returned as is."""
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtype):
        return data
    return tensor(data, dtype)


def from_numpy(array: Any) -> Tensor:
    """Wrap an ndarray without copying."""
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    return Tensor(array)


def _size_kw(kwargs: dict[str, Any], op: str) -> Any:
    """The ``size=`` keyword of a varargs factory (``*size`` cannot also be named ``size``)."""
    size = kwargs.pop("size", None)
    if kwargs:
        raise TypeError(f"{op}() got an unexpected keyword argument {next(iter(kwargs))!r}")
    return size


def _filled(fill: Any, size: tuple, kwargs: dict[str, Any], dtype: DTypeLike,
            requires_grad: bool, op: str) -> Tensor:
    shape = _shape(size, _size_kw(kwargs, op), op)
    return Tensor(xp.full(shape, fill, dtype=dtype or _DEFAULT), requires_grad=requires_grad)


def zeros(*size: Any, dtype: DTypeLike = None, requires_grad: bool = False,
          **kwargs: Any) -> Tensor:
    """A tensor of zeros of the given size (varargs, one sequence, or ``size=``).

    Example:
        >>> import chainrule as cr
        >>> cr.zeros(2, 3).shape, cr.zeros((2,)).tolist(), cr.zeros(size=[1, 2]).shape
        ((2, 3), [0.0, 0.0], (1, 2))
    """
    return _filled(0, size, kwargs, dtype, requires_grad, "zeros")


def ones(*size: Any, dtype: DTypeLike = None, requires_grad: bool = False,
         **kwargs: Any) -> Tensor:
    """A tensor of ones of the given size (varargs, one sequence, or ``size=``).

    Example:
        >>> import chainrule as cr
        >>> cr.ones(size=(2,)).tolist()
        [1.0, 1.0]
    """
    return _filled(1, size, kwargs, dtype, requires_grad, "ones")


def empty(*size: Any, dtype: DTypeLike = None, requires_grad: bool = False,
          **kwargs: Any) -> Tensor:
    """An uninitialised tensor of the given size (varargs, one sequence, or ``size=``).

    Example:
        >>> import chainrule as cr
        >>> cr.empty(size=(2, 3)).shape
        (2, 3)
    """
    shape = _shape(size, _size_kw(kwargs, "empty"), "empty")
    return Tensor(xp.empty(shape, dtype=dtype or _DEFAULT), requires_grad=requires_grad)


def full(size: Sequence[int], fill_value: Any, dtype: DTypeLike = None,
         requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value`` (float32 for floats, int64 for ints, bool for bools).

    Example:
        >>> import chainrule as cr, numpy as np
        >>> cr.full((2,), 7).dtype, cr.full((2,), np.int32(7)).dtype, cr.full((2,), 0.5).dtype
        (dtype('int64'), dtype('int64'), dtype('float32'))
    """
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full: size must be a tuple of ints, got {type(size).__name__}")
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:  # a NumPy integer counts as a Python int here, as in PyTorch
        dtype = numpy.bool_ if isinstance(fill_value, bool) else \
            numpy.int64 if isinstance(fill_value, (int, numpy.integer)) else _DEFAULT
    return Tensor(xp.full(_shape((tuple(size),), op="full"), fill_value, dtype=dtype),
                  requires_grad=requires_grad)


def zeros_like(input: Tensor, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Zeros with ``input``'s shape and (unless given) dtype."""
    return Tensor(xp.zeros(input.shape, dtype=dtype or input.dtype), requires_grad=requires_grad)


def ones_like(input: Tensor, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Ones with ``input``'s shape and (unless given) dtype."""
    return Tensor(xp.ones(input.shape, dtype=dtype or input.dtype), requires_grad=requires_grad)


def full_like(input: Tensor, fill_value: Any, dtype: DTypeLike = None,
              requires_grad: bool = False) -> Tensor:
    """``fill_value`` with ``input``'s shape and (unless given) dtype.

    Example:
        >>> import chainrule as cr
        >>> cr.full_like(cr.ones(2), 7, requires_grad=True)
        tensor([7., 7.], requires_grad=True)
    """
    return Tensor(xp.full(input.shape, fill_value, dtype=dtype or input.dtype),
                  requires_grad=requires_grad)


def _number(v: Any) -> Any:
    return v.item() if isinstance(v, Tensor) else v


def arange(start: float = 0, end: Optional[float] = None, step: float = 1,
           dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 for integer arguments.

    Example:
        >>> import chainrule as cr
        >>> cr.arange(3).tolist(), cr.arange(0, 1, 0.5).tolist(), cr.arange(end=2).tolist()
        ([0, 1, 2], [0.0, 0.5], [0, 1])
    """
    start, end, step = _number(start), _number(end), _number(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise OpError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise OpError(f"arange: upper bound and lower bound inconsistent with step sign "
                      f"(start={start}, end={end}, step={step})")
    if dtype is None:
        ints = all(isinstance(v, (int, numpy.integer)) for v in (start, end, step))
        dtype = numpy.int64 if ints else _DEFAULT
    return Tensor(xp.arange(start, end, step).astype(dtype), requires_grad=requires_grad)


def linspace(start: float, end: float, steps: int, dtype: DTypeLike = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive."""
    if steps < 0:
        raise OpError(f"linspace: number of steps must be non-negative, got {steps}")
    return Tensor(xp.linspace(start, end, steps).astype(dtype or _DEFAULT),
                  requires_grad=requires_grad)


def eye(n: int, m: Optional[int] = None, dtype: DTypeLike = None,
        requires_grad: bool = False) -> Tensor:
    """The identity matrix of size (n, m)."""
    return Tensor(xp.eye(n, m, dtype=dtype or _DEFAULT), requires_grad=requires_grad)


def _float_dtype(dtype: DTypeLike, op: str) -> numpy.dtype:
    dt = numpy.dtype(dtype or _DEFAULT)
    if dt.kind != "f":
        raise TypeError(f"{op}: expected a floating point dtype, got {dt} (use randint for "
                        f"integers)")
    return dt


def randn(*size: Any, dtype: DTypeLike = None, requires_grad: bool = False,
          **kwargs: Any) -> Tensor:
    """Standard normal samples from the global generator (see ``manual_seed``).

    Example:
        >>> import chainrule as cr
        >>> cr.randn(2, 3).shape, cr.randn(size=(2,)).dtype
        ((2, 3), dtype('float32'))
    """
    dt = _float_dtype(dtype, "randn")
    shape = _shape(size, _size_kw(kwargs, "randn"), "randn")
    return Tensor(get_rng()._normal(shape, dt), requires_grad=requires_grad)


def rand(*size: Any, dtype: DTypeLike = None, requires_grad: bool = False,
         **kwargs: Any) -> Tensor:
    """Uniform samples in [0, 1) from the global generator.

    Example:
        >>> import chainrule as cr
        >>> x = cr.rand(size=(100,))
        >>> bool((x >= 0)._data.all() and (x < 1)._data.all())
        True
    """
    dt = _float_dtype(dtype, "rand")
    shape = _shape(size, _size_kw(kwargs, "rand"), "rand")
    return Tensor(get_rng()._uniform(shape, dt), requires_grad=requires_grad)


def randn_like(input: Tensor, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """:func:`randn` with ``input``'s shape and (unless given) dtype.

    Example:
        >>> import chainrule as cr
        >>> cr.randn_like(cr.zeros(2, 3, dtype=cr.float64)).dtype
        dtype('float64')
    """
    return randn(*input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def rand_like(input: Tensor, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """:func:`rand` with ``input``'s shape and (unless given) dtype."""
    return rand(*input.shape, dtype=dtype or input.dtype, requires_grad=requires_grad)


def randint(low: int = 0, high: Optional[int] = None, size: Union[Sequence[int], None] = None,
            dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """Integers uniform in [low, high) (``randint(high, size)`` also works, as in PyTorch).

    Example:
        >>> import chainrule as cr
        >>> r = cr.randint(3, (50,))
        >>> r.dtype, bool(0 <= r._data.min() and r._data.max() < 3)
        (dtype('int64'), True)
    """
    if high is None or (size is None and isinstance(high, (tuple, list))):
        if size is None and isinstance(high, (tuple, list)):
            low, high, size = 0, low, high
        else:
            low, high = 0, low
    if size is None:
        raise TypeError("randint: missing the required argument 'size'")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint: size must be a tuple of ints, got {type(size).__name__}")
    if high <= low:
        raise OpError(f"randint: expected low < high, got low={low}, high={high}")
    return Tensor(get_rng()._integers(low, high, _shape((tuple(size),), op="randint"))
                  .astype(dtype or numpy.int64), requires_grad=requires_grad)


def randperm(n: int, dtype: DTypeLike = None, requires_grad: bool = False) -> Tensor:
    """A random permutation of 0..n-1 (int64 unless ``dtype`` is given).

    Example:
        >>> import chainrule as cr
        >>> sorted(cr.randperm(4).tolist())
        [0, 1, 2, 3]
    """
    if isinstance(n, (bool, numpy.bool_)) or not isinstance(n, (int, numpy.integer)) or n < 0:
        raise OpError(f"randperm: n must be a non-negative int, got {n!r}")
    return Tensor(get_rng()._permutation(int(n)).astype(dtype or numpy.int64),
                  requires_grad=requires_grad)
