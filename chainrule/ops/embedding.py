"""Embedding lookup and one-hot encoding, as ``torch.nn.functional.embedding`` and ``one_hot``.

``embedding(input, weight)`` picks rows of ``weight`` (V, D) at the integer ``input`` (any
shape): ``out[...] = weight[input[...]]``, of shape ``input.shape + (D,)``. Its gradient is
an index-add: row ``r`` of the weight's gradient sums the upstream rows of every position that
picked ``r`` (none for ``padding_idx``; divided by the count of ``r`` in the batch with
``scale_grad_by_freq``). Three small nodes, each differentiating the one before:

    Embedding                   forward: gather rows       backward: EmbeddingDenseBackward
    EmbeddingDenseBackward      forward: index-add rows    backward: EmbeddingDenseDoubleBackward
    EmbeddingDenseDoubleBackward forward: gather, masked   backward: EmbeddingDenseBackward

so gradients of any order are exact (``scale_grad_by_freq`` aside: that gradient is no
Jacobian; its second derivative follows torch's, exact along the weight). ``max_norm``
renormalises, in place and without recording, the rows the input picks whose
``norm_type``-norm exceeds it (as torch's ``embedding_renorm_``: ``row *= max_norm / (norm +
1e-7)``) before the lookup.
"""
from __future__ import annotations

import math
from typing import Any, Optional

import numpy

from ..autograd.errors import OpError, OpIndexError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ..kernels import compiled_for
from ._util import as_tensor_arg


class EmbeddingArgError(OpError, AssertionError):
    """A bad ``padding_idx`` or pretrained weight shape: PyTorch raises AssertionError there,
    so this is catchable as that too (and as ValueError, RuntimeError, as every OpError)."""


# ============================================================================ index-add of rows
def _row_scale(flat: Any, num_weights: int, scale_grad_by_freq: bool,
               dtype: Any) -> Optional[Any]:
    """The per-position factor of the gradient rows, (K,) in ``dtype``: 1 / (the count of the
    position's index) with ``scale_grad_by_freq``, else None (1 everywhere). Padding positions
    are dropped before, never multiplied by 0 (an inf upstream row would give NaN)."""
    if not scale_grad_by_freq:
        return None
    counts = xp.bincount(flat, minlength=num_weights)  # (V,): how often each row is picked
    return (1.0 / counts[flat]).astype(dtype)  # torch's alpha 1.0 / count, in the grad dtype


def _kept(flat: Any, padding_idx: int) -> Optional[Any]:
    """The positions whose index is not ``padding_idx`` (a bool mask), or None to keep all."""
    if padding_idx < 0:
        return None
    keep = flat != padding_idx
    return None if keep.all() else keep


class EmbeddingDenseDoubleBackward(Function):
    """``out[k] = ggw[index[k]]`` (0 at padding positions): the derivative of the index-add
    with respect to its upstream, as torch's ``embedding_dense_double_backward``.

    Not divided by the counts of ``scale_grad_by_freq``, as torch: the scaled first
    gradient is no Jacobian, so no second derivative is exact along every path; this one is
    exact along the weight's (a loss of ``embedding(w)`` differentiated twice in ``w``).
    """

    derivative = "1 at the rows the indices pick (0 at padding_idx), else 0"

    def __init__(self, indices: Any, padding_idx: int) -> None:
        self.indices, self.padding_idx = indices, padding_idx

    def forward(self, ggw: Any) -> Any:
        D = ggw.shape[1]
        flat = self.indices.reshape(-1)
        out = xp.take(ggw, flat, axis=0)  # (K, D)
        keep = _kept(flat, self.padding_idx)
        if keep is not None:
            out[~keep] = 0  # written, never multiplied: no 0 * inf
        return out.reshape(self.indices.shape + (D,))

    def backward(self, gy: Tensor) -> Tensor:
        V = self.inputs[0].shape[0]
        return EmbeddingDenseBackward(self.indices, V, self.padding_idx, False)(gy)


class EmbeddingDenseBackward(Function):
    """The weight gradient of :class:`Embedding`: ``gw[r] = sum of gy[k] * scale[k] over the
    positions k with index[k] == r`` (padding positions skipped), a (V, D) array."""

    derivative = "1 (times 1/count with scale_grad_by_freq): upstream added into the picked rows"

    def __init__(self, indices: Any, num_weights: int, padding_idx: int,
                 scale_grad_by_freq: bool) -> None:
        self.indices, self.num_weights = indices, num_weights
        self.padding_idx, self.scale_grad_by_freq = padding_idx, scale_grad_by_freq

    def forward(self, gy: Any) -> Any:
        V, D = self.num_weights, gy.shape[-1]
        flat = self.indices.reshape(-1)  # (K,)
        g = gy.reshape(flat.shape[0], D)  # (*, D) -> (K, D)
        scale = _row_scale(flat, V, self.scale_grad_by_freq, gy.dtype)
        if scale is not None:
            g = g * scale[:, None]
        keep = _kept(flat, self.padding_idx)
        if keep is not None:
            flat, g = flat[keep], g[keep]
        gw = xp.zeros(V * D, dtype=gy.dtype)
        g = xp.ascontiguousarray(g)  # (K, D)
        jit = compiled_for(g)
        if jit is not None:  # a compiled loop over the rows, 5-10x faster than add.at
            jit.index_add_rows(flat.astype(xp.int64, copy=False), g, gw.reshape(V, D))
            return gw.reshape(V, D)
        # the twin: one add.at over the flat (K*D,) positions r*D + d (NumPy's fast 1-D
        # path, ~4x faster than add.at of whole rows); repeated rows add in order, as torch
        xp.add.at(gw, (flat[:, None] * D + xp.arange(D)).reshape(-1), g.reshape(-1))
        return gw.reshape(V, D)

    def backward(self, ggw: Tensor) -> Tensor:
        return EmbeddingDenseDoubleBackward(self.indices, self.padding_idx)(ggw)


