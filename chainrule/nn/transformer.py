"""The transformer layers of "Attention Is All You Need", as PyTorch's: ``Transformer``,
``TransformerEncoder``/``TransformerDecoder`` (stacks of cloned layers, an optional final
norm) and ``TransformerEncoderLayer``/``TransformerDecoderLayer`` (post-norm by default,
pre-norm with ``norm_first``). Submodules are named as PyTorch's (``self_attn``,
``multihead_attn``, ``linear1``, ``dropout``, ``linear2``, ``norm1``..``norm3``,
``dropout1``..``dropout3``, ``layers.0``, ``encoder``, ``decoder``), so state_dicts load both
ways.

PyTorch's inference fast paths (nested tensors, ``_transformer_encoder_layer_fwd``) compute the
same function; here every call takes the ordinary path, so ``enable_nested_tensor`` is
accepted and recorded only.
"""
from __future__ import annotations

import copy
from typing import Any, Callable, Optional, Union

import numpy

from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from ..backend import xp
from ..ops.attention import canonical_mask
from . import functional as F
from .activation import GELU, ReLU
from .attention import MultiheadAttention
from .containers import ModuleList
from .dropout import Dropout
from .init import xavier_uniform_
from .linear import Linear
from .module import Module, factory_dtype
from .normalization import LayerNorm

__all__ = ["Transformer", "TransformerEncoder", "TransformerDecoder", "TransformerEncoderLayer",
           "TransformerDecoderLayer"]

Activation = Union[str, Callable[[Tensor], Tensor]]


def _generate_square_subsequent_mask(sz: int, device: Any = None, dtype: Any = None) -> Tensor:
    """The (sz, sz) causal float mask: -inf above the diagonal, 0 on and below it."""
    dt = factory_dtype(device, dtype, "generate_square_subsequent_mask")
    if isinstance(sz, bool) or not isinstance(sz, (int, numpy.integer)) or sz < 0:
        raise OpError(f"generate_square_subsequent_mask: sz must be a non-negative int, got "
                      f"{sz!r}")
    return Tensor(xp.triu(xp.full((sz, sz), -numpy.inf, dtype=dt), 1))


def _get_activation_fn(activation: str) -> Callable[[Tensor], Tensor]:
    if activation == "relu":
        return F.relu
    if activation == "gelu":
        return F.gelu
    raise OpError(f"activation should be relu/gelu, not {activation}")


