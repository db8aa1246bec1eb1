"""Weight initialisation, as ``torch.nn.init``: every function fills a tensor in place.

Each runs under ``no_grad`` (so it works on parameters), draws from ``generator=`` or the
global generator (``chainrule.manual_seed`` makes it reproducible) with the draw torch makes
(one ``_uniform`` of the tensor's dtype per ``uniform_``, one ``_normal`` per ``normal_``), so
a stream that gives torch's numbers gives torch's weights. It keeps the tensor's dtype
(float32 stays float32), bumps the tensor's version and returns the tensor.
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Optional

import numpy

from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from ..backend import xp
from ..random import Generator, resolve
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


def _fma(x: Any, y: float, z: float) -> Any:
    """``x * y + z`` with one rounding (float64 arrays), as the fused multiply-add torch's
    compiled kernels use: Dekker's exact product and Knuth's exact sum, added once."""
    p = x * y
    split_x, split_y = x * 134217729.0, y * 134217729.0  # 2**27 + 1: halves of 26 bits
    xh = split_x - (split_x - x)
    yh = split_y - (split_y - y)
    xl, yl = x - xh, y - yh
    p_err = ((xh * yh - p) + xh * yl + xl * yh) + xl * yl  # x * y == p + p_err exactly
    s = p + z
    back = s - p
    s_err = (p - (s - back)) + (z - back)  # p + z == s + s_err exactly
    return s + (p_err + s_err)


def _uniform_values(tensor: Tensor, a: float, b: float, generator: Optional[Generator],
                    op: str) -> Any:
    """torch's ``uniform_(a, b)``: one draw in the tensor's dtype, then ``u * (b - a) + a``
    with ``a``, ``b`` in that dtype and one rounding (torch's ``uniform_real``, fused)."""
    u = resolve(generator, op)._uniform(tensor.shape, tensor.dtype)
    dt = u.dtype.type
    lo, width = float(dt(a)), float(dt(b) - dt(a))
    if u.dtype == xp.float64:
        return _fma(u, width, lo)
    return (u.astype(xp.float64) * width + lo).astype(u.dtype)  # the product is exact


def _normal_values(tensor: Tensor, mean: float, std: float, generator: Optional[Generator],
                   op: str) -> Any:
    """torch's ``normal_(mean, std)``: one standard normal draw, ``z * std + mean`` in the
    tensor's dtype (as torch's CPU kernel)."""
    z = resolve(generator, op)._normal(tensor.shape, tensor.dtype)
    dt = z.dtype.type
    return z * dt(std) + dt(mean)


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0,
             generator: Optional[Generator] = None) -> Tensor:
    """Fill with draws from U(a, b).

    Args:
        tensor: the tensor to fill.
        a: the lower bound.
        b: the upper bound.
        generator: the stream to draw from (None: the global one).

    Example:
        >>> import chainrule as cr
        >>> w = uniform_(cr.empty(3, 5), -1, 1, generator=cr.Generator().manual_seed(0))
        >>> w.dtype, bool((w.numpy() <= 1).all() and (w.numpy() >= -1).all())
        (dtype('float32'), True)
    """
    if a > b:
        raise OpError(f"uniform_: expected a <= b, got a={a}, b={b}")
    return _fill(tensor, _uniform_values(tensor, a, b, generator, "uniform_"))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0,
            generator: Optional[Generator] = None) -> Tensor:
    """Fill with draws from N(mean, std^2).

    Args:
        tensor: the tensor to fill.
        mean: the mean.
        std: the standard deviation (>= 0).
        generator: the stream to draw from (None: the global one).

    Example:
        >>> import chainrule as cr
        >>> w = normal_(cr.empty(1000), 2.0, 0.1)
        >>> round(float(w.mean()), 1)
        2.0
    """
    if std < 0:
        raise OpError(f"normal_: std must be non-negative, got {std}")
    return _fill(tensor, _normal_values(tensor, mean, std, generator, "normal_"))


