"""Reductions: sum (the primitive), and mean, var, std, amax/amin, max/min, logsumexp, argmax.

``sum`` and ``amax`` have hand-written backward; the others are composed from primitives.
"""
from __future__ import annotations

import builtins
from collections import namedtuple
from typing import Any, Optional

import numpy

from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import as_float, normalize_dims
from .shape import broadcast_to, gather, reshape, squeeze

min_max = namedtuple("min_max", ["values", "indices"])


def _keepdim_shape(shape: tuple[int, ...], axes: Optional[tuple[int, ...]]) -> tuple[int, ...]:
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


def _count(shape: tuple[int, ...], axes: Optional[tuple[int, ...]]) -> int:
    n = 1
    for i, s in enumerate(shape):
        if axes is None or i in axes:
            n *= s
    return n


class Sum(Function):
    def __init__(self, axes: Optional[tuple[int, ...]], keepdim: bool) -> None:
        self.axes, self.keepdim = axes, keepdim

    def forward(self, x: Any) -> Any:
        return xp.asarray(x.sum(axis=self.axes, keepdims=self.keepdim))

    def backward(self, gy: Tensor) -> Tensor:
        shape = self.inputs[0].shape
        # (reduced shape) -> (shape with 1 at reduced axes) -> (input shape)
        return broadcast_to(reshape(gy, _keepdim_shape(shape, self.axes)), shape)


