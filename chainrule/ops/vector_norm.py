"""Norms: ``VectorNorm`` (the primitive, with PyTorch's ``norm_backward``), and ``norm``,
``linalg.vector_norm``, ``linalg.matrix_norm``, ``linalg.norm`` on top of it.

The gradient is PyTorch's at every order ``p``: 0 where the norm is 0 (p = 2 and general p),
``sign(x)`` for p = 1, shared among the tied extremes for p = inf. Like PyTorch's, the
formula masks a 0/0 at a zero norm, so a second derivative there is NaN for p > 1.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import as_tensor_arg, normalize_dims, write_out
from .arithmetic import abs, sign, where
from .dtypes import cast
from .reduce import amax, amin, sum


def _spread(t: Tensor, shape: tuple[int, ...], axes: Optional[tuple[int, ...]],
            keepdim: bool) -> Tensor:
    """A reduced tensor as (shape with 1 at reduced axes), to broadcast against the input."""
    if keepdim:
        return t
    kept = tuple(1 if axes is None or i in axes else s for i, s in enumerate(shape))
    return t.reshape(kept)


class VectorNorm(Function):
    """``sum(|x|^p)^(1/p)`` over ``axes`` (max |x| for inf, min for -inf, count for 0)."""

    derivative = "sign({x0})*|{x0}|^(p-1)/{y}^(p-1); 0 where {y} = 0"

    saves_output = True

    def __init__(self, p: float, axes: Optional[tuple[int, ...]], keepdim: bool) -> None:
        self.p, self.axes, self.keepdim = p, axes, keepdim

    def local_derivative(self, i: int, number: Any = str) -> str:
        return {1: "sign({x0})", 2: "{x0}/{y}; 0 where {y} = 0",
                0: "0"}.get(self.p, type(self).derivative)  # type: ignore[arg-type]

    def forward(self, x: Any) -> Any:
        a, p, kw = xp.abs(x), self.p, dict(axis=self.axes, keepdims=self.keepdim)
        with numpy.errstate(over="ignore", divide="ignore", invalid="ignore"):
            if p == 2:
                y = xp.sqrt(xp.sum(a * a, **kw))
            elif p == 1:
                y = xp.sum(a, **kw)
            elif p == math.inf:
                y = xp.max(a, **kw)
            elif p == -math.inf:
                y = xp.min(a, **kw)
            elif p == 0:
                y = xp.sum(a != 0, **kw).astype(x.dtype)
            else:
                y = xp.sum(a ** p, **kw) ** (1 / p)
        return xp.asarray(y, dtype=x.dtype)

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]
        shape, p = x.shape, self.p
        g = _spread(gy, shape, self.axes, self.keepdim)
        y = _spread(self.output(0), shape, self.axes, self.keepdim)
        if p == 0:
            return Tensor._const(xp.zeros(shape, gy.dtype))
        if p == 1:
            return g * sign(x)
        norm_zero = Tensor(y._data == 0)
        if p == 2:  # g * (x / y), 0 where y == 0: torch's formula, order included. The
            # masked 0/0 is on purpose: at a zero norm the second derivative (which does not
            # exist there) comes out NaN, as torch's, and as the other p below
            return g * where(norm_zero, 0.0, x / y)
        if math.isinf(p):  # shared among the positions equal to the extreme, NaN included
            ax = abs(x)._data
            mask = (ax == y._data) | xp.isnan(ax)
            count = mask.sum(axis=self.axes, keepdims=True)
            return sign(x) * (g / Tensor(count.astype(gy.dtype)) * Tensor(mask.astype(gy.dtype)))
        if p < 1:
            scaled = where(Tensor(x._data == 0), 0.0, sign(x) * abs(x) ** (p - 1))
            return scaled * g * y ** (1 - p)
        scaled = sign(x) * abs(x) ** (p - 1) if p < 2 else x * abs(x) ** (p - 2)
        return scaled * where(norm_zero, 0.0, g / y ** (p - 1))


def _ord(ord: Any, op: str) -> float:
    if isinstance(ord, bool) or not isinstance(ord, (int, float, numpy.number)):
        raise TypeError(f"{op}: ord must be a number, got {ord!r}")
    return float(ord)


def vector_norm(x: Any, ord: Any = 2, dim: Any = None, keepdim: bool = False, *,
                dtype: Any = None, out: Optional[Tensor] = None) -> Tensor:
    """The vector ``ord``-norm of ``x`` over ``dim`` (every element by default).

    Args:
        x: a floating tensor.
        ord: p in ``sum(|x|^p)^(1/p)``; ``inf``/``-inf`` for max/min ``|x|``; 0 counts the
            nonzero elements.
        dim: the dimension(s) to reduce; all by default.
        keepdim: keep reduced dimensions as size 1.
        dtype: cast ``x`` to this dtype first.
        out: the tensor to write the result into.

    Example:
        >>> import chainrule as cr
        >>> cr.linalg.vector_norm(cr.tensor([3.0, -4.0])).item()
        5.0
        >>> cr.linalg.vector_norm(cr.tensor([3.0, -4.0]), ord=float("inf")).item()
        4.0
    """
    x = as_tensor_arg(x, "input", "linalg.vector_norm")
    if dtype is not None:
        x = cast(x, dtype)
    if x._data.dtype.kind != "f":
        raise OpError(f"linalg.vector_norm: Expected a floating point or complex tensor as "
                      f"input. Got {x.dtype}")
    p = _ord(ord, "linalg.vector_norm")
    axes = None if dim is None or (isinstance(dim, (tuple, list)) and not dim) else \
        normalize_dims(dim, x.ndim, "linalg.vector_norm")
    if x.ndim == 0:
        axes = None
    if p < 0 or math.isinf(p):
        empty = x._data.size == 0 if axes is None else any(x.shape[a] == 0 for a in axes)
        if empty:
            raise OpError(f"linalg.vector_norm cannot compute the {ord} norm on an empty "
                          f"tensor because the operation does not have an identity")
    y = VectorNorm(p, axes, keepdim)(x)
    return y if out is None else write_out(y, out, "linalg.vector_norm")


def matrix_norm(A: Any, ord: Any = "fro", dim: Any = (-2, -1), keepdim: bool = False, *,
                dtype: Any = None, out: Optional[Tensor] = None) -> Tensor:
    """A matrix norm over the two dimensions ``dim``: ``'fro'``, or ``1``/``-1`` (max/min
    column sum of ``|A|``), ``inf``/``-inf`` (max/min row sum); ``'nuc'``, 2 and -2 (which
    need singular values) are not supported.

    Example:
        >>> import chainrule as cr
        >>> A = cr.tensor([[1.0, -2.0], [3.0, 4.0]])
        >>> cr.linalg.matrix_norm(A, ord=1).item(), cr.linalg.matrix_norm(A, float("inf")).item()
        (6.0, 7.0)
    """
    A = as_tensor_arg(A, "A", "linalg.matrix_norm")
    if dtype is not None:
        A = cast(A, dtype)
    if A.ndim < 2:
        raise OpError(f"linalg.matrix_norm: The input tensor A must have at least 2 "
                      f"dimensions (shape {A.shape})")
    dims = normalize_dims(dim, A.ndim, "linalg.matrix_norm")
    if dims is None or len(dims) != 2:
        raise OpError(f"linalg.matrix_norm: dim must be a 2-tuple of ints, got {dim!r}")
    d0, d1 = [d % A.ndim for d in dim]  # (rows, columns), in the order given
    if ord == "fro":
        y = vector_norm(A, 2, (d0, d1), keepdim)
    elif ord in (1, -1, math.inf, -math.inf):
        extreme = amax if ord > 0 else amin
        # column sums (1, -1) reduce the rows first; row sums (inf, -inf) the columns
        inner, outer_ = (d0, d1) if ord in (1, -1) else (d1, d0)
        y = extreme(sum(abs(A), inner, keepdim=True), outer_, keepdim=True)
        if not keepdim:
            y = y.squeeze((d0, d1))
    else:
        raise OpError(f"linalg.matrix_norm: ord {ord!r} is not supported (only 'fro', 1, -1, "
                      f"inf and -inf: 'nuc', 2 and -2 need singular values)")
    return y if out is None else write_out(y, out, "linalg.matrix_norm")


def linalg_norm(A: Any, ord: Any = None, dim: Any = None, keepdim: bool = False, *,
                dtype: Any = None, out: Optional[Tensor] = None) -> Tensor:
    """``torch.linalg.norm``: a vector norm (1-D, an int ``dim``, or ``ord`` None over all
    elements) or a matrix norm (2-D, a 2-tuple ``dim``).

    Example:
        >>> import chainrule as cr
        >>> cr.linalg.norm(cr.tensor([[3.0, 0.0], [0.0, 4.0]])).item()
        5.0
    """
    A = as_tensor_arg(A, "A", "linalg.norm")
    if dim is not None:
        dims = (dim,) if isinstance(dim, (int, numpy.integer)) else tuple(dim)
        if len(dims) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dims, keepdim, dtype=dtype,
                               out=out)
        return vector_norm(A, 2 if ord is None else ord, dims, keepdim, dtype=dtype, out=out)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype, out=out)
    if A.ndim not in (1, 2):
        raise OpError(f"linalg.norm: If dim is not specified but ord is, the input must be "
                      f"1D or 2D. Got {A.ndim}D.")
    if A.ndim == 1:
        return vector_norm(A, ord, None, keepdim, dtype=dtype, out=out)
    return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype, out=out)


def norm(input: Any, p: Any = "fro", dim: Any = None, keepdim: bool = False,
         out: Optional[Tensor] = None, dtype: Any = None) -> Tensor:
    """``torch.norm``: the ``p``-norm over ``dim`` (all elements by default); ``'fro'`` is
    the 2-norm. The gradient at a zero norm is 0, as PyTorch's.

    Args:
        input: a floating tensor.
        p: ``'fro'`` or a number (``inf``, ``-inf``, 0 included).
        dim: the dimension(s) to reduce; all by default.
        keepdim: keep reduced dimensions as size 1.
        out: the tensor to write the result into.
        dtype: cast ``input`` to this dtype first.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[3.0, 4.0], [0.0, 0.0]], requires_grad=True)
        >>> n = cr.norm(x, dim=1)
        >>> n.tolist()
        [5.0, 0.0]
        >>> n.sum().backward(); x.grad.tolist()
        [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    if p == "nuc":
        raise OpError("norm: p='nuc' is not supported (it needs singular values)")
    order = 2 if p == "fro" or p is None else p
    return vector_norm(input, order, dim, keepdim, dtype=dtype, out=out)
