"""``CharLSTM``: a character-level LSTM language model, ``Embedding -> LSTM -> Linear``."""
from __future__ import annotations

from typing import Any, Optional

from .. import nn
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..ops import cat
from .gpt import sample_next


class CharLSTM(nn.Module):
    """Predict the next character: embed each one, run a (stacked) LSTM over the sequence,
    and map each hidden state to the logits of the next character.

    Args:
        vocab_size: V, the characters.
        n_embd: the embedding width.
        hidden_size: H, the LSTM's hidden (and cell) state width.
        num_layers: stacked LSTM layers.
        dropout: between LSTM layers (PyTorch's ``nn.LSTM(dropout=...)``) and before the head.

    Shape:
        Input ``(B, T)`` int64 ids; output ``(B, T, V)`` logits.
        :meth:`forward_with_state` also takes and returns the state ``(h, c)``, each
        ``(num_layers, B, H)``, so generation feeds one character at a time.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> model = CharLSTM(vocab_size=11, n_embd=8, hidden_size=16, num_layers=2)
        >>> model(cr.zeros(3, 5, dtype=cr.int64)).shape
        (3, 5, 11)
    """

    def __init__(self, vocab_size: int = 65, n_embd: int = 64, hidden_size: int = 256,
                 num_layers: int = 2, dropout: float = 0.0) -> None:
        super().__init__()
        for name, value in (("vocab_size", vocab_size), ("n_embd", n_embd),
                            ("hidden_size", hidden_size), ("num_layers", num_layers)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"CharLSTM: {name} must be an int >= 1, got {value!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) \
                or not 0 <= dropout < 1:
            raise ValueError(f"CharLSTM: dropout must be a number in [0, 1), got {dropout!r}")
        self.vocab_size, self.n_embd, self.hidden_size = vocab_size, n_embd, hidden_size
        self.num_layers, self.dropout_p = num_layers, float(dropout)
        self.embedding = nn.Embedding(vocab_size, n_embd)
        self.lstm = nn.LSTM(n_embd, hidden_size, num_layers=num_layers, batch_first=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward_with_state(self, idx: Tensor, state: Optional[tuple[Tensor, Tensor]] = None
                           ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Logits (B, T, V) and the final state ``(h, c)`` (num_layers, B, H) each."""
        if idx.ndim != 2:
            raise ValueError(f"CharLSTM: expected ids of shape (B, T), got {tuple(idx.shape)}")
        x = self.embedding(idx)  # (B, T, n_embd)
        out, state = self.lstm(x, state)  # (B, T, H)
        return self.head(self.dropout(out)), state  # (B, T, V)

    def forward(self, idx: Tensor) -> Tensor:
        return self.forward_with_state(idx)[0]

    @no_grad()
    def generate(self, idx: Tensor, max_new_tokens: int, temperature: float = 1.0,
                 top_k: Optional[int] = None, generator: Any = None) -> Tensor:
        """Extend ``idx`` (B, T) by ``max_new_tokens`` sampled characters (B, T + new),
        carrying the LSTM state from one character to the next."""
        was_training = self.training
        self.eval()
        try:
            logits, state = self.forward_with_state(idx)  # the prompt, once
            for _ in range(max_new_tokens):
                nxt = sample_next(logits[:, -1, :], temperature, top_k, generator)  # (B, 1)
                idx = cat([idx, nxt], dim=1)
                logits, state = self.forward_with_state(nxt, state)
        finally:
            self.train(was_training)
        return idx

    def extra_repr(self) -> str:
        return (f"vocab_size={self.vocab_size}, n_embd={self.n_embd}, "
                f"hidden_size={self.hidden_size}, num_layers={self.num_layers}, "
                f"dropout={self.dropout_p}")
