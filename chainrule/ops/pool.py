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
    pixels. When max windows tile the input (kernel = stride, e.g. 2x2), the offsets are first
    copied apart into contiguous arrays, so the passes after that copy run at full speed.
    The most common case, 2x2 windows with stride 2, is one compiled pass each way where
    Numba is installed (:mod:`chainrule.ops._jit`; this NumPy code is its tested twin).
    Backward is a Function of its own (scatter for max, the adjoint of averaging for
    avg), so double backward works.

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
from typing import Any, Iterator, NamedTuple, Optional

import numpy

from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..autograd.tensor import Tensor
from ..backend import compiled_for, xp
from ._util import ImplChoice, pair as _pair, scratch
from .shape import reshape

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



# ============================================================================ arguments
class PoolGeometry(NamedTuple):
    """The normalised arguments of a 2-D pooling (per axis pairs: (rows, columns))."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out: tuple[int, int]  # (OH, OW)


def pool_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int,
                     ceil_mode: bool) -> int:
    """PyTorch's pooling output size.

    ``floor_or_ceil((size + 2*pad - dilation*(kernel-1) - 1) / stride) + 1``, and with
    ``ceil_mode`` a last window that would start in the right padding is dropped.

    Example:
        >>> pool_output_size(5, 2, 2, 0, 1, ceil_mode=False), pool_output_size(5, 2, 2, 0, 1, True)
        (2, 3)
    """
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _check_pool(op: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any,
                dilation: Any, ceil_mode: bool) -> PoolGeometry:
    if x.ndim != 4:
        raise ValueError(f"{op}: expected 3-D (unbatched C, H, W) or 4-D (batched N, C, H, W) "
                         f"input, got input of shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got dtype {x.dtype}")
    kernel = _pair(kernel_size, "kernel_size", op, 1)
    st = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) \
        else _pair(stride, "stride", op, 1)
    pad = _pair(padding, "padding", op, 0)
    dil = _pair(dilation, "dilation", op, 1)
    if pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:  # PyTorch's rule (undilated kernel)
        raise ValueError(f"{op}: pad should be smaller than or equal to half of kernel size, "
                         f"but got padding={padding!r} and kernel_size={kernel_size!r}")
    H, W = x.shape[2:]
    out = tuple(pool_output_size(s, k, t, p, d, ceil_mode)
                for s, k, t, p, d in zip((H, W), kernel, st, pad, dil))
    if min(out) < 1 or min(x.shape[1:]) < 1:
        raise ValueError(f"{op}: given input of shape {x.shape}, kernel_size={kernel}, "
                         f"stride={st}, padding={pad}, dilation={dil}, the calculated output "
                         f"size ({out[0]} x {out[1]}) is too small")
    return PoolGeometry(kernel, st, pad, dil, (out[0], out[1]))


def _as_tensor(x: Any, op: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if isinstance(x, xp.ndarray):
        return Tensor(x)
    raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")


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


# ============================================================================ max: kernels
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


def _max_forward_fast(x: Any, g: PoolGeometry) -> tuple[Any, Any]:
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


def _max_scatter(gy: Any, idx: Any, x_shape: tuple[int, ...], g: PoolGeometry) -> Any:
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


def _max_gather(gx: Any, idx: Any, g: PoolGeometry) -> Any:
    """The adjoint of :func:`_max_scatter`: read gx at each window's arg-max."""
    gxp = _pad_to(gx, g, 0.0)
    out = xp.zeros(idx.shape, dtype=gx.dtype)
    for k, (hs, ws) in enumerate(_window_slices(g)):
        part = gxp[:, :, hs, ws]
        out += _selector(part)(idx == k, part)
    return out


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

    def __init__(self, geometry: PoolGeometry) -> None:
        self.g = geometry

    def forward(self, x: Any) -> Any:
        y, self.idx = _max_forward_fast(x, self.g)
        return y

    def backward(self, gy: Tensor) -> Tensor:
        return MaxPool2dScatter(self.g, self.idx, self.inputs[0].shape)(gy)


class MaxPool2dScatter(Function):
    """gx = scatter of gy to the arg-max positions; linear, its backward is the gather."""

    def __init__(self, geometry: PoolGeometry, idx: Any, x_shape: tuple[int, ...]) -> None:
        self.g, self.idx, self.x_shape = geometry, idx, tuple(x_shape)

    def forward(self, gy: Any) -> Any:
        return _max_scatter(gy, self.idx, self.x_shape, self.g)

    def backward(self, ggx: Tensor) -> Tensor:
        return MaxPool2dGather(self.g, self.idx, self.x_shape)(ggx)


