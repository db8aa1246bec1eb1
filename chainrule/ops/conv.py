"""2-D convolution: one public ``conv2d`` with three interchangeable kernels.

``conv2d`` follows ``torch.nn.functional.conv2d`` (cross-correlation, NCHW layout, stride,
padding incl. ``'same'``/``'valid'``, dilation, groups). Three implementations compute it:

``"naive"``
    the seven nested Python loops (batch, out channel, out row, out col, in channel, kernel
    row, kernel col). Slow by design: the readable reference. First-order backward only.
``"im2col"``
    unfold the padded input into a (C*KH*KW, N*OH*OW) matrix, one GEMM with the weight as
    (OC, C*KH*KW), fold back with col2im. The columns are cached on the node for backward
    (first order only).
``"fast"`` (the default)
    NHWC inside: the padded input is copied once to channels-last, the im2col matrix is built
    block by block (a few images at a time, so each block stays in cache) by one strided-view
    copy whose inner run is KW*C contiguous floats, then one GEMM per block. With few input
    channels (2*KW*C/G <= OW, e.g. LeNet's conv1) the columns are planar instead (per image,
    (C*KH*KW, OH*OW), inner run OW) and per-image GEMMs write NCHW directly. A kernel that
    covers the whole input (a 1x1 output, LeNet's conv3) is a fully connected layer: its
    forward and both gradients are single GEMMs on the input as it is. No Python loop
    over pixels, no ``np.add.at``. Where Numba is installed, a convolution with one group
    whose output channels fill the CPU's SIMD vectors (LeNet's conv2: 16) runs
    its forward and gradients as compiled, register-blocked direct convolutions instead
    (:mod:`chainrule.ops._direct`, on the same padded channels-last copy; see
    :func:`_direct_kernels`). Its backward is made of two more Functions,
    :class:`Conv2dGradInput` (the transposed convolution) and :class:`Conv2dGradWeight`, each
    differentiable in terms of the other two, so ``create_graph=True`` (double backward) works.

Pick one per call with ``impl=`` or for a block with ``with conv_impl("im2col"): ...``.

Dimension names in shape comments: N batch, C in channels, H, W input size, OC out channels,
KH, KW kernel size, OH, OW output size, G groups, Cg = C/G, OCg = OC/G, KK = KH*KW.
"""
from __future__ import annotations

import contextlib
import math
from typing import Any, Iterator, NamedTuple, Optional, Union

import numpy

from ..autograd.function import Function
from ..autograd.grad_mode import backward_composes, state
from ..autograd.tensor import Tensor
from ..backend import compiled_for, xp
from ._util import ImplChoice, along_rows, pair as _pair, recycled, scratch
from .shape import reshape

_as_strided = numpy.lib.stride_tricks.as_strided


def _windows(base: Any, shape: tuple[int, ...], strides: tuple[int, ...]) -> Any:
    """A read-only strided view of ``base`` (``as_strided`` for the fast kernels).

    Built with the ``ndarray`` constructor over a C-contiguous base: ~10x cheaper than
    ``as_strided`` (which goes through ``__array_interface__``), and the fast kernels make
    one per block.
    """
    if not base.flags.c_contiguous:
        return _as_strided(base, shape, strides, writeable=False)
    view = numpy.ndarray(shape, base.dtype, base, 0, strides)
    view.flags.writeable = False
    return view

IMPLS = ("fast", "im2col", "naive")
_IMPL = ImplChoice("conv2d", IMPLS)

# Elements of one block of the fast path's column matrix (whole images, at least one).
# 2**17 float32 = 512 KiB: a block is written and then read by the GEMM while it is still in
# L2, instead of a round trip of the whole (N*OH*OW, KK*C) matrix through memory (which costs
# as much as the GEMM itself). Measured best of 2**16..2**21 on the LeNet shapes.
_BLOCK_ELEMS = 1 << 17
# What the fast forward keeps for the weight gradient (sizes in values; see _what_to_keep).
# The planar unfold (few input channels, LeNet's conv1) reads x directly: its columns are kept
# up to 2**22 float32 = 16 MiB, larger ones rebuilt block by block in backward.
_KEEP_COLS_ELEMS = 1 << 22
# The channels-last columns are kept only while they fit in cache (2**18 float32 = 1 MiB):
# larger ones cost a round trip through memory (written in forward, read back in backward,
# 3.8 MB for LeNet's conv2), while the channels-last padded input they come from is KH*KW
# times smaller. That input is kept instead (up to 2**22 values), and the weight gradient
# unfolds it again block by block, in cache, without transposing x a second time. Measured
# on conv2d (64,6,14,14): 3-6% faster, 3.5 MB less held from forward to backward; the
# (32,64,32,32) 3x3 case: 75 MB of columns not kept, 9.5 MB of input kept, ~4% faster than
# transposing x again.
_KEEP_CHANNELS_LAST_COLS_ELEMS = 1 << 18
_KEEP_INPUT_ELEMS = 1 << 22
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



# ============================================================================ arguments
class ConvGeometry(NamedTuple):
    """The non-tensor arguments of a convolution, normalised."""

    stride: tuple[int, int]
    pads: tuple[int, int, int, int]  # (top, bottom, left, right)
    dilation: tuple[int, int]
    groups: int


def _resolve_padding(padding: Any, kernel: tuple[int, int], stride: tuple[int, int],
                     dilation: tuple[int, int], op: str) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) from an int, a pair, ``'valid'`` or ``'same'`` (PyTorch rules)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of "
                             f"'valid', 'same'")
        if stride != (1, 1):
            raise ValueError(f"{op}: padding='same' is not supported for strided convolutions "
                             f"(stride={stride})")
        pads = []
        for k, d in zip(kernel, dilation):
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]  # the odd one goes bottom/right, as torch
        return (pads[0], pads[1], pads[2], pads[3])
    ph, pw = _pair(padding, "padding", op, 0)
    return (ph, ph, pw, pw)


def _as_tensor(x: Any, name: str, op: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, xp.ndarray):
        return Tensor(x)
    raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")


