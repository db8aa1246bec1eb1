"""``Neuron``: one artificial neuron, an affine map followed by a sigmoid."""
from __future__ import annotations

from .. import nn
from ..autograd.tensor import Tensor
from ..ops import sigmoid


class Neuron(nn.Module):
    """A single neuron: ``sigmoid(x @ w.T + b)``, the probability of the positive class.

    Train it with ``nn.BCELoss`` on its output (or ``nn.BCEWithLogitsLoss`` on
    :meth:`logits`, which is more stable).

    Args:
        in_features: number of inputs.

    Shape:
        Input ``(N, in_features)``; output ``(N, 1)`` in ``(0, 1)``.

    Example:
        >>> import chainrule as cr
        >>> n = Neuron(2)
        >>> with cr.no_grad():
        ...     _ = n.linear.weight.fill_(0.0); _ = n.linear.bias.fill_(0.0)
        >>> n(cr.ones(4, 2)).tolist()
        [[0.5], [0.5], [0.5], [0.5]]
    """

    def __init__(self, in_features: int) -> None:
        super().__init__()
        if not isinstance(in_features, int) or isinstance(in_features, bool) or in_features < 1:
            raise ValueError(f"Neuron: in_features must be a positive int, got {in_features!r}")
        self.in_features = in_features
        self.linear = nn.Linear(in_features, 1)

    def logits(self, x: Tensor) -> Tensor:
        """The affine part alone, ``x @ w.T + b`` (N, 1)."""
        return self.linear(x)

    def forward(self, x: Tensor) -> Tensor:
        return sigmoid(self.linear(x))  # (N, 1)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}"