class MaxPool2dGather(Function):
    """y = gx read at the arg-max positions; linear, its backward is the scatter."""

    def __init__(self, geometry: PoolGeometry, idx: Any, x_shape: tuple[int, ...]) -> None:
        self.g, self.idx, self.x_shape = geometry, idx, tuple(x_shape)

    def forward(self, gx: Any) -> Any:
        return _max_gather(gx, self.idx, self.g)

    def backward(self, gy: Tensor) -> Tensor:
        return MaxPool2dScatter(self.g, self.idx, self.x_shape)(gy)


def _first_order_only(op: str) -> None:
    if state.grad_enabled:
        raise RuntimeError(f"{op}(impl='naive') has a first-order backward only; double "
                           f"backward (create_graph=True) needs impl='fast'")


class MaxPool2dNaive(Function):
    """max_pool2d by loops (the reference); backward is first order only."""

    def __init__(self, geometry: PoolGeometry) -> None:
        self.g = geometry

    def forward(self, x: Any) -> Any:
        y, self.arg = _max_forward_naive(x, self.g)
        return y

    def backward(self, gy: Tensor) -> Tensor:
        _first_order_only("max_pool2d")
        return Tensor(_max_backward_naive(gy.data, self.arg, self.inputs[0].shape))


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
    x = _as_tensor(input, op)
    unbatched = x.ndim == 3
    if unbatched:
        x = reshape(x, (1,) + x.shape)  # (C, H, W) -> (1, C, H, W)
    g = _check_pool(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    fn = (MaxPool2d if name == "fast" else MaxPool2dNaive)(g)
    y = fn(x)
    if unbatched:
        y = reshape(y, y.shape[1:])
    if not return_indices:
        return y
    flat = _flat_indices(fn.idx, x.shape, g) if name == "fast" else fn.arg
    return y, Tensor(flat.reshape(y.shape))


# ============================================================================ avg: kernels
def _avg_divisor(x_shape: tuple[int, ...], g: PoolGeometry, count_include_pad: bool,
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


def _window_sum(xq: Any, g: PoolGeometry) -> Any:
    slices = _window_slices(g)
    hs, ws = slices[0]
    out = xq[:, :, hs, ws].copy()
    for hs, ws in slices[1:]:
        out += xq[:, :, hs, ws]
    return out


def _avg_forward(x: Any, g: PoolGeometry, divisor: Any) -> Any:
    return _window_sum(_pad_to(x, g, 0.0), g) / divisor


def _avg_adjoint(gy: Any, x_shape: tuple[int, ...], g: PoolGeometry, divisor: Any) -> Any:
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

    def __init__(self, geometry: PoolGeometry, divisor: Any) -> None:
        self.g, self.divisor = geometry, divisor

    def forward(self, x: Any) -> Any:
        return _avg_forward(x, self.g, self.divisor)

    def backward(self, gy: Tensor) -> Tensor:
        return AvgPool2dAdjoint(self.g, self.divisor, self.inputs[0].shape)(gy)


class AvgPool2dAdjoint(Function):
    """gx = the transpose of average pooling applied to gy; its backward is AvgPool2d."""

    def __init__(self, geometry: PoolGeometry, divisor: Any, x_shape: tuple[int, ...]) -> None:
        self.g, self.divisor, self.x_shape = geometry, divisor, tuple(x_shape)

    def forward(self, gy: Any) -> Any:
        return _avg_adjoint(gy, self.x_shape, self.g, self.divisor)

    def backward(self, ggx: Tensor) -> Tensor:
        return AvgPool2d(self.g, self.divisor)(ggx)


class AvgPool2dNaive(Function):
    """avg_pool2d by loops (the reference); backward is first order only."""

    def __init__(self, geometry: PoolGeometry, count_include_pad: bool,
                 divisor_override: Optional[int]) -> None:
        self.g, self.cip, self.override = geometry, count_include_pad, divisor_override

    def forward(self, x: Any) -> Any:
        return _avg_forward_naive(x, self.g, self.cip, self.override)

    def backward(self, gy: Tensor) -> Tensor:
        _first_order_only("avg_pool2d")
        return Tensor(_avg_backward_naive(gy.data, self.inputs[0].shape, self.g, self.cip,
                                          self.override))


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
    x = _as_tensor(input, op)
    unbatched = x.ndim == 3
    if unbatched:
        x = reshape(x, (1,) + x.shape)  # (C, H, W) -> (1, C, H, W)
    g = _check_pool(op, x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (not isinstance(divisor_override, (int, numpy.integer))
                                         or divisor_override == 0):
        raise ValueError(f"{op}: divisor_override must be a non-zero int, got "
                         f"{divisor_override!r}")
    if name == "fast":
        divisor = _avg_divisor(x.shape, g, count_include_pad, divisor_override, x.dtype)
        y = AvgPool2d(g, divisor)(x)
    else:
        y = AvgPool2dNaive(g, count_include_pad, divisor_override)(x)
    return reshape(y, y.shape[1:]) if unbatched else y
