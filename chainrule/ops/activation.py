"""Activations: sigmoid, tanh, relu, leaky_relu, softmax, log_softmax.

sigmoid, softmax and log_softmax are fused for speed and stability; each keeps a twin composed
from primitives (``sigmoid_composed``, ``softmax_composed``, ``log_softmax_composed``) that
the tests compare against. The worked example that builds sigmoid from four primitives and
traces its backward is :mod:`chainrule.gallery.sigmoid` (``chainrule explain sigmoid``).
"""
from __future__ import annotations

from typing import Any, Optional

import numpy

from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ..kernels import compiled_alike
from ._util import contiguous, normalize_dims, write_out
from .dtypes import as_float
from .arithmetic import exp, keep_where, keep_where_array
from .reduce import logsumexp, sum

# below this many values a compiled kernel's call costs more than NumPy's passes
JIT_MIN_SIZE = 1 << 14
# a 0-d float32 one for the NumPy backward formulas: a Python 1 is converted on every call,
# and a float32 array never upcasts a float32 gradient (float64 ones stay float64)
_ONE = xp.ones((), xp.float32)


class Sigmoid(Function):
    saves_output = True
    derivative = "{y}*(1-{y})"
    elementwise = True

    def forward(self, x: Any) -> Any:
        # exp of a non-positive number never overflows: 1/(1+e^-x) for x >= 0, e^x/(1+e^x) else
        e = xp.exp(-xp.abs(x))
        return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)

    def backward(self, gy: Tensor) -> Tensor:
        y = self.output(0)
        return gy * y * (1 - y)

    def fast_backward(self, gy: Any) -> Any:
        yd = self.output(0)._data  # the same formula in one buffer
        g = xp.empty_like(yd)  # (an out= array keeps 0-d results arrays, not NumPy scalars)
        xp.subtract(_ONE, yd, g)
        xp.multiply(g, yd, g)
        xp.multiply(g, gy, g)
        return g


def sigmoid(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """``1 / (1 + exp(-x))``, stable for any x (at +-1000: 1 and 0, no overflow warning).

    Example:
        >>> import chainrule as cr
        >>> cr.sigmoid(cr.tensor([0.0, 1000.0, -1000.0])).tolist()
        [0.5, 1.0, 0.0]
    """
    y = Sigmoid()(as_float(input))
    return y if out is None else write_out(y, out, "sigmoid")


def sigmoid_composed(x: Tensor) -> Tensor:
    """The reference twin of :func:`sigmoid` built from primitives (overflows for x << 0)."""
    return 1 / (1 + exp(-x))


def log_sigmoid_array(x: Any) -> Any:
    """``log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|))`` on an array, as PyTorch (no
    overflow; -inf at x = -inf)."""
    with xp.errstate(invalid="ignore"):  # nan stays nan
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))


class LogSigmoid(Function):
    """``log(sigmoid(x))`` (:func:`log_sigmoid_array`), derivative ``sigmoid(-x)``: smooth to every
    order and finite at +-inf (the target gradient of ``binary_cross_entropy_with_logits``
    with ``pos_weight`` uses it on Tensors)."""

    derivative = "sigmoid(-{x0})"
    elementwise = True

    def forward(self, x: Any) -> Any:
        return log_sigmoid_array(x)

    def backward(self, gy: Tensor) -> Tensor:
        return gy * sigmoid(-self.inputs[0])


def logsigmoid(input: Any) -> Tensor:
    """Elementwise ``log(sigmoid(x))``, computed as ``min(x, 0) - log1p(exp(-|x|))``: no
    overflow, ``-inf`` only at ``x = -inf``.

    Example:
        >>> import chainrule as cr
        >>> round(cr.nn.functional.logsigmoid(cr.tensor([-1000.0, 0.0])).tolist()[0])
        -1000
    """
    return LogSigmoid()(as_float(input))


