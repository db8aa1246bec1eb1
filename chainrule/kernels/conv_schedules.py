"""conv2d's fast schedules: blocked im2col + GEMM in the layouts that suit each shape.

:mod:`chainrule.ops.conv` states the convolution (the sliding-window loops, im2col + one
GEMM) and calls :func:`fast_forward`, :func:`fast_grad_input` and :func:`fast_grad_weight`
here for its default ``"fast"`` implementation. They compute the same sums, scheduled for the
cache:

* channels-last (:class:`Columns`): the padded input is copied once to channels-last, the
  im2col matrix is built block by block (a few images at a time, so each block stays in
  cache) by one strided-view copy whose inner run is KW*C contiguous floats, then one GEMM
  per block;
* planar (:class:`PlanarColumns`): with few input channels (2*KW*C/G <= OW, e.g. LeNet's
  conv1) the columns are per image (C*KH*KW, OH*OW), inner run OW, and per-image GEMMs write
  NCHW directly;
* dense: a kernel that covers the whole input (a 1x1 output, LeNet's conv3) is a fully
  connected layer: its forward and both gradients are single GEMMs on the input as it is;
* direct: where Numba is installed, a convolution with one group whose output channels fill
  the CPU's SIMD vectors (LeNet's conv2: 16) runs as compiled, register-blocked direct
  convolutions (:mod:`chainrule.kernels.direct_conv`, on the same padded channels-last
  copy; see :func:`direct_kernels`).

No Python loop over pixels, no ``np.add.at``. Temporaries live in :mod:`.scratch`.

Dimension names in shape comments: N batch, C in channels, H, W input size, OC out channels,
KH, KW kernel size, OH, OW output size, G groups, Cg = C/G, OCg = OC/G, KK = KH*KW.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple, Optional

import numpy

from ..backend import xp
from . import along_rows, compiled_for
from .scratch import recycled, scratch

_as_strided = numpy.lib.stride_tricks.as_strided


class ConvGeometry(NamedTuple):
    """The non-tensor arguments of a convolution, normalised."""

    stride: tuple[int, int]
    pads: tuple[int, int, int, int]  # (top, bottom, left, right)
    dilation: tuple[int, int]
    groups: int

    def out_hw(self, H: int, W: int, KH: int, KW: int) -> tuple[int, int]:
        """(OH, OW) of an (H, W) input and a (KH, KW) kernel (:func:`output_size`).

        Example:
            >>> ConvGeometry((1, 1), (2, 2, 2, 2), (1, 1), 1).out_hw(28, 28, 5, 5)
            (28, 28)
        """
        pt, pb, pl, pr = self.pads
        return (output_size(H, pt + pb, KH, self.stride[0], self.dilation[0]),
                output_size(W, pl + pr, KW, self.stride[1], self.dilation[1]))


def output_size(size: int, pad_total: int, kernel: int, stride: int, dilation: int) -> int:
    """``floor((size + pad_total - dilation*(kernel-1) - 1) / stride + 1)`` (PyTorch's formula).

    Example:
        >>> output_size(28, 4, 5, 1, 1)
        28
    """
    return (size + pad_total - dilation * (kernel - 1) - 1) // stride + 1


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


# Elements of one block of the fast path's column matrix (whole images, at least one).
# 2**17 float32 = 512 KiB: a block is written and then read by the GEMM while it is still in
# L2, instead of a round trip of the whole (N*OH*OW, KK*C) matrix through memory (which costs
# as much as the GEMM itself). Measured best of 2**16..2**21 on the LeNet shapes.
_BLOCK_ELEMS = 1 << 17
# What the fast forward keeps for the weight gradient (sizes in values; see what_to_keep).
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
    """Split the batch into blocks of whole images whose columns fill about _BLOCK_ELEMS
    (none for an empty batch; a block holds at least one image)."""
    nb = max(1, min(N, _BLOCK_ELEMS // max(per_image, 1)))
    return [(n0, min(N, n0 + nb)) for n0 in range(0, N, nb)], nb


class Columns:
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


def direct_kernels(x: Any, other: Any, g: ConvGeometry, OC: int) -> Any:
    """The compiled direct convolution (:mod:`chainrule.kernels.direct_conv`) when its kernels
    should run with ``OC`` channels in the vector lanes, else None.

    It needs Numba's llvmlite (:func:`chainrule.kernels.compiled_for`), one group and column
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


class PlanarColumns:
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
                    ) -> tuple[Any, Optional[PlanarColumns]]:
    """conv2d(x, weight) (+ bias) from planar columns: per-image GEMMs straight into NCHW."""
    N, C, H, W = x.shape
    OC, Cg, KH, KW = weight.shape
    OH, OW = g.out_hw(H, W, KH, KW)
    G, OCg = g.groups, OC // g.groups
    cols = PlanarColumns(x, KH, KW, OH, OW, g, keep)
    wm = weight.reshape(G, OCg, Cg * KH * KW)  # (G, OCg, Cg*KK)
    y = xp.empty((N, OC, OH, OW), dtype=x.dtype)
    for n0, n1 in cols.blocks:
        # (G, OCg, Cg*KK) @ (b, G, Cg*KK, OH*OW) -> (b, G, OCg, OH*OW) = y[n0:n1]
        xp.matmul(wm, cols(n0, n1), out=y[n0:n1].reshape(n1 - n0, G, OCg, OH * OW))
        if bias is not None:  # while the block is in cache
            rows = y[n0:n1].reshape(n1 - n0, OC * OH * OW)  # (b, OC, OH, OW) -> a view
            rows += along_rows(bias, OH * OW)
    return y, (cols if keep else None)


