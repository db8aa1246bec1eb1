"""Reductions: sum (the primitive), and mean, var, std, amax/amin, max/min, logsumexp, argmax.

``sum``, ``var``, ``amax`` (and ``max(x)``) and ``logsumexp`` have hand-written backward
(each PyTorch's rule, also at NaN, inf and empty dimensions); the others are composed from
primitives.
"""
from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Any, Optional

import numpy

from ..autograd.errors import OpError, OpIndexError
from ..autograd.function import Function
from ..autograd.grad_mode import is_grad_enabled
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import contiguous, normalize_dims, write_out
from .arithmetic import exp, maximum, minimum, where
from .dtypes import as_float, cast
from .shape import broadcast_to, gather, reshape, squeeze

min_max = namedtuple("min_max", ["values", "indices"])


def _keepdim_shape(shape: tuple[int, ...], axes: Optional[tuple[int, ...]]) -> tuple[int, ...]:
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _broadcast_back(g: Tensor, shape: tuple[int, ...], axes: Optional[tuple[int, ...]]) -> Tensor:
    """A reduction's upstream gradient spread back over the input's ``shape``."""
    # (reduced shape) -> (shape with 1 at reduced axes) -> (input shape)
    return broadcast_to(reshape(g, _keepdim_shape(shape, axes)), shape)


def _reduced_shape(shape: tuple[int, ...], axes: Optional[tuple[int, ...]]) -> tuple[int, ...]:
    """``shape`` without its reduced axes (``()`` when every axis is reduced)."""
    return () if axes is None else tuple(s for i, s in enumerate(shape) if i not in axes)


def _reduce_axes(dim: Any, ndim: int, op: str) -> Optional[tuple[int, ...]]:
    """The axes a reduction over ``dim`` reduces; None for all of them.

    As PyTorch: an empty ``dim`` (``()`` or ``[]``) reduces every dimension, and a 0-d tensor
    accepts dim 0 or -1 (reducing its one element: the result is the value itself).
    """
    if isinstance(dim, (tuple, list)) and len(dim) == 0:
        return None
    axes = normalize_dims(dim, ndim, op)
    return None if ndim == 0 else axes


def _count(shape: tuple[int, ...], axes: Optional[tuple[int, ...]]) -> int:
    n = 1
    for i, s in enumerate(shape):
        if axes is None or i in axes:
            n *= s
    return n


class Sum(Function):
    derivative = "1: upstream copied to every summed element"

    def __init__(self, axes: Optional[tuple[int, ...]], keepdim: bool) -> None:
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x: Any) -> Any:
        return contiguous(xp.asarray(x.sum(axis=self.axes, keepdims=self.keepdim)))

    def backward(self, gy: Tensor) -> Tensor:
        return _broadcast_back(gy, self.inputs[0].shape, self.axes)

    def name(self) -> str:
        return "SumBackward0" if self.axes is None else "SumBackward1"  # PyTorch's: dim given


def sum(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
        out: Optional[Tensor] = None) -> Tensor:
    """Sum over ``dim`` (all dimensions by default); bool and integer tensors sum to int64,
    as in PyTorch.

    Args:
        input: the input.
        dim: the dimension(s) to reduce; all by default.
        keepdim: keep reduced dimensions as size 1.
        dtype: cast the input to this dtype first (e.g. float64 for an accurate sum).
        out: the tensor to write the result into.

    Example:
        >>> import chainrule as cr
        >>> cr.ones(2, 3).sum(dim=1).tolist()
        [3.0, 3.0]
        >>> cr.ones(2).sum(dtype=cr.float64).dtype
        dtype('float64')
        >>> cr.sum(cr.tensor([[0.6, 0.6]]), 1, out=cr.zeros(1, dtype=cr.int64)).tolist()
        [0]

    With ``out=``, the input is cast to ``out``'s dtype before the sum, as PyTorch (so
    ``0.6 + 0.6`` into an int64 ``out`` gives 0).
    """
    if not isinstance(input, Tensor):
        input = Tensor(xp.asarray(input))
    if isinstance(out, Tensor):  # as PyTorch: the sum is taken in out's dtype
        _refuse_grad_with_out(input, out, "sum")
        if dtype is not None and numpy.dtype(dtype) != out.dtype:
            raise OpError(f"sum(): expected the out tensor to have dtype {numpy.dtype(dtype)} "
                          f"(the dtype argument), but got {out.dtype} instead")
        dtype = out.dtype
    if dtype is not None:
        input = cast(input, dtype)
    elif input._data.dtype.kind in "biu" and input._data.dtype != numpy.int64:
        input = Tensor(input._data.astype(numpy.int64))  # bool and every integer sum to int64
    y = Sum(_reduce_axes(dim, input.ndim, "sum"), keepdim)(input)
    if out is None:
        return y
    if y.dtype != out.dtype:  # NumPy sums bools to int64; PyTorch into a bool out: any
        y = Tensor(y._data.astype(out.dtype))
    return write_out(y, out, "sum")


