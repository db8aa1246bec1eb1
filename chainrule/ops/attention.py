"""Scaled dot-product attention: ``softmax(Q K^T * scale + mask) V``, as PyTorch 2.13's
``torch.nn.functional.scaled_dot_product_attention``.

The reference is :func:`scaled_dot_product_attention_composed`, built from matmul, where and
softmax, so its gradient (and second order) comes from those ops. The public function runs
the fused :class:`ScaledDotProductAttention` when no dropout is asked for: one node whose
backward is the same formula written out (``dV = P^T dO``, ``dP = dO V^T``,
``dS = P * (dP - rowsum(dP * P))``, ``dQ = dS K * scale``, ``dK = dS^T Q * scale``) and whose
fast backward runs it on arrays.

As PyTorch's CPU kernels: a query row whose keys are all masked out (a bool mask all False,
or a float mask all -inf) attends to nothing and gives 0, with zero gradients, not NaN.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Optional

import numpy

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ..random import get_rng
from ._util import tensor_argument
from .activation import softmax
from .arithmetic import where
from .linalg import linear, matmul
from .rearrange import repeat_interleave
from .reduce import mean
from .reduce import sum as _sum
from .shape import (cat, chunk, expand, pad, permute, reshape, squeeze, sum_to_shape, transpose,
                    unbroadcast, unsqueeze)

__all__ = ["scaled_dot_product_attention", "scaled_dot_product_attention_composed",
           "ScaledDotProductAttention", "multi_head_attention_forward", "canonical_mask",
           "AttentionShapeError"]


# ============================================================================ arguments
def _check(query: Any, key: Any, value: Any, attn_mask: Any, dropout_p: Any,
           is_causal: bool, enable_gqa: bool) -> tuple[Tensor, Tensor, Tensor]:
    """Check the arguments as PyTorch does, naming the op and the shapes; returns key and
    value with their heads repeated for grouped-query attention (``enable_gqa``)."""
    op = "scaled_dot_product_attention"
    for name, t in (("query", query), ("key", key), ("value", value)):
        tensor_argument(t, op, name)
    if min(query.ndim, key.ndim, value.ndim) < 2:
        raise OpError(f"{op}: Expected query, key, and value to all be at least 2 dimensional, "
                      f"but got query.dim: {query.ndim} key.dim: {key.ndim} and value.dim: "
                      f"{value.ndim} instead (shapes {query.shape}, {key.shape}, "
                      f"{value.shape}).")
    if not query.dtype == key.dtype == value.dtype:
        raise OpError(f"{op}: Expected query, key, and value to have the same dtype, but got "
                      f"query.dtype: {query.dtype} key.dtype: {key.dtype} and value.dtype: "
                      f"{value.dtype} instead.")
    if query._data.dtype.kind != "f":
        raise OpError(f"{op}: expected floating point query, key and value, got dtype "
                      f"{query.dtype}")
    if attn_mask is not None:
        tensor_argument(attn_mask, op, "attn_mask")
        if attn_mask.dtype != numpy.bool_ and attn_mask.dtype != query.dtype:
            raise OpError(f"{op}: Expected attn_mask dtype to be bool or to match query dtype, "
                          f"but got attn_mask.dtype: {attn_mask.dtype} and query.dtype: "
                          f"{query.dtype} instead.")
        if is_causal:
            raise OpError(f"{op}: Explicit attn_mask should not be set when is_causal=True "
                          f"(attn_mask of shape {attn_mask.shape})")
    if isinstance(dropout_p, bool) or not isinstance(dropout_p, (int, float)) or dropout_p > 1:
        raise OpError(f"{op}: dropout probability has to be between 0 and 1, but got "
                      f"{dropout_p!r}")
    if query.shape[-1] != key.shape[-1]:
        raise OpError(f"{op}: query and key must have the same embedding size (last "
                      f"dimension), got query of shape {query.shape} and key of shape "
                      f"{key.shape}")
    if key.shape[-2] != value.shape[-2]:
        raise OpError(f"{op}: key and value must have the same sequence length (dimension "
                      f"-2), got key of shape {key.shape} and value of shape {value.shape}")
    if enable_gqa and query.ndim >= 3 and key.ndim >= 3 and value.ndim >= 3:
        hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
        if hk == 0 or hv == 0 or hq % hk or hq % hv:
            raise OpError(f"{op}: Number of heads in key and value must divide the number of "
                          f"heads in query (enable_gqa=True), got query of shape "
                          f"{query.shape}, key of shape {key.shape} and value of shape "
                          f"{value.shape}")
        if hk != hq:
            key = repeat_interleave(key, hq // hk, -3)
        if hv != hq:
            value = repeat_interleave(value, hq // hv, -3)
    batch = (query.shape[:-2], key.shape[:-2], value.shape[:-2])
    try:
        xp.broadcast_shapes(*batch)
    except ValueError:
        raise OpError(f"{op}: the batch and head dimensions of query {query.shape}, key "
                      f"{key.shape} and value {value.shape} cannot be broadcast (heads differ? "
                      f"grouped-query attention needs enable_gqa=True)") from None
    if attn_mask is not None:
        scores = xp.broadcast_shapes(query.shape[:-2], key.shape[:-2]) + \
            (query.shape[-2], key.shape[-2])
        try:
            fits = xp.broadcast_shapes(attn_mask.shape, scores) == scores
        except ValueError:
            fits = False
        if not fits:
            raise OpError(f"{op}: attn_mask of shape {attn_mask.shape} cannot be broadcast to "
                          f"the attention scores' shape {scores} (query {query.shape}, key "
                          f"{key.shape}: (..., L, S))")
    return query, key, value


def _scale(query: Tensor, scale: Optional[float]) -> float:
    """``scale``, or PyTorch's default ``1 / sqrt(E)`` with E the query's last size."""
    if scale is not None:
        return float(scale)
    return 1.0 / math.sqrt(query.shape[-1]) if query.shape[-1] else math.inf


def _mask_array(attn_mask: Optional[Tensor], is_causal: bool, length: int,
                source: int) -> Optional[Any]:
    """The keep-mask as a bool array, or the float mask's array; None without a mask.
    ``is_causal``: the lower triangle of the (L, S) scores, aligned at the top left."""
    if is_causal:
        return xp.tri(length, source, 0, dtype=bool)
    return None if attn_mask is None else attn_mask._data


def _dead_rows(scores: Any) -> Optional[Any]:
    """The (..., L, 1) rows of ``scores`` that are -inf throughout (every key masked out),
    or None when there is none."""
    if scores.shape[-1] == 0:
        return None
    dead = xp.isneginf(scores).all(axis=-1, keepdims=True)
    return dead if dead.any() else None


def _dropout_keep(dropout_p: float, shape: tuple, dtype: Any) -> Any:
    """``keep / (1 - p)`` for one Bernoulli draw of ``shape`` from the global generator."""
    if dropout_p >= 1:  # everything dropped, no draw (as F.dropout)
        return xp.zeros(shape, dtype=dtype)
    keep = get_rng()._bernoulli(1.0 - dropout_p, shape)
    return keep.astype(dtype) / xp.asarray(1.0 - dropout_p, dtype=dtype)


# ============================================================================ fused
def _softmax_rows(scores: Any) -> Any:
    """Softmax over the last axis, in place on ``scores``; a row that is -inf throughout
    gives zeros (PyTorch's CPU kernels), not NaN."""
    m = scores.max(axis=-1, keepdims=True, initial=-numpy.inf)
    m[xp.isneginf(m)] = 0  # a dead row: exp(-inf - 0) = 0 everywhere
    scores -= m
    xp.exp(scores, out=scores)
    total = scores.sum(axis=-1, keepdims=True)
    total[total == 0] = 1  # 0 / 1: the dead row stays 0
    scores /= total
    return scores


def _t(a: Any) -> Any:
    """``a`` with its last two axes swapped, made contiguous: NumPy's stacked matmul calls
    BLAS for a transposed first operand but loops slowly (3-4x) over a transposed second."""
    return xp.ascontiguousarray(xp.swapaxes(a, -1, -2))


class ScaledDotProductAttention(Function):
    """``softmax(Q K^T * scale + mask) V`` as one node (inputs: query, key, value and the
    float mask, or None): P is kept for the backward, never recomputed.

    ``mask`` holds a bool keep-mask (``is_causal`` or a bool ``attn_mask``) as a constant;
    a float ``attn_mask`` is the fourth input, added to the scores, and gets the scores'
    gradient. ``keep`` is dropout's ``mask / (1 - p)`` (or None), applied to P.
    """

    node_name = "ScaledDotProductFlashAttentionForCpuBackward0"  # PyTorch's CPU kernel
    derivative = ("scale * dS @ {x1}, dS = P*(dP - rowsum(dP*P)), dP = upstream @ {x2}^T",
                  "scale * dS^T @ {x0}", "P^T @ upstream", "dS")

    def __init__(self, scale: float, mask: Optional[Any], keep: Optional[Any]) -> None:
        self.scale = scale
        self.mask = mask
        self.keep = keep

    def forward(self, q: Any, k: Any, v: Any, float_mask: Optional[Any]) -> Any:
        # q (..., L, E), k (..., S, E), v (..., S, Ev)
        scores = xp.matmul(q * q.dtype.type(self.scale), _t(k))  # (..., L, S), a fresh array
        if self.mask is not None:
            xp.copyto(scores, -numpy.inf, where=~self.mask)  # keep where True
        if float_mask is not None:
            scores = scores + float_mask
        self.p = _softmax_rows(scores)
        p = self.p if self.keep is None else self.p * self.keep
        return xp.matmul(p, xp.ascontiguousarray(v))  # (..., L, Ev)

    def fast_backward(self, gy: Any) -> tuple:
        q, k, v, float_mask = (t._data if t is not None else None for t in self.inputs)
        nq, nk, nv, nm = self.needs_input_grad
        p = self.p  # (..., L, S)
        dropped = p if self.keep is None else p * self.keep
        gv = sum_to_shape(xp.matmul(xp.swapaxes(dropped, -1, -2), gy), v.shape) if nv else None
        if not (nq or nk or nm):
            return None, None, gv, None
        dp = xp.matmul(gy, _t(v))  # (..., L, S)
        if self.keep is not None:
            dp *= self.keep
        ds = dp - (dp * p).sum(axis=-1, keepdims=True)
        ds *= p  # dS = P * (dP - rowsum(dP * P))
        s = q.dtype.type(self.scale)
        gq = sum_to_shape(xp.matmul(ds, k) * s, q.shape) if nq else None
        gk = sum_to_shape(xp.matmul(xp.swapaxes(ds, -1, -2), q) * s, k.shape) if nk else None
        gm = sum_to_shape(ds, float_mask.shape) if nm else None
        return gq, gk, gv, gm

    def backward(self, gy: Tensor) -> tuple:
        q, k, v, float_mask = self.inputs
        nq, nk, nv, nm = self.needs_input_grad
        # P rebuilt with differentiable ops, so the gradient can be differentiated again
        p = _weights(q, k, float_mask, self.mask, self.scale)
        dropped = p if self.keep is None else p * Tensor(self.keep)
        gv = unbroadcast(matmul(transpose(dropped, -1, -2), gy), v.shape) if nv else None
        if not (nq or nk or nm):
            return None, None, gv, None
        dp = matmul(gy, transpose(v, -1, -2))
        if self.keep is not None:
            dp = dp * Tensor(self.keep)
        ds = p * (dp - _sum(dp * p, -1, keepdim=True))
        gq = unbroadcast(matmul(ds, k) * self.scale, q.shape) if nq else None
        gk = unbroadcast(matmul(transpose(ds, -1, -2), q) * self.scale, k.shape) if nk else None
        gm = unbroadcast(ds, float_mask.shape) if nm else None
        return gq, gk, gv, gm


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Optional[Tensor] = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: Optional[float] = None,
                                 enable_gqa: bool = False) -> Tensor:
    """Attention ``softmax(query @ key^T * scale + mask) @ value``, as PyTorch 2.13's.

    A bool ``attn_mask`` keeps the scores where it is True; a float one is added to the
    scores. A query row whose keys are all masked out gives zeros (and zero gradients), as
    PyTorch's CPU kernels do. Dropout (``dropout_p``) zeroes attention weights from the
    global generator and scales the rest by ``1 / (1 - dropout_p)``; pass 0 in evaluation.

    Args:
        query: ``(..., L, E)``.
        key: ``(..., S, E)``.
        value: ``(..., S, Ev)``.
        attn_mask: bool or query-dtype tensor broadcastable to ``(..., L, S)``, or None.
        dropout_p: the probability of dropping an attention weight.
        is_causal: mask with the lower triangle of ``(L, S)`` (query i sees keys 0..i); an
            error together with ``attn_mask``.
        scale: the factor of the scores; None is ``1 / sqrt(E)``.
        enable_gqa: grouped-query attention: key and value may have fewer heads (dimension
            -3) than query, dividing them; each is repeated for its group of query heads.

    Shape:
        Output ``(..., L, Ev)``, the batch dimensions broadcast.

    Example:
        >>> import chainrule as cr
        >>> q = cr.ones(2, 4, 3, 8)                 # (N, heads, L, E)
        >>> scaled_dot_product_attention(q, q, cr.ones(2, 4, 3, 5), is_causal=True).shape
        (2, 4, 3, 5)
        >>> keep = cr.tensor([[True, False], [False, False]])
        >>> scaled_dot_product_attention(cr.ones(2, 1), cr.ones(2, 1), cr.tensor([[1.0], [2.0]]),
        ...                              attn_mask=keep).tolist()   # the second row: all masked
        [[1.0], [0.0]]
    """
    query, key, value = _check(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    mask = _mask_array(attn_mask, is_causal, query.shape[-2], key.shape[-2])
    bool_mask = mask if mask is not None and mask.dtype == numpy.bool_ else None
    float_mask = attn_mask if attn_mask is not None and bool_mask is None else None
    keep = None
    if dropout_p > 0:
        scores = xp.broadcast_shapes(query.shape[:-2], key.shape[:-2]) + \
            (query.shape[-2], key.shape[-2])
        keep = _dropout_keep(dropout_p, scores, query.dtype)
    fn = ScaledDotProductAttention(_scale(query, scale), bool_mask, keep)
    return fn(query, key, value, float_mask)


def _weights(query: Tensor, key: Tensor, float_mask: Optional[Tensor], bool_mask: Optional[Any],
             scale: float) -> Tensor:
    """The attention weights ``softmax(Q K^T * scale + mask)`` (dead rows 0), composed from
    matmul, where and softmax: shared by the composed twin and the fused op's backward."""
    scores = matmul(query * scale, transpose(key, -2, -1))  # (..., L, S)
    if bool_mask is not None:
        scores = where(Tensor(bool_mask), scores, -math.inf)  # keep where True
    if float_mask is not None:
        scores = scores + float_mask  # added (and given its gradient)
    dead = _dead_rows(scores._data)
    if dead is not None:  # a row masked throughout: softmax of zeros, then 0 (no NaN)
        scores = where(Tensor(dead), 0.0, scores)
    weights = softmax(scores, -1)
    return weights if dead is None else where(Tensor(dead), 0.0, weights)


# ============================================================================ composed (reference)
def scaled_dot_product_attention_composed(query: Tensor, key: Tensor, value: Tensor,
                                          attn_mask: Optional[Tensor] = None,
                                          dropout_p: float = 0.0, is_causal: bool = False,
                                          scale: Optional[float] = None,
                                          enable_gqa: bool = False) -> Tensor:
    """The reference twin of :func:`scaled_dot_product_attention`, composed from matmul,
    where and softmax (the arguments and shapes are the same)."""
    query, key, value = _check(query, key, value, attn_mask, dropout_p, is_causal, enable_gqa)
    mask = _mask_array(attn_mask, is_causal, query.shape[-2], key.shape[-2])
    bool_mask = mask if mask is not None and mask.dtype == numpy.bool_ else None
    float_mask = attn_mask if attn_mask is not None and bool_mask is None else None
    weights = _weights(query, key, float_mask, bool_mask, _scale(query, scale))
    if dropout_p > 0:
        weights = weights * Tensor(_dropout_keep(dropout_p, weights.shape, weights.dtype))
    return matmul(weights, value)  # (..., L, Ev)


# ============================================================================ multi-head attention
class AttentionShapeError(OpError, AssertionError):
    """A wrong shape or argument of multi-head attention: PyTorch raises AssertionError for
    these, chainrule's :class:`OpError` (a ValueError and a RuntimeError) for the rest; this
    is all three, so either kind of ``except`` catches it."""


def _mha_shapes(query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Optional[Tensor],
                attn_mask: Optional[Tensor], num_heads: int) -> bool:
    """PyTorch's ``_mha_shape_check``: True for batched (3-D) inputs, False for unbatched."""
    op = "multi_head_attention_forward"
    shapes = f"(query {query.shape}, key {key.shape}, value {value.shape})"
    if query.ndim not in (2, 3):
        raise AttentionShapeError(f"{op}: query should be unbatched 2D or batched 3D tensor but "
                                  f"received {query.ndim}-D query tensor {shapes}")
    batched = query.ndim == 3
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise AttentionShapeError(f"{op}: For {kind} `query`, expected `key` and `value` to be "
                                  f"{query.ndim}-D but found {key.ndim}-D and {value.ndim}-D "
                                  f"tensors respectively {shapes}")
    if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
        raise AttentionShapeError(f"{op}: For {kind} `query`, expected `key_padding_mask` to be "
                                  f"`None` or {query.ndim - 1}-D but found "
                                  f"{key_padding_mask.ndim}-D tensor instead (shape "
                                  f"{key_padding_mask.shape})")
    if attn_mask is not None and attn_mask.ndim not in (2, 3):
        raise AttentionShapeError(f"{op}: For {kind} `query`, expected `attn_mask` to be `None`, "
                                  f"2-D or 3-D but found {attn_mask.ndim}-D tensor instead "
                                  f"(shape {attn_mask.shape})")
    if not batched and attn_mask is not None and attn_mask.ndim == 3:
        expected = (num_heads, query.shape[0], key.shape[0])
        if attn_mask.shape != expected:
            raise AttentionShapeError(f"{op}: Expected `attn_mask` shape to be {expected} but "
                                      f"got {attn_mask.shape}")
    return batched


def canonical_mask(mask: Optional[Tensor], name: str, dtype: Any,
                   other: Optional[Tensor] = None, other_name: str = "") -> Optional[Tensor]:
    """A bool mask (True: masked out) as a float mask of ``dtype`` (-inf where True, else 0);
    a float mask as it is; as PyTorch's ``_canonical_mask`` (with its warning when the
    ``other`` mask has another dtype).

    Example:
        >>> import chainrule as cr
        >>> canonical_mask(cr.tensor([True, False]), "key_padding_mask", cr.float32).tolist()
        [-inf, 0.0]
    """
    if mask is None:
        return None
    kind = mask._data.dtype.kind
    if mask.dtype != numpy.bool_ and kind != "f":
        raise AttentionShapeError(f"only bool and floating types of {name} are supported (got "
                                  f"{mask.dtype})")
    if other is not None and other.dtype != mask.dtype:
        warnings.warn(f"Support for mismatched {name} and {other_name} is deprecated. Use same "
                      f"type for both instead.", UserWarning, stacklevel=3)
    if kind == "f":
        return mask
    return Tensor(xp.where(mask._data, xp.asarray(-numpy.inf, dtype=dtype),
                           xp.asarray(0, dtype=dtype)))


def _project(x: Tensor, weight: Tensor, bias: Optional[Tensor], name: str) -> Tensor:
    """``x @ weight.T + bias``, naming the projection on a size mismatch."""
    if x.shape[-1] != weight.shape[1]:
        raise AttentionShapeError(f"multi_head_attention_forward: {name} of shape {x.shape} "
                                  f"has {x.shape[-1]} features, but its projection weight of "
                                  f"shape {weight.shape} expects {weight.shape[1]}")
    return linear(x, weight, bias)


def _in_projection(query: Tensor, key: Tensor, value: Tensor, in_proj_weight: Optional[Tensor],
                   in_proj_bias: Optional[Tensor], separate: bool,
                   weights: tuple) -> tuple[Tensor, Tensor, Tensor]:
    """q, k, v projected, as PyTorch's ``_in_projection_packed`` (one product for
    self-attention, two when key is value) or ``_in_projection`` (separate weights)."""
    e = query.shape[-1]
    if separate:
        biases = (None,) * 3 if in_proj_bias is None else chunk(in_proj_bias, 3)
        return tuple(_project(x, w, b, n) for x, w, b, n in  # type: ignore[return-value]
                     zip((query, key, value), weights, biases, ("query", "key", "value")))
    if in_proj_weight is None:
        raise AttentionShapeError("multi_head_attention_forward: use_separate_proj_weight is "
                                  "False but in_proj_weight is None")
    w, b = in_proj_weight, in_proj_bias
    if key is value and query is key:  # self-attention: one (..., 3E) product, split
        qkv = _project(query, w, b, "query")
        return qkv[..., :e], qkv[..., e:2 * e], qkv[..., 2 * e:]
    wq, wkv = w[:e], w[e:]
    bq, bkv = (None, None) if b is None else (b[:e], b[e:])
    q = _project(query, wq, bq, "query")
    if key is value:
        kv = _project(key, wkv, bkv, "key")
        return q, kv[..., :e], kv[..., e:]
    bk, bv = (None, None) if bkv is None else (bkv[:e], bkv[e:])
    return q, _project(key, wkv[:e], bk, "key"), _project(value, wkv[e:], bv, "value")


def _pad_key(mask: Optional[Tensor]) -> Optional[Tensor]:
    """A float mask with one more key column (0: the added key is seen)."""
    return None if mask is None else pad(mask, (0, 1))


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Optional[Tensor], in_proj_bias: Optional[Tensor],
        bias_k: Optional[Tensor], bias_v: Optional[Tensor], add_zero_attn: bool,
        dropout_p: float, out_proj_weight: Tensor, out_proj_bias: Optional[Tensor],
        training: bool = True, key_padding_mask: Optional[Tensor] = None,
        need_weights: bool = True, attn_mask: Optional[Tensor] = None,
        use_separate_proj_weight: bool = False, q_proj_weight: Optional[Tensor] = None,
        k_proj_weight: Optional[Tensor] = None, v_proj_weight: Optional[Tensor] = None,
        static_k: Optional[Tensor] = None, static_v: Optional[Tensor] = None,
        average_attn_weights: bool = True, is_causal: bool = False) -> tuple:
    """Multi-head attention, as PyTorch's ``F.multi_head_attention_forward`` (sequence first).

    Project query, key and value (packed ``in_proj_weight`` or the three separate weights),
    split the embedding into ``num_heads`` heads, attend in each head, join the heads and
    project with ``out_proj``. Bool masks are True where a key is *masked out* (the opposite
    of :func:`scaled_dot_product_attention`'s); float masks are added to the scores.

    With ``need_weights`` the weights are computed explicitly (as PyTorch: a query whose keys
    are all masked gets NaN) and returned, averaged over heads if ``average_attn_weights``;
    without, the fused :func:`scaled_dot_product_attention` runs (such a query gives 0).

    Args:
        query: ``(L, N, E)`` or unbatched ``(L, E)``.
        key: ``(S, N, kdim)`` or ``(S, kdim)``.
        value: ``(S, N, vdim)`` or ``(S, vdim)``.
        embed_dim_to_check: E, checked against the query.
        num_heads: the number of heads (dividing E).
        in_proj_weight, in_proj_bias: ``(3E, E)`` and ``(3E,)`` (bias optional).
        bias_k, bias_v: ``(1, 1, E)``: a key and a value appended to the sequence, or None.
        add_zero_attn: append a zero key and value (after the heads are split).
        dropout_p: dropout on the attention weights (training only).
        out_proj_weight, out_proj_bias: ``(E, E)``, ``(E,)``.
        training: apply dropout.
        key_padding_mask: ``(N, S)`` or ``(S,)``: keys to ignore (bool True, or float added).
        need_weights: also return the attention weights.
        attn_mask: ``(L, S)`` or ``(N * num_heads, L, S)``.
        use_separate_proj_weight: use ``q_proj_weight`` (E, E), ``k_proj_weight`` (E, kdim),
            ``v_proj_weight`` (E, vdim).
        static_k, static_v: ``(N * num_heads, S, E / num_heads)`` keys / values used as they
            are, instead of the projected ones.
        average_attn_weights: average the returned weights over the heads.
        is_causal: a hint that ``attn_mask`` is the causal mask (it must be given).

    Shape:
        Output ``(L, N, E)`` (``(L, E)`` unbatched); weights ``(N, L, S)`` averaged, else
        ``(N, num_heads, L, S)`` (no N unbatched), or None.

    Example:
        >>> import chainrule as cr
        >>> x = cr.ones(5, 2, 8)                                # (L, N, E)
        >>> w, b = cr.ones(24, 8) * 0.1, cr.zeros(24)
        >>> out, weights = multi_head_attention_forward(
        ...     x, x, x, 8, 2, w, b, None, None, False, 0.0, cr.ones(8, 8), None)
        >>> out.shape, weights.shape
        ((5, 2, 8), (2, 5, 5))
    """
    op = "multi_head_attention_forward"
    batched = _mha_shapes(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not batched:  # (L, E) -> (L, 1, E)
        query, key, value = unsqueeze(query, 1), unsqueeze(key, 1), unsqueeze(value, 1)
        if key_padding_mask is not None:
            key_padding_mask = unsqueeze(key_padding_mask, 0)
    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = canonical_mask(key_padding_mask, "key_padding_mask", query.dtype,
                                      attn_mask, "attn_mask")
    if is_causal and attn_mask is None:
        raise OpError(f"{op}: Need attn_mask if specifying the is_causal hint. You may use the "
                      f"Transformer module method `generate_square_subsequent_mask` to create "
                      f"this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint alone: scaled_dot_product_attention's is_causal
    else:
        attn_mask = canonical_mask(attn_mask, "attn_mask", query.dtype)
        if key_padding_mask is not None:
            is_causal = False  # the merged mask is no longer causal
    if embed_dim != embed_dim_to_check:
        raise AttentionShapeError(f"{op}: was expecting embedding dimension of "
                                  f"{embed_dim_to_check}, but got {embed_dim} (query of shape "
                                  f"{query.shape})")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AttentionShapeError(f"{op}: embed_dim {embed_dim} not divisible by num_heads "
                                  f"{num_heads}")
    if use_separate_proj_weight and key.shape[:2] != value.shape[:2]:
        raise AttentionShapeError(f"{op}: key's sequence and batch dims {key.shape[:2]} do not "
                                  f"match value's {value.shape[:2]}")
    if not use_separate_proj_weight and key.shape != value.shape:
        raise AttentionShapeError(f"{op}: key shape {key.shape} does not match value shape "
                                  f"{value.shape}")
    if key.shape[1] != bsz:
        raise AttentionShapeError(f"{op}: query has batch size {bsz} but key has "
                                  f"{key.shape[1]} (query {query.shape}, key {key.shape}; "
                                  f"sequence first unless batch_first)")
    separate = (q_proj_weight, k_proj_weight, v_proj_weight)
    if use_separate_proj_weight and any(w is None for w in separate):
        raise AttentionShapeError(f"{op}: use_separate_proj_weight is True but q_proj_weight, "
                                  f"k_proj_weight or v_proj_weight is None")
    q, k, v = _in_projection(query, key, value, in_proj_weight, in_proj_bias,
                             use_separate_proj_weight, separate)
    if attn_mask is not None:  # -> (1 or N*H, L, S)
        expected = (tgt_len, src_len) if attn_mask.ndim == 2 else \
            (bsz * num_heads, tgt_len, src_len)
        if attn_mask.shape != expected:
            raise OpError(f"{op}: The shape of the {attn_mask.ndim}D attn_mask is "
                          f"{attn_mask.shape}, but should be {expected}.")
        if attn_mask.ndim == 2:
            attn_mask = unsqueeze(attn_mask, 0)
    if key_padding_mask is not None and key_padding_mask.shape != (bsz, src_len):
        raise AttentionShapeError(f"{op}: Expected key_padding_mask of shape {(bsz, src_len)} "
                                  f"(N, S), but got {key_padding_mask.shape}")
    if (bias_k is None) != (bias_v is None):
        raise AttentionShapeError(f"{op}: bias_k and bias_v must be given together")
    if bias_k is not None:  # one more key and value, in every batch: (S + 1, N, E)
        if static_k is not None or static_v is not None:
            raise AttentionShapeError(f"{op}: bias cannot be added to static key or value.")
        k = cat([k, expand(bias_k, 1, bsz, embed_dim)])
        v = cat([v, expand(bias_v, 1, bsz, embed_dim)])
        attn_mask, key_padding_mask = _pad_key(attn_mask), _pad_key(key_padding_mask)
    # (L, N, E) -> (L, N, H, hd) -> (N, H, L, hd); likewise k and v with S
    q = permute(reshape(q, (tgt_len, bsz, num_heads, head_dim)), (1, 2, 0, 3))
    k = _heads(k, static_k, bsz, num_heads, head_dim, "static_k")
    v = _heads(v, static_v, bsz, num_heads, head_dim, "static_v")
    if add_zero_attn:  # a zero key and value after the heads are split: (N, H, S + 1, hd)
        k = cat([k, Tensor(xp.zeros(k.shape[:2] + (1, head_dim), k.dtype))], 2)
        v = cat([v, Tensor(xp.zeros(v.shape[:2] + (1, head_dim), v.dtype))], 2)
        attn_mask, key_padding_mask = _pad_key(attn_mask), _pad_key(key_padding_mask)
    src_len = k.shape[2]
    if attn_mask is not None:  # (1 or N*H, L, S) -> (1 or N, 1 or H, L, S)
        attn_mask = reshape(attn_mask, (1, 1) + attn_mask.shape[1:]) if attn_mask.shape[0] == 1 \
            else reshape(attn_mask, (bsz, num_heads) + attn_mask.shape[1:])
    if key_padding_mask is not None:  # (N, S) -> (N, 1, 1, S), merged into attn_mask
        key_padding_mask = reshape(key_padding_mask, (bsz, 1, 1, src_len))
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    if not training:
        dropout_p = 0.0
    weights = None
    if need_weights:
        if is_causal and attn_mask is None:
            raise OpError(f"{op}: is_causal needs attn_mask when need_weights is True")
        scores = matmul(q * math.sqrt(1.0 / head_dim), transpose(k, -2, -1))  # (N, H, L, S)
        if attn_mask is not None:
            scores = scores + attn_mask
        weights = softmax(scores, -1)  # a row masked throughout: NaN, as PyTorch's
        dropped = weights
        if dropout_p > 0:
            dropped = weights * Tensor(_dropout_keep(dropout_p, weights.shape, weights.dtype))
        out = matmul(dropped, v)  # (N, H, L, hd)
        if average_attn_weights:
            weights = mean(weights, 1)  # (N, L, S)
        if not batched:
            weights = squeeze(weights, 0)
    else:
        out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    # (N, H, L, hd) -> (L, N, H, hd) -> (L * N, E) -> out_proj -> (L, N, E)
    out = reshape(permute(out, (2, 0, 1, 3)), (tgt_len * bsz, embed_dim))
    out = reshape(linear(out, out_proj_weight, out_proj_bias), (tgt_len, bsz, -1))
    if not batched:
        out = squeeze(out, 1)
    return out, weights


def _heads(x: Tensor, static: Optional[Tensor], bsz: int, num_heads: int, head_dim: int,
           name: str) -> Tensor:
    """(S, N, E) -> (N, H, S, hd), or the static (N * H, S, hd) keys/values as (N, H, S, hd)."""
    if static is None:
        return permute(reshape(x, (x.shape[0], bsz, num_heads, head_dim)), (1, 2, 0, 3))
    if static.ndim != 3 or static.shape[0] != bsz * num_heads or static.shape[2] != head_dim:
        raise AttentionShapeError(f"multi_head_attention_forward: expecting {name} of shape "
                                  f"({bsz * num_heads}, S, {head_dim}), but got {static.shape}")
    return reshape(static, (bsz, num_heads) + static.shape[1:])
