"""Pooling's fast schedules: one strided slice of the padded input per window offset.

:mod:`chainrule.ops.pool` states max and average pooling (the loops over every window) and
calls these for its default ``"fast"`` implementation: KH*KW strided slices of the padded
input, each covering every window at once, with a running max/argmax or sum over the
offsets; no Python loop over pixels. When max windows tile the input (kernel = stride, e.g.
2x2), the offsets are first copied apart into contiguous arrays, so the passes after that
copy run at full speed. The most common case, 2x2 windows with stride 2, is one compiled
pass each way where Numba is installed (:mod:`chainrule.kernels.numba_loops`; the NumPy
code here is its tested twin).

Max pooling pads with -inf; the arg-max is kept as the window offset k = kh*KW + kw. Ties go
to the first maximum in the window in row-major order; a window holding NaN outputs NaN and
takes its last NaN as the arg-max; a window of -inf values takes its first tap inside the
input (all as PyTorch's CPU kernel).
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional

import numpy

from ..backend import xp
from . import compiled_for
from .scratch import scratch


class PoolGeometry(NamedTuple):
    """The normalised arguments of a 2-D pooling (per axis pairs: (rows, columns))."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out: tuple[int, int]  # (OH, OW)


def _padded_extent(size: int, k: int, s: int, p: int, d: int, out: int) -> int:
    """Rows (or columns) of the padded buffer: the input, its padding and any ceil overhang."""
    return max(size + 2 * p, (out - 1) * s + d * (k - 1) + 1)


def _pad_to(x: Any, g: PoolGeometry, value: float) -> Any:
    """(N, C, H, W) -> (N, C, Hq, Wq) filled with ``value`` around the input at (ph, pw)."""
    N, C, H, W = x.shape
    (KH, KW), (sh, sw), (ph, pw), (dh, dw) = g.kernel, g.stride, g.padding, g.dilation
    Hq = _padded_extent(H, KH, sh, ph, dh, g.out[0])
    Wq = _padded_extent(W, KW, sw, pw, dw, g.out[1])
    if (Hq, Wq) == (H, W):
        return x
    out = xp.full((N, C, Hq, Wq), value, dtype=x.dtype)
    out[:, :, ph:ph + H, pw:pw + W] = x
    return out


def _window_slices(g: PoolGeometry) -> list[tuple[slice, slice]]:
    """For each window offset (kh, kw) in row-major order, the slices picking it in every window."""
    (KH, KW), (sh, sw), (dh, dw), (OH, OW) = g.kernel, g.stride, g.dilation, g.out
    return [(slice(kh * dh, kh * dh + sh * (OH - 1) + 1, sh),
             slice(kw * dw, kw * dw + sw * (OW - 1) + 1, sw))
            for kh in range(KH) for kw in range(KW)]


def _disjoint(g: PoolGeometry) -> bool:
    """True when no padded input position belongs to two windows (or twice to one)."""
    (KH, KW), (sh, sw), (dh, dw) = g.kernel, g.stride, g.dilation
    return sh >= dh * (KH - 1) + 1 and sw >= dw * (KW - 1) + 1


def _tiled(x_shape: tuple[int, ...], g: PoolGeometry) -> bool:
    """Whether the windows tile x: kernel = stride, no padding or dilation (rows and columns
    past the last window are ignored)."""
    (KH, KW), (OH, OW) = g.kernel, g.out
    return (g.stride == g.kernel and g.padding == (0, 0) and g.dilation == (1, 1)
            and OH * KH <= x_shape[2] and OW * KW <= x_shape[3])


def _compiled_2x2(x_shape: tuple[int, ...], g: PoolGeometry, *arrays: Any) -> Any:
    """The compiled kernels when the windows are 2x2 with stride 2 and tile x, else None."""
    if g.kernel != (2, 2) or not _tiled(x_shape, g):
        return None
    return compiled_for(*arrays)