def sum(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Sum over ``dim`` (all dimensions by default).

    Example:
        >>> import chainrule as cr
        >>> cr.ones(2, 3).sum(dim=1).tolist()
        [3.0, 3.0]
    """
    if not isinstance(x, Tensor):
        x = Tensor(xp.asarray(x))
    if x.data.dtype == numpy.bool_:
        x = Tensor(x.data.astype(numpy.int64))
    return Sum(normalize_dims(dim, x.ndim, "sum"), keepdim)(x)


def mean(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Mean over ``dim`` (all dimensions by default)."""
    x = as_float(x)
    if x.dtype.kind != "f":
        raise TypeError(f"mean: input dtype should be floating point, got {x.dtype}")
    axes = normalize_dims(dim, x.ndim, "mean")
    n = _count(x.shape, axes)
    return sum(x, dim, keepdim) / builtins.max(n, 1) if n else sum(x, dim, keepdim) * numpy.nan


def var(x: Any, dim: Any = None, unbiased: Optional[bool] = None, keepdim: bool = False, *,
        correction: Optional[int] = None) -> Tensor:
    """Variance over ``dim`` with Bessel's correction by default (``correction=1``).

    Args:
        x: the input.
        dim: the dimension(s) to reduce; all by default.
        unbiased: ``False`` for the population variance (same as ``correction=0``).
        keepdim: keep reduced dimensions as size 1.
        correction: the difference between the sample size and the divisor.
    """
    x = as_float(x)
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = normalize_dims(dim, x.ndim, "var")
    n = _count(x.shape, axes)
    centered = x - mean(x, dim, keepdim=True)
    return sum(centered * centered, dim, keepdim) / builtins.max(n - correction, 0)


def std(x: Any, dim: Any = None, unbiased: Optional[bool] = None, keepdim: bool = False, *,
        correction: Optional[int] = None) -> Tensor:
    """Standard deviation: ``sqrt(var(...))``."""
    from .arithmetic import sqrt

    return sqrt(var(x, dim, unbiased, keepdim, correction=correction))


class Amax(Function):
    """Maximum over axes; tied maxima share the gradient evenly (as ``torch.amax``)."""

    saves_output = True

    def __init__(self, axes: Optional[tuple[int, ...]], keepdim: bool, largest: bool) -> None:
        self.axes, self.keepdim, self.largest = axes, keepdim, largest

    def forward(self, x: Any) -> Any:
        f = xp.max if self.largest else xp.min
        return xp.asarray(f(x, axis=self.axes, keepdims=self.keepdim))

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        kshape = _keepdim_shape(x.shape, self.axes)
        y = self.output(0).data.reshape(kshape)
        mask = (x.data == y)
        weights = mask / mask.sum(axis=self.axes, keepdims=True)  # 1/k at each of k ties
        return broadcast_to(reshape(gy, kshape), x.shape) * Tensor(weights.astype(gy.dtype))


def _check_nonempty(x: Tensor, axes: Optional[tuple[int, ...]], op: str) -> None:
    if x.data.size == 0 or builtins.any(x.shape[a] == 0 for a in axes or ()):
        raise ValueError(f"{op}: Expected reduction dim to have non-zero size (input shape "
                         f"{x.shape})")


def amax(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Maximum over ``dim``; tied maxima share the gradient equally."""
    x = x if isinstance(x, Tensor) else Tensor(xp.asarray(x))
    axes = normalize_dims(dim, x.ndim, "amax")
    _check_nonempty(x, axes, "amax")
    return Amax(axes, keepdim, True)(x)


def amin(x: Any, dim: Any = None, keepdim: bool = False) -> Tensor:
    """Minimum over ``dim``; tied minima share the gradient equally."""
    x = x if isinstance(x, Tensor) else Tensor(xp.asarray(x))
    axes = normalize_dims(dim, x.ndim, "amin")
    _check_nonempty(x, axes, "amin")
    return Amax(axes, keepdim, False)(x)


def _max_min(x: Any, dim: Any, keepdim: bool, largest: bool) -> Any:
    x = x if isinstance(x, Tensor) else Tensor(xp.asarray(x))
    if dim is None:  # full reduction: like torch.max(x), ties share the gradient
        return amax(x) if largest else amin(x)
    idx = (argmax if largest else argmin)(x, dim, keepdim=True)
    values = gather(x, dim, idx)  # the gradient goes to the first extremum only, as torch
    if not keepdim:
        values, idx = squeeze(values, dim), squeeze(idx, dim)
    return min_max(values, idx)


def max(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """``max(x)`` is the overall maximum; ``max(x, dim)`` returns ``(values, indices)``."""
    return _max_min(x, dim, keepdim, True)


def min(x: Any, dim: Any = None, keepdim: bool = False) -> Any:
    """``min(x)`` is the overall minimum; ``min(x, dim)`` returns ``(values, indices)``."""
    return _max_min(x, dim, keepdim, False)


def _arg(f: Any, x: Any, dim: Optional[int], keepdim: bool, op: str) -> Tensor:
    data = x.data if isinstance(x, Tensor) else xp.asarray(x)
    if data.size == 0:
        raise ValueError(f"{op}: Expected reduction dim to have non-zero size")
    if dim is None:
        out = xp.asarray(f(data.reshape(-1)))
        return Tensor(out.reshape((1,) * data.ndim) if keepdim else out.astype(numpy.int64))
    (axis,) = normalize_dims(dim, data.ndim, op)  # type: ignore[misc]
    return Tensor(f(data, axis=axis, keepdims=keepdim).astype(numpy.int64))


def argmax(x: Any, dim: Optional[int] = None, keepdim: bool = False) -> Tensor:
    """Index of the first maximum (an int64 tensor, not differentiable)."""
    return _arg(xp.argmax, x, dim, keepdim, "argmax")


def argmin(x: Any, dim: Optional[int] = None, keepdim: bool = False) -> Tensor:
    """Index of the first minimum (an int64 tensor, not differentiable)."""
    return _arg(xp.argmin, x, dim, keepdim, "argmin")


def logsumexp(x: Any, dim: Any, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(x), dim))`` computed stably (shifted by the detached maximum).

    Example:
        >>> import chainrule as cr
        >>> round(cr.logsumexp(cr.tensor([1000.0, 1000.0]), 0).item(), 2)
        1000.69
    """
    from .arithmetic import exp, log

    x = as_float(x)
    with no_grad():
        m = amax(x, dim, keepdim=True)
        m = Tensor(xp.where(xp.isfinite(m.data), m.data, 0).astype(x.dtype))
    out = log(sum(exp(x - m), dim, keepdim=True)) + m
    return out if keepdim else squeeze(out, normalize_dims(dim, x.ndim, "logsumexp"))
