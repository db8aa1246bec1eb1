"""Elementwise arithmetic: the binary operators, the unary math functions, where/clamp/casts.

Each op: a Function with forward (on arrays) and backward (on Tensors, differentiable), then
its lowercase wrapper. Binary ops promote dtypes by PyTorch's rule and call ``unbroadcast``.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy

from ..autograd.function import Function
from ..autograd.grad_mode import backward_composes
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import as_float, as_operand, broadcast_error, result_dtype
from .shape import unbroadcast


def _binary(fn_cls: type, a: Any, b: Any, op: str) -> Tensor:
    """Promote ``a`` and ``b`` to their result dtype and apply ``fn_cls``; clear shape errors."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a.data.dtype != b.data.dtype:
                a, b = _promote(a, b)
        elif type(b) in _PY_NUMBERS and a.data.dtype.kind == "f":
            b = Tensor._const(numpy.asarray(b, a.data.dtype))
        else:
            a, b = _promote(a, b)
    elif type(a) in _PY_NUMBERS and isinstance(b, Tensor) and b.data.dtype.kind == "f":
        a = Tensor._const(numpy.asarray(a, b.data.dtype))
    else:
        a, b = _promote(a, b)
    try:
        return fn_cls()(a, b)
    except ValueError:
        err = broadcast_error(op, a.shape, b.shape)
        if err is not None:
            raise err from None
        raise


_PY_NUMBERS = (float, int)


def _promote(a: Any, b: Any) -> tuple[Tensor, Tensor]:
    """``a`` and ``b`` as Tensors of PyTorch's result dtype for a binary op."""
    dtype = result_dtype(a, b)
    return as_operand(a, dtype), as_operand(b, dtype)


# ============================================================================ binary
class Add(Function):
    def forward(self, x0: Any, x1: Any) -> Any:
        return x0 + x1

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        n0, n1 = self.needs_input_grad
        return (unbroadcast(gy, x0.shape) if n0 else None,
                unbroadcast(gy, x1.shape) if n1 else None)


def add(a: Any, b: Any) -> Tensor:
    """``a + b`` with broadcasting."""
    return _binary(Add, a, b, "add")


class Sub(Function):
    def forward(self, x0: Any, x1: Any) -> Any:
        return x0 - x1

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        n0, n1 = self.needs_input_grad
        return (unbroadcast(gy, x0.shape) if n0 else None,
                unbroadcast(-gy, x1.shape) if n1 else None)


def sub(a: Any, b: Any) -> Tensor:
    """``a - b`` with broadcasting."""
    return _binary(Sub, a, b, "sub")


class Mul(Function):
    def forward(self, x0: Any, x1: Any) -> Any:
        return x0 * x1

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        n0, n1 = self.needs_input_grad
        if backward_composes():  # recording or tracing: differentiable ops
            return (unbroadcast(gy * x1, x0.shape) if n0 else None,
                    unbroadcast(gy * x0, x1.shape) if n1 else None)
        g = gy.data  # first order: the same products in NumPy, no graph nodes
        return (unbroadcast(Tensor._const(g * x1.data), x0.shape) if n0 else None,
                unbroadcast(Tensor._const(g * x0.data), x1.shape) if n1 else None)


def mul(a: Any, b: Any) -> Tensor:
    """``a * b`` with broadcasting."""
    return _binary(Mul, a, b, "mul")


class Div(Function):
    def forward(self, x0: Any, x1: Any) -> Any:
        with numpy.errstate(divide="ignore", invalid="ignore"):  # 1/0 = inf, as torch
            return x0 / x1

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        n0, n1 = self.needs_input_grad
        g0 = gy / x1
        return (unbroadcast(g0, x0.shape) if n0 else None,
                unbroadcast(-g0 * x0 / x1, x1.shape) if n1 else None)


