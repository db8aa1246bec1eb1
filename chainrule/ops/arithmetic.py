"""Elementwise arithmetic: the binary operators, the unary math functions, where/clamp/casts.

Each op: a Function with forward (on arrays) and backward (on Tensors, differentiable), then
its lowercase wrapper. Binary ops promote dtypes by PyTorch's rule and call ``unbroadcast``.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import broadcast_error, write_out
from .dtypes import as_float, as_operand, cast, result_dtype  # noqa: F401 (cast: public here too)
from .shape import sum_to_shape, unbroadcast


def _binary(fn_cls: type, a: Any, b: Any, op: str) -> Tensor:
    """Promote ``a`` and ``b`` to their result dtype and apply ``fn_cls``; clear shape errors."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a._data.dtype != b._data.dtype:
                a, b = _promote(a, b)
        elif type(b) in _PY_NUMBERS and a._data.dtype.kind == "f":
            b = Tensor._const(numpy.asarray(b, a._data.dtype))
        else:
            a, b = _promote(a, b)
    elif type(a) in _PY_NUMBERS and isinstance(b, Tensor) and b._data.dtype.kind == "f":
        a = Tensor._const(numpy.asarray(a, b._data.dtype))
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
    derivative = ("1", "1")
    elementwise = True

    def forward(self, x0: Any, x1: Any) -> Any:
        return x0 + x1

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        n0, n1 = self.needs_input_grad
        return (unbroadcast(gy, x0.shape) if n0 else None,
                unbroadcast(gy, x1.shape) if n1 else None)


def add(input: Any, other: Any, *, alpha: Any = 1, out: Optional[Tensor] = None) -> Tensor:
    """``input + alpha * other`` with broadcasting.

    Example:
        >>> import chainrule as cr
        >>> cr.add(cr.ones(2), cr.ones(2), alpha=3).tolist()
        [4.0, 4.0]
    """
    if alpha != 1:
        other = mul(other, alpha)
    y = _binary(Add, input, other, "add")
    return y if out is None else write_out(y, out, "add")


class Sub(Function):
    derivative = ("1", "-1")
    elementwise = True

    def forward(self, x0: Any, x1: Any) -> Any:
        return x0 - x1

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        n0, n1 = self.needs_input_grad
        return (unbroadcast(gy, x0.shape) if n0 else None,
                unbroadcast(-gy, x1.shape) if n1 else None)


def sub(input: Any, other: Any, *, alpha: Any = 1, out: Optional[Tensor] = None) -> Tensor:
    """``input - alpha * other`` with broadcasting.

    Example:
        >>> import chainrule as cr
        >>> cr.sub(cr.ones(2), cr.ones(2), alpha=3).tolist()
        [-2.0, -2.0]
    """
    if alpha != 1:
        other = mul(other, alpha)
    y = _binary(Sub, input, other, "sub")
    return y if out is None else write_out(y, out, "sub")


class Mul(Function):
    derivative = ("{x1}", "{x0}")
    elementwise = True

    def forward(self, x0: Any, x1: Any) -> Any:
        return x0 * x1

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        n0, n1 = self.needs_input_grad
        return (unbroadcast(gy * x1, x0.shape) if n0 else None,
                unbroadcast(gy * x0, x1.shape) if n1 else None)

    def fast_backward(self, gy: Any) -> tuple:
        x0, x1 = self.inputs
        n0, n1 = self.needs_input_grad
        return (sum_to_shape(gy * x1._data, x0.shape) if n0 else None,
                sum_to_shape(gy * x0._data, x1.shape) if n1 else None)


