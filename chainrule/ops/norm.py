"""Batch normalisation: the fused ``batch_norm`` and its twin ``batch_norm_composed``.

Both follow ``torch.nn.functional.batch_norm`` on (N, C), (N, C, L), (N, C, H, W) or any
(N, C, ...) input, statistics per channel C over every other axis:

* training: normalise with the batch mean and the biased batch variance; update
  ``running_mean``/``running_var`` in place (when given) with ``momentum`` and the *unbiased*
  variance: ``running = (1 - momentum) * running + momentum * batch_stat``;
* evaluation: normalise with the running statistics.

``batch_norm`` is one Function: a NumPy forward and a hand-derived backward,

    gx = weight * invstd * (gy - mean(gy) - xhat * mean(gy * xhat)),
    gweight = sum(gy * xhat), gbias = sum(gy)        (sums and means per channel),

written once with differentiable ops (``backward``: second derivatives work) and once on
arrays for the first-order pass (``fast_backward``). Where Numba is installed, the
statistics, the normalisation and the first-order backward run as compiled loops
(:mod:`chainrule.kernels.numba_loops`: two passes over x instead of five, float64 sums); the
NumPy lines beside each call are the formula it is tested against. These array steps
(``channel_moments``, ``scale_shift_channels``, ``channel_grad_sums``,
``batch_norm_input_grad``) are public: ``chainrule.distributed``'s SyncBatchNorm is made of
them too, with its collectives between. ``batch_norm_composed``
builds the same forward from primitives (mean, sub, mul, sqrt, div) and is what the tests
compare the fused op against.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Optional

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..backend import xp
from ..kernels import along_rows, compiled_for
from ._util import as_tensor_arg
from .arithmetic import sqrt
from .reduce import mean, sum


def _tensor_args(input: Any, *optional: Any) -> list:
    """(input, running_mean, running_var, weight, bias) as Tensors (the last four or None)."""
    names = ("running_mean", "running_var", "weight", "bias")
    return [as_tensor_arg(input, "input", "batch_norm")] + [
        as_tensor_arg(a, name, "batch_norm", optional=True) for a, name in zip(optional, names)]


def _check(x: Tensor, running_mean: Optional[Tensor], running_var: Optional[Tensor],
           weight: Optional[Tensor], bias: Optional[Tensor], training: bool, momentum: Any,
           eps: Any) -> None:
    op = "batch_norm"
    if x.ndim < 2:
        raise OpError(f"{op}: expected input of shape (N, C), (N, C, L) or (N, C, H, W), "
                      f"got input of shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got dtype {x.dtype}")
    C = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is None:
            continue
        if t.shape != (C,):
            raise OpError(f"{op}: expected {name} of shape ({C},) (one per channel of input "
                          f"shape {x.shape}), got {name} of shape {t.shape}")
        if t.dtype.kind != "f":
            raise TypeError(f"{op}: expected a floating point {name}, got dtype {t.dtype}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise TypeError(f"{op}: input dtype ({x.dtype}) and {name} dtype ({t.dtype}) should "
                            f"be the same")
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{op}: running_mean and running_var must both be given or both be "
                         f"None")
    if not training and running_mean is None:
        raise OpError(f"{op}: running_mean and running_var must be defined in evaluation "
                      f"mode (training=False)")
    if training and x._data.size and x._data.size // C == 1:  # ValueError, as PyTorch
        raise ValueError(f"{op}: Expected more than 1 value per channel when training, got "
                         f"input size {x.shape} (one value per channel has no variance: use "
                         f"a batch of more than 1, or evaluation mode)")
    if not isinstance(momentum, numbers.Real) or not isinstance(eps, numbers.Real):
        raise TypeError(f"{op}: momentum and eps must be real numbers, got momentum="
                        f"{momentum!r}, eps={eps!r}")
    if eps <= 0:
        raise ValueError(f"{op}: eps must be positive, got {eps!r}")


def update_running_stat(running: Tensor, stat: Any, momentum: float) -> None:
    """running = (1 - momentum) * running + momentum * stat, in place (a buffer update).

    Example:
        >>> import chainrule as cr
        >>> r = cr.zeros(2)
        >>> update_running_stat(r, xp.array([1.0, 2.0]), 0.5)
        >>> r.tolist()
        [0.5, 1.0]
    """
    r = running._data
    r *= 1 - momentum
    r += (momentum * stat).astype(r.dtype, copy=False)
    running._version += 1


def _channel_shape(x: Any) -> tuple[int, ...]:
    """(1, C, 1, ...) to broadcast a per-channel vector against x."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def ncs_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(N, C, S) of an (N, C, ...) shape, S the product of the spatial sizes (1 for 2-D): the
    3-D view the statistics are taken over (spelled out, as -1 is ambiguous when N is 0).

    Example:
        >>> ncs_shape((0, 6, 28, 28)), ncs_shape((8, 3))
        ((0, 6, 784), (8, 3, 1))
    """
    return shape[0], shape[1], math.prod(shape[2:])


def _centre(x3: Any, mean: Any) -> Any:
    """x3 (N, C, S) minus its per-channel mean, as a new (N, C, S) array.

    Seen as rows of (N, C*S), the (C,) mean repeated S times broadcasts along whole rows (one
    long inner loop per image).
    """
    N, C, S = x3.shape
    return xp.subtract(x3.reshape(N, C * S), along_rows(mean, S)).reshape(N, C, S)


def _sum_channels(a3: Any) -> Any:
    """(N, C, S) summed to (C,) (einsum: one pass, ~3x faster than ``sum(axis=(0, 2))``)."""
    return xp.einsum("ncs->c", a3)


def _dot_channels(a3: Any, b3: Any) -> Any:
    """Per-channel sum of a3 * b3 for (N, C, S) arrays, without a temporary product."""
    return xp.einsum("ncs,ncs->c", a3, b3)


# ============================================================================ array steps
# Batch norm's passes over (N, C, S) arrays, written once and shared by BatchNorm below and
# chainrule.distributed's SyncBatchNorm (which may not import the kernels). Each step runs the
# compiled loop where compiled_for allows (float32/float64, Numba on; float64 sums) and the
# NumPy formula beside it otherwise (in the input's dtype). ``xc`` is x - mean from a NumPy
# step: handed on, it keeps the later NumPy steps from centring x again, and it selects the
# NumPy formula (the compiled loops read x and the mean instead).

def channel_moments(x3: Any) -> tuple[Any, Any, Optional[Any]]:
    """Per-channel mean and biased variance of x3 (N, C, S) over N and S (N * S > 0), and
    x3 - mean when the NumPy formula made it on the way (else None).

    Compiled: one pass, float64 sums shifted by each channel's first value (no cancelling far
    from zero), float64 results. NumPy: the mean, the centred copy and the mean of its
    squares, in x3's dtype.

    Example:
        >>> mean, var, _ = channel_moments(xp.array([[[1.0, 3.0]], [[5.0, 7.0]]]))  # (2, 1, 2)
        >>> mean.tolist(), var.tolist()
        ([4.0], [5.0])
    """
    jit = compiled_for(x3)
    if jit is not None:
        mean, var = jit.channel_stats(xp.ascontiguousarray(x3))
        return mean, var, None
    N, C, S = x3.shape
    mean = _sum_channels(x3) / (N * S)
    xc = _centre(x3, mean)
    return mean, _dot_channels(xc, xc) / (N * S), xc


def scale_shift_channels(x3: Any, mean: Any, scale: Any, shift: Optional[Any],
                         xc: Optional[Any] = None) -> tuple[Any, Optional[Any]]:
    """y = (x3 - mean) * scale + shift per channel (the batch-norm output), a new (N, C, S)
    array in x3's dtype; and x3 - mean when the NumPy formula made or was given it (else None).

    Args:
        x3: (N, C, S) input.
        mean, scale: (C,) in x3's dtype.
        shift: (C,) in x3's dtype, or None for 0.
        xc: x3 - mean if at hand (the NumPy formula then starts from it).

    Example:
        >>> y, _ = scale_shift_channels(xp.array([[[1.0, 3.0]]]), xp.array([2.0]),
        ...                             xp.array([0.5]), xp.array([1.0]))
        >>> y.tolist()
        [[[0.5, 1.5]]]
    """
    N, C, S = x3.shape
    jit = compiled_for(x3) if xc is None else None
    if jit is not None:  # one pass
        y = xp.empty((N, C, S), x3.dtype)
        jit.scale_shift(xp.ascontiguousarray(x3), mean, scale,
                        xp.zeros(C, x3.dtype) if shift is None else shift, y)
        return y, None
    if xc is None:
        xc = _centre(x3, mean)
    y = xp.multiply(xc.reshape(N, C * S), along_rows(scale, S),
                    out=xp.empty((N, C * S), x3.dtype))  # (N, C*S)
    if shift is not None:
        y += along_rows(shift, S)
    return y.reshape(N, C, S), xc


def channel_grad_sums(g3: Any, x3: Any, mean: Any, xc: Optional[Any] = None) -> tuple[Any, Any]:
    """Per-channel sum(g3) and sum(g3 * (x3 - mean)) of (N, C, S) arrays: float64 from the
    compiled loop (one pass), g3's dtype from NumPy's (from ``xc`` = x3 - mean if given).

    Example:
        >>> sg, sgx = channel_grad_sums(xp.array([[[1.0, 2.0]]]), xp.array([[[1.0, 3.0]]]),
        ...                             xp.array([2.0]))
        >>> sg.tolist(), sgx.tolist()
        ([3.0], [1.0])
    """
    jit = compiled_for(g3, x3) if xc is None else None
    if jit is not None:
        return jit.grad_sums(xp.ascontiguousarray(g3), xp.ascontiguousarray(x3), mean)
    if xc is None:
        xc = _centre(x3, mean)
    return _sum_channels(g3), _dot_channels(g3, xc)


def batch_norm_input_grad(g3: Any, x3: Any, mean: Any, a: Any, k: Any, d: Any,
                          xc: Optional[Any] = None) -> Any:
    """gx = a * (g3 + d - (x3 - mean) * k) per channel (batch norm's input gradient with
    a = weight * invstd, k = invstd^2 * mean(g * xc), d = -mean(g)): a new (N, C, S) array in
    x3's dtype, written whole (a leaf may take it). One compiled pass, or NumPy's four.

    Example:
        >>> gx = batch_norm_input_grad(xp.array([[[1.0, 2.0]]]), xp.array([[[1.0, 3.0]]]),
        ...                            xp.array([2.0]), xp.array([2.0]), xp.array([0.5]),
        ...                            xp.array([-1.5]))
        >>> gx.tolist()
        [[[0.0, 0.0]]]
    """
    N, C, S = g3.shape
    gx = xp.empty((N, C, S), x3.dtype)
    jit = compiled_for(g3, x3) if xc is None else None
    if jit is not None:  # one pass: a * g - (a * k) * xc + a * d
        jit.batch_norm_grad(xp.ascontiguousarray(g3), xp.ascontiguousarray(x3), mean, a,
                            a * k, a * d, gx)
        return gx
    if xc is None:
        xc = _centre(x3, mean)
    # the first pass writes gx, the next three update it in place (no temporary, fewer
    # streams through the cache)
    gx2 = gx.reshape(N, C * S)
    xp.multiply(xc.reshape(N, C * S), along_rows(-k, S), out=gx2)
    gx2 += along_rows(d, S)
    gx2 += g3.reshape(N, C * S)  # (N, C, S) -> (N, C*S), as x3
    gx2 *= along_rows(a, S)
    return gx


# ============================================================================ fused
class BatchNorm(Function):
    """y = (x - mean) * invstd * weight + bias; one node, hand-derived backward.

    Training: mean/invstd from the batch (saved for backward). Evaluation: from the running
    statistics, passed in as arrays (constants of the graph).
    """

    node_name = "NativeBatchNormBackward0"  # PyTorch's name for the same op

    derivative = ("{x1}*invstd*(upstream - mean(upstream) - xhat*mean(upstream*xhat)) per "
                  "channel, xhat = ({x0} - mean)*invstd ({x1}*invstd*upstream in eval)",
                  "upstream*xhat summed per channel", "upstream summed per channel")

    def __init__(self, training: bool, eps: float, momentum: float,
                 running: Optional[tuple[Tensor, Tensor]]) -> None:
        self.training, self.eps, self.momentum = training, eps, momentum
        self.running = running  # (running_mean, running_var): updated (training) or read (eval)

    def forward(self, x: Any, weight: Any, bias: Any) -> Any:
        N, C, S = ncs_shape(x.shape)
        x3 = x.reshape(N, C, S)  # (N, C, ...) -> (N, C, S)
        M = N * S
        if M == 0:  # nothing to normalise: an empty output, the running statistics untouched
            self.mean, self.invstd = xp.zeros(C, x.dtype), xp.ones(C, x.dtype)
            self.xc = x3
            return xp.empty(x.shape, x.dtype)
        xc = None  # x - mean, kept for backward by the NumPy formulas (saves them a pass)
        if self.training:
            mean_, var, xc = channel_moments(x3)  # var biased: what normalises
            mean_ = mean_.astype(x.dtype, copy=False)
            invstd = 1 / xp.sqrt(var + self.eps)
            if self.running is not None:
                with no_grad():
                    update_running_stat(self.running[0], mean_, self.momentum)
                    update_running_stat(self.running[1], var * (M / (M - 1)), self.momentum)
        else:
            mean_ = self.running[0]._data.astype(x.dtype)  # a copy: the buffer may change later
            invstd = 1 / xp.sqrt(self.running[1]._data + self.eps)
        self.mean, self.invstd = mean_, invstd.astype(x.dtype, copy=False)
        scale = self.invstd if weight is None else self.invstd * weight
        y3, self.xc = scale_shift_channels(x3, mean_, scale, bias, xc)
        return y3.reshape(x.shape)

    def backward(self, gy: Tensor) -> tuple:
        x, weight, _ = self.inputs
        nx, nw, nb = self.needs_input_grad
        axes = (0,) + tuple(range(2, x.ndim))  # every axis but C
        cshape = _channel_shape(x)
        if self.training:  # the batch statistics depend on x
            xc = x - mean(x, axes, keepdim=True)
            invstd = 1 / sqrt(mean(xc * xc, axes, keepdim=True) + self.eps)
        else:  # the running statistics are constants
            xc = x - Tensor(self.mean.reshape(cshape))
            invstd = Tensor(self.invstd.reshape(cshape))
        xhat = xc * invstd
        gx = None
        if nx:
            gyw = gy if weight is None else gy * weight.reshape(cshape)
            if self.training:
                gx = invstd * (gyw - mean(gyw, axes, keepdim=True)
                               - xhat * mean(gyw * xhat, axes, keepdim=True))
            else:
                gx = gyw * invstd
        return (gx, sum(gy * xhat, axes) if nw else None, sum(gy, axes) if nb else None)

    def fast_backward(self, gy: Any) -> tuple:
        x, weight, _ = self.inputs
        nx, nw, nb = self.needs_input_grad
        g = gy.astype(x.dtype, copy=False)
        N, C, S = ncs_shape(g.shape)
        g3, x3 = g.reshape(N, C, S), x._data.reshape(N, C, S)  # (N, C, ...) -> (N, C, S)
        M = N * S
        xc = self.xc  # (N, C, S) x - mean from NumPy's forward (else None): never written
        sum_g, sum_gxc = channel_grad_sums(g3, x3, self.mean, xc)
        gw = (sum_gxc * self.invstd).astype(x.dtype) if nw else None  # sum(gy * xhat)
        gb = sum_g.astype(x.dtype) if nb else None
        if not nx:
            return None, gw, gb
        a = self.invstd if weight is None else self.invstd * weight._data
        if not self.training or M == 0:  # constant statistics (or none): gx = a * gy
            gx = xp.empty(x.shape, dtype=x.dtype)  # written whole: a leaf may take it
            xp.multiply(g3.reshape(N, C * S), along_rows(a, S), out=gx.reshape(N, C * S))
            return gx, gw, gb
        # gx = a * (gy + d - xc * k), k = invstd^2 * sum_gxc/M, d = -sum_g/M
        k = (self.invstd * self.invstd * sum_gxc / M).astype(x.dtype)
        d = (-sum_g / M).astype(x.dtype)
        return batch_norm_input_grad(g3, x3, self.mean, a, k, d, xc).reshape(x.shape), gw, gb


def batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None,
               bias: Any = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Batch normalisation over the channel axis 1, as ``torch.nn.functional.batch_norm``.

    Args:
        input: (N, C), (N, C, L), (N, C, H, W) or any (N, C, ...).
        running_mean: (C,) or None; updated in place when training.
        running_var: (C,) or None; updated in place (unbiased batch variance) when training.
        weight: optional (C,) scale (gamma).
        bias: optional (C,) shift (beta).
        training: use batch statistics (and update the running ones); else the running ones.
        momentum: weight of the batch statistic in the running update.
        eps: added to the variance before the square root.

    Shape:
        output: same shape as input. An empty input (N = 0, or a spatial size 0) gives an
        empty output, zero weight and bias gradients and leaves the running statistics as
        they are, as PyTorch.

    Raises:
        ValueError: wrong shapes, one value per channel in training (PyTorch's message),
            eval without running statistics.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[1.0, 10.0], [3.0, 30.0]])  # (N=2, C=2)
        >>> rm, rv = cr.zeros(2), cr.ones(2)
        >>> y = batch_norm(x, rm, rv, training=True)
        >>> [[round(v, 4) for v in row] for row in y.tolist()]
        [[-1.0, -1.0], [1.0, 1.0]]
        >>> [round(v, 4) for v in rm.tolist()], [round(v, 4) for v in rv.tolist()]
        ([0.2, 2.0], [1.1, 20.9])
    """
    x, rm, rv, weight, bias = _tensor_args(input, running_mean, running_var, weight, bias)
    _check(x, rm, rv, weight, bias, training, momentum, eps)
    running = None if rm is None else (rm, rv)
    return BatchNorm(bool(training), float(eps), float(momentum), running)(x, weight, bias)