def _norm_cdf(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def _trunc_by_normal(tensor: Tensor, mean: float, std: float, a: float, b: float,
                     generator: Optional[Generator]) -> Any:
    """Normal draws, redrawing (a full-size draw each round) those outside [a, b]."""
    dt = tensor.dtype.type
    lo, hi = float(dt(a)), float(dt(b))
    result = _normal_values(tensor, mean, std, generator, "trunc_normal_")
    while True:
        outside = (result < lo) | (result > hi)
        if not outside.any():
            return result
        result = xp.where(outside, _normal_values(tensor, mean, std, generator,
                                                  "trunc_normal_"), result)


def _trunc_by_uniform(tensor: Tensor, mean: float, std: float, a: float, b: float,
                      generator: Optional[Generator]) -> Any:
    """Uniform candidates on [a, b], each accepted with probability pdf / peak (a uniform
    draw per round), until every entry is accepted."""
    dt = tensor.dtype.type
    log_peak = -0.5 * ((max(a, min(mean, b)) - mean) / std) ** 2

    def log_ratio(c: Any) -> Any:  # torch's steps: sub_, div_, pow_, mul_, sub_ in dtype
        return ((c - dt(mean)) / dt(std)) ** 2 * dt(-0.5) - dt(log_peak)

    def rejected(c: Any) -> Any:
        u = resolve(generator, "trunc_normal_")._uniform(tensor.shape, tensor.dtype)
        with numpy.errstate(divide="ignore"):
            return xp.log(u) > log_ratio(c)

    result = _uniform_values(tensor, a, b, generator, "trunc_normal_")
    pending = rejected(result)
    while pending.any():
        candidates = _uniform_values(tensor, a, b, generator, "trunc_normal_")
        result = xp.where(pending, candidates, result)
        pending = xp.where(pending, rejected(candidates), pending)
    return result


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator: Optional[Generator] = None) -> Tensor:
    """Fill with draws from N(mean, std^2) truncated to [a, b], by torch's (2.13) rejection
    sampling: when [a, b] holds more than 30% of the mass, normal draws with the outliers
    redrawn; otherwise uniform candidates on [a, b] accepted with probability pdf / peak.

    Args:
        tensor: the tensor to fill.
        mean: the mean of the normal distribution.
        std: its standard deviation.
        a: the lower cut-off.
        b: the upper cut-off.
        generator: the stream to draw from (None: the global one).

    Example:
        >>> import chainrule as cr
        >>> w = trunc_normal_(cr.empty(2000), std=0.02, a=-0.04, b=0.04)
        >>> bool(abs(w.numpy()).max() <= 0.04)
        True
    """
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    mass = _norm_cdf((b - mean) / std) - _norm_cdf((a - mean) / std)
    sample = _trunc_by_normal if mass > 0.3 else _trunc_by_uniform
    return _fill(tensor, sample(tensor, mean, std, a, b, generator))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``."""
    return _fill(tensor, val)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with 0."""
    return _fill(tensor, 0)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with 1."""
    return _fill(tensor, 1)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0,
                    generator: Optional[Generator] = None) -> Tensor:
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    Example:
        >>> import chainrule as cr
        >>> w = xavier_uniform_(cr.empty(84, 120))
        >>> bool(abs(w._data).max() <= (6 / 204) ** 0.5)
        True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std  # torch's order of the roundings
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0,
                   generator: Optional[Generator] = None) -> Tensor:
    """Glorot normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Example:
        >>> import chainrule as cr
        >>> xavier_normal_(cr.empty(3, 4), generator=cr.Generator().manual_seed(1)).shape
        (3, 4)
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / float(fan_in + fan_out)), generator)


