"""Activation layers: ``ReLU``, ``LeakyReLU``, ``Sigmoid``, ``Tanh``, ``Softmax``,
``LogSoftmax``, and PyTorch's others (``GELU``, ``SiLU``, ``ELU``, ``SELU``, ``CELU``,
``Softplus``, ``Mish``, ``Hardtanh``, ``ReLU6``, ``Hardswish``, ``Hardsigmoid``, ``LogSigmoid``,
``PReLU``, ``Softsign``, ``Tanhshrink``, ``GLU``): each a thin module around its function
(:mod:`chainrule.nn.functional`, :mod:`chainrule.ops.activation_more`), with PyTorch's
arguments, defaults and reprs. ``inplace=True`` is accepted and shown in the repr, as on
``ReLU``; the result is always a new tensor.
"""
from __future__ import annotations

import warnings
from typing import Any, Optional

from ..autograd.tensor import Tensor
from ..backend import xp
from ..ops import activation_more as A
from . import functional as F
from . import init
from .module import Module, factory_dtype
from .parameter import Parameter


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


def _inplace_repr(inplace: bool, first: bool = True) -> str:
    return ("inplace=True" if first else ", inplace=True") if inplace else ""


class GELU(Module):
    """Gaussian error linear unit ``x * Phi(x)`` (see :func:`~chainrule.ops.activation_more.gelu`).

    Args:
        approximate: ``"none"`` (exact, with erf) or ``"tanh"``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> m = cr.nn.GELU(approximate="tanh")
        >>> m, round(m(cr.tensor([1.0])).item(), 4)
        (GELU(approximate='tanh'), 0.8412)
    """

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        self.approximate = approximate

    def forward(self, input: Tensor) -> Tensor:
        return A.gelu(input, approximate=self.approximate)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


