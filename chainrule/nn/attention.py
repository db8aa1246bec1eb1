"""``MultiheadAttention``: PyTorch's multi-head attention layer, parameters named and laid out
as PyTorch's (``in_proj_weight``/``in_proj_bias`` or ``q_proj_weight``, ``k_proj_weight``,
``v_proj_weight``; ``out_proj``; ``bias_k``/``bias_v``), so state_dicts load both ways."""
from __future__ import annotations

from typing import Any, Optional

from ..autograd.tensor import Tensor
from ..backend import xp
from ..ops.attention import AttentionShapeError, canonical_mask
from . import functional as F
from . import init
from .linear import Linear
from .module import Module, factory_dtype
from .parameter import Parameter

__all__ = ["MultiheadAttention", "NonDynamicallyQuantizableLinear"]


class NonDynamicallyQuantizableLinear(Linear):
    """A :class:`Linear` under PyTorch's name for ``MultiheadAttention.out_proj`` (PyTorch uses
    the subclass to keep quantization away from it); the same layer otherwise.

    Example:
        >>> import chainrule as cr
        >>> NonDynamicallyQuantizableLinear(4, 4)(cr.ones(2, 4)).shape
        (2, 4)
    """


def _positive_int(value: Any, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"MultiheadAttention: {name} must be a positive int, got {value!r}")


class MultiheadAttention(Module):
    """Multi-head attention: ``concat(head_1, ..., head_h) W_out`` with
    ``head_i = softmax(Q W_q_i (K W_k_i)^T / sqrt(head_dim) + mask) V W_v_i``, as PyTorch's.

    Weights start as PyTorch's: ``xavier_uniform_`` on the input projection(s), zero input
    and output biases, ``xavier_normal_`` on ``bias_k``/``bias_v``, and ``out_proj.weight``
    with Linear's default. Bool masks are True where a key is ignored.

    Args:
        embed_dim: E, the model width (query features and output features).
        num_heads: the number of heads; must divide ``embed_dim``.
        dropout: dropout probability on the attention weights (training only).
        bias: input and output projection biases.
        add_bias_kv: learn a key and a value appended to every key/value sequence.
        add_zero_attn: append a zero key and value to every sequence.
        kdim: key features (default E); with ``vdim`` different from E the projections are
            the separate ``q_proj_weight``, ``k_proj_weight``, ``v_proj_weight``.
        vdim: value features (default E).
        batch_first: inputs and output are ``(N, L, E)`` instead of ``(L, N, E)``.
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        query ``(L, N, E)`` (``(N, L, E)`` batch first, ``(L, E)`` unbatched), key
        ``(S, N, kdim)``, value ``(S, N, vdim)``; key_padding_mask ``(N, S)``; attn_mask
        ``(L, S)`` or ``(N * num_heads, L, S)``. Output ``(L, N, E)`` like the query; weights
        ``(N, L, S)`` averaged over heads, else ``(N, num_heads, L, S)``.

    Example:
        >>> import chainrule as cr
        >>> mha = cr.nn.MultiheadAttention(16, 4, batch_first=True)
        >>> x = cr.randn(2, 5, 16)
        >>> out, weights = mha(x, x, x)
        >>> out.shape, weights.shape
        ((2, 5, 16), (2, 5, 5))
        >>> sorted(mha.state_dict())
        ['in_proj_bias', 'in_proj_weight', 'out_proj.bias', 'out_proj.weight']
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False,
                 kdim: Optional[int] = None, vdim: Optional[int] = None,
                 batch_first: bool = False, device: Any = None, dtype: Any = None) -> None:
        _positive_int(embed_dim, "embed_dim")
        _positive_int(num_heads, "num_heads")
        super().__init__()
        F.check_dropout_p(dropout, "MultiheadAttention")
        dt = factory_dtype(device, dtype, "MultiheadAttention")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        if self.head_dim * num_heads != embed_dim:
            raise AttentionShapeError(f"MultiheadAttention: embed_dim must be divisible by "
                                      f"num_heads, got embed_dim={embed_dim} and "
                                      f"num_heads={num_heads}")
        if not self._qkv_same_embed_dim:
            self.q_proj_weight = Parameter(xp.empty((embed_dim, embed_dim), dtype=dt))
            self.k_proj_weight = Parameter(xp.empty((embed_dim, self.kdim), dtype=dt))
            self.v_proj_weight = Parameter(xp.empty((embed_dim, self.vdim), dtype=dt))
            self.register_parameter("in_proj_weight", None)
        else:
            self.in_proj_weight = Parameter(xp.empty((3 * embed_dim, embed_dim), dtype=dt))
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        if bias:
            self.in_proj_bias = Parameter(xp.empty(3 * embed_dim, dtype=dt))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias,
                                                        dtype=dt)
        if add_bias_kv:
            self.bias_k = Parameter(xp.empty((1, 1, embed_dim), dtype=dt))
            self.bias_v = Parameter(xp.empty((1, 1, embed_dim), dtype=dt))
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        """PyTorch's initialisation (see the class docstring)."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            init.xavier_uniform_(self.q_proj_weight)
            init.xavier_uniform_(self.k_proj_weight)
            init.xavier_uniform_(self.v_proj_weight)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
        if self.bias_v is not None:
            init.xavier_normal_(self.bias_v)

    def forward(self, query: Tensor, key: Tensor, value: Tensor,
                key_padding_mask: Optional[Tensor] = None, need_weights: bool = True,
                attn_mask: Optional[Tensor] = None, average_attn_weights: bool = True,
                is_causal: bool = False) -> tuple[Tensor, Optional[Tensor]]:
        """Attend from ``query`` to ``key``/``value``; returns ``(output, weights)`` (weights
        None unless ``need_weights``). See the class docstring for the shapes."""
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"MultiheadAttention: {name} must be a Tensor, got "
                                f"{type(t).__name__}")
        batched = query.ndim == 3
        key_padding_mask = canonical_mask(key_padding_mask, "key_padding_mask", query.dtype,
                                          attn_mask, "attn_mask")
        attn_mask = canonical_mask(attn_mask, "attn_mask", query.dtype)
        if self.batch_first and batched:  # (N, L, E) -> (L, N, E), keeping `is`
            if key is value:
                if query is key:
                    query = key = value = query.transpose(1, 0)
                else:
                    query, key = query.transpose(1, 0), key.transpose(1, 0)
                    value = key
            else:
                query, key, value = (x.transpose(1, 0) for x in (query, key, value))
        out, weights = F.multi_head_attention_forward(
            query, key, value, self.embed_dim, self.num_heads, self.in_proj_weight,
            self.in_proj_bias, self.bias_k, self.bias_v, self.add_zero_attn, self.dropout,
            self.out_proj.weight, self.out_proj.bias, training=self.training,
            key_padding_mask=key_padding_mask, need_weights=need_weights, attn_mask=attn_mask,
            use_separate_proj_weight=not self._qkv_same_embed_dim,
            q_proj_weight=self.q_proj_weight, k_proj_weight=self.k_proj_weight,
            v_proj_weight=self.v_proj_weight, average_attn_weights=average_attn_weights,
            is_causal=is_causal)
        if self.batch_first and batched:
            out = out.transpose(1, 0)  # (L, N, E) -> (N, L, E)
        return out, weights
