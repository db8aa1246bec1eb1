"""Matrix multiplication with ``torch.matmul``'s rules for 1-D, 2-D and batched operands."""
from __future__ import annotations

from typing import Any

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from .dtypes import as_operand, result_dtype
from .reduce import sum as _sum
from .shape import reshape, squeeze, transpose, unbroadcast, unsqueeze


class MatMul(Function):
    """``a @ b`` for operands of at least 2 dimensions (batch dimensions broadcast)."""

    derivative = ("upstream @ {x1}^T", "{x0}^T @ upstream")

    def forward(self, a: Any, b: Any) -> Any:
        return xp.matmul(a, b)

    def backward(self, gy: Tensor) -> tuple:
        a, b = self.inputs
        na, nb = self.needs_input_grad
        # gy (..., n, p); a (..., n, k); b (..., k, p)
        ga = unbroadcast(matmul(gy, transpose(b, -1, -2)), a.shape) if na else None
        gb = unbroadcast(matmul(transpose(a, -1, -2), gy), b.shape) if nb else None
        return ga, gb


def _check(a: Tensor, b: Tensor) -> None:
    if a.ndim == 0 or b.ndim == 0:
        raise OpError(f"matmul: both arguments need to be at least 1D, but they are "
                      f"{a.ndim}D and {b.ndim}D (shapes {a.shape} and {b.shape})")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        ra = a.shape[-2] if a.ndim > 1 else 1
        cb = b.shape[-1] if b.ndim > 1 else 1
        raise OpError(f"matmul: mat1 and mat2 shapes cannot be multiplied ({ra}x{k_a} and "
                      f"{k_b}x{cb}); input shapes {a.shape} and {b.shape}")
    if a.ndim > 2 or b.ndim > 2:
        try:
            xp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise OpError(f"matmul: batch dimensions {a.shape[:-2]} and {b.shape[:-2]} "
                          f"cannot be broadcast (input shapes {a.shape} and "
                          f"{b.shape})") from None


def matmul(input: Any, other: Any) -> Tensor:
    """Matrix product with broadcasting, exactly as ``torch.matmul``.

    A 1-D first operand is treated as a row (a dimension prepended, then removed), a 1-D
    second operand as a column; dimensions before the last two broadcast.

    Args:
        input: tensor of shape (k,), (n, k) or (..., n, k).
        other: tensor of shape (k,), (k, p) or (..., k, p).

    Shape:
        (..., n, k) @ (..., k, p) -> (broadcast(...), n, p).

    Example:
        >>> import chainrule as cr
        >>> (cr.ones(2, 3) @ cr.ones(3, 4)).shape
        (2, 4)
        >>> (cr.ones(3) @ cr.ones(3)).item()
        3.0
    """
    if not (isinstance(input, Tensor) and isinstance(other, Tensor) and input.dtype == other.dtype):
        dtype = result_dtype(input, other)
        input, other = as_operand(input, dtype), as_operand(other, dtype)
    if input.ndim >= 2 and other.ndim >= 2 and input.shape[-1] == other.shape[-2] and \
            (input.ndim == 2 and other.ndim == 2):
        return MatMul()(input, other)  # fast path: plain 2-D product
    _check(input, other)
    if input.ndim == 1 and other.ndim == 1:
        return squeeze(MatMul()(unsqueeze(input, 0), unsqueeze(other, 1)))
    if input.ndim == 1:
        return squeeze(MatMul()(unsqueeze(input, 0), other), -2)
    if other.ndim == 1:
        return squeeze(MatMul()(input, unsqueeze(other, 1)), -1)
    return MatMul()(input, other)


def mm(input: Any, mat2: Any) -> Tensor:
    """Product of two matrices (2-D only, unlike :func:`matmul`), as ``torch.mm``.

    Shape:
        (n, k) @ (k, p) -> (n, p).

    Example:
        >>> import chainrule as cr
        >>> mm(cr.ones(2, 3), cr.ones(3, 4)).shape
        (2, 4)
    """
    for name, t in (("input", input), ("mat2", mat2)):
        ndim = t.ndim if isinstance(t, Tensor) else xp.ndim(t)
        if ndim != 2:
            raise OpError(f"mm: {name} must be a matrix (2-D), got a {ndim}-D tensor "
                          f"(use matmul for other shapes)")
    return matmul(input, mat2)


def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """Inner product of two 1-D tensors."""
    if input.ndim != 1 or tensor.ndim != 1:
        raise OpError(f"dot: 1D tensors expected, but got {input.ndim}D and {tensor.ndim}D "
                      f"tensors")
    return matmul(input, tensor)


class Linear(Function):
    """``input @ weight.T + bias`` in one node: the fused twin of :func:`linear_composed`.

    One GEMM forward; backward gives ``grad_input = gy @ weight``, ``grad_weight = gy.T @
    input`` (already in weight's (out, in) layout, no transposed copy) and ``grad_bias =
    gy.sum(0)``: three NumPy calls for first order, differentiable ops when a graph is
    being recorded (``create_graph=True``), so second order works.
    """

    derivative = ("upstream @ weight", "upstream^T @ input", "upstream summed over the batch")

    def forward(self, x: Any, weight: Any, bias: Any) -> Any:
        y = xp.matmul(x, weight.T)  # (*, in) @ (in, out) -> (*, out)
        if bias is not None:
            y += bias
        return y

    def backward(self, gy: Tensor) -> tuple:
        x, weight, bias = self.inputs
        need_x, need_w, need_b = self.needs_input_grad
        gy2 = reshape(gy, -1, gy.shape[-1]) if gy.ndim != 2 else gy  # (N, out)
        gx = matmul(gy, weight) if need_x else None  # (*, out) @ (out, in) -> (*, in)
        gw = gb = None
        if need_w:
            x2 = reshape(x, -1, x.shape[-1]) if x.ndim != 2 else x  # (N, in)
            gw = matmul(transpose(gy2, 0, 1), x2)  # (out, N) @ (N, in) -> (out, in)
        if need_b:
            gb = _sum(gy2, 0)  # (out,)
        return gx, gw, gb

    def fast_backward(self, gy: Any) -> tuple:
        x, weight, bias = self.inputs
        need_x, need_w, need_b = self.needs_input_grad
        g = gy.astype(weight.dtype, copy=False)
        g2 = g.reshape(-1, g.shape[-1])  # (*, out) -> (N, out)
        return (xp.matmul(g, weight._data) if need_x else None,  # (*, out) @ (out, in)
                xp.matmul(g2.T, x._data.reshape(-1, x.shape[-1])) if need_w else None,
                g2.sum(axis=0) if need_b else None)  # (out,)


def linear(input: Tensor, weight: Tensor, bias: Any = None) -> Tensor:
    """``input @ weight.T + bias`` as one fused node (shapes checked by ``F.linear``).

    Example:
        >>> import chainrule as cr
        >>> linear(cr.ones(2, 3), cr.ones(4, 3), cr.zeros(4)).shape
        (2, 4)
    """
    if input.ndim == 1:  # (in,) -> (out,), as torch
        return squeeze(Linear()(unsqueeze(input, 0), weight, bias), 0)
    return Linear()(input, weight, bias)


def linear_composed(input: Tensor, weight: Tensor, bias: Any = None) -> Tensor:
    """The reference twin of :func:`linear`, composed from matmul, transpose and add."""
    out = matmul(input, transpose(weight, 0, 1))  # (*, in) @ (in, out) -> (*, out)
    return out if bias is None else out + bias
