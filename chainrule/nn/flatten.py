"""``Flatten`` and ``Unflatten``: reshape layers."""
from __future__ import annotations

import math
from typing import Sequence

from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from ..ops.shape import flatten, reshape
from .module import Module


class Flatten(Module):
    """Flatten dimensions ``start_dim..end_dim`` into one (by default all but the batch).

    Args:
        start_dim: first dimension to flatten.
        end_dim: last dimension to flatten.

    Shape:
        Input ``(N, *dims)``; output ``(N, prod(dims))`` with the defaults.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Flatten()(cr.zeros(8, 16, 5, 5)).shape
        (8, 400)
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        return flatten(input, self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand dimension ``dim`` into ``unflattened_size`` (the inverse of ``Flatten``).

    Args:
        dim: the dimension to expand.
        unflattened_size: the new sizes; their product must equal the size of ``dim`` (one
            may be -1).

    Shape:
        Input ``(*, S, *)`` with ``S`` at ``dim``; output ``(*, *unflattened_size, *)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Unflatten(1, (16, 5, 5))(cr.zeros(8, 400)).shape
        (8, 16, 5, 5)
    """

    def __init__(self, dim: int, unflattened_size: Sequence[int]) -> None:
        super().__init__()
        self.dim = dim
        self.unflattened_size = tuple(unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        n = input.ndim
        if not -n <= self.dim < n:
            raise IndexError(f"Unflatten: dim {self.dim} is out of range for input of shape "
                             f"{input.shape}")
        d = self.dim % n
        size = input.shape[d]
        sizes = self.unflattened_size
        known = math.prod(s for s in sizes if s != -1)
        if (-1 not in sizes and known != size) or (-1 in sizes and (known == 0 or size % known)):
            raise OpError(f"Unflatten: unflattened_size {sizes} does not multiply to the size "
                          f"{size} of dim {self.dim} (input shape {input.shape})")
        return reshape(input, input.shape[:d] + sizes + input.shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