def mean(input: Any, dim: Any = None, keepdim: bool = False, *, dtype: Any = None,
         out: Optional[Tensor] = None) -> Tensor:
    """Mean over ``dim`` (all dimensions by default) of a floating point tensor.

    Example:
        >>> import chainrule as cr
        >>> cr.tensor([[1.0, 2.0], [3.0, 5.0]]).mean(dim=1).tolist()
        [1.5, 4.0]
    """
    if dtype is not None:
        input = cast(_as_tensor(input), dtype)
    input = _as_float_input(input, "mean")
    n = _count(input.shape, _reduce_axes(dim, input.ndim, "mean"))
    total = sum(input, dim, keepdim)
    y = total / builtins.max(n, 1) if n else total * numpy.nan
    return y if out is None else write_out(y, out, "mean")


class OpDtypeError(OpError, TypeError):
    """An op refused its input's dtype: an :class:`OpError` (PyTorch raises RuntimeError)
    that is also the TypeError earlier chainrule releases raised."""


def _torch_type_name(dtype: Any) -> str:
    """PyTorch's scalar type name of an integer or bool dtype (``Long``, ``Int``, ``Bool``)."""
    dtype = numpy.dtype(dtype)
    names = {1: "Char", 2: "Short", 4: "Int", 8: "Long"} if dtype.kind == "i" else \
        {1: "Byte", 2: "UInt16", 4: "UInt32", 8: "UInt64"}
    return "Bool" if dtype.kind == "b" else names[dtype.itemsize]


def _refuse_grad_with_out(input: Tensor, out: Tensor, op: str) -> None:
    """PyTorch's refusal of ``out=`` while grad mode is on and an input or ``out`` requires
    grad (before a cast that would hide the input's flag)."""
    if (input._requires_grad or out._requires_grad) and is_grad_enabled():
        raise RuntimeError(f"{op}(): functions with out=... arguments don't support automatic "
                           f"differentiation, but one of the arguments requires grad.")


def _check_out_dtype(out: Any, allowed: Any, op: str, rule: str) -> None:
    """Refuse an ``out`` whose dtype is not in ``allowed`` (the ops whose PyTorch kernel
    checks ``out``'s dtype itself instead of casting into it)."""
    if isinstance(out, Tensor) and out.dtype not in allowed:
        raise OpError(f"{op}(): {rule}, got {out.dtype} for out")


def _as_float_input(input: Any, op: str) -> Tensor:
    """``input`` as a floating Tensor; an integer or bool Tensor is refused with PyTorch's
    RuntimeError (an :class:`OpDtypeError`), as PyTorch words it for ``op``."""
    if isinstance(input, Tensor) and input.dtype.kind != "f":
        rule = (f"mean(): could not infer output dtype. Input dtype must be either a floating "
                f"point or complex dtype. Got: {_torch_type_name(input.dtype)}" if op == "mean"
                else "std and var only support floating point and complex dtypes")
        raise OpDtypeError(f"{op}: input dtype should be floating point, got {input.dtype} "
                           f"(convert it first, e.g. x.float().{op}()): {rule}")
    return as_float(input)


