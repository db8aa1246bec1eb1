"""``GPT``: a decoder-only transformer in nanoGPT's shape, and the sampling both language
models share.

Token and learned position embeddings, ``n_layer`` pre-LayerNorm blocks (causal self-attention,
then a GELU MLP, each added back to the residual stream), a final LayerNorm and a language-model
head whose weight is the token embedding's (weight tying). Parameter names are nanoGPT's
(``transformer.wte.weight``, ``transformer.h.0.attn.c_attn.weight``, ...), so a PyTorch module
of the same layout loads the same ``state_dict``.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, Optional

from .. import nn, optim
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..creation import arange, multinomial
from ..nn import functional as F
from ..ops import argmax, cat, topk, where


@dataclass(frozen=True)
class GPTConfig:
    """The shape of a :class:`GPT` (JSON values only: it is saved with a checkpoint)."""

    vocab_size: int = 65     # V: tokens (characters) the model reads and predicts
    block_size: int = 64     # T_max: the longest context; positions 0..block_size-1
    n_layer: int = 4         # transformer blocks
    n_head: int = 4          # attention heads per block; must divide n_embd
    n_embd: int = 128        # C: the width of the residual stream
    dropout: float = 0.0     # after the embeddings, on the attention weights, after each block's
    #                          two sub-layers (0 at evaluation)
    bias: bool = True        # biases in the Linear layers and LayerNorms

    def __post_init__(self) -> None:
        for name in ("vocab_size", "block_size", "n_layer", "n_head", "n_embd"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"GPT: {name} must be an int >= 1, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"GPT: n_head={self.n_head} must divide n_embd={self.n_embd} (each "
                             "head reads n_embd // n_head channels)")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) \
                or not 0 <= self.dropout < 1:
            raise ValueError(f"GPT: dropout must be a number in [0, 1), got {self.dropout!r}")
        if not isinstance(self.bias, bool):
            raise ValueError(f"GPT: bias must be a bool, got {self.bias!r}")


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position t attends to positions <= t.

    Shape:
        Input and output ``(B, T, C)``.
    """

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.n_head, self.n_embd, self.dropout = cfg.n_head, cfg.n_embd, float(cfg.dropout)
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd, bias=cfg.bias)  # q, k, v at once
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.resid_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        hs = C // self.n_head
        qkv = self.c_attn(x)  # (B, T, 3C)
        q, k, v = qkv.split(self.n_embd, dim=2)  # 3 x (B, T, C)
        q = q.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        k = k.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        v = v.view(B, T, self.n_head, hs).transpose(1, 2)  # (B, nh, T, hs)
        y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training
                                           else 0.0, is_causal=True)  # (B, nh, T, hs)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C): heads side by side
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """``Linear(C, 4C) - GELU - Linear(4C, C) - Dropout``, position by position."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, 4 * cfg.n_embd, bias=cfg.bias)
        self.gelu = nn.GELU()
        self.c_proj = nn.Linear(4 * cfg.n_embd, cfg.n_embd, bias=cfg.bias)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.dropout(self.c_proj(self.gelu(self.c_fc(x))))


class Block(nn.Module):
    """A pre-LayerNorm transformer block: ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))``."""

    def __init__(self, cfg: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.attn = CausalSelfAttention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.n_embd, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.ln_1(x))  # (B, T, C)
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """A decoder-only transformer language model (GPT-2's layout, as nanoGPT writes it).

    Weights are drawn as GPT-2's: normal(0, 0.02) for every Linear and Embedding, zero biases,
    and normal(0, 0.02 / sqrt(2 * n_layer)) for the projections that write into the residual
    stream. ``lm_head.weight`` *is* ``transformer.wte.weight`` (one Parameter, listed once by
    ``parameters()``; both keys in ``state_dict()``, as in PyTorch).

    Args:
        config: a :class:`GPTConfig`; or its fields as keyword arguments (``vocab_size``,
            ``block_size``, ``n_layer``, ``n_head``, ``n_embd``, ``dropout``, ``bias``).

    Shape:
        Input ``(B, T)`` int64 token ids with ``T <= block_size``; output the logits of the
        next token at every position, ``(B, T, vocab_size)``.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> model = GPT(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)
        >>> model(cr.zeros(3, 5, dtype=cr.int64)).shape
        (3, 5, 11)
        >>> model.lm_head.weight is model.transformer.wte.weight
        True
    """

    def __init__(self, config: Optional[GPTConfig] = None, **kwargs: Any) -> None:
        super().__init__()
        if config is not None and kwargs:
            raise ValueError("GPT: pass a GPTConfig or keyword arguments, not both")
        cfg = config if config is not None else GPTConfig(**kwargs)
        self.config = cfg
        self.transformer = nn.ModuleDict(dict(
            wte=nn.Embedding(cfg.vocab_size, cfg.n_embd),
            wpe=nn.Embedding(cfg.block_size, cfg.n_embd),
            drop=nn.Dropout(cfg.dropout),
            h=nn.ModuleList([Block(cfg) for _ in range(cfg.n_layer)]),
            ln_f=nn.LayerNorm(cfg.n_embd, bias=cfg.bias),
        ))
        self.lm_head = nn.Linear(cfg.n_embd, cfg.vocab_size, bias=False)
        self.transformer.wte.weight = self.lm_head.weight  # weight tying (nanoGPT's order)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):  # GPT-2: scaled for the residual stream's depth
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * cfg.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def forward(self, idx: Tensor) -> Tensor:
        if idx.ndim != 2:
            raise ValueError(f"GPT: expected token ids of shape (B, T), got {tuple(idx.shape)}")
        B, T = idx.shape
        if T > self.config.block_size:
            raise ValueError(f"GPT: a sequence of {T} tokens is longer than block_size="
                             f"{self.config.block_size} (the positions it has embeddings for)")
        pos = arange(T, dtype=idx.dtype)  # (T,)
        tr = self.transformer
        x = tr.drop(tr.wte(idx) + tr.wpe(pos))  # (B, T, C) + (T, C)
        for block in tr.h:
            x = block(x)  # (B, T, C)
        return self.lm_head(tr.ln_f(x))  # (B, T, V)

    def num_parameters(self) -> int:
        """Parameters counted once (the tied embedding once)."""
        return sum(int(p.numel()) for p in self.parameters())

    def configure_optimizers(self, weight_decay: float = 0.1, learning_rate: float = 1e-3,
                             betas: tuple[float, float] = (0.9, 0.95)) -> Any:
        """AdamW with decoupled weight decay on the matrices only (nanoGPT's rule).

        Returns:
            ``optim.AdamW`` over :func:`decay_groups`.
        """
        return optim.AdamW(decay_groups(self, weight_decay), lr=learning_rate, betas=betas)

    @no_grad()
    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: Optional[int] = None, generator: Any = None) -> Tensor:
        """Extend ``idx`` (B, T) by ``max_new_tokens`` sampled tokens; returns (B, T + new).

        The context is cropped to the last ``block_size`` tokens. See :func:`sample_next`.
        """
        was_training = self.training
        self.eval()
        try:
            for _ in range(max_new_tokens):
                context = idx[:, -self.config.block_size:]  # (B, <= block_size)
                logits = self(context)[:, -1, :]  # (B, V): the next token's
                idx = cat([idx, sample_next(logits, temperature, top_k, generator)], dim=1)
        finally:
            self.train(was_training)
        return idx

    def extra_repr(self) -> str:
        return ", ".join(f"{f.name}={getattr(self.config, f.name)!r}"
                         for f in fields(self.config))

    def config_dict(self) -> dict[str, Any]:
        """The config as a dict (what the registry rebuilds it from)."""
        return asdict(self.config)


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two parameter groups: the tensors of 2 or more dimensions (the Linear weights and the
    embeddings) with ``weight_decay``, the rest (biases, LayerNorm weights) with none.

    This is nanoGPT's ``configure_optimizers`` rule; a tied weight is listed once.

    Example:
        >>> groups = decay_groups(GPT(vocab_size=5, block_size=4, n_layer=1, n_head=1,
        ...                           n_embd=4), 0.1)
        >>> [(g["weight_decay"], len(g["params"])) for g in groups]
        [(0.1, 6), (0.0, 10)]
    """
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    return [{"params": decay, "weight_decay": float(weight_decay)},
            {"params": no_decay, "weight_decay": 0.0}]


def sample_next(logits: Tensor, temperature: float = 1.0, top_k: Optional[int] = None,
                generator: Any = None) -> Tensor:
    """Draw one token per row from ``logits`` (B, V): softmax of ``logits / temperature``
    over the ``top_k`` largest (all when None); ``temperature == 0`` takes the argmax.

    Returns:
        int64 (B, 1).

    Example:
        >>> import chainrule as cr
        >>> sample_next(cr.tensor([[0.0, 5.0, 1.0]]), temperature=0).tolist()
        [[1]]
    """
    if temperature < 0 or (top_k is not None and top_k < 1):
        raise ValueError(f"sample_next: temperature must be >= 0 and top_k >= 1, got "
                         f"{temperature} and {top_k}")
    if temperature == 0:
        return argmax(logits, dim=-1, keepdim=True)  # (B, 1)
    logits = logits / temperature  # (B, V)
    if top_k is not None and top_k < logits.shape[-1]:
        kth = topk(logits, top_k, dim=-1)[0][:, -1:]  # (B, 1): the k-th largest
        logits = where(logits < kth, float("-inf"), logits)
    probs = F.softmax(logits, dim=-1)  # (B, V)
    return multinomial(probs, 1, generator=generator)  # (B, 1)