def _taps(x: Any, g: PoolGeometry) -> Optional[list[Any]]:
    """When the windows tile x (kernel = stride, no padding or dilation; rows and columns past
    the last window are ignored), the KH*KW window offsets as contiguous (N, C, OH, OW)
    arrays, copied in one pass (into scratch).

    Every later pass then runs over contiguous memory instead of stride-2 views whose inner
    loops are OW values long: the 2x2 forwards of LeNet's pools take ~15-35% less time.
    """
    N, C = x.shape[:2]
    (KH, KW), (OH, OW) = g.kernel, g.out
    if not _tiled(x.shape, g):
        return None
    taps = scratch("pool_taps", (KH, KW, N, C, OH, OW), x.dtype)
    # x (N, C, H, W) cropped to (N, C, OH*KH, OW*KW) = (N, C, OH, KH, OW, KW)
    # -> (KH, KW, N, C, OH, OW)
    tiles = x[:, :, :OH * KH, :OW * KW].reshape(N, C, OH, KH, OW, KW)
    xp.copyto(taps, tiles.transpose(3, 5, 0, 1, 2, 4))
    return list(taps.reshape(KH * KW, N, C, OH, OW))


def max_forward(x: Any, g: PoolGeometry) -> tuple[Any, Any]:
    """Running max over the KH*KW window offsets; the arg-max as the offset index k."""
    jit = _compiled_2x2(x.shape, g, x)
    if jit is not None:  # one compiled pass (LeNet's pools)
        y = xp.empty(x.shape[:2] + g.out, x.dtype)
        idx = xp.empty(y.shape, numpy.int8)
        jit.max_pool_2x2(xp.ascontiguousarray(x), y, idx)
        return y, idx
    xp_ = _pad_to(x, g, -numpy.inf)
    slices = _taps(x, g)  # KK arrays (N, C, OH, OW)
    if slices is None:  # overlapping or padded windows: KK strided views (N, C, OH, OW)
        slices = [xp_[:, :, hs, ws] for hs, ws in _window_slices(g)]
    itype = numpy.dtype(numpy.int8 if len(slices) < 128 else numpy.int32)
    if len(slices) == 1:
        return slices[0].copy(), xp.zeros(slices[0].shape, dtype=itype)
    better = xp.greater(slices[1], slices[0])  # strictly greater: a tie keeps the first max
    y = xp.maximum(slices[0], slices[1])  # (propagates NaN)
    idx = better.astype(itype)
    for k in range(2, len(slices)):
        xp.greater(slices[k], y, out=better)
        # idx < k everywhere, so max(idx, k*better) sets k exactly where better (no masked
        # copy: np.copyto(where=) is ~50x slower on random masks)
        # (better seen as int8: a bool * int8 product takes NumPy's slower casting loop)
        xp.maximum(idx, better.view(numpy.int8) * itype.type(k), out=idx)
        xp.maximum(y, slices[k], out=y)
    nan = xp.isnan(y)
    if nan.any():  # PyTorch's rule for NaN windows: the last NaN is the arg-max
        for k, v in enumerate(slices):
            xp.copyto(idx, k, where=nan & xp.isnan(v))
    if xp_ is not x:
        low = y == -numpy.inf
        if low.any():  # a window of -inf values: PyTorch picks its first position in the input
            inside = _inside(x.shape, g)
            for k in reversed(range(len(inside))):
                xp.copyto(idx, k, where=low & inside[k])
    return y, idx


def _inside(x_shape: tuple[int, ...], g: PoolGeometry) -> list[Any]:
    """For each window offset k, an (OH, OW) mask: is the tap inside the (unpadded) input?"""
    H, W = x_shape[2:]
    (ph, pw), (OH, OW) = g.padding, g.out
    masks = []
    for kh in range(g.kernel[0]):
        rows = xp.arange(OH) * g.stride[0] + kh * g.dilation[0] - ph
        for kw in range(g.kernel[1]):
            cols = xp.arange(OW) * g.stride[1] + kw * g.dilation[1] - pw
            masks.append(((rows >= 0) & (rows < H))[:, None] & ((cols >= 0) & (cols < W)))
    return masks


def _selector(values: Any) -> Any:
    """``f(mask, values, out=None)``: values where mask, else 0 (into ``out`` when given).

    A multiply by the mask when every value is finite (~5x faster than ``np.where`` on a
    random mask); ``np.where`` otherwise, since inf * 0 would give NaN.
    """
    if xp.isfinite(values).all():
        return lambda mask, v, out=None: xp.multiply(v, mask, out=out)
    zero = values.dtype.type(0)

    def where(mask: Any, v: Any, out: Any = None) -> Any:
        if out is None:
            return xp.where(mask, v, zero)
        out[...] = xp.where(mask, v, zero)
        return out
    return where