class Var(Function):
    """Variance over axes, divided by ``max(n - correction, 0)`` (as ``torch.var``).

    The backward is PyTorch's ``var_backward``: ``2 / (n - correction) * gy * (x - mean)``,
    the mean's own path cancelling analytically, so a ``correction`` of ``n`` or more gives
    PyTorch's gradient (finite for ``n < correction`` over ``dim``) instead of ``inf - inf``.
    """

    derivative = "2*({x0} - mean)/(n - correction)"

    def __init__(self, axes: Optional[tuple[int, ...]], keepdim: bool, correction: float) -> None:
        self.axes, self.keepdim, self.correction = axes, keepdim, correction

    def forward(self, x: Any) -> Any:
        n = _count(x.shape, self.axes)
        with numpy.errstate(divide="ignore", invalid="ignore"):  # empty: nan; n <= c: inf
            centered = x - (x.sum(axis=self.axes, keepdims=True) / n if n else numpy.nan)
            ss = (centered * centered).sum(axis=self.axes, keepdims=self.keepdim)
            if 0 < n < x.size:
                # several results: PyTorch's Welford sums give exactly 0 for a slice of equal
                # finite values, which sum / n can miss by an ulp (3 * 0.1 / 3 != 0.1)
                ss[self._constant(x)] = 0
            return contiguous(xp.asarray(ss / x.dtype.type(builtins.max(n - self.correction, 0))))

    def _constant(self, x: Any) -> Any:
        """True for each reduced slice of equal finite values (the result's shape)."""
        top = x.max(axis=self.axes, keepdims=self.keepdim)
        return (top == x.min(axis=self.axes, keepdims=self.keepdim)) & xp.isfinite(top)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        g = _broadcast_back(gy, x.shape, self.axes)
        n = _count(x.shape, self.axes)
        dof = n - self.correction
        with numpy.errstate(divide="ignore", invalid="ignore"):  # inf * 0 = nan, as PyTorch
            if self.axes is None and dof <= 0:  # PyTorch's full reduction: inf, nan at the mean
                at_mean = x._data == x._data.sum() / n
                return g * Tensor(xp.where(at_mean, numpy.nan, numpy.inf).astype(gy.dtype))
            scale = 2.0 / dof if dof else math.inf  # 2 / 0 = inf, as PyTorch
            return g * (x - mean(x, self.axes, keepdim=True)) * scale


def var(input: Any, dim: Any = None, unbiased: Optional[bool] = None, keepdim: bool = False, *,
        correction: Optional[int] = None) -> Tensor:
    """Variance over ``dim`` with Bessel's correction by default (``correction=1``).

    Args:
        input: the input.
        dim: the dimension(s) to reduce; all by default.
        unbiased: ``False`` for the population variance (same as ``correction=0``).
        keepdim: keep reduced dimensions as size 1.
        correction: the difference between the sample size and the divisor.

    The gradient is PyTorch's, also where ``correction`` is not below the sample size.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[1.0, 3.0], [2.0, 2.0]], requires_grad=True)
        >>> x.var(1).tolist()
        [2.0, 0.0]
        >>> x.var(1, correction=3).sum().backward()
        >>> x.grad.tolist()
        [[2.0, -2.0], [-0.0, -0.0]]
    """
    input = _as_float_input(input, "var")
    if correction is None:
        correction = 0 if unbiased is False else 1
    return Var(_reduce_axes(dim, input.ndim, "var"), keepdim, correction)(input)


class StdFromVar(Function):
    """``sqrt(v)`` of a variance, with gradient 0 where the result is 0 (as ``torch.std``).

    A constant row has variance 0, where ``sqrt``'s derivative is inf and the chain rule
    gives ``inf * 0 = nan``; PyTorch defines the gradient of the std there as 0.
    """

    derivative = "1/(2*{y})"

    saves_output = True

    def forward(self, v: Any) -> Any:
        with numpy.errstate(invalid="ignore"):
            return xp.sqrt(v)

    def backward(self, gy: Tensor) -> Tensor:

        y = self.output(0)
        zero = Tensor(y._data == 0)
        return where(zero, 0.0, gy / (2 * where(zero, 1.0, y)))


def std(input: Any, dim: Any = None, unbiased: Optional[bool] = None, keepdim: bool = False, *,
        correction: Optional[int] = None) -> Tensor:
    """Standard deviation: ``sqrt(var(...))``; its gradient is 0 where it is 0, as PyTorch.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[1.0, 1.0], [1.0, 3.0]], requires_grad=True)
        >>> x.std(1).sum().backward()
        >>> x.grad.tolist()
        [[0.0, 0.0], [-0.7071067690849304, 0.7071067690849304]]
    """
    input = _as_float_input(input, "std")
    return StdFromVar()(var(input, dim, unbiased, keepdim, correction=correction))


