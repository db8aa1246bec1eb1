"""Weight initialisation, as ``torch.nn.init``: every function fills a tensor in place.

Each runs under ``no_grad`` (so it works on parameters), draws from the global generator
(``chainrule.manual_seed`` makes it reproducible), keeps the tensor's dtype (float32 stays
float32), bumps the tensor's version and returns the tensor.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Optional

from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from ..backend import xp
from ..random import get_rng
from .parameter import Parameter

_LINEAR = ("linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "sigmoid")


def calculate_gain(nonlinearity: str, param: Optional[float] = None) -> float:
    """The recommended gain for a nonlinearity (PyTorch's table).

    Args:
        nonlinearity: ``'linear'``, ``'conv2d'``, ``'sigmoid'`` (1), ``'tanh'`` (5/3),
            ``'relu'`` (sqrt 2), ``'leaky_relu'`` (sqrt(2 / (1 + slope^2))), ``'selu'`` (3/4).
        param: the negative slope of ``'leaky_relu'`` (default 0.01).

    Example:
        >>> round(calculate_gain('leaky_relu', 5 ** 0.5), 4), calculate_gain('tanh')
        (0.5774, 1.6666666666666667)
    """
    if nonlinearity in _LINEAR:
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            slope = 0.01
        elif isinstance(param, (int, float)) and not isinstance(param, bool):
            slope = float(param)
        else:
            raise ValueError(f"calculate_gain: negative_slope {param!r} is not a valid number")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"calculate_gain: unsupported nonlinearity {nonlinearity!r}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight: (in, out) features times the receptive field size.

    A Linear weight (out, in) has fan_in = in; a Conv2d weight (OC, C, KH, KW) has fan_in =
    C * KH * KW and fan_out = OC * KH * KW.

    Example:
        >>> import chainrule as cr
        >>> _calculate_fan_in_and_fan_out(cr.empty(6, 1, 5, 5))
        (25, 150)
    """
    if tensor.ndim < 2:
        raise ValueError(f"Fan in and fan out can not be computed for tensor with fewer than 2 "
                         f"dimensions (got shape {tensor.shape})")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fan(tensor: Tensor, mode: str) -> int:
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"Mode {mode} not supported, please use one of fan_in, fan_out")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def _fill(tensor: Tensor, values: Any) -> Tensor:
    """Write ``values`` into ``tensor`` in place, keeping its dtype (the no_grad write)."""
    if not isinstance(tensor, Tensor):
        raise TypeError(f"nn.init: expected a Tensor, got {type(tensor).__name__}")
    tensor._data[...] = values
    tensor._version += 1
    return tensor


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0) -> Tensor:
    """Fill with draws from U(a, b).

    Example:
        >>> import chainrule as cr
        >>> w = uniform_(cr.empty(3, 5), -1, 1)
        >>> w.dtype, bool((w._data <= 1).all() and (w._data >= -1).all())
        (dtype('float32'), True)
    """
    if a > b:
        raise OpError(f"uniform_: expected a <= b, got a={a}, b={b}")
    return _fill(tensor, a + (b - a) * get_rng()._uniform(tensor.shape, xp.float64))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0) -> Tensor:
    """Fill with draws from N(mean, std^2)."""
    if std < 0:
        raise OpError(f"normal_: std must be non-negative, got {std}")
    return _fill(tensor, mean + std * get_rng()._normal(tensor.shape, xp.float64))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return _fill(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    Example:
        >>> import chainrule as cr
        >>> w = xavier_uniform_(cr.empty(84, 120))
        >>> bool(abs(w._data).max() <= (6 / 204) ** 0.5)
        True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    a = math.sqrt(3.0) * gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return uniform_(tensor, -a, a)


def xavier_normal_(tensor: Tensor, gain: float = 1.0) -> Tensor:
    """Glorot normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)))


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu") -> Tensor:
    """He uniform: U(-bound, bound) with ``bound = gain * sqrt(3 / fan)``.

    Args:
        tensor: the weight to fill.
        a: the negative slope of the rectifier after this layer (``'leaky_relu'`` only).
        mode: ``'fan_in'`` keeps the forward variance, ``'fan_out'`` the backward one.
        nonlinearity: the name given to :func:`calculate_gain`.

    Example:
        >>> import chainrule as cr
        >>> w = kaiming_uniform_(cr.empty(10, 784), a=5 ** 0.5)   # Linear's default
        >>> bool(abs(w._data).max() <= 1 / 784 ** 0.5)
        True
    """
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    bound = math.sqrt(3.0) * _kaiming_std(tensor, a, mode, nonlinearity)
    return uniform_(tensor, -bound, bound)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu") -> Tensor:
    """He normal: N(0, std^2) with ``std = gain / sqrt(fan)`` (arguments as
    :func:`kaiming_uniform_`)."""
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity))


def default_init_(weight: Tensor, bias: Optional[Tensor]) -> None:
    """PyTorch's default for Linear and Conv layers: ``kaiming_uniform_(weight, a=sqrt(5))``
    (U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)


__all__ = ["calculate_gain", "uniform_", "normal_", "constant_", "zeros_", "ones_",
           "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
           "_calculate_fan_in_and_fan_out"]


def init_weight_and_bias(module: Any, weight_shape: tuple[int, ...], bias: bool,
                         dtype: Any) -> None:
    """Register ``module.weight`` of ``weight_shape`` and ``module.bias`` (or None), then call
    ``module.reset_parameters()`` (as PyTorch's Linear and Conv2d constructors do)."""
    module.weight = Parameter(xp.empty(weight_shape, dtype=dtype))
    if bias:
        module.bias = Parameter(xp.empty((weight_shape[0],), dtype=dtype))
    else:
        module.register_parameter("bias", None)
    module.reset_parameters()
