"""Tensor's operators and op methods, bound once when :mod:`chainrule.ops` is imported.

``Tensor`` lives on the floor below the ops and does not import them; its methods
(``x.exp()``, ``x.sum()``...) delegate to the namespace :func:`bind` hands over, and its
binary operators are the op functions themselves: ``a * b`` runs ``ops.mul(a, b)`` with no
method frame in between (the hottest call of every graph). This is DeZero's way out of the
Tensor <-> ops cycle: the functions module binds Variable's operators at import.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy

from ..autograd import tensor as tensor_module
from ..autograd.tensor import Tensor
from ..backend import xp
from . import arithmetic
from ._util import inplace_method
from .dtypes import result_dtype

# what comparisons accept; anything else (None, a string) gives NotImplemented, as in PyTorch
_OPERANDS = (Tensor, int, float, numpy.ndarray, numpy.generic, list, tuple)


def _bitwise(ufunc: Any, a: Any, b: Any, op: str) -> Tensor:
    """``a & b``, ``a | b``, ``a ^ b``: bitwise on integers, logical on bools (not recorded).

    Example:
        >>> import chainrule as cr
        >>> (cr.tensor([6, 3]) & 3).tolist(), (cr.tensor([True, False]) | False).tolist()
        ([2, 3], [True, False])
    """
    dtype = result_dtype(a, b)
    if dtype.kind not in "biu":
        raise TypeError(f"{op}: only integer and bool tensors are supported, got {dtype}")
    return arithmetic.compare(  # unwrap, check broadcasting, apply: as comparisons do
        ufunc, xp.asarray(a._data if isinstance(a, Tensor) else a, dtype=dtype),
        xp.asarray(b._data if isinstance(b, Tensor) else b, dtype=dtype), op)


def _comparison(op: Any) -> Any:
    """``Tensor.__eq__`` and co.: ``op(self, other)``, or NotImplemented for an operand that
    is no number, array or tensor (so ``x == None`` is False, as in PyTorch)."""
    def compare(self: Tensor, other: Any) -> Any:
        if not isinstance(other, _OPERANDS):
            return NotImplemented
        return op(self, other)

    compare.__name__ = f"__{op.__name__}__"
    return compare


def _swapped(op: Any, name: str) -> Any:
    """The reflected operator ``Tensor.__rNAME__``: ``b OP a`` with a Python number ``b``."""
    def reflected(self: Tensor, other: Any) -> Any:
        return op(other, self)

    reflected.__name__ = f"__r{name}__"
    return reflected


def _reciprocal_times(self: Tensor, other: Any) -> Any:
    """``c / x`` with a number (or array) ``c``: ``reciprocal(x) * c``, as torch's
    ``Tensor.__rtruediv__`` (so the values and gradients at tiny and huge ``x`` are torch's)."""
    return arithmetic.mul(arithmetic.reciprocal(self), other)


def _bitwise_operator(ufunc: Any) -> Any:
    """``Tensor.__and__`` and co. (see :func:`_bitwise`)."""
    def operator(self: Tensor, other: Any) -> Tensor:
        return _bitwise(ufunc, self, other, ufunc.__name__)

    return operator


def bind(ops: ModuleType) -> None:
    """Hand ``ops`` (the :mod:`chainrule.ops` namespace) to Tensor and bind its operators."""
    tensor_module.bind_ops(ops)
    for op in (ops.eq, ops.ne, ops.lt, ops.le, ops.gt, ops.ge):
        setattr(Tensor, f"__{op.__name__}__", _comparison(op))
        setattr(Tensor, op.__name__, op)  # x.eq(y), as torch.Tensor.eq
    for name, op in (("add", ops.add), ("sub", ops.sub), ("mul", ops.mul),
                     ("truediv", ops.div), ("floordiv", ops.floor_divide),
                     ("mod", ops.remainder)):
        setattr(Tensor, f"__{name}__", op)
        setattr(Tensor, f"__r{name}__", _swapped(op, name))
    Tensor.__rpow__ = _swapped(ops.pow, "pow")  # type: ignore[attr-defined]
    Tensor.__rtruediv__ = _reciprocal_times  # type: ignore[attr-defined]
    Tensor.reciprocal = ops.reciprocal  # type: ignore[attr-defined]
    Tensor.floor_divide = ops.floor_divide  # type: ignore[attr-defined]
    Tensor.remainder = ops.remainder  # type: ignore[attr-defined]
    _bind_methods(ops)
    for name, ufunc in (("and", xp.bitwise_and), ("or", xp.bitwise_or),
                        ("xor", xp.bitwise_xor)):
        setattr(Tensor, f"__{name}__", _bitwise_operator(ufunc))
        setattr(Tensor, f"__r{name}__", _swapped(_bitwise_operator(ufunc), name))


# Tensor methods that are the op functions themselves (``x.cumsum(0)`` is ``ops.cumsum(x, 0)``);
# sum, mean, add, sub and div replace Tensor's own methods to take dtype=, alpha= and
# rounding_mode= as PyTorch's do
_METHODS = ("add", "sub", "div", "true_divide", "sum", "mean", "any", "all", "prod", "cumsum",
            "cumprod", "masked_fill", "repeat", "repeat_interleave", "bmm", "baddbmm",
            "addmm", "outer", "ger", "norm", "sort", "argsort", "topk", "msort", "isnan",
            "isinf", "isfinite", "log1p", "expm1", "floor", "ceil", "round", "trunc", "fix",
            "frac", "erf", "tril", "triu", "flip", "roll", "narrow", "unbind", "diag",
            "square", "rsqrt", "log2", "log10", "clamp_min", "clamp_max", "lerp", "masked_fill_",
            "scatter", "scatter_", "scatter_add", "scatter_add_", "gather", "index_select",
            "unflatten", "fliplr", "flipud", "addcmul", "addcdiv")

# in-place methods ``x.NAME_(...)``: NAME computed outside the graph, written into x
_INPLACE = ("clamp", "clip", "clamp_min", "clamp_max", "exp", "log", "sqrt", "abs", "neg",
            "sigmoid", "tanh", "relu", "pow", "sin", "cos", "reciprocal", "sign", "floor",
            "ceil", "round", "trunc", "fix", "frac", "log1p", "expm1", "erf", "square",
            "rsqrt", "log2", "log10", "tril", "triu", "lerp", "cumsum", "cumprod", "div",
            "true_divide", "remainder", "floor_divide", "addcmul", "addcdiv")


def _bind_methods(ops: ModuleType) -> None:
    """Bind :data:`_METHODS` and the in-place :data:`_INPLACE` methods to Tensor."""
    for name in _METHODS:
        setattr(Tensor, name, getattr(ops, name))
    for name in _INPLACE:
        setattr(Tensor, name + "_", inplace_method(getattr(ops, name), name + "_"))