class Amax(Function):
    """Maximum (or minimum) over axes, with ``torch.amax``'s gradient: upstream / k at each of
    the k positions equal to the result, times 0 elsewhere.

    Like PyTorch's, the rule multiplies by the 0/1 mask: a NaN in the reduced slice (no
    position equals a NaN result, k = 0) gives NaN everywhere in it, and an inf upstream gives
    ``inf * 0 = nan`` at the other positions. :class:`MaxAll` (``max(x)``) differs in both.
    """

    derivative = "1 at the extremum (shared among ties), else 0"

    saves_output = True

    def __init__(self, axes: Optional[tuple[int, ...]], keepdim: bool, largest: bool) -> None:
        self.axes, self.keepdim, self.largest = axes, keepdim, largest

    def forward(self, x: Any) -> Any:
        f = xp.max if self.largest else xp.min
        return contiguous(xp.asarray(f(x, axis=self.axes, keepdims=self.keepdim)))

    def _mask(self) -> Any:
        """True at the positions equal to the result (input shape)."""
        x = self.inputs[0]._data
        return x == self.output(0)._data.reshape(_keepdim_shape(x.shape, self.axes))

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        mask = self._mask()
        with numpy.errstate(invalid="ignore"):  # a NaN slice: 0 / 0, as PyTorch
            weights = mask / mask.sum(axis=self.axes, keepdims=True)  # 1/k at each of k ties
        return _broadcast_back(gy, x.shape, self.axes) * Tensor(weights.astype(gy.dtype))


class MaxAll(Amax):
    """``max(x)`` / ``min(x)`` of every element, with ``torch.max(x)``'s gradient: upstream / k
    at each of the k positions equal to the result and exactly 0 elsewhere (a select, not a
    product, so an inf upstream leaves 0 there); a NaN result counts as equal to the NaNs, so
    the gradient goes to them, as PyTorch's ``evenly_distribute_backward``.
    """

    derivative = "1 at the extremum, NaN equal to NaN (shared among ties), else exactly 0"

    def name(self) -> str:
        return "MaxBackward1" if self.largest else "MinBackward1"  # PyTorch's names

    def __init__(self, largest: bool) -> None:
        super().__init__(None, False, largest)

    def _mask(self) -> Any:
        x, y = self.inputs[0]._data, self.output(0)._data
        return xp.isnan(x) if xp.isnan(y) else x == y

    def backward(self, gy: Tensor) -> Tensor:
        mask = self._mask()
        return where(Tensor(mask), gy / int(mask.sum()), 0.0)  # () -> x's shape


def _check_nonempty(x: Tensor, axes: Optional[tuple[int, ...]], op: str) -> None:
    """PyTorch's rule for max, min, amax, amin, argmax and argmin: a reduced dimension of size 0
    has no extremum (``IndexError``), nor does a whole empty tensor (``RuntimeError``, an
    ``IndexError`` for argmax/argmin); non-empty reduced dimensions of an empty tensor give an
    empty result."""
    if axes is None:
        if x._data.size == 0:
            error = OpIndexError if op.startswith("arg") else OpError
            raise error(f"{op}(): Expected reduction dim to be specified for input.numel() == 0 "
                        f"(input shape {x.shape}). Specify the reduction dim with the 'dim' "
                        f"argument.")
        return
    for a in axes:
        if x.shape[a] == 0:
            raise OpIndexError(f"{op}(): Expected reduction dim {a} to have non-zero size "
                               f"(input shape {x.shape})")


def _as_tensor(input: Any) -> Tensor:
    """``input`` as a Tensor (an array or a number as a constant one)."""
    return input if isinstance(input, Tensor) else Tensor(xp.asarray(input))