def _kaiming_std(tensor: Tensor, a: float, mode: str, nonlinearity: str) -> float:
    return calculate_gain(nonlinearity, a) / math.sqrt(_fan(tensor, mode))


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu",
                     generator: Optional[Generator] = None) -> Tensor:
    """He uniform: U(-bound, bound) with ``bound = gain * sqrt(3 / fan)``.

    Args:
        tensor: the weight to fill.
        a: the negative slope of the rectifier after this layer (``'leaky_relu'`` only).
        mode: ``'fan_in'`` keeps the forward variance, ``'fan_out'`` the backward one.
        nonlinearity: the name given to :func:`calculate_gain`.
        generator: the stream to draw from (None: the global one).

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
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu",
                    generator: Optional[Generator] = None) -> Tensor:
    """He normal: N(0, std^2) with ``std = gain / sqrt(fan)`` (arguments as
    :func:`kaiming_uniform_`).

    Example:
        >>> import chainrule as cr
        >>> w = kaiming_normal_(cr.empty(64, 3, 3, 3), mode="fan_out", nonlinearity="relu")
        >>> w.shape
        (64, 3, 3, 3)
    """
    if 0 in tensor.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=2)
        return tensor
    return normal_(tensor, 0.0, _kaiming_std(tensor, a, mode, nonlinearity), generator)


def orthogonal_(tensor: Tensor, gain: float = 1.0,
                generator: Optional[Generator] = None) -> Tensor:
    """Fill with a (semi-)orthogonal matrix, as torch's: the Q of the QR decomposition of a
    standard normal draw of shape (rows, numel / rows), its columns' signs fixed by R's
    diagonal, times ``gain``.

    Args:
        tensor: at least 2-D; dimensions after the first are flattened.
        gain: the scale factor.
        generator: the stream to draw from (None: the global one).

    Example:
        >>> import chainrule as cr
        >>> q = orthogonal_(cr.empty(3, 5)).numpy()
        >>> bool(abs(q @ q.T - numpy.eye(3)).max() < 1e-5)
        True
    """
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = resolve(generator, "orthogonal_")._normal((rows, cols), tensor.dtype)
    if rows < cols:
        flat = flat.T  # (cols, rows): QR of the tall matrix
    q, r = numpy.linalg.qr(flat)
    q = q * numpy.sign(numpy.diag(r))  # make R's diagonal positive: a unique Q
    if rows < cols:
        q = q.T
    return _fill(tensor, (q * tensor.dtype.type(gain)).reshape(tensor.shape))


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix (ones on the diagonal, zeros elsewhere).

    Example:
        >>> import chainrule as cr
        >>> eye_(cr.empty(2, 3)).tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _fill(tensor, xp.eye(*tensor.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3-, 4- or 5-D convolution weight with the Dirac delta: the convolution then
    keeps its input channels (per group), as torch's.

    Args:
        tensor: ``(OC, C, *kernel)``.
        groups: the number of groups; ``OC`` must be divisible by it.

    Example:
        >>> import chainrule as cr
        >>> w = dirac_(cr.empty(2, 2, 3, 3))
        >>> w[0, 0].tolist(), float(w[1, 0].sum())
        ([[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]], 0.0)
    """
    if tensor.ndim not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if tensor.shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = tensor.shape[0] // groups
    values = xp.zeros(tensor.shape)
    centre = tuple(k // 2 for k in tensor.shape[2:])
    for g in range(groups):
        for d in range(min(per_group, tensor.shape[1])):
            values[(g * per_group + d, d) + centre] = 1
    return _fill(tensor, values)


def default_init_(weight: Tensor, bias: Optional[Tensor]) -> None:
    """PyTorch's default for Linear and Conv layers: ``kaiming_uniform_(weight, a=sqrt(5))``
    (U(-1/sqrt(fan_in), 1/sqrt(fan_in))) and bias U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        fan_in, _ = _calculate_fan_in_and_fan_out(weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        uniform_(bias, -bound, bound)


__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "zeros_",
           "ones_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_",
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
