"""``MLP``: a stack of fully connected layers with an activation between them."""
from __future__ import annotations

from typing import Sequence

from .. import nn
from ..autograd.tensor import Tensor

ACTIVATIONS = {"relu": "ReLU", "tanh": "Tanh", "sigmoid": "Sigmoid"}
"""Activation names accepted by :class:`MLP` -> the ``chainrule.nn`` module class."""


class MLP(nn.Module):
    """A multilayer perceptron: ``Linear - act - Linear - act - ... - Linear``.

    The input is flattened from dimension 1 on, so images ``(N, 1, 28, 28)`` go in as they are.
    Layers are named ``fc1``, ``fc2``... and activations ``act1``, ``act2``... (no activation
    after the last layer: it returns logits).

    Args:
        sizes: the widths, input first, output last (at least two numbers).
        activation: ``'relu'``, ``'tanh'`` or ``'sigmoid'``.

    Shape:
        Input ``(N, *)`` with ``prod(*) == sizes[0]``; output ``(N, sizes[-1])``.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> model = MLP((784, 32, 10))
        >>> model(cr.zeros(3, 1, 28, 28)).shape
        (3, 10)
        >>> [name for name, _ in model.named_parameters()]
        ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
    """

    def __init__(self, sizes: Sequence[int] = (784, 256, 128, 10),
                 activation: str = "relu") -> None:
        super().__init__()
        sizes = tuple(sizes)
        if len(sizes) < 2 or not all(isinstance(s, int) and not isinstance(s, bool) and s > 0
                                     for s in sizes):
            raise ValueError(f"MLP: sizes must be at least two positive ints, got {sizes!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; choose one of "
                             f"{sorted(ACTIVATIONS)}")
        self.sizes = sizes
        self.activation = activation
        self.num_layers = len(sizes) - 1
        act_cls = getattr(nn, ACTIVATIONS[activation])
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1):
            setattr(self, f"fc{i}", nn.Linear(n_in, n_out))
            if i < self.num_layers:
                setattr(self, f"act{i}", act_cls())

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim < 2 or x[0].numel() != self.sizes[0]:
            raise ValueError(f"MLP: expected input of shape (N, *) with {self.sizes[0]} features "
                             f"per item, got {tuple(x.shape)}")
        x = x.reshape(x.shape[0], -1)  # (N, sizes[0])
        for i in range(1, self.num_layers + 1):
            x = getattr(self, f"fc{i}")(x)  # (N, sizes[i])
            if i < self.num_layers:
                x = getattr(self, f"act{i}")(x)
        return x

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, activation={self.activation!r}"