def _planar_grad_weight(x: Any, gy: Any, w_shape: tuple[int, ...], g: ConvGeometry,
                        cols: Optional[PlanarColumns]) -> Any:
    """The weight gradient from planar columns: per-image GEMMs summed over the batch."""
    OC, Cg, KH, KW = w_shape
    OH, OW = gy.shape[2:]
    G, OCg = g.groups, OC // g.groups
    if cols is None:
        cols = PlanarColumns(x, KH, KW, OH, OW, g)
    acc = xp.zeros((G, OCg, Cg * KH * KW), gy.dtype)  # stays 0 for an empty batch
    for n0, n1 in cols.blocks:
        b = n1 - n0
        gm = gy[n0:n1].reshape(b, G, OCg, OH * OW)
        # (b, G, OCg, OH*OW) @ (b, G, OH*OW, Cg*KK) -> (b, G, OCg, Cg*KK), summed over b
        acc += xp.matmul(gm, cols(n0, n1).swapaxes(-1, -2)).sum(axis=0)
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


def fast_forward(x: Any, weight: Any, g: ConvGeometry, keep: str = "",
                 bias: Any = None) -> tuple[Any, Optional[Columns]]:
    """conv2d(x, weight) (+ bias): blocked im2col + one GEMM per block.

    Returns the output and, with ``keep`` = ``"columns"`` or ``"input"``, what the weight
    gradient will unfold from (:class:`Columns`; the planar path keeps only columns). The
    bias is added in the same pass that writes the GEMM's block into the output.
    """
    if _is_dense(x.shape, weight.shape, g):
        return _dense_forward(x, weight, g, bias), None
    N, C, H, W = x.shape
    OC, Cg, KH, KW = weight.shape
    OH, OW = g.out_hw(H, W, KH, KW)
    G, OCg = g.groups, OC // g.groups
    direct = direct_kernels(x, weight, g, OC)
    if direct is not None:  # the compiled direct convolution, from x's padded channels-last copy
        padded = _pad_nhwc(x, g.pads, bool(keep))  # (N, Hp, Wp, C)
        y = direct.conv2d(padded, weight, bias, g.stride, g.dilation[0], OH, OW)
        return y, (Columns(x, KH, KW, OH, OW, g, "input", padded) if keep else None)
    if _use_planar(Cg, KW, OW):
        return _planar_forward(x, weight, g, keep == "columns", bias)
    cols = Columns(x, KH, KW, OH, OW, g, keep)
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