def batch_norm_composed(input: Any, running_mean: Any, running_var: Any, weight: Any = None,
                        bias: Any = None, training: bool = False, momentum: float = 0.1,
                        eps: float = 1e-5) -> Tensor:
    """The reference twin of :func:`batch_norm`, composed of primitive differentiable ops.

    Same arguments and running-statistics update; slower (one node per primitive).

    Example:
        >>> import chainrule as cr
        >>> x = cr.randn(4, 3, 2, 2)
        >>> a = batch_norm_composed(x, None, None, training=True)
        >>> bool(cr.allclose(a, batch_norm(x, None, None, training=True), atol=1e-5))
        True
    """
    x, rm, rv, weight, bias = _tensor_args(input, running_mean, running_var, weight, bias)
    _check(x, rm, rv, weight, bias, training, momentum, eps)
    axes = (0,) + tuple(range(2, x.ndim))
    cshape = _channel_shape(x)
    if training:
        mu = mean(x, axes, keepdim=True)
        xc = x - mu
        var = mean(xc * xc, axes, keepdim=True)  # biased
        if rm is not None and x._data.size:  # an empty batch leaves them, as batch_norm
            M = x._data.size // x.shape[1]
            with no_grad():
                update_running_stat(rm, mu._data.reshape(-1), momentum)
                update_running_stat(rv, var._data.reshape(-1) * (M / (M - 1)), momentum)
        y = xc / sqrt(var + eps)
    else:
        mu = Tensor(rm._data.astype(x.dtype, copy=False).reshape(cshape))
        var = Tensor(rv._data.astype(x.dtype, copy=False).reshape(cshape))
        y = (x - mu) / sqrt(var + eps)
    if weight is not None:
        y = y * weight.reshape(cshape)
    if bias is not None:
        y = y + bias.reshape(cshape)
    return y
