"""dtypes: PyTorch's type promotion and the differentiable cast that applies it.

Every binary op promotes its operands by :func:`result_dtype` (PyTorch's rule, not NumPy's)
and casts them with :class:`Cast`, whose backward casts the gradient back.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy

from ..autograd.function import Function
from ..autograd.tensor import Tensor, check_dtype
from ..backend import xp

DEFAULT_FLOAT = numpy.dtype(numpy.float32)
_INT64 = numpy.dtype(numpy.int64)
_BOOL = numpy.dtype(numpy.bool_)


def _category(dtype: numpy.dtype) -> int:
    return 0 if dtype.kind == "b" else 2 if dtype.kind in "fc" else 1


def promote(a: Optional[numpy.dtype], b: numpy.dtype) -> numpy.dtype:
    """PyTorch's promotion of two dtypes of the same rank: the higher category (bool < int <
    float) wins outright (int64 with float32 is float32, not NumPy's float64); within one
    category, NumPy's ``promote_types``. ``a`` None: ``b``.

    Example:
        >>> import numpy as np
        >>> promote(np.dtype(np.int64), np.dtype(np.float32)), promote(None, np.dtype(bool))
        (dtype('float32'), dtype('bool'))
    """
    if a is None or _category(b) > _category(a):
        return b
    if _category(b) < _category(a):
        return a
    return numpy.promote_types(a, b)


def result_dtype(*operands: Any) -> numpy.dtype:
    """The dtype of a binary op's result, by PyTorch's rule.

    Operands rank as dimensioned tensors > 0-d tensors/NumPy scalars > Python scalars. The
    highest category (bool < int < float) wins; within it, the highest-ranked operands decide.
    So a Python float or a 0-d float64 array never upcasts a float32 tensor, and an int64
    tensor with a float32 tensor gives float32 (not NumPy's float64).

    Example:
        >>> import chainrule as cr, numpy as np
        >>> result_dtype(cr.ones(2), np.float64(2.0))
        dtype('float32')
        >>> result_dtype(cr.ones(2, dtype=cr.int64), cr.ones(2))
        dtype('float32')
    """
    ranked: list[Optional[numpy.dtype]] = [None, None, None]  # python scalar, 0-d, dimensioned
    for x in operands:
        if isinstance(x, Tensor):
            dt, rank = x._data.dtype, (2 if x._data.ndim else 1)
        elif isinstance(x, (bool, numpy.bool_)) and not isinstance(x, numpy.ndarray):
            dt, rank = _BOOL, (0 if isinstance(x, bool) else 1)
        elif isinstance(x, int):
            dt, rank = _INT64, 0
        elif isinstance(x, float):
            dt, rank = DEFAULT_FLOAT, 0
        else:
            arr = xp.asarray(x)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"unsupported operand of type {type(x).__name__} "
                                f"(dtype {arr.dtype})")
            dt, rank = arr.dtype, (2 if arr.ndim else 1)
        ranked[rank] = promote(ranked[rank], dt)
    top = max(_category(d) for d in ranked if d is not None)
    for dt in reversed(ranked):
        if dt is not None and _category(dt) == top:
            return dt
    raise RuntimeError("unreachable")  # pragma: no cover


def as_operand(x: Any, dtype: numpy.dtype) -> Tensor:
    """``x`` as a Tensor of ``dtype`` (differentiable cast for tensors, plain for constants)."""
    if isinstance(x, Tensor):
        if x._data.dtype == dtype:
            return x
        return cast(x, dtype)
    return Tensor(xp.asarray(x, dtype=dtype))


def as_float(x: Any) -> Tensor:
    """``x`` as a floating Tensor (integers and bools become float32, as in PyTorch)."""
    if not isinstance(x, Tensor):
        x = Tensor(xp.asarray(x))
        if x._data.dtype.kind != "f":
            x = Tensor(x._data.astype(DEFAULT_FLOAT))
        return x
    if x._data.dtype.kind != "f":
        return cast(x, DEFAULT_FLOAT)
    return x


class Cast(Function):
    node_name = "ToCopyBackward0"  # PyTorch's name for the same op
    derivative = "1 (the gradient is cast back)"
    elementwise = True

    def __init__(self, dtype: Any) -> None:
        self.dtype = numpy.dtype(dtype)

    def forward(self, x: Any) -> Any:
        return x.astype(self.dtype)

    def backward(self, gy: Tensor) -> Tensor:
        return Cast(self.inputs[0].dtype)(gy)


def cast(x: Tensor, dtype: Any) -> Tensor:
    """``x`` converted to ``dtype``; differentiable between float dtypes. A dtype no Tensor
    holds (float128, complex, text) raises PyTorch's TypeError."""
    check_dtype(dtype)
    dtype = numpy.dtype(dtype)
    if x.dtype == dtype:
        return x
    if dtype.kind != "f" and x.requires_grad:
        return Tensor(x._data.astype(dtype))  # leaves the graph, as PyTorch does
    return Cast(dtype)(x)