def mul(input: Any, other: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """``a * b`` with broadcasting."""
    y = _binary(Mul, input, other, "mul")
    return y if out is None else write_out(y, out, "mul")


class Div(Function):
    derivative = ("1/{x1}", "-{x0}/{x1}^2")
    elementwise = True

    def forward(self, x0: Any, x1: Any) -> Any:
        with numpy.errstate(divide="ignore", invalid="ignore", over="ignore"):  # 1/0: inf
            return x0 / x1

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        n0, n1 = self.needs_input_grad
        # -gy * ((x0 / x1) / x1), grouped as torch's: huge and tiny values overflow and
        # underflow as there (gy / x1 * x0 / x1 can give inf where torch gives 0 or NaN)
        return (unbroadcast(gy / x1, x0.shape) if n0 else None,
                unbroadcast(-gy * (x0 / x1 / x1), x1.shape) if n1 else None)


def div(input: Any, other: Any, *, rounding_mode: Optional[str] = None,
        out: Optional[Tensor] = None) -> Tensor:
    """``a / b`` with broadcasting: true division (integers give float32), or rounded.

    Args:
        input: the dividend.
        other: the divisor.
        rounding_mode: None (true division), ``'trunc'`` (toward zero) or ``'floor'``
            (down, as Python's ``//``); rounded results keep integer dtypes and have
            gradient 0, as PyTorch's.
        out: the tensor to write the result into.

    Example:
        >>> import chainrule as cr
        >>> cr.div(cr.tensor([-7, 7]), 2, rounding_mode="trunc").tolist()
        [-3, 3]
    """
    if rounding_mode is not None:
        y = _div_rounded(input, other, rounding_mode)
    else:
        y = _true_divide(input, other)
    return y if out is None else write_out(y, out, "div")


def _true_divide(input: Any, other: Any) -> Tensor:
    if not (isinstance(input, Tensor) and input._data.dtype.kind == "f") and \
            not (isinstance(other, Tensor) and other._data.dtype.kind == "f"):
        dtype = result_dtype(input, other)
        if dtype.kind != "f":
            input, other = as_float(input), as_float(other)
    return _binary(Div, input, other, "div")


def true_divide(input: Any, other: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """``a / b``: :func:`div` without rounding."""
    return div(input, other, out=out)


class DivRounded(Function):
    """``a / b`` rounded toward zero (``'trunc'``) or down (``'floor'``): steps, gradient 0."""

    derivative = ("0 (a step function)", "0 (a step function)")

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def forward(self, x0: Any, x1: Any) -> Any:
        q = _divide(xp.floor_divide, x0, x1, "div")
        if self.mode == "floor":
            return q
        if x0.dtype.kind == "f":
            with numpy.errstate(divide="ignore", invalid="ignore"):
                return xp.trunc(x0 / x1)
        # integers: floor, then one up where the exact quotient is negative and not whole
        return q + ((q < 0) & (x0 - q * x1 != 0))

    def backward(self, gy: Tensor) -> tuple:
        return tuple(Tensor._const(xp.zeros(x.shape, gy.dtype)) if n else None
                     for x, n in zip(self.inputs, self.needs_input_grad))


def _div_rounded(input: Any, other: Any, mode: str) -> Tensor:
    if mode not in ("trunc", "floor"):
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' "
                         f"but found '{mode}'")
    _no_bool(input, other, "div")
    return _binary(lambda: DivRounded(mode), input, other, "div")


def _divide(ufunc: Any, x0: Any, x1: Any, op: str) -> Any:
    """``ufunc(x0, x1)`` for // and %: integer division by zero is an error, as in PyTorch;
    floats give inf and nan without warnings."""
    if x1.dtype.kind in "iu" and not xp.all(x1):
        raise RuntimeError(f"{op}: ZeroDivisionError (integer division by zero)")
    with numpy.errstate(divide="ignore", invalid="ignore"):
        return ufunc(x0, x1)


class FloorDivide(Function):
    """floor(a / b) as Python's ``//`` rounds it; not differentiable, as in PyTorch."""

    derivative = "not differentiable (a step function)"

    def forward(self, x0: Any, x1: Any) -> Any:
        return _divide(xp.floor_divide, x0, x1, "floor_divide")  # 1.0 // 0 = inf, as torch

    def backward(self, gy: Tensor) -> tuple:
        raise RuntimeError("derivative for floor_divide is not implemented (as in PyTorch: "
                           "its gradient is zero almost everywhere and undefined at the steps)")


class Remainder(Function):
    """a - floor(a / b) * b, with the sign of b (Python's ``%``); d/da = 1, d/db = -floor(a/b)."""

    derivative = ("1", "-floor({x0}/{x1})")

    def forward(self, x0: Any, x1: Any) -> Any:
        return _divide(xp.remainder, x0, x1, "remainder")  # 1.0 % 0 = nan, as torch

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        n0, n1 = self.needs_input_grad
        # floor(a / b) is a step function: a constant to the gradient
        quotient = Tensor._const(_divide(xp.floor_divide, x0._data, x1._data, "remainder"))
        return (unbroadcast(gy, x0.shape) if n0 else None,
                unbroadcast(-gy * quotient, x1.shape) if n1 else None)


def _no_bool(input: Any, other: Any, op: str) -> None:
    if result_dtype(input, other) == numpy.bool_:
        raise TypeError(f"{op}: not implemented for bool tensors (as in PyTorch)")


def floor_divide(input: Any, other: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """``input // other``: the quotient rounded down, with broadcasting.

    Integer tensors stay integer (division by zero raises); floats follow Python's ``//``
    (``-7.0 // 2 == -4.0``). Not differentiable: backward raises, as in PyTorch.

    Example:
        >>> import chainrule as cr
        >>> (cr.tensor([7, -7]) // 2).tolist(), (cr.tensor([7.5]) // 2).tolist()
        ([3, -4], [3.0])
    """
    _no_bool(input, other, "floor_divide")
    y = _binary(FloorDivide, input, other, "floor_divide")
    return y if out is None else write_out(y, out, "floor_divide")


def remainder(input: Any, other: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """``input % other``: the remainder with the sign of ``other``, as Python's ``%``.

    Gradient 1 for ``input`` and ``-floor(input / other)`` for ``other``, as PyTorch's.

    Example:
        >>> import chainrule as cr
        >>> (cr.tensor([7, -7]) % 3).tolist(), (cr.tensor([5.5]) % -2).tolist()
        ([1, 2], [-0.5])
    """
    _no_bool(input, other, "remainder")
    y = _binary(Remainder, input, other, "remainder")
    return y if out is None else write_out(y, out, "remainder")


class Neg(Function):
    derivative = "-1"
    elementwise = True

    def forward(self, x: Any) -> Any:
        return -x

    def backward(self, gy: Tensor) -> Tensor:
        return -gy


def neg(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """``-x``."""
    y = Neg()(input)
    return y if out is None else write_out(y, out, "neg")


class PowScalar(Function):
    """``x ** c`` for a constant exponent ``c``."""

    node_name = "PowBackward0"  # PyTorch's name for the same op

    derivative = "c*{x0}^(c-1)"
    elementwise = True

    def __init__(self, c: float) -> None:
        self.c = c

    def local_derivative(self, i: int, number: Any = str) -> str:
        c = self.c
        return f"{number(c)}*{{x0}}" + ("" if c == 2 else f"^{number(c - 1)}")

    def forward(self, x: Any) -> Any:
        with numpy.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 = inf, as torch
            if self.c == -0.5 and x.dtype.kind == "f":
                # torch computes x ** -0.5 as rsqrt: rsqrt(-0.0) = -inf and rsqrt(-inf) = NaN,
                # where C's pow gives inf and 0 (NumPy already takes sqrt for 0.5, 1/x for -1)
                return 1 / xp.sqrt(x)
            return x ** self.c

    def backward(self, gy: Tensor) -> Tensor:
        (x,) = self.inputs
        if self.c == 0:  # zeros, as torch (not gy * 0, which is NaN for an inf gy)
            return Tensor._const(xp.zeros(x.shape, gy.dtype))
        return gy * (self.c * x ** (self.c - 1))


class Pow(Function):
    """``x0 ** x1`` for tensor base and tensor exponent."""

    node_name = "PowBackward1"  # PyTorch's name for the same op

    derivative = ("{x1}*{x0}^({x1}-1)", "{x0}^{x1}*log({x0})")
    elementwise = True

    def forward(self, x0: Any, x1: Any) -> Any:
        with numpy.errstate(divide="ignore", invalid="ignore"):  # 0 ** -1 = inf, as torch
            return x0 ** x1

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        n0, n1 = self.needs_input_grad
        g0 = g1 = None
        # torch's formulas and groupings (huge and tiny values overflow as there)
        if n0:  # d/dx0 = x1 * x0**(x1-1), 0 where the exponent is 0, whatever gy is
            zero_exp = x1 == 0
            g0 = unbroadcast(where(zero_exp, 0.0, gy * (x1 * x0 ** where(zero_exp, 1.0, x1 - 1))),
                             x0.shape)
        if n1:  # d/dx1 = y * log(x0), 0 where x0 == 0 and x1 >= 0 (there gy * 0: NaN for inf)
            zero_base = (x0 == 0) & (x1 >= 0)
            g1 = unbroadcast(gy * where(zero_base, 0.0, x0 ** x1 * log(where(zero_base, 1.0, x0))),
                             x1.shape)
        return g0, g1


def pow(input: Any, exponent: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """``x ** exponent``; either side may be a tensor or a scalar.

    Example:
        >>> import chainrule as cr
        >>> cr.pow(cr.tensor([2.0, 3.0]), 2).tolist()
        [4.0, 9.0]
    """
    y = _pow(input, exponent)
    return y if out is None else write_out(y, out, "pow")


def _pow(input: Any, exponent: Any) -> Tensor:
    if isinstance(exponent, (int, float)) and not isinstance(exponent, bool) and \
            isinstance(input, Tensor):
        if input._data.dtype.kind != "f" and (isinstance(exponent, float) or exponent < 0):
            if exponent < 0 and isinstance(exponent, int):
                raise OpError("pow: Integers to negative integer powers are not allowed "
                              f"(tensor of dtype {input.dtype}, exponent {exponent})")
            input = as_float(input)
        return PowScalar(exponent)(input)
    return _binary(Pow, input, exponent, "pow")


# ============================================================================ unary math
class Exp(Function):
    derivative = "exp({x0}) = {y}"
    elementwise = True

    saves_output = True

    def forward(self, x: Any) -> Any:
        return xp.exp(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * self.output(0)

    def fast_backward(self, gy: Any) -> Any:
        return gy * self.output(0)._data


def exp(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise ``e ** x``."""
    y = Exp()(as_float(input))
    return y if out is None else write_out(y, out, "exp")


class Reciprocal(Function):
    derivative = "-1/{x0}^2 = -{y}^2"
    elementwise = True

    saves_output = True

    def forward(self, x: Any) -> Any:
        with numpy.errstate(divide="ignore", over="ignore"):  # 1/0 and 1/tiny: inf
            return 1 / x

    def backward(self, gy: Tensor) -> Tensor:
        y = self.output(0)
        return -gy * (y * y)  # torch's grouping: y * y first (tiny y underflow as there)


def reciprocal(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise ``1 / x`` (integers give float32). ``c / x`` for a number ``c`` is
    ``reciprocal(x) * c``, as in PyTorch, so it overflows and underflows where PyTorch does.

    Example:
        >>> import chainrule as cr
        >>> cr.reciprocal(cr.tensor([2.0, 0.0])).tolist()
        [0.5, inf]
    """
    y = Reciprocal()(as_float(input))
    return y if out is None else write_out(y, out, "reciprocal")


class Log(Function):
    derivative = "1/{x0}"
    elementwise = True

    def forward(self, x: Any) -> Any:
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return xp.log(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / self.inputs[0]


def log(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise natural logarithm (``log(0) = -inf``, as PyTorch, without a warning)."""
    y = Log()(as_float(input))
    return y if out is None else write_out(y, out, "log")


class Sqrt(Function):
    derivative = "1/(2*sqrt({x0}))"
    elementwise = True

    saves_output = True

    def forward(self, x: Any) -> Any:
        with numpy.errstate(invalid="ignore"):
            return xp.sqrt(x)

    def backward(self, gy: Tensor) -> Tensor:
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return gy / (2 * self.output(0))


def sqrt(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise square root."""
    y = Sqrt()(as_float(input))
    return y if out is None else write_out(y, out, "sqrt")


class Abs(Function):
    derivative = "sign({x0})"
    elementwise = True

    def forward(self, x: Any) -> Any:
        return xp.abs(x)

    def backward(self, gy: Tensor) -> Tensor:
        # sign(0) = 0, as PyTorch; sign is a graph op (zero derivative), so a second
        # derivative through abs is 0, not "does not require grad"
        return gy * sign(self.inputs[0])


def abs(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise absolute value (gradient 0 at 0)."""
    y = Abs()(input)
    return y if out is None else write_out(y, out, "abs")


class Sin(Function):
    derivative = "cos({x0})"
    elementwise = True

    def forward(self, x: Any) -> Any:
        return xp.sin(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * cos(self.inputs[0])

    def fast_backward(self, gy: Any) -> Any:
        return xp.cos(self.inputs[0]._data) * gy


def sin(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise sine."""
    y = Sin()(as_float(input))
    return y if out is None else write_out(y, out, "sin")


class Cos(Function):
    derivative = "-sin({x0})"
    elementwise = True

    def forward(self, x: Any) -> Any:
        return xp.cos(x)

    def backward(self, gy: Tensor) -> Tensor:
        return -gy * sin(self.inputs[0])

    def fast_backward(self, gy: Any) -> Any:
        return -xp.sin(self.inputs[0]._data) * gy


def cos(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise cosine."""
    y = Cos()(as_float(input))
    return y if out is None else write_out(y, out, "cos")


# ============================================================================ selection
class Where(Function):
    """``where(cond, a, b)``; ``cond`` is a constant held on the node."""

    derivative = ("1 where the condition holds, else 0", "0 where the condition holds, else 1")
    elementwise = True

    def __init__(self, cond: Any) -> None:
        self.cond = cond

    def forward(self, x0: Any, x1: Any) -> Any:
        return xp.where(self.cond, x0, x1)

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        n0, n1 = self.needs_input_grad
        return (unbroadcast(keep_where(self.cond, gy), x0.shape) if n0 else None,
                unbroadcast(keep_where(~self.cond, gy), x1.shape) if n1 else None)


def keep_where(keep: Any, gy: Tensor) -> Tensor:
    """``gy`` where the bool array ``keep`` holds, else exactly 0: a masked backward.

    As PyTorch's ``where(mask, grad, 0)``: ``gy * mask`` would give NaN where an inf or NaN
    gradient meets a 0 (e.g. ``relu(x).sqrt()`` at x < 0 sends inf back into relu).
    Differentiable in ``gy`` (a :class:`Where`), so double backward works.

    Args:
        keep: a bool array, broadcastable to ``gy``.
        gy: the gradient to mask.

    Shape:
        the broadcast of ``keep`` and ``gy``.

    Example:
        >>> import numpy as np, chainrule as cr
        >>> keep_where(np.array([False, True]), cr.tensor([float("inf"), 2.0])).tolist()
        [0.0, 2.0]
    """
    return Where(keep)(gy, Tensor(xp.zeros((), dtype=gy.dtype)))


def keep_where_array(keep: Any, gy: Any) -> Any:
    """:func:`keep_where` on arrays, for the fast backwards: a multiply by the mask while
    every gradient is finite (about 5-10x faster than ``np.where`` on a random mask), else
    ``np.where`` (a finite sum tells: an inf or NaN anywhere makes the sum inf or NaN).

    Example:
        >>> import numpy as np
        >>> keep_where_array(np.array([False, True]), np.array([np.nan, 2.0])).tolist()
        [0.0, 2.0]
    """
    with numpy.errstate(invalid="ignore", over="ignore"):  # inf - inf, overflow: not finite
        finite = math.isfinite(gy.sum())
    if finite:
        return xp.multiply(gy, keep)
    return xp.where(keep, gy, gy.dtype.type(0))


def where(condition: Any, input: Any, other: Any, *,
          out: Optional[Tensor] = None) -> Tensor:
    """Pick ``input`` where ``condition`` holds, else ``other`` (broadcasting all three).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([-1.0, 2.0])
        >>> cr.where(x > 0, x, 0.0).tolist()
        [0.0, 2.0]
    """
    y = _where(condition, input, other)
    return y if out is None else write_out(y, out, "where", same_dtype=True)


def _where(condition: Any, input: Any, other: Any) -> Tensor:
    cond = condition._data if isinstance(condition, Tensor) else xp.asarray(condition)
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
    derivative = ("1 where {x0} > {x1}, 1/2 at ties", "1 where {x1} > {x0}, 1/2 at ties")
    elementwise = True

    def forward(self, x0: Any, x1: Any) -> Any:
        return xp.maximum(x0, x1)

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        a, b = x0._data, x1._data
        n0, n1 = self.needs_input_grad
        return (_extremum_grad(gy, a < b, a == b, x0.shape) if n0 else None,
                _extremum_grad(gy, a > b, a == b, x1.shape) if n1 else None)


def _extremum_grad(gy: Tensor, loses: Any, ties: Any, shape: tuple[int, ...]) -> Tensor:
    """One side's gradient through maximum or minimum, as torch's: ``gy``, halved at ties,
    exactly 0 where this side loses (also for an inf gy); where either side is NaN (no order
    holds) each side gets the whole ``gy``."""
    if ties.any():
        gy = gy * Tensor(xp.where(ties, 0.5, 1.0).astype(gy.dtype))
    return unbroadcast(keep_where(~loses, gy), shape)


def maximum(input: Any, other: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise maximum (ties share the gradient equally; NaN gives it to both sides).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0, float("nan")], requires_grad=True)
        >>> cr.maximum(x, cr.tensor([2.0, 2.0, 0.0])).sum().backward()
        >>> x.grad.tolist()
        [0.0, 0.5, 1.0]
    """
    y = _binary(Maximum, input, other, "maximum")
    return y if out is None else write_out(y, out, "maximum")


class Minimum(Function):
    derivative = ("1 where {x0} < {x1}, 1/2 at ties", "1 where {x1} < {x0}, 1/2 at ties")
    elementwise = True

    def forward(self, x0: Any, x1: Any) -> Any:
        return xp.minimum(x0, x1)

    def backward(self, gy: Tensor) -> tuple:
        x0, x1 = self.inputs
        a, b = x0._data, x1._data
        n0, n1 = self.needs_input_grad
        return (_extremum_grad(gy, a > b, a == b, x0.shape) if n0 else None,
                _extremum_grad(gy, a < b, a == b, x1.shape) if n1 else None)


def minimum(input: Any, other: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise minimum (ties share the gradient equally; NaN gives it to both sides)."""
    y = _binary(Minimum, input, other, "minimum")
    return y if out is None else write_out(y, out, "minimum")


class Clamp(Function):
    node_name = "ClampBackward1"  # PyTorch's name for the same op
    derivative = "1 inside [min, max], else 0"
    elementwise = True

    def __init__(self, lo: Optional[float], hi: Optional[float]) -> None:
        self.lo, self.hi = lo, hi

    def forward(self, x: Any) -> Any:
        # at ties x itself, as torch (clamp(-0.0, min=0) is -0.0): NumPy's maximum and minimum
        # return their second operand there, and clip with both bounds keeps x
        if self.hi is None:
            return xp.maximum(self.lo, x)
        if self.lo is None:
            return xp.minimum(self.hi, x)
        return xp.clip(x, self.lo, self.hi)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]._data
        mask = xp.ones(x.shape, dtype=bool)
        if self.lo is not None:
            mask &= x >= self.lo
        if self.hi is not None:
            mask &= x <= self.hi
        return keep_where(mask, gy)  # the bounds themselves pass the gradient; NaN x does not


class ClampTensor(Function):
    """``clamp`` with tensor bounds (``lo`` or ``hi`` may be None), all three broadcast.

    PyTorch's gradients: ``x`` gets ``gy`` where ``lo <= x <= hi`` (ties included, so a bound
    equal to ``x`` gets nothing); ``lo`` where ``x < lo < hi``; ``hi`` where ``x > hi`` or
    ``hi < lo`` (the result is then ``hi``).
    """

    node_name = "ClampBackward0"  # PyTorch's name for the same op

    derivative = ("1 where min <= {x0} <= max, else 0", "1 where {x0} < min < max, else 0", "1 where {x0} > max or max < min, else 0")

    def forward(self, x: Any, lo: Any, hi: Any) -> Any:
        y = x if lo is None else xp.maximum(x, lo)
        return y if hi is None else xp.minimum(y, hi)

    def backward(self, gy: Tensor) -> tuple:
        x, lo, hi = self.inputs
        xd = x._data
        if lo is not None and hi is not None:
            keep = (xd >= lo._data) & (xd <= hi._data)
            to_lo = (xd < lo._data) & (lo._data < hi._data)
            to_hi = (xd > hi._data) | (hi._data < lo._data)
        elif lo is not None:
            keep, to_lo, to_hi = xd >= lo._data, xd < lo._data, None
        else:
            keep, to_lo, to_hi = xd <= hi._data, None, xd > hi._data
        n_x, n_lo, n_hi = self.needs_input_grad
        return (unbroadcast(keep_where(keep, gy), x.shape) if n_x else None,
                unbroadcast(keep_where(to_lo, gy), lo.shape) if n_lo else None,
                unbroadcast(keep_where(to_hi, gy), hi.shape) if n_hi else None)


def clamp(input: Any, min: Any = None, max: Any = None, *,
          out: Optional[Tensor] = None) -> Tensor:
    """Clamp every element into ``[min, max]``; the gradient is 1 inside (bounds included).

    Args:
        input: the input.
        min: lower bound, a number or a tensor (broadcast), or None.
        max: upper bound, a number or a tensor (broadcast), or None.

    The result's dtype is PyTorch's: an integer tensor clamped by a float bound is float32.
    With tensor bounds, a bound receives the gradient where it is the output, as in PyTorch.

    Example:
        >>> import chainrule as cr
        >>> cr.clamp(cr.tensor([-2.0, 0.5, 3.0]), -1.0, 1.0).tolist()
        [-1.0, 0.5, 1.0]
        >>> cr.clamp(cr.tensor([1, 5]), 2.5).tolist()
        [2.5, 5.0]
    """
    y = _clamp(input, min, max)
    return y if out is None else write_out(y, out, "clamp", same_dtype=True)


def _clamp(input: Any, min: Any = None, max: Any = None) -> Tensor:
    if min is None and max is None:
        raise OpError("clamp: at least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        bounds = [b for b in (min, max) if b is not None]
        dtype = result_dtype(input, *bounds)
        input = as_operand(input, dtype)
        lo = None if min is None else as_operand(min, dtype)
        hi = None if max is None else as_operand(max, dtype)
        for b in (lo, hi):
            err = None if b is None else broadcast_error("clamp", input.shape, b.shape)
            if err is not None:
                raise err
        return ClampTensor()(input, lo, hi)
    if not isinstance(input, Tensor):
        input = Tensor(xp.asarray(input))
    # number bounds are weak, as torch's: a NumPy float64 or int64 keeps a float32 tensor
    lo, hi = (b.item() if isinstance(b, numpy.generic) else b for b in (min, max))
    if input._data.dtype.kind != "f":  # an integer tensor and a float bound: float32, as torch
        input = as_operand(input, result_dtype(input, *[b for b in (lo, hi) if b is not None]))
    return Clamp(lo, hi)(input)


clip = clamp


# ============================================================================ casts and copies
class Clone(Function):
    derivative = "1"
    elementwise = True

    def forward(self, x: Any) -> Any:
        return x.copy()

    def backward(self, gy: Tensor) -> Tensor:
        return gy


def clone(input: Tensor) -> Tensor:
    """A copy of ``x`` that stays in the graph."""
    return Clone()(input)


# ============================================================================ comparisons
def compare(ufunc: Any, a: Any, b: Any, op: str, out: Optional[Tensor] = None) -> Tensor:
    """``ufunc(a, b)`` as a tensor outside the graph (comparisons, logical ops), broadcasting
    checked, written into ``out`` when given."""
    da = a._data if isinstance(a, Tensor) else a
    db = b._data if isinstance(b, Tensor) else b
    err = broadcast_error(op, xp.shape(da), xp.shape(db))
    if err is not None:
        raise err
    y = Tensor(ufunc(da, db))
    return y if out is None else write_out(y, out, op)


def eq(input: Any, other: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise ``a == b`` as a bool tensor (not differentiable)."""
    return compare(xp.equal, input, other, "eq", out)


def ne(input: Any, other: Any, *, out: Optional[Tensor] = None) -> Tensor:
    return compare(xp.not_equal, input, other, "ne", out)


def lt(input: Any, other: Any, *, out: Optional[Tensor] = None) -> Tensor:
    return compare(xp.less, input, other, "lt", out)


def le(input: Any, other: Any, *, out: Optional[Tensor] = None) -> Tensor:
    return compare(xp.less_equal, input, other, "le", out)


def gt(input: Any, other: Any, *, out: Optional[Tensor] = None) -> Tensor:
    return compare(xp.greater, input, other, "gt", out)


def ge(input: Any, other: Any, *, out: Optional[Tensor] = None) -> Tensor:
    return compare(xp.greater_equal, input, other, "ge", out)


def logical_and(input: Any, other: Any, *, out: Optional[Tensor] = None) -> Tensor:
    return compare(xp.logical_and, input, other, "logical_and", out)


def logical_or(input: Any, other: Any, *, out: Optional[Tensor] = None) -> Tensor:
    return compare(xp.logical_or, input, other, "logical_or", out)


def logical_not(input: Any) -> Tensor:
    return Tensor(xp.logical_not(input._data if isinstance(input, Tensor) else input))


class Sign(Function):
    derivative = "0"

    def forward(self, x: Any) -> Any:
        y = xp.sign(x, out=xp.empty_like(x))  # (out=: a 0-d result stays an array)
        if y.dtype.kind == "f":
            xp.copyto(y, 0, where=xp.isnan(y))  # sign(NaN) = 0, as PyTorch
        return y

    def backward(self, gy: Tensor) -> Tensor:
        return Tensor._const(xp.zeros_like(gy._data))  # a zero gradient, as PyTorch's


def sign(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise sign: -1, 0 or 1 (0 for NaN, as PyTorch; a bool tensor is returned as is).

    As PyTorch, the result of a tensor that requires grad is in the graph, with gradient 0.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([-2.0, 0.0, 3.0], requires_grad=True)
        >>> y = cr.sign(x)
        >>> y.tolist(), y.requires_grad
        ([-1.0, 0.0, 1.0], True)
    """
    y = _sign(input)
    return y if out is None else write_out(y, out, "sign")


def _sign(input: Any) -> Tensor:
    if isinstance(input, Tensor) and input._data.dtype == numpy.bool_:
        return Tensor(input._data.copy())  # NumPy has no bool sign; torch's is the identity
    return Sign()(input)


def isfinite(input: Any) -> Tensor:
    return Tensor(xp.isfinite(input._data if isinstance(input, Tensor) else input))


def allclose(input: Any, other: Any, rtol: float = 1e-5, atol: float = 1e-8) -> bool:
    return bool(xp.allclose(input._data if isinstance(input, Tensor) else input,
                            other._data if isinstance(other, Tensor) else other,
                            rtol=rtol, atol=atol))
