"""2-D convolution: one public ``conv2d`` with three interchangeable kernels.

``conv2d`` follows ``torch.nn.functional.conv2d`` (cross-correlation, NCHW layout, stride,
padding incl. ``'same'``/``'valid'``, dilation, groups). This module reads top-down: the
definition, the same sum as one matrix product, then the Functions that compute it.

``"naive"``
    the definition: seven nested Python loops (batch, out channel, out row, out col, in
    channel, kernel row, kernel col). Slow by design: the readable reference. First-order
    backward only.
``"im2col"``
    unfold the padded input into a (C*KH*KW, N*OH*OW) matrix, one GEMM with the weight as
    (OC, C*KH*KW), fold back with col2im. The columns are cached on the node for backward
    (first order only).
``"fast"`` (the default)
    the same GEMMs, scheduled for the cache: blocked channels-last or planar columns, a
    dense GEMM when the kernel covers the input, and compiled direct convolutions where
    they win (:mod:`chainrule.kernels.conv_schedules`). Its backward is made of two more
    Functions, :class:`Conv2dGradInput` (the transposed convolution) and
    :class:`Conv2dGradWeight`, each differentiable in terms of the other two, so
    ``create_graph=True`` (double backward) works.

Pick one per call with ``impl=`` or for a block with ``with conv_impl("im2col"): ...``.

Dimension names in shape comments: N batch, C in channels, H, W input size, OC out channels,
KH, KW kernel size, OH, OW output size, G groups, Cg = C/G, OCg = OC/G, KK = KH*KW.
"""
from __future__ import annotations

import contextlib
from typing import Any, Iterator, Optional, Union

import numpy

from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..autograd.tensor import Tensor
from ..backend import xp
from ..kernels.conv_schedules import (Columns, ConvGeometry, fast_forward, fast_grad_input,
                                      fast_grad_weight, sum_nhw, what_to_keep)
from ..kernels.conv_schedules import output_size  # noqa: F401 (PyTorch's formula, public here)
from ._util import FAST_ONLY_HINT, ImplChoice, as_tensor_arg
from .shape import reshape
from .window_args import check_conv2d

_as_strided = numpy.lib.stride_tricks.as_strided

IMPLS = ("fast", "im2col", "naive")
_IMPL = ImplChoice("conv2d", IMPLS)


@contextlib.contextmanager
def conv_impl(name: str) -> Iterator[None]:
    """Use the convolution kernel ``name`` for every ``conv2d`` call inside the block.

    Args:
        name: ``"fast"``, ``"im2col"`` or ``"naive"``.

    Example:
        >>> import chainrule as cr
        >>> x, weight = cr.randn(1, 1, 4, 4), cr.randn(2, 1, 3, 3)
        >>> with conv_impl("naive"):
        ...     slow = conv2d(x, weight)
        >>> bool(cr.allclose(slow, conv2d(x, weight), atol=1e-5))
        True
    """
    with _IMPL.use(name, "conv_impl"):
        yield


# ============================================================================ the definition
def _pad_nchw(x: Any, pads: tuple[int, int, int, int]) -> Any:
    """Zero-pad (N, C, H, W) to (N, C, H+top+bottom, W+left+right)."""
    pt, pb, pl, pr = pads
    if not (pt or pb or pl or pr):
        return x
    return xp.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))