def _check_float(t: Tensor, name: str, op: str) -> None:
    if t.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point {name}, got dtype {t.dtype}")


def output_size(size: int, pad_total: int, kernel: int, stride: int, dilation: int) -> int:
    """``floor((size + pad_total - dilation*(kernel-1) - 1) / stride + 1)`` (PyTorch's formula).

    Example:
        >>> output_size(28, 4, 5, 1, 1)
        28
    """
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


def _check_conv(x: Tensor, weight: Tensor, bias: Optional[Tensor], stride: Any, padding: Any,
                dilation: Any, groups: Any, shown: Optional[tuple[int, ...]] = None
                ) -> ConvGeometry:
    """Validate every argument of conv2d with PyTorch-quality messages; return the geometry.

    ``shown`` is the input shape to name in messages (the user's, before batching a 3-D input).
    """
    op = "conv2d"
    shown = x.shape if shown is None else shown
    if weight.ndim != 4:
        raise ValueError(f"{op}: expected a 4-D weight (out_channels, in_channels/groups, KH, "
                         f"KW), got weight of shape {weight.shape}")
    if x.ndim != 4:
        raise ValueError(f"{op}: expected 3-D (unbatched C, H, W) or 4-D (batched N, C, H, W) "
                         f"input, got input of shape {shown}")
    _check_float(x, "input", op)
    if weight.dtype != x.dtype:
        raise TypeError(f"{op}: input dtype ({x.dtype}) and weight dtype ({weight.dtype}) should "
                        f"be the same")
    if not isinstance(groups, (int, numpy.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"{op}: groups must be a positive int, got {groups!r}")
    groups = int(groups)
    OC, Cg, KH, KW = weight.shape
    C = x.shape[1]
    if OC % groups:
        raise ValueError(f"{op}: out_channels ({OC}, weight shape {weight.shape}) must be "
                         f"divisible by groups={groups}")
    if C % groups:
        raise ValueError(f"{op}: in_channels ({C}, input shape {shown}) must be divisible by "
                         f"groups={groups}")
    if C != Cg * groups:
        raise ValueError(f"{op}: expected input with {Cg * groups} channels (weight shape "
                         f"{weight.shape}, groups={groups}), got {C} channels (input shape "
                         f"{shown})")
    if min(weight.shape) < 1:
        raise ValueError(f"{op}: weight of shape {weight.shape} has an empty dimension")
    if bias is not None:
        if bias.shape != (OC,):
            raise ValueError(f"{op}: expected bias of shape ({OC},) (one per out channel, weight "
                             f"shape {weight.shape}), got bias of shape {bias.shape}")
        if bias.dtype != x.dtype:
            raise TypeError(f"{op}: input dtype ({x.dtype}) and bias dtype ({bias.dtype}) "
                            f"should be the same")
    st = _pair(stride, "stride", op, 1)
    dil = _pair(dilation, "dilation", op, 1)
    pads = _resolve_padding(padding, (KH, KW), st, dil, op)
    H, W = x.shape[2:]
    hp, wp = H + pads[0] + pads[1], W + pads[2] + pads[3]
    ekh, ekw = dil[0] * (KH - 1) + 1, dil[1] * (KW - 1) + 1
    if ekh > hp or ekw > wp:
        dilated = "" if dil == (1, 1) else f", dilated to {ekh} x {ekw}"
        raise ValueError(f"{op}: kernel size ({KH} x {KW}{dilated}) can't be greater than the "
                         f"padded input size ({hp} x {wp}) (input shape {shown}, padding "
                         f"{padding!r})")
    if x.shape[0] == 0 or C == 0:
        raise ValueError(f"{op}: input of shape {shown} is empty")
    return ConvGeometry(st, pads, dil, groups)


def _out_hw(H: int, W: int, KH: int, KW: int, g: ConvGeometry) -> tuple[int, int]:
    pt, pb, pl, pr = g.pads
    return (output_size(H, pt + pb, KH, g.stride[0], g.dilation[0]),
            output_size(W, pl + pr, KW, g.stride[1], g.dilation[1]))


def _pad_nchw(x: Any, pads: tuple[int, int, int, int]) -> Any:
    """Zero-pad (N, C, H, W) to (N, C, H+top+bottom, W+left+right)."""
    pt, pb, pl, pr = pads
    if not (pt or pb or pl or pr):
        return x
    return xp.pad(x, ((0, 0), (0, 0), (pt, pb), (pl, pr)))


# ============================================================================ naive kernels
def _naive_forward(x: Any, weight: Any, g: ConvGeometry) -> Any:
    """Seven nested loops: the definition of conv2d, read straight off the formula."""
    N, C, H, W = x.shape
    OC, Cg, KH, KW = weight.shape
    OH, OW = _out_hw(H, W, KH, KW, g)
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


# ============================================================================ im2col kernels
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
    OH, OW = _out_hw(H, W, KH, KW, g)
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
    OH, OW = _out_hw(H, W, KH, KW, g)
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
    OH, OW = _out_hw(H, W, KH, KW, g)
    G = g.groups
    cols = im2col(x, KH, KW, g)  # (C*KK, N*OH*OW); rows of group gi are a contiguous block
    # weight (OC, Cg, KH, KW) -> (G, OCg, Cg*KK); cols -> (G, Cg*KK, N*OH*OW)
    y = xp.matmul(weight.reshape(G, OC // G, Cg * KH * KW), cols.reshape(G, -1, N * OH * OW))
    # (G, OCg, N*OH*OW) -> (OC, N, OH, OW) -> (N, OC, OH, OW)
    return xp.ascontiguousarray(y.reshape(OC, N, OH, OW).transpose(1, 0, 2, 3)), cols


def _im2col_backward(cols: Any, x_shape: tuple[int, ...], weight: Any, gy: Any,
                     g: ConvGeometry) -> tuple[Any, Any]:
    OC, Cg, KH, KW = weight.shape
    G = g.groups
    # gy (N, OC, OH, OW) -> (OC, N, OH, OW) -> (G, OCg, N*OH*OW)
    gm = xp.ascontiguousarray(gy.transpose(1, 0, 2, 3)).reshape(G, OC // G, -1)
    colsg = cols.reshape(G, Cg * KH * KW, -1)  # (G, Cg*KK, N*OH*OW)
    wm = weight.reshape(G, OC // G, Cg * KH * KW)  # (G, OCg, Cg*KK)
    gw = xp.matmul(gm, colsg.transpose(0, 2, 1)).reshape(weight.shape)  # (G, OCg, Cg*KK)
    gcols = xp.matmul(wm.transpose(0, 2, 1), gm)  # (G, Cg*KK, N*OH*OW)
    return col2im(gcols.reshape(cols.shape), x_shape, KH, KW, g), gw


# ============================================================================ fast kernels
def _pad_nhwc(x: Any, pads: tuple[int, int, int, int], keep: bool = False) -> Any:
    """(N, C, H, W) -> zero-padded channels-last (N, H+top+bottom, W+left+right, C), in
    scratch, or (``keep``) in a buffer of its own that may outlive the call."""
    N, C, H, W = x.shape
    pt, pb, pl, pr = pads
    out = (recycled if keep else scratch)("pad", (N, H + pt + pb, W + pl + pr, C), x.dtype)
    if pt or pb or pl or pr:  # zero only the border; the interior is overwritten next
        out[:, :pt] = 0
        out[:, pt + H:] = 0
        out[:, pt:pt + H, :pl] = 0
        out[:, pt:pt + H, pl + W:] = 0
    out[:, pt:pt + H, pl:pl + W] = x.transpose(0, 2, 3, 1)  # (N, C, H, W) -> (N, H, W, C)
    return out


def _blocks(N: int, per_image: int) -> tuple[list[tuple[int, int]], int]:
    """Split the batch into blocks of whole images whose columns fill about _BLOCK_ELEMS."""
    nb = min(N, max(1, _BLOCK_ELEMS // max(per_image, 1)))
    return [(n0, min(N, n0 + nb)) for n0 in range(0, N, nb)], nb


class _Columns:
    """Block-by-block im2col in channels-last layout.

    By default one block-sized scratch buffer is reused (a block is copied, then consumed by
    a GEMM while still in cache). With ``keep="columns"`` every block gets its own slice of
    one whole-batch buffer, so the weight gradient can reuse the columns without copying
    again; with ``keep="input"`` the channels-last padded input outlives the call instead, so
    the weight gradient can unfold it again block by block.
    """

    def __init__(self, x: Any, KH: int, KW: int, OH: int, OW: int, g: ConvGeometry,
                 keep: str = "", padded: Any = None) -> None:
        N, C = x.shape[:2]
        self.G, self.Cg = g.groups, C // g.groups
        self.KH, self.KW, self.OH, self.OW = KH, KW, OH, OW
        if padded is None:  # else x's channels-last padded copy, already made by the caller
            padded = _pad_nhwc(x, g.pads, keep == "input")  # (N, Hp, Wp, C)
        self.padded = padded if keep == "input" else None  # for the direct weight gradient
        sN, sH, sW, sC = padded.strides
        (sh, sw), (dh, dw) = g.stride, g.dilation
        # view (N, OH, OW, KH, KW, C): [n, i, j, kh, kw, c] = padded[n, i*sh+kh*dh, j*sw+kw*dw, c]
        # with dilation 1 the (KW, C) pair is one contiguous run of KW*C values
        self.win = _windows(padded, (N, OH, OW, KH, KW, C),
                            (sN, sH * sh, sW * sw, sH * dh, sW * dw, sC))
        self.blocks, self.nb = _blocks(N, OH * OW * KH * KW * C)
        self.keep = keep == "columns"
        self.filled: set[int] = set()
        if self.keep:  # the columns outlive this call: a buffer of their own
            self.buf = recycled("cols", (N * OH * OW * KH * KW * C,), x.dtype)

    def __call__(self, n0: int, n1: int) -> Any:
        """The columns of images n0..n1 as (G, b*OH*OW, KH*KW*Cg), b = n1 - n0."""
        b, G, Cg, KH, KW, OH, OW = n1 - n0, self.G, self.Cg, self.KH, self.KW, self.OH, self.OW
        size = b * OH * OW * KH * KW * G * Cg
        if self.keep:
            buf = self.buf[n0 * OH * OW * KH * KW * G * Cg:]
        else:  # fetched per call: the weight gradient may come after other convolutions
            buf = scratch("cols", (self.nb * OH * OW * KH * KW * G * Cg,), self.win.dtype)
        cols = buf[:size].reshape(G, b, OH, OW, KH, KW, Cg)
        if n0 not in self.filled:
            # (b, OH, OW, KH, KW, C) -> (b, OH, OW, KH, KW, G, Cg) -> (G, b, OH, OW, KH, KW, Cg)
            xp.copyto(cols, self.win[n0:n1].reshape(b, OH, OW, KH, KW, G, Cg)
                      .transpose(5, 0, 1, 2, 3, 4, 6))
            if self.keep:
                self.filled.add(n0)
        return cols.reshape(G, b * OH * OW, KH * KW * Cg)

    def release_input(self) -> None:
        """Drop the padded input once every block is cached (only the columns are needed)."""
        if self.keep and len(self.filled) == len(self.blocks):
            self.win = None


def _direct_kernels(x: Any, other: Any, g: ConvGeometry, OC: int) -> Any:
    """The compiled direct convolution (:mod:`chainrule.ops._direct`) when its kernels
    should run with ``OC`` channels in the vector lanes, else None.

    It needs Numba's llvmlite (:func:`chainrule.backend.compiled_for`), one group and column
    dilation 1, and pays where the ``OC`` channels in its vector lanes (16 float32 lanes with
    AVX-512) fill at least 3/4 of them: LeNet's conv2 (16) and the suite's 3x3 case (64),
    not LeNet's conv1 (6 of 16 lanes), where the planar unfold + GEMM stays faster.
    """
    if g.groups != 1 or g.dilation[1] != 1:
        return None
    kernels = compiled_for(x, other)  # other: the weight (forward) or gy (weight gradient)
    if kernels is None or not kernels.direct.available():
        return None
    vl = kernels.direct.lanes(x.dtype)
    lanes = vl * -(-OC // vl)  # OC rounded up to whole vectors
    return kernels.direct if 4 * OC >= 3 * lanes else None


def _use_planar(Cg: int, KW: int, OW: int) -> bool:
    """Whether the planar (channels-first) unfold beats the channels-last one.

    The channels-last copy's inner run is KW*Cg values, the planar one's OW: with few input
    channels (LeNet's conv1, Cg=1: runs of 5 vs 28) the planar copy is ~3x faster, and its
    per-image GEMMs write the NCHW output (and read the NCHW gy) with no transposes.
    """
    return 2 * KW * Cg <= OW


class _PlanarColumns:
    """im2col per image, channels-first: (N, G, Cg*KH*KW, OH*OW), each row a run of OW values.

    Filled whole (``keep``, for the weight gradient) or block by block into scratch.
    """

    planar = True

    def __init__(self, x: Any, KH: int, KW: int, OH: int, OW: int, g: ConvGeometry,
                 keep: bool = False) -> None:
        N, C, H, W = x.shape
        self.G, self.Cg = g.groups, C // g.groups
        self.KH, self.KW, self.OH, self.OW = KH, KW, OH, OW
        pt, pb, pl, pr = g.pads
        if pt or pb or pl or pr:
            padded = scratch("pad", (N, C, H + pt + pb, W + pl + pr), x.dtype)
            padded[:, :, :pt] = 0
            padded[:, :, pt + H:] = 0
            padded[:, :, pt:pt + H, :pl] = 0
            padded[:, :, pt:pt + H, pl + W:] = 0
            padded[:, :, pt:pt + H, pl:pl + W] = x
        else:
            padded = x
        sN, sC, sH, sW = padded.strides
        (sh, sw), (dh, dw) = g.stride, g.dilation
        # view (N, C, KH, KW, OH, OW): [n, c, kh, kw, i, j] = padded[n, c, i*sh+kh*dh, j*sw+kw*dw]
        self.win = _windows(padded, (N, C, KH, KW, OH, OW),
                            (sN, sC, sH * dh, sW * dw, sH * sh, sW * sw))
        self.keep = keep
        if keep:
            self.blocks = [(0, N)]
            self.buf = recycled("planar", (N, C, KH, KW, OH, OW), x.dtype)
            xp.copyto(self.buf, self.win)
            self.win = None
        else:
            self.blocks, nb = _blocks(N, OH * OW * KH * KW * C)
            self.buf = scratch("cols", (nb, C, KH, KW, OH, OW), x.dtype)

    def __call__(self, n0: int, n1: int) -> Any:
        """The columns of images n0..n1 as (b, G, Cg*KH*KW, OH*OW)."""
        b = n1 - n0
        if self.keep:
            cols = self.buf[n0:n1]
        else:
            cols = self.buf[:b]
            xp.copyto(cols, self.win[n0:n1])
        return cols.reshape(b, self.G, self.Cg * self.KH * self.KW, self.OH * self.OW)


def _planar_forward(x: Any, weight: Any, g: ConvGeometry, keep: bool, bias: Any = None
                    ) -> tuple[Any, Optional[_PlanarColumns]]:
    """conv2d(x, weight) (+ bias) from planar columns: per-image GEMMs straight into NCHW."""
    N, C, H, W = x.shape
    OC, Cg, KH, KW = weight.shape
    OH, OW = _out_hw(H, W, KH, KW, g)
    G, OCg = g.groups, OC // g.groups
    cols = _PlanarColumns(x, KH, KW, OH, OW, g, keep)
    wm = weight.reshape(G, OCg, Cg * KH * KW)  # (G, OCg, Cg*KK)
    y = xp.empty((N, OC, OH, OW), dtype=x.dtype)
    for n0, n1 in cols.blocks:
        # (G, OCg, Cg*KK) @ (b, G, Cg*KK, OH*OW) -> (b, G, OCg, OH*OW) = y[n0:n1]
        xp.matmul(wm, cols(n0, n1), out=y[n0:n1].reshape(n1 - n0, G, OCg, OH * OW))
        if bias is not None:  # while the block is in cache
            rows = y[n0:n1].reshape(n1 - n0, -1)  # (b, OC, OH, OW) -> (b, OC*OH*OW), a view
            rows += along_rows(bias, OH * OW)
    return y, (cols if keep else None)


def _planar_grad_weight(x: Any, gy: Any, w_shape: tuple[int, ...], g: ConvGeometry,
                        cols: Optional[_PlanarColumns]) -> Any:
    """The weight gradient from planar columns: per-image GEMMs summed over the batch."""
    OC, Cg, KH, KW = w_shape
    OH, OW = gy.shape[2:]
    G, OCg = g.groups, OC // g.groups
    if cols is None:
        cols = _PlanarColumns(x, KH, KW, OH, OW, g)
    acc = None
    for n0, n1 in cols.blocks:
        b = n1 - n0
        gm = gy[n0:n1].reshape(b, G, OCg, OH * OW)
        # (b, G, OCg, OH*OW) @ (b, G, OH*OW, Cg*KK) -> (b, G, OCg, Cg*KK), summed over b
        part = xp.matmul(gm, cols(n0, n1).swapaxes(-1, -2)).sum(axis=0)
        acc = part if acc is None else acc + part
    return acc.reshape(w_shape)


def _is_dense(x_shape: tuple[int, ...], w_shape: tuple[int, ...], g: ConvGeometry) -> bool:
    """Whether the kernel covers the whole unpadded input (a 1x1 output: a fully connected
    layer per group, e.g. LeNet's conv3), so the three products need no unfold at all."""
    return (g.pads == (0, 0, 0, 0) and g.dilation == (1, 1)
            and tuple(x_shape[2:]) == tuple(w_shape[2:]))


def _dense_forward(x: Any, weight: Any, g: ConvGeometry, bias: Any = None) -> Any:
    """conv2d (+ bias) when :func:`_is_dense`: one GEMM per group, ``x @ weight.T``."""
    N = x.shape[0]
    OC, K = weight.shape[0], math.prod(weight.shape[1:])
    G = g.groups
    # x (N, C, H, W) = (N, G, Cg*KH*KW) -> (G, N, K); weight (OC, Cg, KH, KW) -> (G, K, OCg)
    xg = x.reshape(N, G, K).transpose(1, 0, 2)
    wg = weight.reshape(G, OC // G, K).transpose(0, 2, 1)
    # (G, N, K) @ (G, K, OCg) -> (G, N, OCg) -> (N, G, OCg) = (N, OC)
    y = xp.ascontiguousarray(xp.matmul(xg, wg).transpose(1, 0, 2)).reshape(N, OC)
    if bias is not None:
        y += bias
    return y.reshape(N, OC, 1, 1)  # (N, OC) -> (N, OC, OH=1, OW=1)


def _dense_grad_input(gy: Any, weight: Any, x_shape: tuple[int, ...], g: ConvGeometry) -> Any:
    """d<gy, conv2d(x, weight)>/dx when :func:`_is_dense`: ``gy @ weight`` per group."""
    N, OC, G = gy.shape[0], weight.shape[0], g.groups
    K = math.prod(weight.shape[1:])
    # gy (N, OC, 1, 1) -> (N, G, OCg) -> (G, N, OCg); weight -> (G, OCg, K)
    gyg = gy.reshape(N, G, OC // G).transpose(1, 0, 2)
    gx = xp.matmul(gyg, weight.reshape(G, OC // G, K))  # (G, N, K)
    return xp.ascontiguousarray(gx.transpose(1, 0, 2)).reshape(x_shape)  # (N, G, K) -> x


def _dense_grad_weight(x: Any, gy: Any, w_shape: tuple[int, ...], g: ConvGeometry) -> Any:
    """d<gy, conv2d(x, weight)>/d weight when :func:`_is_dense`: ``gy.T @ x`` per group."""
    N, OC, G = gy.shape[0], w_shape[0], g.groups
    K = math.prod(w_shape[1:])
    # gy (N, OC, 1, 1) -> (N, G, OCg) -> (G, OCg, N); x (N, C, H, W) -> (N, G, K) -> (G, N, K)
    gyg = gy.reshape(N, G, OC // G).transpose(1, 2, 0)
    gw = xp.matmul(gyg, x.reshape(N, G, K).transpose(1, 0, 2))  # (G, OCg, K)
    return gw.reshape(w_shape)


def _fast_forward(x: Any, weight: Any, g: ConvGeometry, keep: str = "",
                  bias: Any = None) -> tuple[Any, Optional[_Columns]]:
    """conv2d(x, weight) (+ bias): blocked im2col + one GEMM per block.

    Returns the output and, with ``keep`` = ``"columns"`` or ``"input"``, what the weight
    gradient will unfold from (:class:`_Columns`; the planar path keeps only columns). The
    bias is added in the same pass that writes the GEMM's block into the output.
    """
    if _is_dense(x.shape, weight.shape, g):
        return _dense_forward(x, weight, g, bias), None
    N, C, H, W = x.shape
    OC, Cg, KH, KW = weight.shape
    OH, OW = _out_hw(H, W, KH, KW, g)
    G, OCg = g.groups, OC // g.groups
    direct = _direct_kernels(x, weight, g, OC)
    if direct is not None:  # the compiled direct convolution, from x's padded channels-last copy
        padded = _pad_nhwc(x, g.pads, bool(keep))  # (N, Hp, Wp, C)
        y = direct.conv2d(padded, weight, bias, g.stride, g.dilation[0], OH, OW)
        return y, (_Columns(x, KH, KW, OH, OW, g, "input", padded) if keep else None)
    if _use_planar(Cg, KW, OW):
        return _planar_forward(x, weight, g, keep == "columns", bias)
    cols = _Columns(x, KH, KW, OH, OW, g, keep)
    # weight (OC, Cg, KH, KW) -> (G, OCg, Cg, KH, KW) -> (G, KH, KW, Cg, OCg) -> (G, KK*Cg, OCg)
    wm = weight.reshape(G, OCg, Cg, KH, KW).transpose(0, 3, 4, 2, 1).reshape(G, -1, OCg)
    y = xp.empty((N, OC, OH, OW), dtype=x.dtype)
    for n0, n1 in cols.blocks:
        b = n1 - n0
        # (G, b*OH*OW, KK*Cg) @ (G, KK*Cg, OCg) -> (G, b*OH*OW, OCg): the long dimension first
        # is the faster GEMM orientation for OpenBLAS at these shapes (~1.5x at LeNet's)
        out = xp.matmul(cols(n0, n1), wm, out=scratch("gemm", (G, b * OH * OW, OCg), x.dtype))
        # (G, b, OH*OW, OCg) -> (b, G, OCg, OH*OW) written into y[n0:n1] seen as (b, G, OCg, OH*OW)
        src = out.reshape(G, b, OH * OW, OCg).transpose(1, 0, 3, 2)
        dst = y[n0:n1].reshape(b, G, OCg, OH * OW)
        if bias is None:
            dst[...] = src
        else:  # (OC,) -> (G, OCg, 1)
            xp.add(src, bias.reshape(G, OCg, 1), out=dst)
    if not keep:
        return y, None
    cols.release_input()
    return y, cols


def _fast_grad_weight(x: Any, gy: Any, w_shape: tuple[int, ...], g: ConvGeometry,
                      cols: Optional[_Columns] = None) -> Any:
    """d<gy, conv2d(x, weight)>/d weight: per block, (gy as a matrix) @ (columns of x)."""
    if _is_dense(x.shape, w_shape, g):
        return _dense_grad_weight(x, gy, w_shape, g)
    direct = _direct_kernels(x, gy, g, w_shape[0])
    if direct is not None:  # from the padded channels-last x that forward kept, or a new one
        padded = getattr(cols, "padded", None)
        if padded is None:
            padded = _pad_nhwc(x, g.pads)  # (N, Hp, Wp, C)
        return direct.conv2d_grad_weight(padded, gy, w_shape, g.stride, g.dilation[0])
    N, C, H, W = x.shape
    OC, Cg, KH, KW = w_shape
    OH, OW = gy.shape[2:]
    G, OCg = g.groups, OC // g.groups
    if getattr(cols, "planar", False) or (cols is None and _use_planar(Cg, KW, OW)):
        return _planar_grad_weight(x, gy, w_shape, g, cols)
    if cols is None:
        cols = _Columns(x, KH, KW, OH, OW, g)
    elif G == 1 and len(cols.filled) == len(cols.blocks):
        # the kept columns are one (N*OH*OW, KK*C) matrix: a single GEMM over the whole batch
        # gy (N, OC, OH, OW) -> (OC, N, OH*OW) -> (OC, N*OH*OW)
        gm = gy.reshape(N, OC, OH * OW).transpose(1, 0, 2).reshape(OC, -1)
        acc = xp.matmul(gm, cols.buf.reshape(N * OH * OW, -1))  # (OC, KK*C)
        # (OC, KH, KW, C) -> (OC, C, KH, KW)
        return xp.ascontiguousarray(acc.reshape(OC, KH, KW, Cg).transpose(0, 3, 1, 2))
    acc = xp.zeros((G, OCg, KH * KW * Cg), dtype=x.dtype)
    for n0, n1 in cols.blocks:
        b = n1 - n0
        # gy[n0:n1] (b, OC, OH, OW) -> (b, G, OCg, OH*OW) -> (G, OCg, b, OH*OW) -> (G, OCg, b*OH*OW)
        gm = gy[n0:n1].reshape(b, G, OCg, OH * OW).transpose(1, 2, 0, 3).reshape(G, OCg, -1)
        # (G, OCg, b*OH*OW) @ (G, b*OH*OW, KK*Cg) -> (G, OCg, KK*Cg)
        acc += xp.matmul(gm, cols(n0, n1), out=scratch("gemm", acc.shape, x.dtype))
    # (G, OCg, KH, KW, Cg) -> (G, OCg, Cg, KH, KW) -> (OC, Cg, KH, KW)
    return xp.ascontiguousarray(
        acc.reshape(G, OCg, KH, KW, Cg).transpose(0, 1, 4, 2, 3)).reshape(w_shape)


def _fast_grad_input(gy: Any, weight: Any, x_shape: tuple[int, ...], g: ConvGeometry) -> Any:
    """d<gy, conv2d(x, weight)>/dx: the transposed convolution of gy with weight.

    A kernel covering the whole input is one GEMM (:func:`_dense_grad_input`); otherwise four
    schedules, picked by shape:

    * stride and dilation 1, with the compiled kernels, output channels that suit the SIMD
      lanes and input channels that do not: :func:`chainrule.ops._direct.conv2d_grad_input`;
    * stride 1 and as many output as input values: a plain correlation of the zero-padded gy
      with the flipped, channel-swapped weight, so the forward kernel does all the work;
    * column stride 1: fold (kernel column, out channel) into one GEMM over whole rows of a
      widened gy, then KH row-shifted adds of long contiguous runs (:func:`_grad_input_rows`);
    * otherwise: a GEMM to columns and KH*KW strided adds (col2im) into a padded buffer.
    """
    if _is_dense(x_shape, weight.shape, g):
        return _dense_grad_input(gy, weight, x_shape, g)
    N, C, H, W = x_shape
    OC, Cg, KH, KW = weight.shape
    OH, OW = gy.shape[2:]
    G, OCg = g.groups, OC // g.groups
    pt, pb, pl, pr = g.pads
    (sh, sw), (dh, dw) = g.stride, g.dilation
    back_pads = (dh * (KH - 1) - pt, dh * (KH - 1) - pb, dw * (KW - 1) - pl, dw * (KW - 1) - pr)
    if (sh, sw, dh, dw, G) == (1, 1, 1, 1, 1) and _direct_kernels(gy, weight, g, C) is None:
        # the input channels do not suit the lanes but the output channels do (LeNet's conv2:
        # 6 and 16), so the kernel holds output channels in the lanes and sums across them
        direct = _direct_kernels(gy, weight, g, OC)
        if direct is not None:
            return direct.conv2d_grad_input(gy, weight, x_shape, g.pads)
    if (sh, sw) == (1, 1) and min(back_pads) >= 0 and OC * H * W <= 1.25 * C * OH * OW:
        # weight (OC, Cg, KH, KW) -> (G, OCg, Cg, KH, KW) -> (G, Cg, OCg, KH, KW), flipped,
        # -> (C, OCg, KH, KW): the weight of a conv from OC to C channels with G groups
        wt = weight.reshape(G, OCg, Cg, KH, KW).transpose(0, 2, 1, 3, 4)[:, :, :, ::-1, ::-1]
        wt = xp.ascontiguousarray(wt).reshape(C, OCg, KH, KW)
        return _fast_forward(gy, wt, ConvGeometry((1, 1), back_pads, g.dilation, G))[0]
    if sw == 1 and W + pl + pr <= 2 * OW:  # whole rows at the padded width: < 2x the GEMM work
        return _grad_input_rows(gy, weight, x_shape, g)
    Hp, Wp = H + pt + pb, W + pl + pr
    blocks, nb = _blocks(N, OH * OW * KH * KW * C)
    # weight (OC, Cg, KH, KW) -> (G, OCg, Cg*KK) -> (G, Cg*KK, OCg)
    wmt = weight.reshape(G, OCg, Cg * KH * KW).transpose(0, 2, 1)
    gx = xp.empty(x_shape, dtype=gy.dtype)
    buf = scratch("acc", (C, nb, Hp, Wp), gy.dtype)
    for n0, n1 in blocks:
        b = n1 - n0
        # gy[n0:n1] (b, OC, OH, OW) -> (b, G, OCg, OH*OW) -> (G, OCg, b*OH*OW)
        gm = gy[n0:n1].reshape(b, G, OCg, OH * OW).transpose(1, 2, 0, 3).reshape(G, OCg, -1)
        # (G, Cg*KK, OCg) @ (G, OCg, b*OH*OW) -> (G, Cg*KK, b*OH*OW) -> (C, KH, KW, b, OH, OW)
        gcols = xp.matmul(wmt, gm, out=scratch("gemm", (G, Cg * KH * KW, b * OH * OW),
                                                gy.dtype)).reshape(C, KH, KW, b, OH, OW)
        acc = buf[:, :b]
        acc.fill(0)
        for kh in range(KH):
            for kw in range(KW):
                acc[:, :, kh * dh:kh * dh + sh * (OH - 1) + 1:sh,
                    kw * dw:kw * dw + sw * (OW - 1) + 1:sw] += gcols[:, kh, kw]
        # (C, b, Hp, Wp) cropped to (C, b, H, W) -> (b, C, H, W)
        gx[n0:n1] = acc[:, :, pt:pt + H, pl:pl + W].transpose(1, 0, 2, 3)
    return gx


def _grad_input_rows(gy: Any, weight: Any, x_shape: tuple[int, ...], g: ConvGeometry) -> Any:
    """The transposed convolution for column stride 1, with KH adds instead of KH*KW.

    For each kernel row kh, ``U[kh][n, c, i, s] = sum_{kw, oc} gy[n, oc, i, s - kw*dw] *
    weight[oc, c, kh, kw]`` for every column s of the padded input is one GEMM over the rows
    of gy laid out at the padded width Wp = OW + e (e = (KW-1)*dw zero columns on the left).
    At that row pitch a window reaching past a row's end lands in the next row's e zeros, so
    (kw, oc, whole runs of rows) is a plain strided view: no per-pixel copy, and the GEMM does
    Wp/OW times the minimum work. Then ``gxp[:, :, i*sh + kh*dh, :] += U[kh][..., i, :]``
    (KH adds of long contiguous runs instead of KH*KW short strided ones).
    """
    N, C, H, W = x_shape
    OC, Cg, KH, KW = weight.shape
    OH, OW = gy.shape[2:]
    G, OCg = g.groups, OC // g.groups
    pt, pb, pl, pr = g.pads
    sh, (dh, dw) = g.stride[0], g.dilation
    Hp, Wp = H + pt + pb, W + pl + pr
    e = (KW - 1) * dw
    Wq = Wp  # = OW + e for a column stride of 1
    L = OH * Wq  # one image's run of output rows at pitch Wq
    blocks, nb = _blocks(N, KW * OC * L)
    # gy widened: (nb, OC, OH + 1, Wq), gy at columns [e, Wq); columns [0, e) and the spare
    # row stay zero (windows of the last row run into the spare row)
    gyw = scratch("pad", (nb, OC, OH + 1, Wq), gy.dtype)
    gyw.fill(0)
    sN, sO, _, sQ = gyw.strides
    # weight (OC, Cg, KH, KW) -> (G, OCg, Cg, KH, KW), kw reversed -> (G, KH, Cg, KW, OCg)
    # -> (G, KH*Cg, KW*OCg): row (kh, c), column (kw' = KW-1-kw, oc)
    wm = weight.reshape(G, OCg, Cg, KH, KW)[..., ::-1].transpose(0, 3, 2, 4, 1)
    wm = wm.reshape(G, KH * Cg, KW * OCg)
    cols = scratch("cols", (nb * KW * OC * L,), gy.dtype)
    acc_buf = scratch("acc", (C, nb, Hp, Wq), gy.dtype)
    gx = xp.empty(x_shape, dtype=gy.dtype)
    for n0, n1 in blocks:
        b = n1 - n0
        gyw[:b, :, :OH, e:e + OW] = gy[n0:n1]
        # view (G, KW, OCg, b, L): [g, kw', o, n, q] = gyw_flat[n, g*OCg + o, q + kw'*dw]
        view = _windows(gyw, (G, KW, OCg, b, L), (OCg * sO, dw * sQ, sO, sN, sQ))
        c = cols[:G * KW * OCg * b * L].reshape(G, KW, OCg, b, L)
        xp.copyto(c, view)
        # (G, KH*Cg, KW*OCg) @ (G, KW*OCg, b*L) -> (G, KH*Cg, b*L) -> (G, KH, Cg, b, L)
        u = xp.matmul(wm, c.reshape(G, KW * OCg, b * L),
                      out=scratch("gemm", (G, KH * Cg, b * L), gy.dtype)).reshape(G, KH, Cg, b, L)
        acc = acc_buf[:, :b]
        acc.fill(0)
        accg = acc.reshape(G, Cg, b, Hp, Wq)
        for kh in range(KH):
            r0 = kh * dh
            if sh == 1:  # rows r0 .. r0+OH-1: one contiguous run of OH*Wq values per (c, n)
                accg.reshape(G, Cg, b, Hp * Wq)[..., r0 * Wq:r0 * Wq + L] += u[:, kh]
            else:
                accg[:, :, :, r0:r0 + sh * (OH - 1) + 1:sh] += \
                    u[:, kh].reshape(G, Cg, b, OH, Wq)
        # (C, b, Hp, Wq) cropped to (C, b, H, W) -> (b, C, H, W)
        gx[n0:n1] = acc[:, :, pt:pt + H, pl:pl + W].transpose(1, 0, 2, 3)
    return gx


def _sum_nhw(gy: Any) -> Any:
    """gy (N, OC, OH, OW) summed to (OC,), by contiguous inner reductions."""
    N, OC = gy.shape[:2]
    return gy.reshape(N, OC, -1).sum(axis=2).sum(axis=0)


def _bias_grad(gy: Tensor) -> Tensor:
    if backward_composes():  # recording or tracing: build the graph of the sum
        return gy.sum(dim=(0, 2, 3))
    return Tensor(_sum_nhw(gy.data))


# ============================================================================ Functions
class Conv2d(Function):
    """y = conv2d(x, weight) + bias with the fast kernel; backward is differentiable.

    ``keep`` (set by :func:`conv2d` when the weight will need a gradient, see
    :func:`_what_to_keep`): ``"columns"`` keeps the im2col columns built by forward on the
    node, so the weight gradient is one GEMM without copying again; ``"input"`` keeps the
    channels-last padded input instead, unfolded again block by block by the weight
    gradient. Backward uses them once and they are freed with the graph.
    """

    def __init__(self, geometry: ConvGeometry, keep: str = "") -> None:
        self.g, self.keep = geometry, keep

    def forward(self, x: Any, weight: Any, bias: Any) -> Any:
        y, self.cols = _fast_forward(x, weight, self.g, self.keep, bias)
        return y

    def backward(self, gy: Tensor) -> tuple:
        x, weight, bias = self.inputs
        nx, nw, nb = self.needs_input_grad
        cols, self.cols = self.cols, None  # the first backward consumes them
        return (Conv2dGradInput(self.g, x.shape)(gy, weight) if nx else None,
                Conv2dGradWeight(self.g, weight.shape, cols)(x, gy) if nw else None,
                _bias_grad(gy) if nb else None)


class Conv2dGradInput(Function):
    """gx = conv_transpose2d(gy, weight): the input gradient of conv2d, itself differentiable.

    It is bilinear in (gy, weight): ``<gx, a> = <gy, conv2d(a, weight)>`` for every ``a``.
    """

    def __init__(self, geometry: ConvGeometry, x_shape: tuple[int, ...]) -> None:
        self.g, self.x_shape = geometry, tuple(x_shape)

    def forward(self, gy: Any, weight: Any) -> Any:
        return _fast_grad_input(gy.astype(weight.dtype, copy=False), weight, self.x_shape,
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

    def __init__(self, geometry: ConvGeometry, w_shape: tuple[int, ...],
                 cols: Optional[_Columns] = None) -> None:
        self.g, self.w_shape, self._cols = geometry, tuple(w_shape), cols

    def forward(self, x: Any, gy: Any) -> Any:
        cols, self._cols = self._cols, None
        return _fast_grad_weight(x, gy.astype(x.dtype, copy=False), self.w_shape, self.g, cols)

    def backward(self, ggw: Tensor) -> tuple:
        x, gy = self.inputs
        nx, ngy = self.needs_input_grad
        return (Conv2dGradInput(self.g, x.shape)(gy, ggw) if nx else None,
                Conv2d(self.g)(x, ggw, None) if ngy else None)


def _first_order_only(impl: str) -> None:
    if state.grad_enabled:
        raise RuntimeError(
            f"conv2d(impl={impl!r}) has a first-order backward only; double backward "
            f"(create_graph=True) needs impl='fast'")


class Conv2dIm2col(Function):
    """conv2d by one im2col GEMM; caches the columns; backward is first order only."""

    def __init__(self, geometry: ConvGeometry) -> None:
        self.g = geometry

    def forward(self, x: Any, weight: Any, bias: Any) -> Any:
        y, self.cols = _im2col_forward(x, weight, self.g)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)  # (OC,) -> (1, OC, 1, 1)
        return y

    def backward(self, gy: Tensor) -> tuple:
        _first_order_only("im2col")
        x, weight, bias = self.inputs
        gx, gw = _im2col_backward(self.cols, x.shape, weight.data,
                                  gy.data.astype(weight.dtype, copy=False), self.g)
        nx, nw, nb = self.needs_input_grad
        return (Tensor(gx) if nx else None, Tensor(gw) if nw else None,
                Tensor(_sum_nhw(gy.data)) if nb else None)


class Conv2dNaive(Function):
    """conv2d by nested Python loops (the reference); backward is first order only."""

    def __init__(self, geometry: ConvGeometry) -> None:
        self.g = geometry

    def forward(self, x: Any, weight: Any, bias: Any) -> Any:
        y = _naive_forward(x, weight, self.g)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)  # (OC,) -> (1, OC, 1, 1)
        return y

    def backward(self, gy: Tensor) -> tuple:
        _first_order_only("naive")
        x, weight, bias = self.inputs
        gx, gw = _naive_backward(x.data, weight.data, gy.data.astype(weight.dtype, copy=False),
                                 self.g)
        nx, nw, nb = self.needs_input_grad
        return (Tensor(gx) if nx else None, Tensor(gw) if nw else None,
                Tensor(_sum_nhw(gy.data)) if nb else None)


_FUNCTIONS = {"fast": Conv2d, "im2col": Conv2dIm2col, "naive": Conv2dNaive}


def _what_to_keep(x: Tensor, weight: Tensor, g: ConvGeometry) -> str:
    """What the fast forward keeps for the weight gradient: ``"columns"``, ``"input"`` or
    ``""`` (nothing: no weight gradient is recorded, a dense conv, or too big to keep)."""
    if not (state.grad_enabled and weight.requires_grad) or _is_dense(x.shape, weight.shape, g):
        return ""
    N, C, H, W = x.shape
    OC, Cg, KH, KW = weight.shape
    OH, OW = _out_hw(H, W, KH, KW, g)
    pt, pb, pl, pr = g.pads
    cols = N * OH * OW * KH * KW * C
    if _use_planar(Cg, KW, OW):
        return "columns" if cols <= _KEEP_COLS_ELEMS else ""
    if cols <= _KEEP_CHANNELS_LAST_COLS_ELEMS:
        return "columns"
    if N * (H + pt + pb) * (W + pl + pr) * C <= _KEEP_INPUT_ELEMS:
        return "input"
    return ""


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
        ``OW = floor((W + 2*padding[1] - dilation[1]*(KW-1) - 1)/stride[1] + 1)``.

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
    x = _as_tensor(input, "input", "conv2d")
    weight = _as_tensor(weight, "weight", "conv2d")
    bias = None if bias is None else _as_tensor(bias, "bias", "conv2d")
    shown = x.shape
    unbatched = x.ndim == 3
    if unbatched:
        x = reshape(x, (1,) + x.shape)  # (C, H, W) -> (1, C, H, W)
    geometry = _check_conv(x, weight, bias, stride, padding, dilation, groups, shown)
    if name == "fast":
        y = Conv2d(geometry, _what_to_keep(x, weight, geometry))(x, weight, bias)
    else:
        y = _FUNCTIONS[name](geometry)(x, weight, bias)
    return reshape(y, y.shape[1:]) if unbatched else y