class _InplaceOnly(Module):
    """An activation whose only argument is ``inplace`` (accepted; shown in the repr)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class SiLU(_InplaceOnly):
    """Sigmoid linear unit (swish) ``x * sigmoid(x)``.

    Args:
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.SiLU()(cr.tensor([0.0])).tolist()
        [0.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return A.silu(input)


class Mish(_InplaceOnly):
    """``x * tanh(softplus(x))``.

    Args:
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Mish()(cr.tensor([0.0])).tolist()
        [0.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return A.mish(input)


class SELU(_InplaceOnly):
    """Scaled elu with the self-normalizing constants (alpha 1.6733, scale 1.0507).

    Args:
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> round(cr.nn.SELU()(cr.tensor([1.0])).item(), 4)
        1.0507
    """

    def forward(self, input: Tensor) -> Tensor:
        return A.selu(input)


class Hardswish(_InplaceOnly):
    """``x * relu6(x + 3) / 6``.

    Args:
        inplace: accepted for PyTorch compatibility (not shown in the repr, as PyTorch's).

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Hardswish()(cr.tensor([-4.0, 4.0])).tolist()
        [-0.0, 4.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return A.hardswish(input)

    def extra_repr(self) -> str:
        return ""


class Hardsigmoid(_InplaceOnly):
    """``relu6(x + 3) / 6``.

    Args:
        inplace: accepted for PyTorch compatibility (not shown in the repr, as PyTorch's).

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Hardsigmoid()(cr.tensor([0.0])).tolist()
        [0.5]
    """

    def forward(self, input: Tensor) -> Tensor:
        return A.hardsigmoid(input)

    def extra_repr(self) -> str:
        return ""


class ELU(Module):
    """Exponential linear unit: ``x`` where ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Args:
        alpha: the negative saturation value is ``-alpha``.
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> m = cr.nn.ELU(alpha=0.5)
        >>> m, m(cr.tensor([-1000.0, 2.0])).tolist()
        (ELU(alpha=0.5), [-0.5, 2.0])
    """

    def __init__(self, alpha: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        self.alpha = alpha
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.elu(input, self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}" + _inplace_repr(self.inplace, first=False)


class CELU(ELU):
    """Continuously differentiable elu: ``max(0, x) + min(0, alpha * (exp(x/alpha) - 1))``.

    Args:
        alpha: the negative saturation value is ``-alpha`` (not 0).
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.CELU(2.0)(cr.tensor([-1000.0, 3.0])).tolist()
        [-2.0, 3.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return A.celu(input, self.alpha)


class Softplus(Module):
    """``log(1 + exp(beta * x)) / beta``; ``x`` where ``beta * x > threshold``.

    Args:
        beta: the sharpness.
        threshold: above ``beta * x > threshold`` the result is ``x``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> m = cr.nn.Softplus(beta=2.0)
        >>> m, round(m(cr.tensor([0.0])).item(), 4)
        (Softplus(beta=2.0, threshold=20.0), 0.3466)
    """

    def __init__(self, beta: float = 1.0, threshold: float = 20.0) -> None:
        super().__init__()
        self.beta = beta
        self.threshold = threshold

    def forward(self, input: Tensor) -> Tensor:
        return A.softplus(input, self.beta, self.threshold)

    def extra_repr(self) -> str:
        return f"beta={self.beta}, threshold={self.threshold}"


class Hardtanh(Module):
    """``clamp(x, min_val, max_val)``; gradient 0 at the bounds and beyond.

    Args:
        min_val: the lower bound.
        max_val: the upper bound (above ``min_val``).
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.
        min_value: deprecated name of ``min_val`` (a FutureWarning, as PyTorch).
        max_value: deprecated name of ``max_val`` (a FutureWarning, as PyTorch).

    Raises:
        ValueError: ``max_val <= min_val`` (PyTorch raises AssertionError).

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> m = cr.nn.Hardtanh(-2.0, 2.0)
        >>> m, m(cr.tensor([-3.0, 1.0, 3.0])).tolist()
        (Hardtanh(min_val=-2.0, max_val=2.0), [-2.0, 1.0, 2.0])
    """

    def __init__(self, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False,
                 min_value: Optional[float] = None, max_value: Optional[float] = None) -> None:
        super().__init__()
        if min_value is not None:
            warnings.warn("keyword argument `min_value` is deprecated and renamed to "
                          "`min_val`", FutureWarning, stacklevel=2)
            min_val = min_value
        if max_value is not None:
            warnings.warn("keyword argument `max_value` is deprecated and renamed to "
                          "`max_val`", FutureWarning, stacklevel=2)
            max_val = max_value
        if max_val <= min_val:
            raise ValueError(f"{type(self).__name__}: max_val ({max_val}) must be greater "
                             f"than min_val ({min_val})")
        self.min_val = min_val
        self.max_val = max_val
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return A.hardtanh(input, self.min_val, self.max_val)

    def extra_repr(self) -> str:
        return (f"min_val={self.min_val}, max_val={self.max_val}"
                + _inplace_repr(self.inplace, first=False))


class ReLU6(Hardtanh):
    """``min(max(x, 0), 6)``: a :class:`Hardtanh` from 0 to 6, as PyTorch's.

    Args:
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.ReLU6()(cr.tensor([-1.0, 3.0, 9.0])).tolist()
        [0.0, 3.0, 6.0]
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(0.0, 6.0, inplace)

    def forward(self, input: Tensor) -> Tensor:
        return A.relu6(input)

    def extra_repr(self) -> str:
        return _inplace_repr(self.inplace)


class LogSigmoid(Module):
    """``log(sigmoid(x))``, computed stably.

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> round(cr.nn.LogSigmoid()(cr.tensor([-1000.0])).item())
        -1000
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.logsigmoid(input)


class PReLU(Module):
    """Parametric relu: ``x`` where positive, ``weight * x`` elsewhere, with a learned weight
    (one, or one per channel: dimension 1 of the input).

    Args:
        num_parameters: the number of weights: 1, or the input's channel count.
        init: the initial value of every weight.
        device: only ``None`` or ``'cpu'``.
        dtype: the weight's dtype (float32 by default).

    Attributes:
        weight: the learnable ``(num_parameters,)`` Parameter.

    Shape:
        Input ``(N, C, *)`` or any shape when ``num_parameters`` is 1; output the same.

    Example:
        >>> import chainrule as cr
        >>> m = cr.nn.PReLU(2, init=0.5)
        >>> m, m(cr.tensor([[-2.0, -4.0]])).tolist()
        (PReLU(num_parameters=2), [[-1.0, -2.0]])
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__()
        if isinstance(num_parameters, bool) or not isinstance(num_parameters, int) \
                or num_parameters < 0:
            raise ValueError(f"PReLU: num_parameters must be a non-negative int, got "
                             f"{num_parameters!r}")
        self.num_parameters = num_parameters
        self.init = init
        self.weight = Parameter(xp.empty((num_parameters,),
                                         dtype=factory_dtype(device, dtype, "PReLU")))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Set every weight back to ``init``, as PyTorch's."""
        init.constant_(self.weight, self.init)

    def forward(self, input: Tensor) -> Tensor:
        return A.prelu(input, self.weight)

    def extra_repr(self) -> str:
        return f"num_parameters={self.num_parameters}"


class Softsign(Module):
    """``x / (1 + |x|)``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Softsign()(cr.tensor([-3.0, 1.0])).tolist()
        [-0.75, 0.5]
    """

    def forward(self, input: Tensor) -> Tensor:
        return A.softsign(input)


class Tanhshrink(Module):
    """``x - tanh(x)``.

    Shape:
        Input ``(*)``; output ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Tanhshrink()(cr.tensor([0.0])).tolist()
        [0.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return A.tanhshrink(input)


class GLU(Module):
    """Gated linear unit: halves ``a, b`` of the input along ``dim``, ``a * sigmoid(b)``.

    Args:
        dim: the dimension to halve (its size must be even).

    Shape:
        Input ``(*, 2M, *)``; output ``(*, M, *)``.

    Example:
        >>> import chainrule as cr
        >>> m = cr.nn.GLU()
        >>> m, m(cr.tensor([[1.0, 2.0, 0.0, 1000.0]])).tolist()
        (GLU(dim=-1), [[0.5, 2.0]])
    """

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        return A.glu(input, self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