def _naive_forward(x: Any, weight: Any, g: ConvGeometry) -> Any:
    """Seven nested loops: the definition of conv2d, read straight off the formula."""
    N, C, H, W = x.shape
    OC, Cg, KH, KW = weight.shape
    OH, OW = g.out_hw(H, W, KH, KW)
    (sh, sw), (dh, dw), OCg = g.stride, g.dilation, OC // g.groups
    xp_ = _pad_nchw(x, g.pads)
    y = xp.zeros((N, OC, OH, OW), dtype=x.dtype)
    for n in range(N):
        for oc in range(OC):
            c0 = (oc // OCg) * Cg  # first input channel of this output channel's group
            for i in range(OH):
                for j in range(OW):
                    acc = 0.0
                    for c in range(Cg):
                        for kh in range(KH):
                            for kw in range(KW):
                                acc += (xp_[n, c0 + c, i * sh + kh * dh, j * sw + kw * dw]
                                        * weight[oc, c, kh, kw])
                    y[n, oc, i, j] = acc
    return y


def _naive_backward(x: Any, weight: Any, gy: Any, g: ConvGeometry) -> tuple[Any, Any]:
    """The same loops, each product sending gy back to the input pixel and the weight."""
    N, C, H, W = x.shape
    OC, Cg, KH, KW = weight.shape
    OH, OW = gy.shape[2:]
    (sh, sw), (dh, dw), OCg = g.stride, g.dilation, OC // g.groups
    pt, pb, pl, pr = g.pads
    xp_ = _pad_nchw(x, g.pads)
    gxp = xp.zeros(xp_.shape, dtype=x.dtype)
    gw = xp.zeros(weight.shape, dtype=x.dtype)
    for n in range(N):
        for oc in range(OC):
            c0 = (oc // OCg) * Cg
            for i in range(OH):
                for j in range(OW):
                    gv = gy[n, oc, i, j]
                    for c in range(Cg):
                        for kh in range(KH):
                            for kw in range(KW):
                                r, s = i * sh + kh * dh, j * sw + kw * dw
                                gxp[n, c0 + c, r, s] += gv * weight[oc, c, kh, kw]
                                gw[oc, c, kh, kw] += gv * xp_[n, c0 + c, r, s]
    return gxp[:, :, pt:pt + H, pl:pl + W].copy(), gw


# ============================================================================ im2col + GEMM
def im2col(x: Any, KH: int, KW: int, g: ConvGeometry) -> Any:
    """Unfold (N, C, H, W) into the (C*KH*KW, N*OH*OW) matrix of receptive fields.

    Args:
        x: an (N, C, H, W) ndarray.
        KH: kernel height.
        KW: kernel width.
        g: stride, padding, dilation (and groups, unused here).

    Shape:
        (C*KH*KW, N*OH*OW), row (c, kh, kw), column (n, i, j), with OH, OW from
        :func:`output_size`.

    Example:
        >>> import numpy as np
        >>> x = np.arange(9.0).reshape(1, 1, 3, 3)
        >>> im2col(x, 2, 2, ConvGeometry((1, 1), (0, 0, 0, 0), (1, 1), 1))
        array([[0., 1., 3., 4.],
               [1., 2., 4., 5.],
               [3., 4., 6., 7.],
               [4., 5., 7., 8.]])
    """
    N, C, H, W = x.shape
    OH, OW = g.out_hw(H, W, KH, KW)
    xp_ = xp.ascontiguousarray(_pad_nchw(x, g.pads))
    sN, sC, sH, sW = xp_.strides
    (sh, sw), (dh, dw) = g.stride, g.dilation
    # a view (C, KH, KW, N, OH, OW): [c, kh, kw, n, i, j] = xp_[n, c, i*sh+kh*dh, j*sw+kw*dw]
    win = _as_strided(xp_, (C, KH, KW, N, OH, OW),
                      (sC, sH * dh, sW * dw, sN, sH * sh, sW * sw), writeable=False)
    return xp.ascontiguousarray(win).reshape(C * KH * KW, N * OH * OW)


def col2im(cols: Any, x_shape: tuple[int, ...], KH: int, KW: int, g: ConvGeometry) -> Any:
    """Fold (C*KH*KW, N*OH*OW) columns back to (N, C, H, W), summing overlaps.

    The adjoint of :func:`im2col`: ``sum(im2col(x) * cols) == sum(x * col2im(cols))``.

    Example:
        >>> import numpy as np
        >>> g = ConvGeometry((1, 1), (0, 0, 0, 0), (1, 1), 1)
        >>> col2im(np.ones((4, 4)), (1, 1, 3, 3), 2, 2, g)[0, 0]  # how many windows cover each
        array([[1., 2., 1.],
               [2., 4., 2.],
               [1., 2., 1.]])
    """
    N, C, H, W = x_shape
    OH, OW = g.out_hw(H, W, KH, KW)
    pt, pb, pl, pr = g.pads
    (sh, sw), (dh, dw) = g.stride, g.dilation
    cols6 = cols.reshape(C, KH, KW, N, OH, OW)
    acc = xp.zeros((C, N, H + pt + pb, W + pl + pr), dtype=cols.dtype)
    for kh in range(KH):  # KH*KW strided adds, each over a whole (C, N, OH, OW) slab
        for kw in range(KW):
            acc[:, :, kh * dh:kh * dh + sh * (OH - 1) + 1:sh,
                kw * dw:kw * dw + sw * (OW - 1) + 1:sw] += cols6[:, kh, kw]
    # (C, N, H, W) -> (N, C, H, W)
    return xp.ascontiguousarray(acc[:, :, pt:pt + H, pl:pl + W].transpose(1, 0, 2, 3))


def _im2col_forward(x: Any, weight: Any, g: ConvGeometry) -> tuple[Any, Any]:
    N, C, H, W = x.shape
    OC, Cg, KH, KW = weight.shape
    OH, OW = g.out_hw(H, W, KH, KW)
    G = g.groups
    cols = im2col(x, KH, KW, g)  # (C*KK, N*OH*OW); rows of group gi are a contiguous block
    # weight (OC, Cg, KH, KW) -> (G, OCg, Cg*KK); cols -> (G, Cg*KK, N*OH*OW)
    y = xp.matmul(weight.reshape(G, OC // G, Cg * KH * KW),
                  cols.reshape(G, Cg * KH * KW, N * OH * OW))
    # (G, OCg, N*OH*OW) -> (OC, N, OH, OW) -> (N, OC, OH, OW)
    return xp.ascontiguousarray(y.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)), cols


def _im2col_backward(cols: Any, x_shape: tuple[int, ...], weight: Any, gy: Any,
                     g: ConvGeometry) -> tuple[Any, Any]:
    OC, Cg, KH, KW = weight.shape
    G = g.groups
    # gy (N, OC, OH, OW) -> (OC, N, OH, OW) -> (G, OCg, N*OH*OW)
    N, _, OH, OW = gy.shape
    gm = xp.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(G, OC // G, N * OH * OW)
    colsg = cols.reshape(G, Cg * KH * KW, N * OH * OW)  # (G, Cg*KK, N*OH*OW)
    wm = weight.reshape(G, OC // G, Cg * KH * KW)  # (G, OCg, Cg*KK)
    gw = xp.matmul(gm, colsg.transpose(0, 2, 1)).reshape(weight.shape)  # (G, OCg, Cg*KK)
    gcols = xp.matmul(wm.transpose(0, 2, 1), gm)  # (G, Cg*KK, N*OH*OW)
    return col2im(gcols.reshape(cols.shape), x_shape, KH, KW, g), gw


# ============================================================================ Functions
class Conv2d(Function):
    """y = conv2d(x, weight) + bias by the fast schedules; backward is differentiable.

    ``keep`` (set by :func:`conv2d` when the weight will need a gradient, see
    :func:`chainrule.kernels.conv_schedules.what_to_keep`): ``"columns"`` keeps the im2col
    columns built by forward on the node, so the weight gradient is one GEMM without copying
    again; ``"input"`` keeps the channels-last padded input instead, unfolded again block by
    block by the weight gradient. Backward uses them once and they are freed with the graph.
    """

    node_name = "ConvolutionBackward0"  # PyTorch's name for the same op

    derivative = ("upstream correlated with the flipped {x1} (a transposed conv)",
                  "{x0} correlated with upstream", "upstream summed over N, OH, OW")

    def __init__(self, geometry: ConvGeometry, keep: str = "") -> None:
        self.g, self.keep = geometry, keep

    def forward(self, x: Any, weight: Any, bias: Any) -> Any:
        y, self.cols = fast_forward(x, weight, self.g, self.keep, bias)
        return y

    def backward(self, gy: Tensor) -> tuple:
        x, weight, _ = self.inputs
        nx, nw, nb = self.needs_input_grad
        cols, self.cols = self.cols, None  # the first backward consumes them
        return (Conv2dGradInput(self.g, x.shape)(gy, weight) if nx else None,
                Conv2dGradWeight(self.g, weight.shape, cols)(x, gy) if nw else None,
                gy.sum(dim=(0, 2, 3)) if nb else None)

    def fast_backward(self, gy: Any) -> tuple:
        x, weight, _ = self.inputs
        nx, nw, nb = self.needs_input_grad
        cols, self.cols = self.cols, None
        g = gy.astype(x.dtype, copy=False)
        return (fast_grad_input(g, weight._data, x.shape, self.g) if nx else None,
                fast_grad_weight(x._data, g, weight.shape, self.g, cols) if nw else None,
                sum_nhw(gy) if nb else None)


class Conv2dGradInput(Function):
    """gx = conv_transpose2d(gy, weight): the input gradient of conv2d, itself differentiable.

    It is bilinear in (gy, weight): ``<gx, a> = <gy, conv2d(a, weight)>`` for every ``a``.
    """

    derivative = ("upstream convolved with {x1} (the forward conv2d)",
                  "upstream correlated with {x0} (a weight gradient)")

    def __init__(self, geometry: ConvGeometry, x_shape: tuple[int, ...]) -> None:
        self.g, self.x_shape = geometry, tuple(x_shape)

    def forward(self, gy: Any, weight: Any) -> Any:
        return fast_grad_input(gy.astype(weight.dtype, copy=False), weight, self.x_shape,
                               self.g)

    def backward(self, ggx: Tensor) -> tuple:
        gy, weight = self.inputs
        ngy, nw = self.needs_input_grad
        return (Conv2d(self.g)(ggx, weight, None) if ngy else None,
                Conv2dGradWeight(self.g, weight.shape)(ggx, gy) if nw else None)


class Conv2dGradWeight(Function):
    """gw = the weight gradient of conv2d given x and gy, itself differentiable.

    It is bilinear in (x, gy): ``<gw, b> = <gy, conv2d(x, b)>`` for every ``b``. ``cols``
    are x's columns (or its channels-last padded input) kept by the forward pass, if any
    (used by forward, then dropped).
    """

    derivative = ("{x1} correlated with the flipped upstream (an input gradient)",
                  "{x0} convolved with upstream (the forward conv2d)")

    def __init__(self, geometry: ConvGeometry, w_shape: tuple[int, ...],
                 cols: Optional[Columns] = None) -> None:
        self.g, self.w_shape, self._cols = geometry, tuple(w_shape), cols

    def forward(self, x: Any, gy: Any) -> Any:
        cols, self._cols = self._cols, None
        return fast_grad_weight(x, gy.astype(x.dtype, copy=False), self.w_shape, self.g, cols)

    def backward(self, ggw: Tensor) -> tuple:
        x, gy = self.inputs
        nx, ngy = self.needs_input_grad
        return (Conv2dGradInput(self.g, x.shape)(gy, ggw) if nx else None,
                Conv2d(self.g)(x, ggw, None) if ngy else None)


class Conv2dIm2col(Function):
    """conv2d by one im2col GEMM; caches the columns; backward is first order only."""

    derivative = Conv2d.derivative
    double_backward_hint = FAST_ONLY_HINT

    def __init__(self, geometry: ConvGeometry) -> None:
        self.g = geometry

    def forward(self, x: Any, weight: Any, bias: Any) -> Any:
        y, self.cols = _im2col_forward(x, weight, self.g)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)  # (OC,) -> (1, OC, 1, 1)
        return y

    def fast_backward(self, gy: Any) -> tuple:
        x, weight, _ = self.inputs
        gx, gw = _im2col_backward(self.cols, x.shape, weight._data,
                                  gy.astype(weight.dtype, copy=False), self.g)
        nx, nw, nb = self.needs_input_grad
        return gx if nx else None, gw if nw else None, sum_nhw(gy) if nb else None


class Conv2dNaive(Function):
    """conv2d by nested Python loops (the reference); backward is first order only."""

    derivative = Conv2d.derivative
    double_backward_hint = FAST_ONLY_HINT

    def __init__(self, geometry: ConvGeometry) -> None:
        self.g = geometry

    def forward(self, x: Any, weight: Any, bias: Any) -> Any:
        y = _naive_forward(x, weight, self.g)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)  # (OC,) -> (1, OC, 1, 1)
        return y

    def fast_backward(self, gy: Any) -> tuple:
        x, weight, _ = self.inputs
        gx, gw = _naive_backward(x._data, weight._data, gy.astype(weight.dtype, copy=False),
                                 self.g)
        nx, nw, nb = self.needs_input_grad
        return gx if nx else None, gw if nw else None, sum_nhw(gy) if nb else None


_FUNCTIONS = {"fast": Conv2d, "im2col": Conv2dIm2col, "naive": Conv2dNaive}


def _what_to_keep(x: Tensor, weight: Tensor, g: ConvGeometry) -> str:
    """What the fast forward keeps for the weight gradient: nothing unless one is recorded."""
    if not (state.grad_enabled and weight.requires_grad):
        return ""
    return what_to_keep(x.shape, weight.shape, g)


# ============================================================================ public
def conv2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
           padding: Union[int, tuple[int, int], str] = 0, dilation: Any = 1, groups: int = 1,
           *, impl: Optional[str] = None) -> Tensor:
    """2-D cross-correlation over an (N, C, H, W) input, as ``torch.nn.functional.conv2d``.

    Args:
        input: (N, C, H, W), or (C, H, W) unbatched (the output is then unbatched too).
        weight: (OC, C/groups, KH, KW), same dtype as ``input``.
        bias: optional (OC,).
        stride: int or (sh, sw), positive.
        padding: int, (ph, pw), ``'valid'`` (no padding) or ``'same'`` (output size = input
            size; stride 1 only; an odd total puts the extra row/column at the bottom/right).
        dilation: int or (dh, dw), spacing between kernel taps.
        groups: split the channels into ``groups`` independent convolutions.
        impl: ``"fast"`` (default), ``"im2col"`` or ``"naive"``; None uses :func:`conv_impl`'s
            setting. Only ``"fast"`` supports double backward.

    Shape:
        input (N, C, H, W), output (N, OC, OH, OW) with
        ``OH = floor((H + 2*padding[0] - dilation[0]*(KH-1) - 1)/stride[0] + 1)`` and
        ``OW = floor((W + 2*padding[1] - dilation[1]*(KW-1) - 1)/stride[1] + 1)``. An empty
        batch (N = 0) gives an empty output and zero weight and bias gradients, as PyTorch.

    Raises:
        ValueError: wrong ranks, channel mismatch, groups not dividing the channels, bad bias
            shape, non-positive stride/dilation, kernel larger than the padded input.
        TypeError: non-floating input, or input/weight/bias dtypes that differ.

    Example:
        >>> import chainrule as cr
        >>> x = cr.ones(8, 1, 28, 28)
        >>> weight = cr.ones(6, 1, 5, 5)
        >>> conv2d(x, weight, padding=2).shape
        (8, 6, 28, 28)
        >>> conv2d(x, weight, stride=2).shape
        (8, 6, 12, 12)
        >>> float(conv2d(x, weight)[0, 0, 0, 0])
        25.0
    """
    name = _IMPL.resolve(impl, "conv2d")
    x = as_tensor_arg(input, "input", "conv2d")
    weight = as_tensor_arg(weight, "weight", "conv2d")
    bias = as_tensor_arg(bias, "bias", "conv2d", optional=True)
    shown = x.shape
    unbatched = x.ndim == 3
    if unbatched:
        x = reshape(x, (1,) + x.shape)  # (C, H, W) -> (1, C, H, W)
    geometry = check_conv2d(x, weight, bias, stride, padding, dilation, groups, shown)
    if name == "fast":
        y = Conv2d(geometry, _what_to_keep(x, weight, geometry))(x, weight, bias)
    else:
        y = _FUNCTIONS[name](geometry)(x, weight, bias)
    return reshape(y, y.shape[1:]) if unbatched else y

