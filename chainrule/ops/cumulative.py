"""Cumulative ops and products: cumsum and cumprod (primitives), prod composed from cumprod.

The gradients are PyTorch's also where the input has zeros: ``cumprod``'s is not
``reverse_cumsum(gy * y) / x`` there but PyTorch's split at the first zero of each slice, and
``prod``'s is the product of the other elements (two exclusive cumulative products).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import as_tensor_arg, normalize_dims, write_out
from .arithmetic import where
from .dtypes import cast
from .reduce import sum
from .rearrange import flip
from .shape import getitem, pad, reshape, unsqueeze


def _input(input: Any, dtype: Any, op: str) -> Tensor:
    """``input`` as a Tensor, cast to ``dtype``, or bool and integers to int64 (torch's)."""
    input = as_tensor_arg(input, "input", op, array_like=True)
    if dtype is not None:
        return cast(input, dtype)
    if input._data.dtype.kind in "biu" and input._data.dtype != numpy.int64:
        return cast(input, numpy.int64)
    return input


def _axis(input: Tensor, dim: Any, op: str) -> int:
    if not isinstance(dim, (int, numpy.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}(): argument 'dim' must be an int, got {dim!r}")
    (axis,) = normalize_dims(dim, input.ndim, op)  # type: ignore[misc]
    return axis if input.ndim else -1


def _reverse_cumsum(t: Tensor, axis: int) -> Tensor:
    """``out[k] = sum(t[j] for j >= k)`` along ``axis`` (differentiable)."""
    return flip(cumsum(flip(t, [axis]), axis), [axis])


# ============================================================================ cumsum
class CumSum(Function):
    node_name = "CumsumBackward0"  # PyTorch's name for the same op
    derivative = "1: upstream summed from the end (reverse cumsum)"

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        return xp.cumsum(x, axis=self.axis) if x.ndim else x.copy()

    def backward(self, gy: Tensor) -> Tensor:
        return _reverse_cumsum(gy, self.axis) if gy.ndim else gy


def cumsum(input: Any, dim: int, *, dtype: Any = None, out: Optional[Tensor] = None) -> Tensor:
    """Cumulative sum along ``dim`` (bool and integers give int64, as PyTorch).

    Example:
        >>> import chainrule as cr
        >>> cr.cumsum(cr.tensor([1, 2, 3]), 0).tolist()
        [1, 3, 6]
    """
    input = _input(input, dtype, "cumsum")
    y = CumSum(_axis(input, dim, "cumsum"))(input)
    return y if out is None else write_out(y, out, "cumsum")


# ============================================================================ cumprod
class CumProd(Function):
    """Cumulative product, with PyTorch's gradient: ``reverse_cumsum(gy * y) / x`` without
    zeros, and the exact sum of products (first and second order) where there are zeros."""

    node_name = "CumprodBackward0"  # PyTorch's name for the same op

    derivative = "sum_{j>=k} upstream_j * prod_{i<=j, i!=k} {x0}_i"

    saves_output = True

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        return xp.cumprod(x, axis=self.axis) if x.ndim else x.copy()

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        if x.ndim == 0 or x.shape[self.axis] <= 1:
            return gy
        return _cumprod_grad(x, gy, self.axis, self.output(0))


def _cumprod_grad(x: Tensor, gy: Tensor, axis: int, y: Optional[Tensor] = None) -> Tensor:
    """``g[k] = sum_{j>=k} gy[j] * prod_{i<=j, i!=k} x[i]`` along ``axis``, differentiable.

    Without zeros: ``reverse_cumsum(gy * y) / x``. With zeros, split at each slice's first
    zero z, with x' = x where x[z] is taken as 1: the terms j < z are that formula on x'
    (no zero before z); the terms j >= z are the same gradient at x' (recursively: one level
    per zero) times x[z] for k != z, a factor whose value is 0 but whose derivative is not,
    so the second derivative is PyTorch's too.
    """
    zero = x._data == 0
    if not zero.any():
        y = cumprod(x, axis) if y is None else y
        return _reverse_cumsum(gy * y, axis) / x
    seen = xp.cumsum(zero, axis=axis)  # zeros up to and including each position
    before, first, post = Tensor(seen == 0), Tensor(zero & (seen == 1)), Tensor(seen >= 1)
    x1 = where(first, 1.0, x)
    g_pre = where(before, _reverse_cumsum(where(before, gy, 0.0) * cumprod(x1, axis), axis)
                  / where(before, x, 1.0), 0.0)
    x_z = sum(where(first, x, 0.0), axis, keepdim=True)  # the first zero (0, differentiable)
    g_post = _cumprod_grad(x1, where(post, gy, 0.0), axis)
    return g_pre + where(first, 1.0, x_z) * g_post


def cumprod(input: Any, dim: int, *, dtype: Any = None, out: Optional[Tensor] = None) -> Tensor:
    """Cumulative product along ``dim``; the gradient is PyTorch's, also at zeros.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([2.0, 0.0, 3.0], requires_grad=True)
        >>> y = cr.cumprod(x, 0)
        >>> y.tolist()
        [2.0, 0.0, 0.0]
        >>> y.sum().backward(); x.grad.tolist()
        [1.0, 8.0, 0.0]
    """
    input = _input(input, dtype, "cumprod")
    y = CumProd(_axis(input, dim, "cumprod"))(input)
    return y if out is None else write_out(y, out, "cumprod")


# ============================================================================ prod
def _exclusive_products(x: Tensor, axis: int) -> Tensor:
    """``out[k] = prod(x[j] for j != k)`` along ``axis``: left and right exclusive cumprods."""
    n = x.shape[axis]
    head = getitem(x, (slice(None),) * axis + (slice(0, n - 1),))
    tail = getitem(x, (slice(None),) * axis + (slice(1, n),))
    left = cumprod(_pad_one(head, axis, front=True), axis)
    right = flip(cumprod(flip(_pad_one(tail, axis, front=False), [axis]), axis), [axis])
    return left * right


def _pad_one(t: Tensor, axis: int, front: bool) -> Tensor:
    """``t`` with a 1 added at the front (or the end) of ``axis``."""
    flat = [0, 0] * (t.ndim - axis - 1) + ([1, 0] if front else [0, 1])
    return pad(t, flat, value=1.0)


class Prod(Function):
    """The product along one axis (or of every element); the gradient is the product of the
    other elements, as PyTorch's (exact at zeros, where ``y / x`` is not)."""

    derivative = "prod of the other elements"

    def __init__(self, axis: Optional[int], keepdim: bool) -> None:
        self.axis, self.keepdim = axis, keepdim

    def forward(self, x: Any) -> Any:
        return xp.asarray(xp.prod(x, axis=self.axis, keepdims=self.keepdim))

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        if self.axis is None:  # every element: through the flattened input
            flat = reshape(x, -1)  # (numel,)
            g = reshape(gy, ()) * _exclusive_products(flat, 0) if flat.shape[0] else flat
            return reshape(g, x.shape)
        g = gy if self.keepdim else unsqueeze(gy, self.axis)
        if x.shape[self.axis] == 0:
            return Tensor._const(xp.zeros(x.shape, gy.dtype))
        return g * _exclusive_products(x, self.axis)


def prod(input: Any, dim: Optional[int] = None, keepdim: bool = False, *, dtype: Any = None,
         out: Optional[Tensor] = None) -> Tensor:
    """Product of the elements along ``dim`` (every element by default); bool and integers
    give int64. The gradient is the product of the other elements, as PyTorch's (also at
    zeros).

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[2.0, 0.0], [3.0, 4.0]], requires_grad=True)
        >>> p = cr.prod(x, 1)
        >>> p.tolist()
        [0.0, 12.0]
        >>> p.sum().backward(); x.grad.tolist()
        [[0.0, 2.0], [4.0, 3.0]]
    """
    input = _input(input, dtype, "prod")
    if dim is None:
        if keepdim:
            raise TypeError("prod(): keepdim=True needs a dim (as torch.prod)")
        y = Prod(None, False)(input)
    else:
        y = Prod(_axis(input, dim, "prod") if input.ndim else None, keepdim)(input)
    return y if out is None else write_out(y, out, "prod")