def amax(input: Any, dim: Any = None, keepdim: bool = False, *,
         out: Optional[Tensor] = None) -> Tensor:
    """Maximum over ``dim``; tied maxima share the gradient equally (PyTorch's rule: see
    :class:`Amax`)."""
    input = _as_tensor(input)
    axes = _reduce_axes(dim, input.ndim, "amax")
    _check_nonempty(input, axes, "amax")
    y = Amax(axes, keepdim, True)(input)
    if out is None:
        return y
    _check_out_dtype(out, (input.dtype,), "amax", f"expected the dtype for input and out to "
                     f"match ({input.dtype} for input)")
    return write_out(y, out, "amax")


def amin(input: Any, dim: Any = None, keepdim: bool = False, *,
         out: Optional[Tensor] = None) -> Tensor:
    """Minimum over ``dim``; tied minima share the gradient equally (PyTorch's rule: see
    :class:`Amax`)."""
    input = _as_tensor(input)
    axes = _reduce_axes(dim, input.ndim, "amin")
    _check_nonempty(input, axes, "amin")
    y = Amax(axes, keepdim, False)(input)
    if out is None:
        return y
    _check_out_dtype(out, (input.dtype,), "amin", f"expected the dtype for input and out to "
                     f"match ({input.dtype} for input)")
    return write_out(y, out, "amin")


def _max_min(x: Any, dim: Any, keepdim: bool, largest: bool) -> Any:
    x = _as_tensor(x)
    op = "max" if largest else "min"
    if dim is None:  # full reduction: ties (or the NaNs) share the gradient, as torch.max(x)
        _check_nonempty(x, None, op)
        return MaxAll(largest)(x)
    idx = _arg(xp.argmax if largest else xp.argmin, x, dim, True, op)
    values = gather(x, dim, idx)  # the gradient goes to the first extremum only, as torch
    if not keepdim:
        values, idx = squeeze(values, dim), squeeze(idx, dim)
    return min_max(values, idx)