def div(a: Any, b: Any) -> Tensor:
    """``a / b`` (true division: integers give float32) with broadcasting."""
    if not (isinstance(a, Tensor) and a.data.dtype.kind == "f") and \
            not (isinstance(b, Tensor) and b.data.dtype.kind == "f"):
        dtype = result_dtype(a, b)
        if dtype.kind != "f":
            a, b = as_float(a), as_float(b)
    return _binary(Div, a, b, "div")


true_divide = div


class Neg(Function):
    def forward(self, x: Any) -> Any:
        return -x

    def backward(self, gy: Tensor) -> Tensor:
        return -gy


def neg(x: Any) -> Tensor:
    """``-x``."""
    return Neg()(x)


class PowScalar(Function):
    """``x ** c`` for a constant exponent ``c``."""

    def __init__(self, c: float) -> None:
        self.c = c

    def forward(self, x: Any) -> Any:
        with numpy.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 = inf, as torch
            return x ** self.c

    def backward(self, gy: Tensor) -> Tensor:
        (x,) = self.inputs
        if self.c == 0:
            return gy * 0
        return gy * (self.c * x ** (self.c - 1))


class Pow(Function):
    """``x0 ** x1`` for tensor base and tensor exponent."""

    def forward(self, x0: Any, x1: Any) -> Any:
        with numpy.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 = inf, as torch
            return x0 ** x1

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        n0, n1 = self.needs_input_grad
        g0 = g1 = None
        if n0:  # d/dx0 = x1 * x0**(x1-1), defined as 0 where the exponent is 0 (as PyTorch)
            zero_exp = x1 == 0
            g0 = unbroadcast(where(zero_exp, 0.0, gy * x1 * x0 ** where(zero_exp, 1.0, x1 - 1)),
                             x0.shape)
        if n1:  # d/dx1 = y * log(x0), defined as 0 where x0 == 0 and x1 >= 0 (as PyTorch)
            safe = where((x0 == 0) & (x1 >= 0), 1.0, x0)
            g1 = unbroadcast(where((x0 == 0) & (x1 >= 0), 0.0, gy * x0 ** x1 * log(safe)),
                             x1.shape)
        return g0, g1


def pow(x: Any, exponent: Any) -> Tensor:
    """``x ** exponent``; either side may be a tensor or a scalar.

    Example:
        >>> import chainrule as cr
        >>> cr.pow(cr.tensor([2.0, 3.0]), 2).tolist()
        [4.0, 9.0]
    """
    if isinstance(exponent, (int, float)) and not isinstance(exponent, bool) and \
            isinstance(x, Tensor):
        if x.data.dtype.kind != "f" and (isinstance(exponent, float) or exponent < 0):
            if exponent < 0 and isinstance(exponent, int):
                raise ValueError("pow: Integers to negative integer powers are not allowed "
                                 f"(tensor of dtype {x.dtype}, exponent {exponent})")
            x = as_float(x)
        return PowScalar(exponent)(x)
    return _binary(Pow, x, exponent, "pow")


# ============================================================================ unary math
class Exp(Function):
    saves_output = True

    def forward(self, x: Any) -> Any:
        return xp.exp(x)

    def backward(self, gy: Tensor) -> Tensor:
        y = self.output(0)
        if backward_composes():  # recording or tracing: differentiable ops
            return gy * y
        return Tensor._const(gy.data * y.data)  # first order, no graph


def exp(x: Any) -> Tensor:
    """Elementwise ``e ** x``."""
    return Exp()(as_float(x))