def _get_clones(module: Module, n: int, stack: str) -> ModuleList:
    """``n`` deep copies of ``module`` (independent weights); ``stack`` names the caller."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise OpError(f"{stack}: num_layers must be a non-negative int, got {n!r}")
    return ModuleList([copy.deepcopy(module) for _ in range(n)])


def _get_seq_len(src: Tensor, batch_first: bool) -> int:
    if src.ndim == 2:
        return src.shape[0]
    return src.shape[1 if batch_first else 0]


def _stack_is_causal(layers: ModuleList, x: Tensor, mask: Optional[Tensor],
                     is_causal: Optional[bool]) -> bool:
    """A stack's ``is_causal``: as given, else whether ``mask`` is the causal mask of ``x``'s
    sequence length (read batch first or not as the stack's first layer reads it)."""
    batch_first = layers[0].self_attn.batch_first if len(layers) else False
    return _detect_is_causal_mask(mask, is_causal, _get_seq_len(x, batch_first))


def _detect_is_causal_mask(mask: Optional[Tensor], is_causal: Optional[bool] = None,
                           size: Optional[int] = None) -> bool:
    """``is_causal`` when given; else whether ``mask`` is the causal float mask of ``size``."""
    make_causal = is_causal is True
    if is_causal is None and mask is not None:
        sz = size if size is not None else mask.shape[-2]
        causal = _generate_square_subsequent_mask(sz, dtype=mask.dtype)
        make_causal = mask.shape == causal.shape and bool((mask._data == causal._data).all())
    return make_causal


def _check_d_model(x: Tensor, d_model: int, layer: str, name: str) -> None:
    if x.ndim not in (2, 3) or x.shape[-1] != d_model:
        raise OpError(f"{layer}: {name} of shape {x.shape} must be (S, N, E), (N, S, E) or "
                      f"(S, E) with E = d_model = {d_model}")


# ============================================================================ layers
class _TransformerLayer(Module):
    """What the encoder and decoder layers share: the feed-forward network (``linear1``,
    ``dropout``, ``linear2``), one LayerNorm and one residual dropout per block
    (``norm1``.., ``dropout1``..), the self-attention block and the feed-forward block
    (the last block, whose dropout is ``_ff_dropout``)."""

    _ff_dropout = "dropout2"

    def _add_blocks(self, blocks: int, d_model: int, dim_feedforward: int, dropout: float,
                    layer_norm_eps: float, norm_first: bool, bias: bool, kw: dict) -> None:
        """Register the feed-forward network, then ``blocks`` norms and ``blocks`` residual
        dropouts (PyTorch's order, so parameters and state_dict keys come in its order)."""
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias, **kw)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias, **kw)
        self.norm_first = norm_first
        for k in range(1, blocks + 1):
            setattr(self, f"norm{k}", LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        for k in range(1, blocks + 1):
            setattr(self, f"dropout{k}", Dropout(dropout))

    def _sa_block(self, x: Tensor, attn_mask: Optional[Tensor],
                  key_padding_mask: Optional[Tensor], is_causal: bool = False) -> Tensor:
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask,
                           need_weights=False, is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x: Tensor) -> Tensor:
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return getattr(self, self._ff_dropout)(x)