def max_scatter(gy: Any, idx: Any, x_shape: tuple[int, ...], g: PoolGeometry) -> Any:
    """Send each gy value to its window's arg-max (adding where windows overlap)."""
    N, C, H, W = x_shape
    jit = _compiled_2x2(x_shape, g, gy)
    if jit is not None:  # one compiled pass; rows and columns no window covers are zero
        gx = xp.empty(x_shape, gy.dtype)
        gx[:, :, 2 * g.out[0]:] = 0
        gx[:, :, :, 2 * g.out[1]:] = 0
        jit.max_unpool_2x2(xp.ascontiguousarray(gy), xp.ascontiguousarray(idx), gx)
        return gx
    ph, pw = g.padding
    Hq = _padded_extent(H, g.kernel[0], g.stride[0], ph, g.dilation[0], g.out[0])
    Wq = _padded_extent(W, g.kernel[1], g.stride[1], pw, g.dilation[1], g.out[1])
    disjoint = _disjoint(g)
    # windows that tile the buffer exactly assign every position: no need to zero it first
    tiled = disjoint and g.stride == g.kernel and g.dilation == (1, 1) and \
        (Hq, Wq) == (g.out[0] * g.kernel[0], g.out[1] * g.kernel[1])
    gx = (xp.empty if tiled else xp.zeros)((N, C, Hq, Wq), dtype=gy.dtype)
    select = _selector(gy)
    mask = xp.empty(idx.shape, dtype=bool)  # (N, C, OH, OW), reused for every offset
    for k, (hs, ws) in enumerate(_window_slices(g)):
        xp.equal(idx, k, out=mask)
        if disjoint:  # each position is written once: straight into gx, no temporary
            select(mask, gy, out=gx[:, :, hs, ws])
        else:
            gx[:, :, hs, ws] += select(mask, gy)
    return gx if (Hq, Wq) == (H, W) else gx[:, :, ph:ph + H, pw:pw + W].copy()


def max_gather(gx: Any, idx: Any, g: PoolGeometry) -> Any:
    """The adjoint of :func:`max_scatter`: read gx (N, C, H, W) at each window's arg-max,
    giving (N, C, OH, OW)."""
    gxp = _pad_to(gx, g, 0.0)
    out = xp.zeros(idx.shape, dtype=gx.dtype)
    for k, (hs, ws) in enumerate(_window_slices(g)):
        part = gxp[:, :, hs, ws]
        out += _selector(part)(idx == k, part)
    return out


def _window_sum(xq: Any, g: PoolGeometry) -> Any:
    """(N, C, OH, OW): the sum over each window of the padded xq, one offset at a time."""
    slices = _window_slices(g)
    hs, ws = slices[0]
    out = xq[:, :, hs, ws].copy()
    for hs, ws in slices[1:]:
        out += xq[:, :, hs, ws]
    return out


def avg_forward(x: Any, g: PoolGeometry, divisor: Any) -> Any:
    """Window sums of the zero-padded x divided by the (OH, OW) ``divisor``."""
    return _window_sum(_pad_to(x, g, 0.0), g) / divisor


def avg_adjoint(gy: Any, x_shape: tuple[int, ...], g: PoolGeometry, divisor: Any) -> Any:
    """The adjoint of average pooling: spread gy/divisor over each window (summing overlaps)."""
    N, C, H, W = x_shape
    ph, pw = g.padding
    Hq = _padded_extent(H, g.kernel[0], g.stride[0], ph, 1, g.out[0])
    Wq = _padded_extent(W, g.kernel[1], g.stride[1], pw, 1, g.out[1])
    share = gy / divisor
    gx = xp.zeros((N, C, Hq, Wq), dtype=share.dtype)
    disjoint = _disjoint(g)
    for hs, ws in _window_slices(g):
        if disjoint:
            gx[:, :, hs, ws] = share
        else:
            gx[:, :, hs, ws] += share
    return gx[:, :, ph:ph + H, pw:pw + W].copy() if (Hq, Wq) != (H, W) else gx

