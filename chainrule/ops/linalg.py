"""Matrix multiplication with ``torch.matmul``'s rules for 1-D, 2-D and batched operands."""
from __future__ import annotations

from typing import Any, Optional

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import write_out
from .dtypes import as_operand, result_dtype
from .reduce import sum as _sum
from .shape import (Permute, reshape, squeeze, sum_to_shape, transpose, unbroadcast,
                    unsqueeze)


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


def matmul(input: Any, other: Any, *, out: Optional[Tensor] = None) -> Tensor:
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
    y = _matmul(input, other)
    return y if out is None else write_out(y, out, "matmul", same_dtype=True)


def _matmul(input: Any, other: Any) -> Tensor:
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


def mm(input: Any, mat2: Any, *, out: Optional[Tensor] = None) -> Tensor:
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
    return matmul(input, mat2, out=out)


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


class Addmm(Function):
    """``beta * input + alpha * (mat1 @ mat2)`` in one node, as ``torch.addmm``.

    The node ``nn.Linear`` makes for a batch of vectors, as PyTorch: ``addmm(bias, x,
    weight.t())``. Its composed twin, :func:`addmm_composed`, is the tested reference.
    """

    derivative = ("beta * upstream summed to {x0}'s shape", "alpha * upstream @ {x2}^T",
                  "alpha * {x1}^T @ upstream")

    def __init__(self, beta: Any = 1, alpha: Any = 1) -> None:
        self.beta, self.alpha = beta, alpha

    def forward(self, c: Any, a: Any, b: Any) -> Any:
        y = xp.matmul(a, b)  # (n, k) @ (k, p) -> (n, p)
        if self.alpha != 1:
            y *= self.alpha
        if self.beta != 0:  # beta = 0 ignores c, NaNs included, as torch
            y += c if self.beta == 1 else self.beta * c  # c broadcasts to (n, p)
        return y

    def backward(self, gy: Tensor) -> tuple:
        c, a, b = self.inputs
        need_c, need_a, need_b = self.needs_input_grad
        beta, alpha = self.beta, self.alpha
        gc = unbroadcast(gy if beta == 1 else gy * beta, c.shape) if need_c else None
        ga = gb = None
        if need_a:
            ga = matmul(gy, transpose(b, 0, 1))  # (n, p) @ (p, k) -> (n, k)
            ga = ga if alpha == 1 else ga * alpha
        if need_b:
            gb = matmul(transpose(a, 0, 1), gy)  # (k, n) @ (n, p) -> (k, p)
            gb = gb if alpha == 1 else gb * alpha
        return gc, ga, gb

    def fast_backward(self, gy: Any) -> tuple:
        c, a, b = self.inputs
        need_c, need_a, need_b = self.needs_input_grad
        beta, alpha = self.beta, self.alpha
        g = gy if alpha == 1 else gy * alpha
        gc = None
        if need_c and beta != 0:
            gc = sum_to_shape(gy if beta == 1 else gy * beta, c.shape)
        elif need_c:
            gc = xp.zeros(c.shape, gy.dtype)
        # gb as the transpose of (p, n) @ (n, k): when b is weight.t() (nn.Linear), the
        # transpose's backward turns it back into a contiguous (p, k) weight gradient
        return (gc, xp.matmul(g, b._data.T) if need_a else None,  # (n, p) @ (p, k)
                xp.matmul(g.T, a._data).T if need_b else None)  # ((p, n) @ (n, k))^T


def addmm_composed(input: Tensor, mat1: Tensor, mat2: Tensor, beta: Any = 1,
                   alpha: Any = 1) -> Tensor:
    """The reference twin of :class:`Addmm`, composed from matmul, mul and add."""
    product = matmul(mat1, mat2)  # (n, k) @ (k, p) -> (n, p)
    if alpha != 1:
        product = product * alpha
    if beta == 0:
        return product
    return (input if beta == 1 else input * beta) + product


def linear(input: Tensor, weight: Tensor, bias: Any = None) -> Tensor:
    """``input @ weight.T + bias`` (shapes checked by ``F.linear``).

    As PyTorch, a batch of vectors (N, in) with a bias is ``addmm(bias, input, weight.t())``
    (an ``AddmmBackward0`` node), and more dimensions (*, in) are flattened to that batch
    (NumPy's matmul of a 3-D input by a transposed weight is 7-50x slower than the 2-D
    product); a bias-free batch and a single vector are one fused :class:`Linear` node.

    Example:
        >>> import chainrule as cr
        >>> linear(cr.ones(2, 3), cr.ones(4, 3), cr.zeros(4)).shape
        (2, 4)
    """
    if input.ndim == 1:  # (in,) -> (out,), as torch
        return squeeze(Linear()(unsqueeze(input, 0), weight, bias), 0)
    if input.ndim > 2:  # (*, in) -> (N, in) -> (N, out) -> (*, out)
        flat = linear(reshape(input, (-1, input.shape[-1])), weight, bias)
        return reshape(flat, input.shape[:-1] + (weight.shape[0],))
    if input.ndim == 2 and bias is not None:
        # weight.t(): (out, in) -> (in, out), a view; then (N, in) @ (in, out) + (out,)
        return Addmm()(bias, input, Permute((1, 0))(weight))
    return Linear()(input, weight, bias)


def linear_composed(input: Tensor, weight: Tensor, bias: Any = None) -> Tensor:
    """The reference twin of :func:`linear`, composed from matmul, transpose and add."""
    out = matmul(input, transpose(weight, 0, 1))  # (*, in) @ (in, out) -> (*, out)
    return out if bias is None else out + bias