class Tanh(Function):
    saves_output = True
    derivative = "1-{y}^2"
    elementwise = True

    def forward(self, x: Any) -> Any:
        return xp.tanh(x)

    def backward(self, gy: Tensor) -> Tensor:
        y = self.output(0)
        return gy * (1 - y * y)

    def fast_backward(self, gd: Any) -> Any:
        yd = self.output(0)._data
        jit = compiled_alike(yd, gd) if yd.size >= JIT_MIN_SIZE and yd.shape == gd.shape and \
            yd.flags.c_contiguous else None
        if jit is not None:
            g = xp.empty(yd.shape, yd.dtype)  # one compiled pass instead of three below
            jit.tanh_grad(yd.reshape(-1), xp.ascontiguousarray(gd).reshape(-1), g.reshape(-1))
            return g
        # its NumPy twin: the same formula in one buffer
        g = xp.empty_like(yd)  # (an out= array keeps 0-d results arrays, not NumPy scalars)
        xp.multiply(yd, yd, g)
        xp.subtract(_ONE, g, g)
        xp.multiply(g, gd, g)
        return g


def tanh(input: Any, *, out: Optional[Tensor] = None) -> Tensor:
    """Elementwise hyperbolic tangent."""
    y = Tanh()(as_float(input))
    return y if out is None else write_out(y, out, "tanh")


class ReLU(Function):
    node_name = "ReluBackward0"  # PyTorch's name for the same op
    derivative = "1 where {x0} > 0, else 0"  # (and 1 at NaN, as torch: see _relu_passes)
    elementwise = True

    def forward(self, x: Any) -> Any:
        # 0 first: NumPy returns its second operand at a tie, so relu(-0.0) is -0.0, as torch's
        return xp.maximum(0, x)

    def backward(self, gy: Tensor) -> Tensor:
        # the mask is a constant: relu's derivative at 0 is taken as 0, as PyTorch does
        return keep_where(_relu_passes(self.inputs[0]._data), gy)

    def fast_backward(self, gy: Any) -> Any:
        x = self.inputs[0]._data
        jit = compiled_alike(x, gy) if x.shape == gy.shape else None
        if jit is not None:  # one compiled pass, ~2x faster than a NumPy multiply by the mask
            g = xp.empty(x.shape, x.dtype)
            jit.relu_grad(xp.ascontiguousarray(x).reshape(-1),
                          xp.ascontiguousarray(gy).reshape(-1), g.reshape(-1))
            return g
        return keep_where_array(_relu_passes(x), gy)  # its NumPy twin


def _relu_passes(x: Any) -> Any:
    """Where relu passes the gradient, as torch's threshold_backward: not ``x <= 0``, so at
    x > 0 and at NaN (relu(NaN) is NaN, with gradient 1)."""
    return ~(x <= 0)


def relu(input: Any) -> Tensor:
    """``max(x, 0)``; the gradient at 0 is 0. A bool tensor is refused, as in PyTorch.

    As PyTorch's: relu(NaN) is NaN with gradient 1, relu(-0.0) is -0.0, and where x <= 0 the
    gradient is exactly 0 even when the upstream one is inf or NaN (``relu(x).sqrt()``).

    Example:
        >>> import chainrule as cr
        >>> cr.relu(cr.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """
    if isinstance(input, Tensor) and input._data.dtype.kind == "b":
        raise TypeError("relu: Boolean inputs not supported for relu (got a bool tensor)")
    return ReLU()(input)


class LeakyReLU(Function):
    node_name = "LeakyReluBackward0"  # PyTorch's name for the same op
    derivative = "1 where {x0} > 0, else negative_slope"
    elementwise = True

    def __init__(self, slope: float) -> None:
        self.slope = slope

    def local_derivative(self, i: int, number: Any = str) -> str:
        return f"1 where {{x0}} > 0, else {number(self.slope)}"

    def forward(self, x: Any) -> Any:
        return xp.where(x > 0, x, x * x.dtype.type(self.slope))

    def backward(self, gy: Tensor) -> Tensor:
        x = self.inputs[0]._data
        return gy * Tensor(xp.where(x > 0, 1, self.slope).astype(gy.dtype))


