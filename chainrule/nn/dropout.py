"""``Dropout``, ``Dropout1d``, ``Dropout2d``: inverted dropout (of elements, or of whole
channels), active only in training mode."""
from __future__ import annotations

from ..autograd.tensor import Tensor
from . import functional as F
from .module import Module


class _DropoutNd(Module):
    """What the dropout layers share: ``p``, ``inplace`` and the repr."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        F.check_dropout_p(p, type(self).__name__)
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
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

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zero whole channels of a (N, C, L) input with probability ``p`` during training (one
    mask draw of shape (N, C, 1)) and scale the others by ``1 / (1 - p)``.

    Args:
        p: probability of a channel to be zeroed, in [0, 1].
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output the same shape.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Dropout1d(0.2)
        Dropout1d(p=0.2, inplace=False)
        >>> cr.nn.Dropout1d(0.2).eval()(cr.ones(1, 2, 3)).tolist()
        [[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels (feature maps) of a (N, C, H, W) input with probability ``p``
    during training (one mask draw of shape (N, C, 1, 1), as torch) and scale the others by
    ``1 / (1 - p)``; the identity in eval mode.

    Args:
        p: probability of a channel to be zeroed, in [0, 1].
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Input ``(N, C, H, W)``; output the same shape. (A 3-D input is read as (N, C, L), with
        torch's warning.)

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> y = cr.nn.Dropout2d(p=0.5)(cr.ones(4, 8, 2, 2)).numpy()
        >>> bool((y.min((2, 3)) == y.max((2, 3))).all())      # whole channels: 0 or 2
        True
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)