def fast_grad_weight(x: Any, gy: Any, w_shape: tuple[int, ...], g: ConvGeometry,
                     cols: Optional[Columns] = None) -> Any:
    """d<gy, conv2d(x, weight)>/d weight: per block, (gy as a matrix) @ (columns of x)."""
    if _is_dense(x.shape, w_shape, g):
        return _dense_grad_weight(x, gy, w_shape, g)
    direct = direct_kernels(x, gy, g, w_shape[0])
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
        cols = Columns(x, KH, KW, OH, OW, g)
    elif G == 1 and len(cols.filled) == len(cols.blocks):
        # the kept columns are one (N*OH*OW, KK*C) matrix: a single GEMM over the whole batch
        # gy (N, OC, OH, OW) -> (OC, N, OH*OW) -> (OC, N*OH*OW)
        gm = gy.reshape(N, OC, OH * OW).transpose(1, 0, 2).reshape(OC, N * OH * OW)
        acc = xp.matmul(gm, cols.buf.reshape(N * OH * OW, KH * KW * C))  # (OC, KK*C)
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


def fast_grad_input(gy: Any, weight: Any, x_shape: tuple[int, ...], g: ConvGeometry) -> Any:
    """d<gy, conv2d(x, weight)>/dx: the transposed convolution of gy with weight.

    A kernel covering the whole input is one GEMM (:func:`_dense_grad_input`); otherwise four
    schedules, picked by shape:

    * stride and dilation 1, with the compiled kernels, output channels that suit the SIMD
      lanes and input channels that do not: the direct kernel
      (:func:`chainrule.kernels.direct_conv.conv2d_grad_input`);
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
    if (sh, sw, dh, dw, G) == (1, 1, 1, 1, 1) and direct_kernels(gy, weight, g, C) is None:
        # the input channels do not suit the lanes but the output channels do (LeNet's conv2:
        # 6 and 16), so the kernel holds output channels in the lanes and sums across them
        direct = direct_kernels(gy, weight, g, OC)
        if direct is not None:
            return direct.conv2d_grad_input(gy, weight, x_shape, g.pads)
    if (sh, sw) == (1, 1) and min(back_pads) >= 0 and OC * H * W <= 1.25 * C * OH * OW:
        # weight (OC, Cg, KH, KW) -> (G, OCg, Cg, KH, KW) -> (G, Cg, OCg, KH, KW), flipped,
        # -> (C, OCg, KH, KW): the weight of a conv from OC to C channels with G groups
        wt = weight.reshape(G, OCg, Cg, KH, KW).transpose(0, 2, 1, 3, 4)[:, :, :, ::-1, ::-1]
        wt = xp.ascontiguousarray(wt).reshape(C, OCg, KH, KW)
        return fast_forward(gy, wt, ConvGeometry((1, 1), back_pads, g.dilation, G))[0]
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



def sum_nhw(gy: Any) -> Any:
    """gy (N, OC, OH, OW) summed to (OC,) (the bias gradient), by contiguous inner reductions.

    Example:
        >>> sum_nhw(numpy.ones((2, 3, 4, 5))).tolist()
        [40.0, 40.0, 40.0]
    """
    N, OC = gy.shape[:2]
    return gy.reshape(N, OC, math.prod(gy.shape[2:])).sum(axis=2).sum(axis=0)



def what_to_keep(x_shape: tuple[int, ...], w_shape: tuple[int, ...], g: ConvGeometry) -> str:
    """What :func:`fast_forward` should keep for the weight gradient: ``"columns"``,
    ``"input"`` or ``""`` (nothing: a dense conv, or too big to keep).

    Planar columns (LeNet's conv1: 5 MB) are kept up to ``_KEEP_COLS_ELEMS``; channels-last
    columns only while they fit in cache, else the channels-last padded input (LeNet's conv2:
    3.8 MB of columns, 300 KB of input).

    Example:
        >>> what_to_keep((64, 1, 28, 28), (6, 1, 5, 5), ConvGeometry((1, 1), (2,) * 4, (1, 1), 1))
        'columns'
    """
    if _is_dense(x_shape, w_shape, g):
        return ""
    N, C, H, W = x_shape
    OC, Cg, KH, KW = w_shape
    OH, OW = g.out_hw(H, W, KH, KW)
    pt, pb, pl, pr = g.pads
    cols = N * OH * OW * KH * KW * C
    if _use_planar(Cg, KW, OW):
        return "columns" if cols <= _KEEP_COLS_ELEMS else ""
    if cols <= _KEEP_CHANNELS_LAST_COLS_ELEMS:
        return "columns"
    if N * (H + pt + pb) * (W + pl + pr) * C <= _KEEP_INPUT_ELEMS:
        return "input"
    return ""