def leaky_relu(input: Any, negative_slope: float = 0.01) -> Tensor:
    """``x`` where positive, ``negative_slope * x`` elsewhere, of a floating point tensor
    (an integer or bool tensor is refused, as in PyTorch).

    Example:
        >>> import chainrule as cr
        >>> cr.leaky_relu(cr.tensor([-1.0, 2.0]), 0.5).tolist()
        [-0.5, 2.0]
    """
    if isinstance(input, Tensor) and input._data.dtype.kind != "f":
        raise TypeError(f"leaky_relu: expected a floating point input, got dtype "
                        f"{input.dtype} (convert it first, e.g. x.float())")
    return LeakyReLU(negative_slope)(as_float(input))


def shift_by_max(x: Any, axis: int) -> Any:
    """``x`` minus its maximum along ``axis``: the shift that keeps ``exp`` from overflowing in
    softmax, log_softmax and the fused cross-entropy.

    As PyTorch's: a slice holding +inf becomes NaN throughout (inf - inf, and every other
    exp is then 0 or NaN), so its softmax is NaN; so does a slice of -inf values. An empty
    ``axis`` gives an empty result (its maximum is taken as -inf), not NumPy's error.

    Example:
        >>> import numpy as np
        >>> shift_by_max(np.array([[1000.0, 999.0], [np.inf, 0.0]]), 1).tolist()
        [[0.0, -1.0], [nan, -inf]]
    """
    m = x.max(axis=axis, keepdims=True, initial=-numpy.inf)
    with numpy.errstate(invalid="ignore", over="ignore"):  # inf - inf: NaN, as torch, quietly
        return x - m


class Softmax(Function):
    saves_output = True
    derivative = "{y}*(upstream - sum(upstream*{y}))"

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        x = contiguous(x)  # a fresh contiguous output, as torch's, for any layout
        e = xp.exp(shift_by_max(x, self.axis))
        return e / e.sum(axis=self.axis, keepdims=True)

    def backward(self, gy: Tensor) -> Tensor:
        y = self.output(0)
        # dx = y * (gy - sum(gy * y))
        return y * (gy - sum(gy * y, self.axis, keepdim=True))


class LogSoftmax(Function):
    saves_output = True
    derivative = "upstream - softmax*sum(upstream)"

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def forward(self, x: Any) -> Any:
        shifted = shift_by_max(contiguous(x), self.axis)  # contiguous, as torch's
        with numpy.errstate(divide="ignore"):  # an empty axis sums to 0: log(0), no warning
            return shifted - xp.log(xp.exp(shifted).sum(axis=self.axis, keepdims=True))

    def backward(self, gy: Tensor) -> Tensor:
        y = self.output(0)
        # dx = gy - softmax * sum(gy)
        return gy - exp(y) * sum(gy, self.axis, keepdim=True)


def _axis(x: Tensor, dim: Any, op: str) -> int:
    if dim is None:
        raise TypeError(f"{op}: dim must be given (as in PyTorch, implicit dim is deprecated)")
    return normalize_dims(dim, x.ndim, op)[0]  # type: ignore[index]


def softmax(input: Any, dim: int) -> Tensor:
    """``exp(x) / sum(exp(x), dim)``, stable for logits of +-1000.

    Example:
        >>> import chainrule as cr
        >>> cr.softmax(cr.tensor([1000.0, 1000.0]), dim=0).tolist()
        [0.5, 0.5]
    """
    input = as_float(input)
    return Softmax(_axis(input, dim, "softmax"))(input)


def log_softmax(input: Any, dim: int) -> Tensor:
    """``x - logsumexp(x, dim)``, stable for logits of +-1000."""
    input = as_float(input)
    return LogSoftmax(_axis(input, dim, "log_softmax"))(input)


def softmax_composed(x: Tensor, dim: int) -> Tensor:
    """The reference twin of :func:`softmax`, composed from exp and logsumexp."""
    return exp(log_softmax_composed(x, dim))


def log_softmax_composed(x: Tensor, dim: int) -> Tensor:
    """The reference twin of :func:`log_softmax`, composed from logsumexp."""
    return x - logsumexp(x, dim, keepdim=True)