class Embedding(Function):
    """``weight[indices]``: rows of the (V, D) weight at integer indices of any shape."""

    derivative = "1 at the rows the indices pick (repeats summed, none to padding_idx)"

    def __init__(self, indices: Any, padding_idx: int, scale_grad_by_freq: bool) -> None:
        self.indices, self.padding_idx = indices, padding_idx
        self.scale_grad_by_freq = scale_grad_by_freq

    def forward(self, weight: Any) -> Any:
        self.num_weights = weight.shape[0]
        return xp.take(weight, self.indices, axis=0)  # (*indices.shape, D), contiguous

    def backward(self, gy: Tensor) -> Tensor:
        return EmbeddingDenseBackward(self.indices, self.num_weights, self.padding_idx,
                                      self.scale_grad_by_freq)(gy)

    def _check_versions(self) -> None:
        """Nothing to check: the gradient never reads the weight's values, only the saved
        indices (torch's EmbeddingBackward0 saves no weight either), so a ``max_norm``
        renormalisation by a later lookup of the same weight is no error."""


# ============================================================================ renormalisation
def _row_norms(rows: Any, p: float) -> Any:
    """The ``p``-norm of each row of a (R, D) array, as ``Tensor.norm(p)`` (0, +-inf too)."""
    a = xp.abs(rows)
    if p == 2:
        return xp.sqrt(xp.einsum("rd,rd->r", rows, rows))
    if p == math.inf:
        return a.max(axis=1, initial=0)
    if p == -math.inf:
        return a.min(axis=1, initial=math.inf)
    if p == 0:
        return (a != 0).sum(axis=1).astype(rows.dtype)
    return (a ** p).sum(axis=1) ** (1.0 / p)


def embedding_renorm_(weight: Tensor, indices: Any, max_norm: float, norm_type: float) -> None:
    """Scale, in place and unrecorded, each row of ``weight`` that ``indices`` picks and whose
    ``norm_type``-norm exceeds ``max_norm`` to norm ``max_norm`` (``row *= max_norm / (norm +
    1e-7)``), as torch's ``embedding_renorm_``. Bumps the weight's version when a row changes.

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([[3.0, 4.0], [0.3, 0.4]])
        >>> embedding_renorm_(w, cr.tensor([0, 1, 0])._data, 1.0, 2.0)
        >>> [round(v, 4) for v in w[0].tolist()], w[1].tolist()
        ([0.6, 0.8], [0.30000001192092896, 0.4000000059604645])
    """
    w = weight._data
    rows = xp.unique(indices.reshape(-1))  # sorted, each row once
    if rows.size == 0:
        return
    sub = w[rows]  # (R, D)
    norms = _row_norms(sub, float(norm_type)).astype(numpy.float64)
    big = norms > max_norm
    if not big.any():
        return
    scale = (max_norm / (norms[big] + 1e-7)).astype(w.dtype)  # torch: row *= scale
    w[rows[big]] = sub[big] * scale[:, None]
    weight._version += 1


# ============================================================================ functionals
def _check_indices(x: Tensor, op: str) -> Any:
    if x.dtype not in (numpy.int64, numpy.int32):
        torch_name = {numpy.dtype(numpy.float32): "torch.FloatTensor",
                      numpy.dtype(numpy.float64): "torch.DoubleTensor"}.get(x.dtype, str(x.dtype))
        raise OpError(f"{op}: Expected tensor for argument #1 'indices' to have one of the "
                      f"following scalar types: Long, Int; but got {torch_name} instead (while "
                      f"checking arguments for embedding)")
    return x._data


def padding_index(padding_idx: Optional[int], num_embeddings: int, op: str) -> Optional[int]:
    """``padding_idx`` checked against ``num_embeddings`` and made non-negative (None stays
    None), as torch's Embedding and ``F.embedding``.

    Raises:
        EmbeddingArgError: out of ``[-num_embeddings, num_embeddings)`` (an AssertionError too,
            as torch's).
    """
    if padding_idx is None:
        return None
    if isinstance(padding_idx, bool) or not isinstance(padding_idx, (int, numpy.integer)):
        raise TypeError(f"{op}: padding_idx must be an int or None, got {padding_idx!r}")
    if not -num_embeddings <= padding_idx < num_embeddings:
        raise EmbeddingArgError(f"{op}: Padding_idx must be within num_embeddings "
                                f"(padding_idx={padding_idx}, num_embeddings={num_embeddings})")
    return int(padding_idx) % num_embeddings


