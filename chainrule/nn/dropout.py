"""``Dropout``: inverted dropout, active only in training mode."""
from __future__ import annotations

from ..autograd.tensor import Tensor
from . import functional as F
from .module import Module


class Dropout(Module):
    """Zero each element with probability ``p`` during training and scale the survivors by
    ``1 / (1 - p)`` (inverted dropout), so evaluation (``model.eval()``) is the identity.

    The mask is drawn from the global generator, so ``chainrule.manual_seed`` makes it
    reproducible.

    Args:
        p: drop probability, in [0, 1].
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Input ``(*)``; output ``(*)``, the same shape.

    Example:
        >>> import chainrule as cr
        >>> drop = cr.nn.Dropout(p=0.5)
        >>> _ = cr.manual_seed(0)
        >>> sorted(set(drop(cr.ones(100)).tolist()))        # training: 0 or 1/(1-p)
        [0.0, 2.0]
        >>> drop.eval()(cr.ones(3)).tolist()                 # eval: identity
        [1.0, 1.0, 1.0]
    """

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        F.check_dropout_p(p, "Dropout")
        self.p = p
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"
