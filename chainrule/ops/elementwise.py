"""More elementwise math: log1p, expm1, erf, log2/log10, the rounding steps, and the ops composed
from the primitives (square, rsqrt, frac, clamp_min/clamp_max, lerp), with isnan/isinf.

Each op as in :mod:`.arithmetic`: a Function with forward (arrays) and a differentiable
backward, then its wrapper; the wrappers take PyTorch's ``out=``.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ..kernels import compiled_for
from ._util import write_out
from .arithmetic import PowScalar, clamp, exp
from .dtypes import as_float, as_operand
from .shape import unbroadcast


def _done(y: Tensor, out: Optional[Tensor], op: str) -> Tensor:
    """``y``, or ``y`` written into ``out`` (PyTorch's ``out=``)."""
    return y if out is None else write_out(y, out, op)


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(xp.asarray(x))


# ============================================================================ logarithms & co
class Log1p(Function):
    node_name = "Log1PBackward0"  # PyTorch's name for the same op
    derivative = "1/(1 + {x0})"
    elementwise = True

    def forward(self, x: Any) -> Any:
        with numpy.errstate(divide="ignore", invalid="ignore"):  # log1p(-1) = -inf, as torch
            return xp.log1p(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / (self.inputs[0] + 1)


def log1p(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise ``log(1 + x)``, accurate for small ``x``.

    Example:
        >>> import chainrule as cr
        >>> cr.log1p(cr.tensor([0.0, 1e-10], dtype=cr.float64)).tolist()
        [0.0, 9.999999999500001e-11]
    """
    return _done(Log1p()(as_float(input)), out, "log1p")


class Expm1(Function):
    derivative = "exp({x0}) = {y} + 1"
    elementwise = True

    saves_output = True

    def forward(self, x: Any) -> Any:
        with numpy.errstate(over="ignore"):
            return xp.expm1(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * (self.output(0) + 1)  # torch's rule: grad * (result + 1)


def expm1(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise ``exp(x) - 1``, accurate for small ``x``.

    Example:
        >>> import chainrule as cr
        >>> cr.expm1(cr.tensor([0.0, 1e-10], dtype=cr.float64)).tolist()
        [0.0, 1.00000000005e-10]
    """
    return _done(Expm1()(as_float(input)), out, "expm1")


class LogBase(Function):
    """``log2`` or ``log10`` (NumPy's exact ones, so ``log2(8) == 3``)."""

    derivative = "1/({x0}*ln(base))"
    elementwise = True

    def __init__(self, base: int) -> None:
        self.base = base

    def local_derivative(self, i: int, number: Any = str) -> str:
        return f"1/({{x0}}*ln({self.base}))"

    def forward(self, x: Any) -> Any:
        # in float64, then rounded: NumPy's float32 log10(100) is 2.0000002, torch's 2
        wide = x.astype(numpy.float64)
        with numpy.errstate(divide="ignore", invalid="ignore"):
            return (xp.log2(wide) if self.base == 2 else xp.log10(wide)).astype(x.dtype)

    def backward(self, gy: Tensor) -> Tensor:
        return gy / (self.inputs[0] * math.log(self.base))  # torch's grouping


def log2(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise base-2 logarithm.

    Example:
        >>> import chainrule as cr
        >>> cr.log2(cr.tensor([1.0, 8.0])).tolist()
        [0.0, 3.0]
    """
    return _done(LogBase(2)(as_float(input)), out, "log2")


def log10(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise base-10 logarithm.

    Example:
        >>> import chainrule as cr
        >>> cr.log10(cr.tensor([1.0, 100.0])).tolist()
        [0.0, 2.0]
    """
    return _done(LogBase(10)(as_float(input)), out, "log10")


_erf_by_element = numpy.frompyfunc(math.erf, 1, 1)  # the C library's erf, value by value


def erf_array(x: Any) -> Any:
    """erf of a float array: where the kernels serve the dtype, a compiled loop (float64: the
    C library's erf; float32: a rational approximation within 3.4e-7, 30x faster), else
    value by value in float64 by the C library (the twin the kernels are tested against;
    100x slower)."""
    jit = compiled_for(x)
    if jit is None:
        return xp.asarray(_erf_by_element(x.astype(numpy.float64)), dtype=x.dtype)
    x = x if x.flags.c_contiguous else x.copy()  # (not ascontiguousarray: 0-d stays 0-d)
    out = xp.empty_like(x)
    kernel = jit.erf_f32 if x.dtype == xp.float32 else jit.erf
    kernel(x.reshape(-1), out.reshape(-1))  # flat views of the contiguous arrays
    return out


class Erf(Function):
    """The error function (the C library's, see :func:`erf_array`)."""

    derivative = "2/sqrt(pi)*exp(-{x0}^2)"
    elementwise = True

    def forward(self, x: Any) -> Any:
        return erf_array(x)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        return gy * (2 / math.sqrt(math.pi) * exp(-(x * x)))


def erf(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise error function ``2/sqrt(pi) * integral_0^x exp(-t^2) dt``.

    Example:
        >>> import chainrule as cr
        >>> cr.erf(cr.tensor([0.0, 1.0], dtype=cr.float64)).tolist()
        [0.0, 0.8427007929497149]
    """
    return _done(Erf()(as_float(input)), out, "erf")


def square(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise ``x * x`` (``x ** 2``: integers stay integers, bool becomes int64).

    Example:
        >>> import chainrule as cr
        >>> cr.square(cr.tensor([-3, 2])).tolist()
        [9, 4]
    """
    input = _as_tensor(input)
    if input._data.dtype == numpy.bool_:
        input = as_operand(input, numpy.dtype(numpy.int64))
    return _done(PowScalar(2)(input), out, "square")


def rsqrt(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise ``1 / sqrt(x)`` (``rsqrt(0) = inf``, ``rsqrt(-0.0) = -inf``, as PyTorch).

    Example:
        >>> import chainrule as cr
        >>> cr.rsqrt(cr.tensor([4.0, 0.0])).tolist()
        [0.5, inf]
    """
    return _done(PowScalar(-0.5)(as_float(input)), out, "rsqrt")


# ============================================================================ rounding (steps)
class Rounding(Function):
    """floor, ceil, trunc or round (to ``decimals`` places): step functions, gradient 0."""

    derivative = "0 (a step function)"
    elementwise = True

    def __init__(self, kind: str, decimals: int = 0) -> None:
        self.kind, self.decimals = kind, decimals

    def forward(self, x: Any) -> Any:
        if x.dtype.kind != "f":
            return x.copy()  # integers are already whole, as torch
        if self.kind != "round" or self.decimals == 0:
            return getattr(xp, {"round": "rint"}.get(self.kind, self.kind))(x)
        # torch's: nearbyint(x * 10^d) / 10^d, or nearbyint(x / 10^-d) * 10^-d for d < 0
        with numpy.errstate(over="ignore", invalid="ignore"):
            scale = x.dtype.type(10.0 ** abs(self.decimals))
            if self.decimals > 0:
                return xp.rint(x * scale) / scale
            return xp.rint(x / scale) * scale

    def backward(self, gy: Tensor) -> Tensor:
        return Tensor._const(xp.zeros(self.inputs[0].shape, gy.dtype))  # as torch: zeros



def _rounding(input: Any, kind: str, out: Optional[Tensor], decimals: int = 0) -> Tensor:
    y = Rounding(kind, decimals)(_as_tensor(input))
    return y if out is None else write_out(y, out, kind, same_dtype=True)


def floor(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise round down (gradient 0, as PyTorch; integer tensors are returned as is).

    Example:
        >>> import chainrule as cr
        >>> cr.floor(cr.tensor([-1.5, 1.5])).tolist()
        [-2.0, 1.0]
    """
    return _rounding(input, "floor", out)


def ceil(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise round up (gradient 0).

    Example:
        >>> import chainrule as cr
        >>> cr.ceil(cr.tensor([-1.5, 1.5])).tolist()
        [-1.0, 2.0]
    """
    return _rounding(input, "ceil", out)


def trunc(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise round toward zero (gradient 0).

    Example:
        >>> import chainrule as cr
        >>> cr.trunc(cr.tensor([-1.5, 1.5])).tolist()
        [-1.0, 1.0]
    """
    return _rounding(input, "trunc", out)


fix = trunc


def round(input: Any, *, decimals: int = 0, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise round half to even, to ``decimals`` places (negative: tens, hundreds...).

    Args:
        input: the input.
        decimals: the number of decimal places, as ``torch.round``'s.
        out: the tensor to write the result into.

    Example:
        >>> import chainrule as cr
        >>> cr.round(cr.tensor([0.5, 1.5, 2.5])).tolist()
        [0.0, 2.0, 2.0]
        >>> cr.round(cr.tensor([1250.0]), decimals=-2).tolist()
        [1200.0]
    """
    input = _as_tensor(input)
    if decimals != 0 and input._data.dtype.kind != "f":
        raise NotImplementedError(f'"round" with decimals not implemented for '
                                  f"'{input.dtype}' (PyTorch rounds only floats to decimals)")
    return _rounding(input, "round", out, int(decimals))


def frac(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise fractional part ``x - trunc(x)`` (gradient 1), for floating tensors.

    Example:
        >>> import chainrule as cr
        >>> cr.frac(cr.tensor([-1.5, 2.25])).tolist()
        [-0.5, 0.25]
    """
    input = _as_tensor(input)
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f'"frac" not implemented for {input.dtype} tensors '
                                  f"(as PyTorch: floating tensors only)")
    with numpy.errstate(invalid="ignore"):  # frac(inf) = inf - inf = NaN, as torch
        return _done(input - trunc(input), out, "frac")


# ============================================================================ tests of values
def isnan(input: Any) -> Tensor:
    """True where ``x`` is NaN (a bool tensor, not differentiable).

    Example:
        >>> import chainrule as cr
        >>> cr.isnan(cr.tensor([1.0, float("nan")])).tolist()
        [False, True]
    """
    return Tensor(xp.isnan(_as_tensor(input)._data))


def isinf(input: Any) -> Tensor:
    """True where ``x`` is +inf or -inf (a bool tensor, not differentiable).

    Example:
        >>> import chainrule as cr
        >>> cr.isinf(cr.tensor([1.0, -float("inf")])).tolist()
        [False, True]
    """
    return Tensor(xp.isinf(_as_tensor(input)._data))


# ============================================================================ composed
def clamp_min(input: Any, min: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """``clamp(x, min=min)``.

    Example:
        >>> import chainrule as cr
        >>> cr.clamp_min(cr.tensor([-1.0, 2.0]), 0.0).tolist()
        [0.0, 2.0]
    """
    return _done(clamp(input, min=min), out, "clamp_min")


def clamp_max(input: Any, max: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """``clamp(x, max=max)``.

    Example:
        >>> import chainrule as cr
        >>> cr.clamp_max(cr.tensor([-1.0, 2.0]), 0.0).tolist()
        [-1.0, 0.0]
    """
    return _done(clamp(input, max=max), out, "clamp_max")


class Lerp(Function):
    """``start + weight * (end - start)``, computed as torch's (from ``end`` for weight >= 0.5,
    so ``lerp(a, b, 1) == b`` exactly)."""

    derivative = ("1 - {x2}", "{x2}", "{x1} - {x0}")
    elementwise = True

    def forward(self, x0: Any, x1: Any, w: Any) -> Any:
        diff = x1 - x0
        return xp.where(xp.abs(w) < 0.5, x0 + w * diff, x1 - diff * (1 - w))

    def backward(self, gy: Tensor) -> tuple:
        x0, x1, w = self.inputs
        n0, n1, nw = self.needs_input_grad
        return (unbroadcast(gy * (1 - w), x0.shape) if n0 else None,
                unbroadcast(gy * w, x1.shape) if n1 else None,
                unbroadcast(gy * (x1 - x0), w.shape) if nw else None)


def lerp(input: Any, end: Any, weight: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Linear interpolation ``input + weight * (end - input)``, all three broadcast.

    Args:
        input: the start points (floating).
        end: the end points, of ``input``'s dtype.
        weight: a number or a tensor of ``input``'s dtype.
        out: the tensor to write the result into.

    Example:
        >>> import chainrule as cr
        >>> cr.lerp(cr.zeros(2), cr.tensor([1.0, 10.0]), 0.25).tolist()
        [0.25, 2.5]
    """
    input, end = _as_tensor(input), _as_tensor(end)
    for name, t in (("end", end), ("weight", weight)):
        if isinstance(t, Tensor) and t.dtype != input.dtype:
            raise OpError(f"lerp: expected dtype {input.dtype} for `{name}` but got dtype "
                          f"{t.dtype}")
    if input._data.dtype.kind != "f":
        raise OpError(f"lerp: expected floating tensors, got {input.dtype}")
    w = weight if isinstance(weight, Tensor) else Tensor(xp.asarray(weight, input.dtype))
    try:
        xp.broadcast_shapes(input.shape, end.shape, w.shape)
    except ValueError:
        raise OpError(f"lerp: shapes {input.shape}, {end.shape} and {w.shape} (input, end, "
                      f"weight) cannot be broadcast together") from None
    return _done(Lerp()(input, end, w), out, "lerp")



def addcmul(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1,
            out: Optional[Tensor] = None) -> Tensor:
    """``input + value * tensor1 * tensor2``, the three broadcast, as ``torch.addcmul``.

    Example:
        >>> import chainrule as cr
        >>> cr.addcmul(cr.ones(2), cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0]), value=0.5).tolist()
        [2.5, 5.0]
    """
    t1, t2 = _as_tensor(tensor1), _as_tensor(tensor2)
    return _done(_as_tensor(input) + (t1 if value == 1 else value * t1) * t2, out, "addcmul")


def addcdiv(input: Any, tensor1: Any, tensor2: Any, *, value: Any = 1,
            out: Optional[Tensor] = None) -> Tensor:
    """``input + value * tensor1 / tensor2``, the three broadcast, as ``torch.addcdiv``
    (integer ``tensor1`` and ``tensor2`` are refused, as PyTorch: no integer division).

    Example:
        >>> import chainrule as cr
        >>> cr.addcdiv(cr.ones(2), cr.tensor([1.0, 2.0]), cr.tensor([4.0, 4.0]), value=2).tolist()
        [1.5, 2.0]
    """
    t1, t2 = _as_tensor(tensor1), _as_tensor(tensor2)
    if t1._data.dtype.kind in "biu" and t2._data.dtype.kind in "biu":
        raise OpError("addcdiv: integer division with addcdiv is no longer supported, and in "
                      "a future release addcdiv will perform a true division of tensor1 and "
                      "tensor2. Use addcmul(input, tensor1, 1 / tensor2) or a float tensor1")
    return _done(_as_tensor(input) + (t1 if value == 1 else value * t1) / t2, out, "addcdiv")