def refuse_sparse(sparse: bool, op: str) -> None:
    """Raise a clear error for ``sparse=True``: chainrule has dense gradients only."""
    if sparse:
        raise OpError(f"{op}: sparse=True (a sparse weight gradient) is not supported: "
                      f"chainrule has dense tensors only; use sparse=False (the same gradient "
                      f"values, as a dense (num_embeddings, embedding_dim) tensor)")


def embedding(input: Any, weight: Any, padding_idx: Optional[int] = None,
              max_norm: Optional[float] = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight`` at the integer ``input``, as ``torch.nn.functional.embedding``.

    Args:
        input: int64 or int32 indices of any shape, each in ``[0, V)``.
        weight: ``(V, D)``: one row (an embedding vector) per index.
        padding_idx: that row gets no gradient (negative counts from the end).
        max_norm: rows picked by ``input`` with a larger ``norm_type``-norm are scaled to
            norm ``max_norm`` in place in ``weight`` first (not recorded).
        norm_type: the p of the norm for ``max_norm``.
        scale_grad_by_freq: divide each row's gradient by how often ``input`` picks it.
        sparse: must be False (chainrule has dense gradients only).

    Shape:
        ``input`` ``(*)``, ``weight`` ``(V, D)`` -> output ``(*, D)``.

    Raises:
        RuntimeError: indices not int64/int32, ``weight`` not 2-D, ``sparse=True``.
        IndexError: an index out of range (naming it and the weight's shape).

    Example:
        >>> import chainrule as cr
        >>> w = cr.tensor([[0.0, 0.0], [1.0, 2.0], [3.0, 4.0]], requires_grad=True)
        >>> y = embedding(cr.tensor([[1, 2], [1, 0]]), w, padding_idx=0)
        >>> y.shape, y[1].tolist()
        ((2, 2, 2), [[1.0, 2.0], [0.0, 0.0]])
        >>> y.sum().backward()
        >>> w.grad.tolist()
        [[0.0, 0.0], [2.0, 2.0], [1.0, 1.0]]
    """
    op = "embedding"
    x = as_tensor_arg(input, "input", op)
    w = as_tensor_arg(weight, "weight", op)
    idx = _check_indices(x, op)
    if w.ndim != 2:
        raise OpError(f"{op}: 'weight' must be 2-D (num_embeddings, embedding_dim), got weight "
                      f"of shape {w.shape}")
    refuse_sparse(sparse, op)
    V = w.shape[0]
    pad = padding_index(padding_idx, V, op)
    if idx.size and (idx.min() < 0 or idx.max() >= V):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        raise OpIndexError(f"{op}: index out of range in self: index {bad} of input shape "
                           f"{x.shape} is not in [0, {V}) for weight of shape {w.shape} "
                           f"(num_embeddings {V})")
    if max_norm is not None:
        embedding_renorm_(w, idx, float(max_norm), float(norm_type))
    return Embedding(idx.astype(numpy.int64, copy=False), -1 if pad is None else pad,
                     bool(scale_grad_by_freq))(w)


def one_hot(tensor: Any, num_classes: int = -1) -> Tensor:
    """One-hot encoding of int64 class indices, as ``torch.nn.functional.one_hot``.

    Args:
        tensor: int64 class indices of any shape, each >= 0.
        num_classes: C; -1 (the default) takes ``tensor.max() + 1``.

    Shape:
        ``(*)`` -> ``(*, C)``, int64 (not differentiable).

    Raises:
        RuntimeError: a non-int64 tensor, a negative index, an index >= ``num_classes``, or
            ``num_classes=-1`` with an empty tensor.

    Example:
        >>> import chainrule as cr
        >>> one_hot(cr.tensor([0, 2])).tolist()
        [[1, 0, 0], [0, 0, 1]]
        >>> one_hot(cr.tensor([[1]]), num_classes=4).shape
        (1, 1, 4)
    """
    op = "one_hot"
    x = as_tensor_arg(tensor, "tensor", op)
    if x.dtype != numpy.int64:
        raise OpError(f"{op}: one_hot is only applicable to index tensor of type LongTensor "
                      f"(int64), got dtype {x.dtype}")
    a = x._data
    if a.size == 0:  # torch's order of checks
        if num_classes <= 0:
            raise OpError(f"{op}: Can not infer total number of classes from empty tensor "
                          f"(shape {x.shape}); pass a positive num_classes")
    elif a.min() < 0:
        raise OpError(f"{op}: Class values must be non-negative, got {int(a.min())}")
    elif num_classes == -1:
        num_classes = int(a.max()) + 1
    elif num_classes <= a.max():
        raise OpError(f"{op}: Class values must be smaller than num_classes ({num_classes}), "
                      f"got {int(a.max())}")
    out = xp.zeros(a.shape + (num_classes,), dtype=numpy.int64)
    xp.put_along_axis(out, a[..., None], 1, axis=-1)
    return Tensor(out)
