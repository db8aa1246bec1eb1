"""2-D pooling: ``max_pool2d`` and ``avg_pool2d``, each with a naive and a fast kernel.

Both follow ``torch.nn.functional`` (NCHW or unbatched CHW input, stride defaulting to the
kernel size, implicit padding, ``ceil_mode``; dilation for max pooling; ``count_include_pad``
and ``divisor_override`` for average pooling).

``"naive"``
    the nested Python loops over batch, channel, output row/column and window: the readable
    reference. Backward first order only.
``"fast"`` (the default)
    one strided slice of the padded input per window offset (KH*KW of them, each covering
    every window at once): running max/argmax or sum over the offsets, no Python loop over
    pixels; 2x2 max windows with stride 2 run as one compiled pass each way where Numba is
    installed (:mod:`chainrule.kernels.pool_schedules`). Backward is a Function of its own
    (scatter for max, the adjoint of averaging for avg), so double backward works.

Max pooling pads with -inf and sends each window's gradient to its arg-max. Ties go to the
first maximum in the window in row-major order; a window holding NaN outputs NaN and takes
its last NaN as the arg-max (both as PyTorch's CPU kernel). Overlapping windows accumulate.
A window whose dilated taps all land in the padding outputs -inf and passes no gradient
(PyTorch writes that gradient outside the window, past the end of the plane).

Pick a kernel with ``impl=`` or ``with pool_impl("naive"): ...``.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator, Optional

import numpy

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ..kernels.pool_schedules import (PoolGeometry, avg_adjoint, avg_forward, max_forward,
                                      max_gather, max_scatter)
from ._util import FAST_ONLY_HINT, ImplChoice, as_tensor_arg
from .shape import reshape
from .window_args import check_pool2d
from .window_args import pool_output_size  # noqa: F401 (PyTorch's formula, public here)

IMPLS = ("fast", "naive")
_IMPL = ImplChoice("pool", IMPLS)


@contextlib.contextmanager
def pool_impl(name: str) -> Iterator[None]:
    """Use the pooling kernel ``name`` (``"fast"`` or ``"naive"``) inside the block.

    Example:
        >>> import chainrule as cr
        >>> x = cr.randn(1, 1, 4, 4)
        >>> with pool_impl("naive"):
        ...     slow = max_pool2d(x, 2)
        >>> bool(cr.allclose(slow, max_pool2d(x, 2)))
        True
    """
    with _IMPL.use(name, "pool_impl"):
        yield


# ============================================================================ max: the definition
def _max_forward_naive(x: Any, g: PoolGeometry) -> tuple[Any, Any]:
    """Loops over every window; the arg-max is kept as a flat index into the padded plane."""
    N, C, H, W = x.shape
    (KH, KW), (sh, sw), (ph, pw), (dh, dw), (OH, OW) = g
    y = xp.empty((N, C, OH, OW), dtype=x.dtype)
    arg = xp.empty((N, C, OH, OW), dtype=numpy.int64)  # r*W + c in input coordinates, or -1
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    best, where = -math.inf, -1
                    for kh in range(KH):
                        for kw in range(KW):
                            r, s = i * sh + kh * dh - ph, j * sw + kw * dw - pw
                            if not (0 <= r < H and 0 <= s < W):
                                continue  # padding never wins (it is -inf)
                            if where < 0:
                                where = r * W + s  # PyTorch starts at the first tap inside
                            v = x[n, c, r, s]
                            if v > best or math.isnan(v):
                                best, where = v, r * W + s
                    y[n, c, i, j], arg[n, c, i, j] = best, where
    return y, arg


def _max_backward_naive(gy: Any, arg: Any, x_shape: tuple[int, ...]) -> Any:
    N, C, H, W = x_shape
    gx = xp.zeros(x_shape, dtype=gy.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(gy.shape[2]):
                for j in range(gy.shape[3]):
                    a = arg[n, c, i, j]
                    if a >= 0:
                        gx[n, c, a // W, a % W] += gy[n, c, i, j]
    return gx


# ============================================================================ max: Functions
class MaxPool2d(Function):
    """y = max over each window; backward routes gy to the arg-max (differentiably)."""

    node_name = "MaxPool2DWithIndicesBackward0"  # PyTorch's name for the same op

    derivative = "1 at each window's maximum, else 0"

    def __init__(self, geometry: PoolGeometry) -> None:
        self.g = geometry

    def forward(self, x: Any) -> Any:
        y, self.idx = max_forward(x, self.g)  # idx: the window offset of each maximum
        return y

    def backward(self, gy: Tensor) -> Tensor:
        return MaxPool2dScatter(self.g, self.idx, self.inputs[0].shape)(gy)

    def fast_backward(self, gy: Any) -> Any:
        return max_scatter(gy, self.idx, self.inputs[0].shape, self.g)


class MaxPool2dScatter(Function):
    """gx = scatter of gy to the arg-max positions; linear, its backward is the gather."""

    derivative = "1 from each window's output to its maximum's position, else 0"

    def __init__(self, geometry: PoolGeometry, idx: Any, x_shape: tuple[int, ...]) -> None:
        self.g, self.idx, self.x_shape = geometry, idx, tuple(x_shape)

    def forward(self, gy: Any) -> Any:
        return max_scatter(gy, self.idx, self.x_shape, self.g)

    def backward(self, ggx: Tensor) -> Tensor:
        return MaxPool2dGather(self.g, self.idx, self.x_shape)(ggx)


class MaxPool2dGather(Function):
    """y = gx read at the arg-max positions; linear, its backward is the scatter."""

    derivative = "1 at each window's maximum, else 0"

    def __init__(self, geometry: PoolGeometry, idx: Any, x_shape: tuple[int, ...]) -> None:
        self.g, self.idx, self.x_shape = geometry, idx, tuple(x_shape)

    def forward(self, gx: Any) -> Any:
        return max_gather(gx, self.idx, self.g)

    def backward(self, gy: Tensor) -> Tensor:
        return MaxPool2dScatter(self.g, self.idx, self.x_shape)(gy)


class MaxPool2dNaive(Function):
    """max_pool2d by loops (the reference); backward is first order only."""

    derivative = MaxPool2d.derivative
    double_backward_hint = FAST_ONLY_HINT

    def __init__(self, geometry: PoolGeometry) -> None:
        self.g = geometry

    def forward(self, x: Any) -> Any:
        y, self.arg = _max_forward_naive(x, self.g)
        return y

    def fast_backward(self, gy: Any) -> Any:
        return _max_backward_naive(gy, self.arg, self.inputs[0].shape)


def _flat_indices(idx: Any, x_shape: tuple[int, ...], g: PoolGeometry) -> Any:
    """Window offsets k (``kh * KW + kw``) as PyTorch's indices: ``row * W + col`` in x."""
    W = x_shape[3]
    (KW, (sh, sw), (ph, pw), (dh, dw), (OH, OW)) = (g.kernel[1], g.stride, g.padding,
                                                    g.dilation, g.out)
    k = idx.astype(numpy.int64)
    rows = xp.arange(OH).reshape(-1, 1) * sh - ph + (k // KW) * dh  # (N, C, OH, OW)
    cols = xp.arange(OW) * sw - pw + (k % KW) * dw
    return rows * W + cols


def max_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False, *,
               impl: Optional[str] = None) -> Any:
    """2-D max pooling, as ``torch.nn.functional.max_pool2d``.

    Args:
        input: (N, C, H, W), or (C, H, W) unbatched.
        kernel_size: int or (KH, KW).
        stride: int or pair; defaults to ``kernel_size``.
        padding: int or pair of implicit -inf padding, at most half the kernel size.
        dilation: int or pair, spacing between window taps.
        ceil_mode: round the output size up (a window may hang over the bottom/right edge,
            but never start in the padding).
        return_indices: also return the position of each maximum, as PyTorch: an int64
            tensor shaped like the output, holding ``row * W + col`` in the input plane.
        impl: ``"fast"`` (default) or ``"naive"``; None uses :func:`pool_impl`'s setting.

    Shape:
        output (N, C, OH, OW) with
        ``OH = floor((H + 2*padding - dilation*(KH-1) - 1)/stride + 1)`` (ceil with
        ``ceil_mode``), likewise OW. With ``return_indices``, ``(output, indices)``.

    The gradient of each window goes to its maximum; ties go to the first maximum in
    row-major window order, as in PyTorch's CPU kernel.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[[[1., 2., 5., 5.], [3., 4., 0., 1.]]]], requires_grad=True)
        >>> y = max_pool2d(x, 2)
        >>> y.tolist()
        [[[[4.0, 5.0]]]]
        >>> y.sum().backward()
        >>> x.grad.tolist()
        [[[[0.0, 0.0, 1.0, 0.0], [0.0, 1.0, 0.0, 0.0]]]]
        >>> max_pool2d(x, 2, return_indices=True)[1].tolist()
        [[[[5, 2]]]]
    """
    op = "max_pool2d"
    name = _IMPL.resolve(impl, op)
    x = as_tensor_arg(input, "input", op)
    unbatched = x.ndim == 3
    if unbatched:
        x = reshape(x, (1,) + x.shape)  # (C, H, W) -> (1, C, H, W)
    g = check_pool2d(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    fn = (MaxPool2d if name == "fast" else MaxPool2dNaive)(g)
    y = fn(x)
    if unbatched:
        y = reshape(y, y.shape[1:])
    if not return_indices:
        return y
    flat = _flat_indices(fn.idx, x.shape, g) if name == "fast" else fn.arg
    return y, Tensor(flat.reshape(y.shape))


# ============================================================================ avg: the definition
def avg_divisor(x_shape: tuple[int, ...], g: PoolGeometry, count_include_pad: bool,
                divisor_override: Optional[int], dtype: Any) -> Any:
    """The (OH, OW) divisor of each window, by PyTorch's rule.

    With padding counted, a window's size is clipped to the padded input (not to a ceil_mode
    overhang); without, only the input positions it covers count.
    """
    if divisor_override is not None:
        return xp.full(g.out, divisor_override, dtype=dtype)
    sizes = []
    for size, k, s, p, o in zip(x_shape[2:], g.kernel, g.stride, g.padding, g.out):
        start = xp.arange(o) * s - p
        end = xp.minimum(start + k, size + p)
        full = end - start
        valid = xp.minimum(end, size) - xp.maximum(start, 0)
        sizes.append(full if count_include_pad else valid)
    return xp.multiply.outer(sizes[0], sizes[1]).astype(dtype)


def _avg_forward_naive(x: Any, g: PoolGeometry, count_include_pad: bool,
                       divisor_override: Optional[int]) -> Any:
    N, C, H, W = x.shape
    (KH, KW), (sh, sw), (ph, pw), _, (OH, OW) = g
    y = xp.empty((N, C, OH, OW), dtype=x.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    r0, s0 = i * sh - ph, j * sw - pw
                    r1, s1 = min(r0 + KH, H + ph), min(s0 + KW, W + pw)
                    total, count = 0.0, 0
                    for r in range(max(r0, 0), min(r1, H)):
                        for s in range(max(s0, 0), min(s1, W)):
                            total += x[n, c, r, s]
                            count += 1
                    div = (divisor_override if divisor_override is not None else
                           (r1 - r0) * (s1 - s0) if count_include_pad else count)
                    y[n, c, i, j] = total / div
    return y


def _avg_backward_naive(gy: Any, x_shape: tuple[int, ...], g: PoolGeometry,
                        count_include_pad: bool, divisor_override: Optional[int]) -> Any:
    N, C, H, W = x_shape
    (KH, KW), (sh, sw), (ph, pw), _, (OH, OW) = g
    gx = xp.zeros(x_shape, dtype=gy.dtype)
    for n in range(N):
        for c in range(C):
            for i in range(OH):
                for j in range(OW):
                    r0, s0 = i * sh - ph, j * sw - pw
                    r1, s1 = min(r0 + KH, H + ph), min(s0 + KW, W + pw)
                    rows = range(max(r0, 0), min(r1, H))
                    cols = range(max(s0, 0), min(s1, W))
                    div = (divisor_override if divisor_override is not None else
                           (r1 - r0) * (s1 - s0) if count_include_pad else len(rows) * len(cols))
                    for r in rows:
                        for s in cols:
                            gx[n, c, r, s] += gy[n, c, i, j] / div
    return gx


# ============================================================================ avg: Functions
class AvgPool2d(Function):
    """y = window sums / divisor: linear in x; backward is :class:`AvgPool2dAdjoint`."""

    node_name = "AvgPool2DBackward0"  # PyTorch's name for the same op

    derivative = "1/(KH*KW) for each window the element is in"

    def __init__(self, geometry: PoolGeometry, divisor: Any) -> None:
        self.g, self.divisor = geometry, divisor  # divisor: (OH, OW)

    def forward(self, x: Any) -> Any:
        return avg_forward(x, self.g, self.divisor)

    def backward(self, gy: Tensor) -> Tensor:
        return AvgPool2dAdjoint(self.g, self.divisor, self.inputs[0].shape)(gy)

    def fast_backward(self, gy: Any) -> Any:
        return avg_adjoint(gy, self.inputs[0].shape, self.g, self.divisor)


class AvgPool2dAdjoint(Function):
    """gx = the transpose of average pooling applied to gy; its backward is AvgPool2d."""

    derivative = "1/(KH*KW) from each window's output to each element in it"

    def __init__(self, geometry: PoolGeometry, divisor: Any, x_shape: tuple[int, ...]) -> None:
        self.g, self.divisor, self.x_shape = geometry, divisor, tuple(x_shape)

    def forward(self, gy: Any) -> Any:
        return avg_adjoint(gy, self.x_shape, self.g, self.divisor)

    def backward(self, ggx: Tensor) -> Tensor:
        return AvgPool2d(self.g, self.divisor)(ggx)


class AvgPool2dNaive(Function):
    """avg_pool2d by loops (the reference); backward is first order only."""

    derivative = AvgPool2d.derivative
    double_backward_hint = FAST_ONLY_HINT

    def __init__(self, geometry: PoolGeometry, count_include_pad: bool,
                 divisor_override: Optional[int]) -> None:
        self.g, self.cip, self.override = geometry, count_include_pad, divisor_override

    def forward(self, x: Any) -> Any:
        return _avg_forward_naive(x, self.g, self.cip, self.override)

    def fast_backward(self, gy: Any) -> Any:
        return _avg_backward_naive(gy, self.inputs[0].shape, self.g, self.cip, self.override)


def avg_pool2d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: Optional[int] = None, *, impl: Optional[str] = None) -> Tensor:
    """2-D average pooling, as ``torch.nn.functional.avg_pool2d``.

    Args:
        input: (N, C, H, W), or (C, H, W) unbatched.
        kernel_size: int or (KH, KW).
        stride: int or pair; defaults to ``kernel_size``.
        padding: int or pair of implicit zero padding, at most half the kernel.
        ceil_mode: round the output size up (see :func:`max_pool2d`).
        count_include_pad: divide by the window size including padding (but not a ceil_mode
            overhang); if False, by the number of input values the window covers.
        divisor_override: divide every window sum by this instead.
        impl: ``"fast"`` (default) or ``"naive"``; None uses :func:`pool_impl`'s setting.

    Shape:
        output (N, C, OH, OW) with ``OH = floor((H + 2*padding - KH)/stride + 1)`` (ceil with
        ``ceil_mode``), likewise OW.

    Example:
        >>> import chainrule as cr
        >>> avg_pool2d(cr.arange(16.0).reshape(1, 1, 4, 4), 2).tolist()
        [[[[2.5, 4.5], [10.5, 12.5]]]]
    """
    op = "avg_pool2d"
    name = _IMPL.resolve(impl, op)
    x = as_tensor_arg(input, "input", op)
    unbatched = x.ndim == 3
    if unbatched:
        x = reshape(x, (1,) + x.shape)  # (C, H, W) -> (1, C, H, W)
    g = check_pool2d(op, x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (not isinstance(divisor_override, (int, numpy.integer))
                                         or divisor_override == 0):
        raise OpError(f"{op}: divisor_override must be a non-zero int, got "
                      f"{divisor_override!r}")
    if name == "fast":
        divisor = avg_divisor(x.shape, g, count_include_pad, divisor_override, x.dtype)
        y = AvgPool2d(g, divisor)(x)
    else:
        y = AvgPool2dNaive(g, count_include_pad, divisor_override)(x)
    return reshape(y, y.shape[1:]) if unbatched else y