class Log(Function):
    def forward(self, x: Any) -> Any:
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return xp.log(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / self.inputs[0]


def log(x: Any) -> Tensor:
    """Elementwise natural logarithm (``log(0) = -inf``, as PyTorch, without a warning)."""
    return Log()(as_float(x))


class Sqrt(Function):
    saves_output = True

    def forward(self, x: Any) -> Any:
        with numpy.errstate(invalid="ignore"):
            return xp.sqrt(x)

    def backward(self, gy: Tensor) -> Tensor:
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return gy / (2 * self.output(0))


def sqrt(x: Any) -> Tensor:
    """Elementwise square root."""
    return Sqrt()(as_float(x))


class Abs(Function):
    def forward(self, x: Any) -> Any:
        return xp.abs(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * Tensor(xp.sign(self.inputs[0].data))  # sign(0) = 0, as PyTorch


def abs(x: Any) -> Tensor:
    """Elementwise absolute value (gradient 0 at 0)."""
    return Abs()(x)


class Sin(Function):
    def forward(self, x: Any) -> Any:
        return xp.sin(x)

    def backward(self, gy: Tensor) -> Tensor:
        if backward_composes():  # recording or tracing: differentiable ops
            return gy * cos(self.inputs[0])
        return Tensor._const(xp.cos(self.inputs[0].data) * gy.data)  # first order, no graph


def sin(x: Any) -> Tensor:
    """Elementwise sine."""
    return Sin()(as_float(x))


class Cos(Function):
    def forward(self, x: Any) -> Any:
        return xp.cos(x)

    def backward(self, gy: Tensor) -> Tensor:
        if backward_composes():  # recording or tracing: differentiable ops
            return -gy * sin(self.inputs[0])
        return Tensor._const(-xp.sin(self.inputs[0].data) * gy.data)  # first order, no graph


def cos(x: Any) -> Tensor:
    """Elementwise cosine."""
    return Cos()(as_float(x))


# ============================================================================ selection
class Where(Function):
    """``where(cond, a, b)``; ``cond`` is a constant held on the node."""

    def __init__(self, cond: Any) -> None:
        self.cond = cond

    def forward(self, x0: Any, x1: Any) -> Any:
        return xp.where(self.cond, x0, x1)

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        zero = Tensor(xp.zeros((), dtype=gy.dtype))
        n0, n1 = self.needs_input_grad
        return (unbroadcast(Where(self.cond)(gy, zero), x0.shape) if n0 else None,
                unbroadcast(Where(self.cond)(zero, gy), x1.shape) if n1 else None)


def where(condition: Any, input: Any, other: Any) -> Tensor:
    """Pick ``input`` where ``condition`` holds, else ``other`` (broadcasting all three).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([-1.0, 2.0])
        >>> cr.where(x > 0, x, 0.0).tolist()
        [0.0, 2.0]
    """
    cond = condition.data if isinstance(condition, Tensor) else xp.asarray(condition)
    if cond.dtype != numpy.bool_:
        raise TypeError(f"where: expected condition to be a boolean tensor, got {cond.dtype}")
    dtype = result_dtype(input, other)
    a, b = as_operand(input, dtype), as_operand(other, dtype)
    for s in (a.shape, b.shape):
        err = broadcast_error("where", cond.shape, s)
        if err is not None:
            raise err
    return Where(cond)(a, b)


class Maximum(Function):
    def forward(self, x0: Any, x1: Any) -> Any:
        return xp.maximum(x0, x1)

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        a, b = x0.data, x1.data
        # ties split the gradient evenly, as torch.maximum does
        m0 = Tensor(((a > b) + 0.5 * (a == b)).astype(gy.dtype))
        m1 = Tensor(((a < b) + 0.5 * (a == b)).astype(gy.dtype))
        return unbroadcast(gy * m0, x0.shape), unbroadcast(gy * m1, x1.shape)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise maximum (ties share the gradient equally)."""
    return _binary(Maximum, a, b, "maximum")


class Minimum(Function):
    def forward(self, x0: Any, x1: Any) -> Any:
        return xp.minimum(x0, x1)

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        a, b = x0.data, x1.data
        m0 = Tensor(((a < b) + 0.5 * (a == b)).astype(gy.dtype))
        m1 = Tensor(((a > b) + 0.5 * (a == b)).astype(gy.dtype))
        return unbroadcast(gy * m0, x0.shape), unbroadcast(gy * m1, x1.shape)


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise minimum (ties share the gradient equally)."""
    return _binary(Minimum, a, b, "minimum")


class Clamp(Function):
    def __init__(self, lo: Optional[float], hi: Optional[float]) -> None:
        self.lo, self.hi = lo, hi

    def forward(self, x: Any) -> Any:
        return xp.clip(x, self.lo, self.hi)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0].data
        mask = xp.ones(x.shape, dtype=bool)
        if self.lo is not None:
            mask &= x >= self.lo
        if self.hi is not None:
            mask &= x <= self.hi
        return gy * Tensor(mask.astype(gy.dtype))  # the bounds themselves pass the gradient


def clamp(x: Any, min: Optional[float] = None, max: Optional[float] = None) -> Tensor:
    """Clamp every element into ``[min, max]``; the gradient is 1 inside (bounds included)."""
    if min is None and max is None:
        raise ValueError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        out = x
        if min is not None:
            out = maximum(out, min)
        if max is not None:
            out = minimum(out, max)
        return out
    return Clamp(min, max)(x)


clip = clamp


# ============================================================================ casts and copies
class Cast(Function):
    def __init__(self, dtype: Any) -> None:
        self.dtype = numpy.dtype(dtype)

    def forward(self, x: Any) -> Any:
        return x.astype(self.dtype)

    def backward(self, gy: Tensor) -> Tensor:
        return Cast(self.inputs[0].dtype)(gy)


def cast(x: Tensor, dtype: Any) -> Tensor:
    """``x`` converted to ``dtype``; differentiable between float dtypes."""
    dtype = numpy.dtype(dtype)
    if x.dtype == dtype:
        return x
    if dtype.kind != "f" and x.requires_grad:
        return Tensor(x.data.astype(dtype))  # leaves the graph, as PyTorch does
    return Cast(dtype)(x)


class Clone(Function):
    def forward(self, x: Any) -> Any:
        return x.copy()

    def backward(self, gy: Tensor) -> Tensor:
        return gy


def clone(x: Tensor) -> Tensor:
    """A copy of ``x`` that stays in the graph."""
    return Clone()(x)


# ============================================================================ comparisons
def _compare(ufunc: Any, a: Any, b: Any, op: str) -> Tensor:
    da = a.data if isinstance(a, Tensor) else a
    db = b.data if isinstance(b, Tensor) else b
    err = broadcast_error(op, xp.shape(da), xp.shape(db))
    if err is not None:
        raise err
    return Tensor(ufunc(da, db))


def eq(a: Any, b: Any) -> Tensor:
    """Elementwise ``a == b`` as a bool tensor (not differentiable)."""
    return _compare(xp.equal, a, b, "eq")


def ne(a: Any, b: Any) -> Tensor:
    return _compare(xp.not_equal, a, b, "ne")


def lt(a: Any, b: Any) -> Tensor:
    return _compare(xp.less, a, b, "lt")


def le(a: Any, b: Any) -> Tensor:
    return _compare(xp.less_equal, a, b, "le")


def gt(a: Any, b: Any) -> Tensor:
    return _compare(xp.greater, a, b, "gt")


def ge(a: Any, b: Any) -> Tensor:
    return _compare(xp.greater_equal, a, b, "ge")


def logical_and(a: Any, b: Any) -> Tensor:
    return _compare(xp.logical_and, a, b, "logical_and")


def logical_or(a: Any, b: Any) -> Tensor:
    return _compare(xp.logical_or, a, b, "logical_or")


def logical_not(a: Any) -> Tensor:
    return Tensor(xp.logical_not(a.data if isinstance(a, Tensor) else a))


def sign(x: Any) -> Tensor:
    """Elementwise sign (not differentiable: a constant)."""
    return Tensor(xp.sign(x.data if isinstance(x, Tensor) else x))


def isfinite(x: Any) -> Tensor:
    return Tensor(xp.isfinite(x.data if isinstance(x, Tensor) else x))


def allclose(a: Any, b: Any, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    return bool(xp.allclose(a.data if isinstance(a, Tensor) else a,
                            b.data if isinstance(b, Tensor) else b, rtol=rtol, atol=atol))
