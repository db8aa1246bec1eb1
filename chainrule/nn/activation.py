"""Activation layers: ``ReLU``, ``LeakyReLU``, ``Sigmoid``, ``Tanh``, ``Softmax``,
``LogSoftmax`` (each a thin module around its function in :mod:`chainrule.nn.functional`)."""
from __future__ import annotations

from typing import Optional

from ..autograd.tensor import Tensor
from . import functional as F
from .module import Module


class ReLU(Module):
    """``max(x, 0)`` elementwise (gradient 0 at 0, as PyTorch).

    Args:
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ReLU()(cr.tensor([-1.0, 0.0, 2.0])).tolist()
        [0.0, 0.0, 2.0]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class LeakyReLU(Module):
    """``x`` where positive, ``negative_slope * x`` elsewhere.

    Args:
        negative_slope: slope for negative inputs.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.LeakyReLU(0.5)(cr.tensor([-2.0, 3.0])).tolist()
        [-1.0, 3.0]
    """

    def __init__(self, negative_slope: float = 1e-2, inplace: bool = False) -> None:
        super().__init__()
        self.negative_slope = negative_slope
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.leaky_relu(input, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}" + (", inplace=True" if self.inplace
                                                          else "")


class Sigmoid(Module):
    """``1 / (1 + exp(-x))`` elementwise, stable for any x.

    Shape:
        Input ``(*)``; output ``(*)``, values in [0, 1].

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Sigmoid()(cr.tensor([0.0])).tolist()
        [0.5]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    """Hyperbolic tangent elementwise.

    Shape:
        Input ``(*)``; output ``(*)``, values in [-1, 1].

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Tanh()(cr.tensor([0.0])).tolist()
        [0.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class Softmax(Module):
    """Softmax along ``dim``: non-negative values summing to 1.

    Args:
        dim: the dimension to normalise (None: PyTorch's legacy choice, with a warning).

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Softmax(dim=1)(cr.tensor([[1000.0, 1000.0]])).tolist()
        [[0.5, 0.5]]
    """

    def __init__(self, dim: Optional[int] = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """Log of the softmax along ``dim``, computed stably (``x - logsumexp(x, dim)``).

    Args:
        dim: the dimension to normalise (None: PyTorch's legacy choice, with a warning).

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.LogSoftmax(dim=0)(cr.tensor([0.0, -1000.0])).tolist()
        [0.0, -1000.0]
    """

    def __init__(self, dim: Optional[int] = None) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return F.log_softmax(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