def max(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """``max(x)`` is the overall maximum; ``max(x, dim)`` returns ``(values, indices)``;
    ``max(x, other)`` with a tensor ``other`` is the elementwise ``maximum``, as PyTorch.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[1.0, 5.0], [4.0, 2.0]])
        >>> cr.max(x).item(), cr.max(x, 1).indices.tolist()
        (5.0, [1, 0])
        >>> cr.max(x, cr.tensor([3.0, 3.0])).tolist()
        [[3.0, 5.0], [4.0, 3.0]]
    """
    if isinstance(dim, Tensor):

        return maximum(input, dim)
    return _max_min(input, dim, keepdim, True)


def min(input: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """``min(x)`` is the overall minimum; ``min(x, dim)`` returns ``(values, indices)``;
    ``min(x, other)`` with a tensor ``other`` is the elementwise ``minimum``, as PyTorch."""
    if isinstance(dim, Tensor):

        return minimum(input, dim)
    return _max_min(input, dim, keepdim, False)


def _arg(f: Any, x: Any, dim: Optional[int], keepdim: bool, op: str) -> Tensor:
    x = _as_tensor(x)
    data = x._data
    if data.dtype == numpy.bool_ and op in ("argmax", "argmin"):  # max/min(x, dim) take bool
        raise TypeError(f"{op}(): does not support bool input (convert it first, e.g. "
                        f"x.long().{op}())")
    _check_nonempty(x, None if dim is None else _reduce_axes(dim, data.ndim, op), op)
    if dim is None:
        out = xp.asarray(f(data.reshape(-1)))
        return Tensor(out.reshape((1,) * data.ndim) if keepdim else out.astype(numpy.int64))
    (axis,) = normalize_dims(dim, data.ndim, op)  # type: ignore[misc]
    return Tensor(f(data, axis=axis, keepdims=keepdim).astype(numpy.int64))


def argmax(input: Any, dim: Optional[int] = None, keepdim: bool = False) -> Tensor:
    """Index of the first maximum (an int64 tensor, not differentiable)."""
    return _arg(xp.argmax, input, dim, keepdim, "argmax")


def argmin(input: Any, dim: Optional[int] = None, keepdim: bool = False) -> Tensor:
    """Index of the first minimum (an int64 tensor, not differentiable)."""
    return _arg(xp.argmin, input, dim, keepdim, "argmin")


class LogSumExp(Function):
    """``log(sum(exp(x)))`` over axes, shifted by the maximum (an infinite maximum shifts by 0,
    as PyTorch); the gradient is PyTorch's ``exp(x - result)``.

    Over an empty dimension the sum is 0 and the result ``-inf``.
    """

    node_name = "LogsumexpBackward0"  # PyTorch's name for the same op

    derivative = "exp({x0} - {y})"

    saves_output = True

    def __init__(self, axes: Optional[tuple[int, ...]], keepdim: bool) -> None:
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x: Any) -> Any:
        # the maximum (-inf over an empty dimension), (shape with 1 at reduced axes)
        m = xp.max(x, axis=self.axes, keepdims=True, initial=-numpy.inf)
        m = xp.where(xp.isinf(m), 0, m).astype(x.dtype, copy=False)
        with numpy.errstate(divide="ignore", invalid="ignore"):  # log(0) = -inf; inf - inf
            out = xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        # (shape with 1 at reduced axes) -> (reduced shape) unless keepdim
        return contiguous(out if self.keepdim else out.reshape(_reduced_shape(x.shape, self.axes)))

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        y = _broadcast_back(self.output(0), x.shape, self.axes)
        return _broadcast_back(gy, x.shape, self.axes) * exp(x - y)


def logsumexp(input: Any, dim: Any, keepdim: bool = False, *,
              out: Optional[Tensor] = None) -> Tensor:
    """``log(sum(exp(x), dim))`` computed stably (shifted by the maximum), with PyTorch's
    gradient ``exp(x - result)``; over an empty dimension, ``-inf``.

    Example:
        >>> import chainrule as cr
        >>> round(cr.logsumexp(cr.tensor([1000.0, 1000.0]), 0).item(), 2)
        1000.69
        >>> cr.logsumexp(cr.zeros(0, 2), 0).tolist()
        [-inf, -inf]
    """
    input = as_float(input)
    y = LogSumExp(_reduce_axes(dim, input.ndim, "logsumexp"), keepdim)(input)
    if out is None:
        return y
    if isinstance(out, Tensor) and out.dtype.kind != "f":
        raise OpError(f"logsumexp(): expected a floating point type for the result tensor, "
                      f"got {out.dtype} for out")
    return write_out(y, out, "logsumexp")


# ============================================================================ any / all
_BOOL_RESULTS = (numpy.dtype(numpy.bool_), numpy.dtype(numpy.uint8))


def _any_all(input: Any, dim: Any, keepdim: bool, op: str, out: Any = None) -> Tensor:
    input = _as_tensor(input)
    data = input._data
    if isinstance(out, Tensor) and out.dtype == numpy.uint8 and data.dtype.kind == "f":
        data = xp.trunc(data)  # PyTorch reads the input as uint8 then: 0.6 is False
    axes = _reduce_axes(dim, data.ndim, op)
    y = xp.asarray((xp.any if op == "any" else xp.all)(data, axis=axes, keepdims=keepdim))
    # uint8 gives uint8, every other dtype bool, as PyTorch
    return Tensor(y.astype(numpy.uint8) if data.dtype == numpy.uint8 else y)


def any(input: Any, dim: Any = None, keepdim: bool = False, *,
        out: Optional[Tensor] = None) -> Tensor:
    """True where any element over ``dim`` (all by default; an int or a tuple) is nonzero.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[0.0, 1.0], [0.0, 0.0]])
        >>> cr.any(x).item(), x.any(dim=1).tolist()
        (True, [True, False])
    """
    y = _any_all(input, dim, keepdim, "any", out)
    if out is None:
        return y
    _check_out_dtype(out, _BOOL_RESULTS, "any", "only supports a bool or uint8 tensor for "
                     "the result")
    return write_out(y, out, "any")


def all(input: Any, dim: Any = None, keepdim: bool = False, *,
        out: Optional[Tensor] = None) -> Tensor:
    """True where every element over ``dim`` (all by default; an int or a tuple) is nonzero.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[1.0, 1.0], [0.0, 1.0]])
        >>> cr.all(x).item(), x.all(dim=1).tolist()
        (False, [True, False])
    """
    y = _any_all(input, dim, keepdim, "all", out)
    if out is None:
        return y
    _check_out_dtype(out, _BOOL_RESULTS, "all", "only supports a bool or uint8 tensor for "
                     "the result")
    return write_out(y, out, "all")
