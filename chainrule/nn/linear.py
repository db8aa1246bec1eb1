"""``Linear``: the affine layer ``y = x @ weight.T + bias``."""
from __future__ import annotations

from typing import Any

from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from . import functional as F
from .init import default_init_, init_weight_and_bias
from .module import Module, factory_dtype


class Linear(Module):
    """Affine layer: ``y = x @ weight.T + bias``.

    Weights start as PyTorch's: ``kaiming_uniform_(weight, a=sqrt(5))``, i.e.
    U(-1/sqrt(in_features), 1/sqrt(in_features)), and the bias from the same range.

    Args:
        in_features: size of each input sample.
        out_features: size of each output sample.
        bias: learn an additive bias.
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        Input ``(*, in_features)``; output ``(*, out_features)``.

    Attributes:
        weight: ``(out_features, in_features)``.
        bias: ``(out_features,)``.

    Example:
        >>> import chainrule as cr
        >>> fc = cr.nn.Linear(784, 10)
        >>> fc(cr.zeros(32, 784)).shape
        (32, 10)
        >>> fc
        Linear(in_features=784, out_features=10, bias=True)
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        for name, v in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise OpError(f"Linear: {name} must be a non-negative int, got {v!r}")
        self.in_features = in_features
        self.out_features = out_features
        dtype = factory_dtype(device, dtype, "Linear")
        init_weight_and_bias(self, (out_features, in_features), bias, dtype)

    def reset_parameters(self) -> None:
        """Draw fresh weights with PyTorch's default initialisation."""
        default_init_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        # F.linear names in_features, the input's feature count and both shapes on mismatch
        return F.linear(input, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")
