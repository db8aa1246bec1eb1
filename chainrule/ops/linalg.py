"""Matrix multiplication with ``torch.matmul``'s rules for 1-D, 2-D and batched operands."""
from __future__ import annotations

from typing import Any

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import as_operand, result_dtype
from .shape import squeeze, transpose, unbroadcast, unsqueeze


class MatMul(Function):
    """``a @ b`` for operands of at least 2 dimensions (batch dimensions broadcast)."""

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
        raise ValueError(f"matmul: both arguments need to be at least 1D, but they are "
                         f"{a.ndim}D and {b.ndim}D (shapes {a.shape} and {b.shape})")
    k_a = a.shape[-1]
    k_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if k_a != k_b:
        ra = a.shape[-2] if a.ndim > 1 else 1
        cb = b.shape[-1] if b.ndim > 1 else 1
        raise ValueError(f"matmul: mat1 and mat2 shapes cannot be multiplied ({ra}x{k_a} and "
                         f"{k_b}x{cb}); input shapes {a.shape} and {b.shape}")
    if a.ndim > 2 or b.ndim > 2:
        try:
            xp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
        except ValueError:
            raise ValueError(f"matmul: batch dimensions {a.shape[:-2]} and {b.shape[:-2]} "
                             f"cannot be broadcast (input shapes {a.shape} and "
                             f"{b.shape})") from None


def matmul(a: Any, b: Any) -> Tensor:
    """Matrix product with broadcasting, exactly as ``torch.matmul``.

    A 1-D first operand is treated as a row (a dimension prepended, then removed), a 1-D
    second operand as a column; dimensions before the last two broadcast.

    Args:
        a: tensor of shape (k,), (n, k) or (..., n, k).
        b: tensor of shape (k,), (k, p) or (..., k, p).

    Shape:
        (..., n, k) @ (..., k, p) -> (broadcast(...), n, p).

    Example:
        >>> import chainrule as cr
        >>> (cr.ones(2, 3) @ cr.ones(3, 4)).shape
        (2, 4)
        >>> (cr.ones(3) @ cr.ones(3)).item()
        3.0
    """
    if not (isinstance(a, Tensor) and isinstance(b, Tensor) and a.dtype == b.dtype):
        dtype = result_dtype(a, b)
        a, b = as_operand(a, dtype), as_operand(b, dtype)
    if a.ndim >= 2 and b.ndim >= 2 and a.shape[-1] == b.shape[-2] and \
            (a.ndim == 2 and b.ndim == 2):
        return MatMul()(a, b)  # fast path: plain 2-D product
    _check(a, b)
    if a.ndim == 1 and b.ndim == 1:
        return squeeze(MatMul()(unsqueeze(a, 0), unsqueeze(b, 1)))
    if a.ndim == 1:
        return squeeze(MatMul()(unsqueeze(a, 0), b), -2)
    if b.ndim == 1:
        return squeeze(MatMul()(a, unsqueeze(b, 1)), -1)
    return MatMul()(a, b)


mm = matmul


def dot(a: Tensor, b: Tensor) -> Tensor:
    """Inner product of two 1-D tensors."""
    if a.ndim != 1 or b.ndim != 1:
        raise ValueError(f"dot: 1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    return matmul(a, b)