class TransformerEncoderLayer(_TransformerLayer):
    """Self-attention and a feed-forward network, each in a residual block with layer norm.

    Post-norm (default): ``x = norm1(x + sa(x)); x = norm2(x + ff(x))``; with ``norm_first``:
    ``x = x + sa(norm1(x)); x = x + ff(norm2(x))``; ``ff(x) = linear2(dropout(act(linear1(x))))``.

    Args:
        d_model: the model width E.
        nhead: the number of attention heads (dividing ``d_model``).
        dim_feedforward: the hidden width of the feed-forward network.
        dropout: dropout probability (attention weights, feed-forward, residual branches).
        activation: "relu", "gelu" or a callable (a function or a module).
        layer_norm_eps: LayerNorm's eps.
        batch_first: inputs are ``(N, S, E)`` instead of ``(S, N, E)``.
        norm_first: pre-norm instead of post-norm.
        bias: biases in the linear layers and the norms.
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        src ``(S, N, E)`` (``(N, S, E)`` batch first, ``(S, E)`` unbatched); output the same.

    Example:
        >>> import chainrule as cr
        >>> layer = cr.nn.TransformerEncoderLayer(d_model=16, nhead=4, dim_feedforward=32,
        ...                                       batch_first=True)
        >>> layer(cr.randn(2, 5, 16)).shape
        (2, 5, 16)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Activation = F.relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                            batch_first=batch_first, **kw)
        self._add_blocks(2, d_model, dim_feedforward, dropout, layer_norm_eps, norm_first, bias,
                         kw)
        if isinstance(activation, str):
            activation = _get_activation_fn(activation)
        if activation is F.relu or isinstance(activation, ReLU):
            self.activation_relu_or_gelu = 1
        elif activation is F.gelu or isinstance(activation, GELU):
            self.activation_relu_or_gelu = 2
        else:
            self.activation_relu_or_gelu = 0
        self.activation = activation

    def forward(self, src: Tensor, src_mask: Optional[Tensor] = None,
                src_key_padding_mask: Optional[Tensor] = None,
                is_causal: bool = False) -> Tensor:
        """Encode ``src``; masks as :class:`MultiheadAttention`'s (``src_mask`` (S, S) or
        (N * nhead, S, S), ``src_key_padding_mask`` (N, S)); ``is_causal`` hints that
        ``src_mask`` is the causal mask."""
        _check_d_model(src, self.self_attn.embed_dim, type(self).__name__, "src")
        src_key_padding_mask = canonical_mask(src_key_padding_mask, "src_key_padding_mask",
                                              src.dtype, src_mask, "src_mask")
        src_mask = canonical_mask(src_mask, "src_mask", src.dtype)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerDecoderLayer(_TransformerLayer):
    """Self-attention, attention over the encoder's output (``memory``) and a feed-forward
    network, each in a residual block with layer norm (post-norm, or pre-norm with
    ``norm_first``).

    Args:
        d_model: the model width E.
        nhead: the number of attention heads (dividing ``d_model``).
        dim_feedforward: the hidden width of the feed-forward network.
        dropout: dropout probability.
        activation: "relu", "gelu" or a callable.
        layer_norm_eps: LayerNorm's eps.
        batch_first: inputs are ``(N, T, E)`` instead of ``(T, N, E)``.
        norm_first: pre-norm instead of post-norm.
        bias: biases in the linear layers and the norms.
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        tgt ``(T, N, E)``, memory ``(S, N, E)`` (batch first: N leads; unbatched: no N);
        output like tgt.

    Example:
        >>> import chainrule as cr
        >>> layer = cr.nn.TransformerDecoderLayer(d_model=16, nhead=4, dim_feedforward=32)
        >>> layer(cr.randn(3, 2, 16), cr.randn(5, 2, 16)).shape
        (3, 2, 16)
    """

    _ff_dropout = "dropout3"

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Activation = F.relu,
                 layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                            batch_first=batch_first, bias=bias, **kw)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout,
                                                 batch_first=batch_first, bias=bias, **kw)
        self._add_blocks(3, d_model, dim_feedforward, dropout, layer_norm_eps, norm_first, bias,
                         kw)
        self.activation = _get_activation_fn(activation) if isinstance(activation, str) \
            else activation

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Optional[Tensor] = None,
                memory_mask: Optional[Tensor] = None,
                tgt_key_padding_mask: Optional[Tensor] = None,
                memory_key_padding_mask: Optional[Tensor] = None,
                tgt_is_causal: bool = False, memory_is_causal: bool = False) -> Tensor:
        """Decode ``tgt`` attending to ``memory``; ``tgt_mask`` (T, T), ``memory_mask``
        (T, S), padding masks (N, T) and (N, S)."""
        name = type(self).__name__
        _check_d_model(tgt, self.self_attn.embed_dim, name, "tgt")
        _check_d_model(memory, self.self_attn.embed_dim, name, "memory")
        x = tgt
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), tgt_mask, tgt_key_padding_mask,
                                   tgt_is_causal)
            x = x + self._mha_block(self.norm2(x), memory, memory_mask,
                                    memory_key_padding_mask, memory_is_causal)
            x = x + self._ff_block(self.norm3(x))
        else:
            x = self.norm1(x + self._sa_block(x, tgt_mask, tgt_key_padding_mask,
                                              tgt_is_causal))
            x = self.norm2(x + self._mha_block(x, memory, memory_mask,
                                               memory_key_padding_mask, memory_is_causal))
            x = self.norm3(x + self._ff_block(x))
        return x

    def _mha_block(self, x: Tensor, mem: Tensor, attn_mask: Optional[Tensor],
                   key_padding_mask: Optional[Tensor], is_causal: bool = False) -> Tensor:
        x = self.multihead_attn(x, mem, mem, attn_mask=attn_mask,
                                key_padding_mask=key_padding_mask, is_causal=is_causal,
                                need_weights=False)[0]
        return self.dropout2(x)


# ============================================================================ stacks
class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (deep copies: independent weights), then
    ``norm`` if given.

    Args:
        encoder_layer: the layer to clone (a :class:`TransformerEncoderLayer`).
        num_layers: how many layers.
        norm: a final normalisation module, or None.
        enable_nested_tensor: accepted for PyTorch compatibility (no nested tensors here).
        mask_check: accepted for PyTorch compatibility.

    Shape:
        src ``(S, N, E)`` (``(N, S, E)`` batch first); output the same.

    Example:
        >>> import chainrule as cr
        >>> layer = cr.nn.TransformerEncoderLayer(16, 4, dim_feedforward=32)
        >>> enc = cr.nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
        >>> enc(cr.randn(5, 2, 16)).shape
        (5, 2, 16)
        >>> [k for k in enc.state_dict() if k.endswith("linear1.weight")]
        ['layers.0.linear1.weight', 'layers.1.linear1.weight']
    """

    def __init__(self, encoder_layer: Module, num_layers: int, norm: Optional[Module] = None,
                 enable_nested_tensor: bool = True, mask_check: bool = True) -> None:
        super().__init__()
        self.layers = _get_clones(encoder_layer, num_layers, "TransformerEncoder")
        self.num_layers = num_layers
        self.norm = norm
        self.enable_nested_tensor = enable_nested_tensor
        self.use_nested_tensor = False  # never: chainrule has no nested tensors
        self.mask_check = mask_check

    def forward(self, src: Tensor, mask: Optional[Tensor] = None,
                src_key_padding_mask: Optional[Tensor] = None,
                is_causal: Optional[bool] = None) -> Tensor:
        """Run every layer on ``src`` with the same masks; ``is_causal=None`` detects whether
        ``mask`` is the causal mask (as PyTorch)."""
        src_key_padding_mask = canonical_mask(src_key_padding_mask, "src_key_padding_mask",
                                              src.dtype, mask, "mask")
        mask = canonical_mask(mask, "mask", src.dtype)
        output = src
        causal = _stack_is_causal(self.layers, src, mask, is_causal)
        for mod in self.layers:
            output = mod(output, src_mask=mask, is_causal=causal,
                         src_key_padding_mask=src_key_padding_mask)
        if self.norm is not None:
            output = self.norm(output)
        return output


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer``, then ``norm`` if given.

    Args:
        decoder_layer: the layer to clone (a :class:`TransformerDecoderLayer`).
        num_layers: how many layers.
        norm: a final normalisation module, or None.

    Shape:
        tgt ``(T, N, E)``, memory ``(S, N, E)``; output like tgt.

    Example:
        >>> import chainrule as cr
        >>> dec = cr.nn.TransformerDecoder(cr.nn.TransformerDecoderLayer(16, 4, 32), 2)
        >>> dec(cr.randn(3, 2, 16), cr.randn(5, 2, 16)).shape
        (3, 2, 16)
    """

    def __init__(self, decoder_layer: Module, num_layers: int,
                 norm: Optional[Module] = None) -> None:
        super().__init__()
        self.layers = _get_clones(decoder_layer, num_layers, "TransformerDecoder")
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt: Tensor, memory: Tensor, tgt_mask: Optional[Tensor] = None,
                memory_mask: Optional[Tensor] = None,
                tgt_key_padding_mask: Optional[Tensor] = None,
                memory_key_padding_mask: Optional[Tensor] = None,
                tgt_is_causal: Optional[bool] = None, memory_is_causal: bool = False) -> Tensor:
        """Run every layer on ``tgt`` and ``memory``; ``tgt_is_causal=None`` detects whether
        ``tgt_mask`` is the causal mask."""
        output = tgt
        tgt_is_causal = _stack_is_causal(self.layers, tgt, tgt_mask, tgt_is_causal)
        for mod in self.layers:
            output = mod(output, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                         tgt_key_padding_mask=tgt_key_padding_mask,
                         memory_key_padding_mask=memory_key_padding_mask,
                         tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        if self.norm is not None:
            output = self.norm(output)
        return output


class Transformer(Module):
    """The encoder-decoder transformer: ``decoder(tgt, encoder(src))``, each stack ending in
    a LayerNorm; every weight matrix starts ``xavier_uniform_`` (as PyTorch's).

    Args:
        d_model: the model width E.
        nhead: the number of attention heads.
        num_encoder_layers: encoder depth.
        num_decoder_layers: decoder depth.
        dim_feedforward: the feed-forward hidden width.
        dropout: dropout probability.
        activation: "relu", "gelu" or a callable.
        custom_encoder: a module to use as the encoder instead.
        custom_decoder: a module to use as the decoder instead.
        layer_norm_eps: LayerNorm's eps.
        batch_first: inputs are ``(N, S, E)`` instead of ``(S, N, E)``.
        norm_first: pre-norm layers.
        bias: biases in the linear layers and norms.
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        src ``(S, N, E)``, tgt ``(T, N, E)`` (batch first: N leads); output ``(T, N, E)``.

    Example:
        >>> import chainrule as cr
        >>> model = cr.nn.Transformer(d_model=16, nhead=4, num_encoder_layers=1,
        ...                           num_decoder_layers=1, dim_feedforward=32)
        >>> tgt_mask = cr.nn.Transformer.generate_square_subsequent_mask(3)
        >>> model(cr.randn(5, 2, 16), cr.randn(3, 2, 16), tgt_mask=tgt_mask).shape
        (3, 2, 16)
    """

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6,
                 num_decoder_layers: int = 6, dim_feedforward: int = 2048,
                 dropout: float = 0.1, activation: Activation = F.relu,
                 custom_encoder: Optional[Module] = None,
                 custom_decoder: Optional[Module] = None, layer_norm_eps: float = 1e-5,
                 batch_first: bool = False, norm_first: bool = False, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        args = (d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                batch_first, norm_first, bias)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            self.encoder = TransformerEncoder(
                TransformerEncoderLayer(*args, **kw), num_encoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            self.decoder = TransformerDecoder(
                TransformerDecoderLayer(*args, **kw), num_decoder_layers,
                LayerNorm(d_model, eps=layer_norm_eps, bias=bias, **kw))
        self._reset_parameters()
        self.d_model = d_model
        self.nhead = nhead
        self.batch_first = batch_first

    def forward(self, src: Tensor, tgt: Tensor, src_mask: Optional[Tensor] = None,
                tgt_mask: Optional[Tensor] = None, memory_mask: Optional[Tensor] = None,
                src_key_padding_mask: Optional[Tensor] = None,
                tgt_key_padding_mask: Optional[Tensor] = None,
                memory_key_padding_mask: Optional[Tensor] = None,
                src_is_causal: Optional[bool] = None, tgt_is_causal: Optional[bool] = None,
                memory_is_causal: bool = False) -> Tensor:
        """Encode ``src`` and decode ``tgt`` against it (masks as the layers')."""
        batched = src.ndim == 3
        axis = 0 if self.batch_first else 1
        if batched and (tgt.ndim != 3 or src.shape[axis] != tgt.shape[axis]):
            raise OpError(f"Transformer: the batch number of src and tgt must be equal (src "
                          f"{src.shape}, tgt {tgt.shape}, batch_first={self.batch_first})")
        if src.shape[-1] != self.d_model or tgt.shape[-1] != self.d_model:
            raise OpError(f"Transformer: the feature number of src and tgt must be equal to "
                          f"d_model={self.d_model} (src {src.shape}, tgt {tgt.shape})")
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask,
                            tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)

    @staticmethod
    def generate_square_subsequent_mask(sz: int, device: Any = None,
                                        dtype: Any = None) -> Tensor:
        """The causal mask for a sequence of ``sz``: -inf above the diagonal, 0 elsewhere.

        Example:
            >>> import chainrule as cr
            >>> cr.nn.Transformer.generate_square_subsequent_mask(3).tolist()
            [[0.0, -inf, -inf], [0.0, 0.0, -inf], [0.0, 0.0, 0.0]]
        """
        return _generate_square_subsequent_mask(sz, device=device, dtype=dtype)

    def _reset_parameters(self) -> None:
        """``xavier_uniform_`` on every parameter of more than one dimension."""
        for p in self.parameters():
            if p.ndim > 1:
                xavier_uniform_(p)
