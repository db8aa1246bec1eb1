"""Resampling along the spatial axes: ``pad`` with PyTorch's four modes and ``interpolate``
(``nearest``, ``nearest-exact``, ``linear``, ``bilinear``, ``trilinear``).

Every non-constant pad and every interpolation is a linear map applied axis by axis: output
position ``o`` of an axis reads the input at one or two positions ``idx[t][o]`` with weights
``w[t][o]``. A reflect pad reads one mirrored position with weight 1; nearest reads the
nearest source; bilinear reads the two neighbours with weights ``1 - lambda`` and
``lambda``. :class:`AxisMap` applies such a map; its backward is :class:`AxisMapAdjoint`
(the transposed map: a scatter-add), whose backward is :class:`AxisMap` again, so the
gradient is differentiable to any order. The index and weight arrays follow PyTorch's CPU
kernels (``UpSample.h``: the source index computed in the input's dtype, float32 for
nearest), so the outputs agree to rounding.

A constant pad is ``chainrule.ops.shape.pad`` (``ConstantPadNdBackward0``), after a crop for
negative widths.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence

import numpy

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import as_tensor_arg, contiguous
from .shape import getitem, reshape
from .shape import pad as constant_pad

Tap = tuple[Any, Optional[Any]]
"""One term of an axis map: ``(idx, weight)``, idx an int64 (O,) array, weight (O,) or None (1)."""
AxisPlan = tuple[int, int, tuple[Tap, ...]]
"""``(axis, input size along it, taps)``: output ``o`` = sum over taps of ``w[o] * x[idx[o]]``."""


class UnsupportedMode(OpError, NotImplementedError):
    """A mode/rank combination PyTorch does not implement (its ``NotImplementedError``)."""


# ============================================================================ the axis maps
def _weight_along(w: Any, axis: int, ndim: int) -> Any:
    """(O,) weights shaped to broadcast along ``axis`` of an ``ndim``-D array."""
    return w.reshape((-1,) + (1,) * (ndim - 1 - axis))


def apply_axis_maps(x: Any, plans: Sequence[AxisPlan]) -> Any:
    """``x`` mapped along each planned axis in turn (gather, weight, sum over taps).

    Example:
        >>> import numpy as np
        >>> x = np.arange(3.0)
        >>> apply_axis_maps(x, [(0, 3, ((np.array([1, 0, 1, 2, 1]), None),))])  # reflect 1, 1
        array([1., 0., 1., 2., 1.])
    """
    for axis, _, taps in plans:
        y = None
        for idx, w in taps:
            t = xp.take(x, idx, axis=axis)
            if w is not None:
                t = t * _weight_along(w, axis, x.ndim)
            y = t if y is None else y + t
        x = y
    return contiguous(x)


def apply_axis_maps_adjoint(gy: Any, plans: Sequence[AxisPlan]) -> Any:
    """The transpose of :func:`apply_axis_maps`: each output's value is added back to the
    inputs it read (scatter-add), the axes undone in reverse order.

    ``sum(apply_axis_maps(x, p) * g) == sum(x * apply_axis_maps_adjoint(g, p))``.
    """
    for axis, n, taps in reversed(plans):
        shape = list(gy.shape)
        shape[axis] = n
        gx = xp.zeros(shape, dtype=gy.dtype)
        gx_last = xp.moveaxis(gx, axis, -1)  # a view: (..., n)
        for idx, w in taps:
            src = gy if w is None else gy * _weight_along(w, axis, gy.ndim)
            xp.add.at(gx_last, (Ellipsis, idx), xp.moveaxis(src, axis, -1))  # (..., O)
        gy = gx
    return gy


class AxisMap(Function):
    """y = x read along each planned axis at given positions with given weights (linear)."""

    derivative = "the weight of each read: upstream scattered back to the positions read"

    def __init__(self, plans: Sequence[AxisPlan], name: str = "") -> None:
        self.plans, self._node = tuple(plans), name

    def name(self) -> str:
        """PyTorch's node name for the op this map is (``ReflectionPad1DBackward0``, ...)."""
        return self._node or "AxisMapBackward0"

    def forward(self, x: Any) -> Any:
        return apply_axis_maps(x, self.plans)

    def backward(self, gy: Tensor) -> Tensor:
        return AxisMapAdjoint(self.plans)(gy)

    def fast_backward(self, gy: Any) -> Any:
        return apply_axis_maps_adjoint(gy, self.plans)


class AxisMapAdjoint(Function):
    """gx = the transposed axis map applied to gy (scatter-add); its backward is AxisMap."""

    derivative = "the weight of each read: upstream gathered from the positions read"

    def __init__(self, plans: Sequence[AxisPlan]) -> None:
        self.plans = tuple(plans)

    def forward(self, gy: Any) -> Any:
        return apply_axis_maps_adjoint(gy, self.plans)

    def backward(self, ggx: Tensor) -> Tensor:
        return AxisMap(self.plans)(ggx)


# ============================================================================ pad
_PAD_COMBOS = ("Supported combinations for non-constant padding:\n"
               "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
               "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
               "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")


def _int_list(values: Any, name: str, op: str) -> list[int]:
    if isinstance(values, Tensor):
        values = values.tolist()
    try:
        out = list(values)
    except TypeError:
        raise TypeError(f"{op}: {name} must be a sequence of ints, got {values!r}") from None
    for v in out:
        if isinstance(v, bool) or not isinstance(v, (int, numpy.integer)):
            raise TypeError(f"{op}: {name} must be a sequence of ints, got {values!r}")
    return [int(v) for v in out]


def _pad_index(mode: str, n: int, left: int, right: int) -> Any:
    """The input position each output position of a padded axis reads (PyTorch's rules)."""
    out = n + left + right
    j = xp.arange(out, dtype=numpy.int64) - left  # the position in input coordinates
    if mode == "replicate":
        return xp.clip(j, 0, n - 1)
    if mode == "reflect":
        if n == 1:
            return xp.zeros(out, dtype=numpy.int64)
        m = xp.abs(j) % (2 * (n - 1))
        return xp.where(m >= n, 2 * (n - 1) - m, m)
    # circular: crop the negative widths first, then wrap around what is left (length m)
    start = max(-left, 0)
    m = n - start - max(-right, 0)
    return start + (xp.arange(out, dtype=numpy.int64) - max(left, 0)) % m


def pad(input: Tensor, pad: Sequence[int], mode: str = "constant",
        value: Optional[float] = None) -> Tensor:
    """Pad (or, with negative widths, crop) the last ``len(pad) // 2`` dimensions, as
    ``torch.nn.functional.pad``.

    Args:
        input: the tensor. ``'constant'`` pads any rank; the other modes pad the last 1, 2 or
            3 dimensions of a tensor with one or two more (an optional batch and a channel).
        pad: ``(left, right)`` for the last dimension, then ``(top, bottom)`` for the one
            before, and so on; negative widths crop.
        mode: ``'constant'`` (the fill ``value``), ``'reflect'`` (mirror without repeating
            the edge; each width less than that dimension), ``'replicate'`` (repeat the edge)
            or ``'circular'`` (wrap around; each width at most that dimension).
        value: the fill of ``'constant'`` (default 0); the other modes take none.

    Shape:
        dimension ``ndim - 1 - k`` grows by ``pad[2k] + pad[2k + 1]``.

    Raises:
        RuntimeError: (OpError) an odd or too long ``pad``, a width too large for the mode,
            a negative output size, a ``value`` with a non-constant mode.
        NotImplementedError: an unknown mode, or a rank the mode does not pad.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[[1.0, 2.0, 3.0]]])
        >>> pad(x, (2, 1), mode="reflect").tolist()
        [[[3.0, 2.0, 1.0, 2.0, 3.0, 2.0]]]
        >>> pad(x, (1, 2), mode="replicate").tolist(), pad(x, (1, 1), mode="circular").tolist()
        ([[[1.0, 1.0, 2.0, 3.0, 3.0, 3.0]]], [[[3.0, 1.0, 2.0, 3.0, 1.0]]])
        >>> pad(x, (-1, 1), value=9.0).tolist()
        [[[2.0, 3.0, 9.0]]]
    """
    op = "pad"
    x = as_tensor_arg(input, "input", op)
    widths = _int_list(pad, "pad", op)
    if len(widths) % 2:
        raise OpError(f"{op}: Padding length must be divisible by 2, got pad={tuple(widths)}")
    if len(widths) > 2 * x.ndim:
        raise OpError(f"{op}: Padding length should be less than or equal to two times the "
                      f"input dimension but got padding length {len(widths)} and input of "
                      f"dimension {x.ndim} (shape {x.shape})")
    k = len(widths) // 2
    pairs = [(widths[2 * i], widths[2 * i + 1]) for i in range(k)]  # last dim first
    dims = [x.ndim - 1 - i for i in range(k)]
    if mode == "constant":
        return _constant(x, pairs, dims, 0.0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise UnsupportedMode(f"{op}: Unrecognised padding mode {mode!r} (expected "
                              f"'constant', 'reflect', 'replicate' or 'circular')")
    if value is not None and value != 0:
        raise OpError(f'{op}: Padding mode "{mode}" doesn\'t take in value argument '
                      f"(got value={value!r})")
    if k not in (1, 2, 3) or x.ndim not in (k + 1, k + 2):
        raise UnsupportedMode(f"{op}: Padding size {len(widths)} is not supported for "
                              f"{x.ndim}D input tensor (shape {x.shape}, mode {mode!r}).\n"
                              f"{_PAD_COMBOS}")
    if mode != "circular" and 0 in x.shape[-(k + 1):]:
        raise OpError(f"{op}: Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly "
                      f"0 batch size and other non-zero dimensions for input, but got: "
                      f"{list(x.shape)} (mode {mode!r})")
    plans = []
    for d, (lo, hi) in zip(dims, pairs):
        n = x.shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise OpError(f"{op}: Padding size should be less than the corresponding input "
                          f"dimension, but got: padding ({lo}, {hi}) at dimension {d} of "
                          f"input {list(x.shape)} (mode 'reflect')")
        if mode == "circular" and (lo > n or hi > n):
            raise OpError(f"{op}: Padding value causes wrapping around more than once: "
                          f"padding ({lo}, {hi}) at dimension {d} of input {list(x.shape)} "
                          f"(mode 'circular')")
        out = n + lo + hi
        if out < (0 if mode == "circular" else 1) or (
                mode == "circular" and out > 0 and n - max(-lo, 0) - max(-hi, 0) < 1):
            raise OpError(f"{op}: input of size {n} at dimension {d} (shape {x.shape}) is too "
                          f"small: padding ({lo}, {hi}) gives an output size of {out} "
                          f"(mode {mode!r})")
        plans.append((d, n, ((_pad_index(mode, n, lo, hi), None),)))
    name = {"reflect": f"ReflectionPad{k}DBackward0",
            "replicate": f"ReplicationPad{k}DBackward0"}.get(mode, "")
    return AxisMap(plans[::-1], name)(x)


def _constant(x: Tensor, pairs: list[tuple[int, int]], dims: list[int], value: Any) -> Tensor:
    """Crop the negative widths (a slice), then pad the rest with ``value``."""
    index: list[Any] = [slice(None)] * x.ndim
    for d, (lo, hi) in zip(dims, pairs):
        n = x.shape[d]
        if n + min(lo, 0) + min(hi, 0) < 0:  # the crop comes first, as torch's
            raise OpError(f"pad: The input size {n}, plus negative padding {lo} and {hi} "
                          f"resulted in a negative output size, which is invalid. Check "
                          f"dimension {d} of your input (shape {x.shape}).")
        index[d] = slice(max(-lo, 0), n - max(-hi, 0))
    if any(lo < 0 or hi < 0 for lo, hi in pairs):
        x = getitem(x, tuple(index))
    flat = [w for lo, hi in pairs for w in (max(lo, 0), max(hi, 0))]
    if x.ndim == 0:  # NumPy pads no 0-d array: pad the (1,) view by nothing
        return reshape(constant_pad(reshape(x, (1,)), [], "constant", value), ())
    return constant_pad(x, flat, "constant", value)


# ============================================================================ interpolate
_MODES = ("nearest", "nearest-exact", "linear", "bilinear", "trilinear")
_LINEAR = {"linear": 3, "bilinear": 4, "trilinear": 5}
_NAMES = {"nearest": "UpsampleNearest{k}DBackward0",
          "nearest-exact": "UpsampleNearestExact{k}DBackward0",
          "linear": "UpsampleLinear1DBackward0", "bilinear": "UpsampleBilinear2DBackward0",
          "trilinear": "UpsampleTrilinear3DBackward0"}


def _nearest_taps(n: int, out: int, scale: Optional[float], exact: bool) -> tuple[Tap, ...]:
    """PyTorch's nearest source index, in float32 as its CPU kernel: ``floor(o * s)`` (or
    ``floor((o + 0.5) * s)`` for nearest-exact), capped at ``n - 1``; ``s = 1/scale_factor``
    when a scale factor is in force, else ``n / out``."""
    o = xp.arange(out, dtype=numpy.int64)
    if not exact and out == n:
        return ((o, None),)
    if not exact and out == 2 * n:
        return ((o >> 1, None),)
    s = numpy.float32(1.0 / scale if scale is not None and scale > 0 else
                      numpy.float32(n) / numpy.float32(out))
    src = ((o + 0.5) * numpy.float64(s)).astype(numpy.float32) if exact else \
        o.astype(numpy.float32) * s
    return ((xp.minimum(xp.floor(src).astype(numpy.int64), n - 1), None),)


def _linear_taps(n: int, out: int, scale: Optional[float], align_corners: bool,
                 dtype: Any) -> tuple[Tap, ...]:
    """PyTorch's two neighbours and weights (``area_pixel_compute_source_index``), computed in
    the input's dtype as its CPU kernel."""
    f = numpy.dtype(dtype).type
    o = xp.arange(out).astype(dtype)
    if out == n:  # PyTorch copies, whatever the scale factor
        return ((xp.arange(out, dtype=numpy.int64), None),)
    if align_corners:
        s = f(n - 1) / f(out - 1) if out > 1 else f(0)
        src = s * o
    else:
        s = f(1.0 / scale) if scale is not None and scale > 0 else f(n) / f(out)
        src = xp.maximum(s * (o + f(0.5)) - f(0.5), f(0))
    i0 = xp.minimum(xp.floor(src).astype(numpy.int64), n - 1)
    lam = xp.clip(src - i0.astype(dtype), f(0), f(1)).astype(dtype)
    i1 = i0 + (i0 < n - 1)
    return ((i0, (f(1) - lam).astype(dtype)), (i1, lam))


def _sizes(x: Tensor, size: Any, scale_factor: Any, recompute: Any
           ) -> tuple[list[int], list[Optional[float]]]:
    """The output sizes and the scales handed to the kernel, by ``F.interpolate``'s rules."""
    op, dim = "interpolate", x.ndim - 2
    spatial = list(x.shape[2:])
    if size is not None and scale_factor is not None:
        raise ValueError(f"{op}: only one of size or scale_factor should be defined")
    if size is not None:
        if recompute:
            raise ValueError(f"{op}: recompute_scale_factor is not meaningful with an "
                             f"explicit size.")
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(f"{op}: Input and output must have the same number of spatial "
                                 f"dimensions, but got input with spatial dimensions of "
                                 f"{spatial} and output size of {size}. Please provide input "
                                 f"tensor in (N, C, d1, d2, ...,dK) format and output size in "
                                 f"(o1, o2, ...,oK) format.")
            sizes = list(size)
        else:
            sizes = [size] * dim
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, (int, numpy.integer)):
                raise TypeError(f"{op}: expected size to be one of int or Tuple[int] or "
                                f"Tuple[int, int] or Tuple[int, int, int], but got size "
                                f"{size!r}")
        return [int(s) for s in sizes], [None] * dim
    if scale_factor is None:
        raise ValueError(f"{op}: either size or scale_factor should be defined")
    if isinstance(scale_factor, (list, tuple)):
        if len(scale_factor) != dim:
            raise ValueError(f"{op}: Input and scale_factor must have the same number of "
                             f"spatial dimensions, but got input with spatial dimensions of "
                             f"{spatial} and scale_factor of shape {scale_factor}. Please "
                             f"provide input tensor in (N, C, d1, d2, ...,dK) format and "
                             f"scale_factor in (s1, s2, ...,sK) format.")
        scales = [float(s) for s in scale_factor]
    else:
        scales = [float(scale_factor)] * dim
    sizes = [int(math.floor(n * s)) for n, s in zip(spatial, scales)]
    return sizes, ([None] * dim if recompute else list(scales))


def interpolate(input: Tensor, size: Any = None, scale_factor: Any = None,
                mode: str = "nearest", align_corners: Optional[bool] = None,
                recompute_scale_factor: Optional[bool] = None, antialias: bool = False) -> Tensor:
    """Resize the spatial dimensions of an (N, C, *spatial) input, as
    ``torch.nn.functional.interpolate``.

    Args:
        input: (N, C, L), (N, C, H, W) or (N, C, D, H, W).
        size: the output's spatial size: an int for every dimension, or one per dimension.
        scale_factor: a multiplier (or one per dimension) instead of ``size``; the output
            size is ``floor(size * scale_factor)``.
        mode: ``'nearest'`` (PyTorch's legacy rule: source ``floor(o * in / out)``),
            ``'nearest-exact'`` (``floor((o + 0.5) * in / out)``), ``'linear'`` (3-D input),
            ``'bilinear'`` (4-D), ``'trilinear'`` (5-D).
        align_corners: for the linear modes: map the corner pixels' centres onto each other
            (default False: the corners' edges, the scale from ``scale_factor`` if given).
        recompute_scale_factor: with ``scale_factor``: compute the output size, then the
            scale from the sizes (True) instead of using ``scale_factor`` itself.
        antialias: only False.

    Shape:
        (N, C, *spatial) -> (N, C, *size).

    Raises:
        ValueError: both or neither of ``size`` and ``scale_factor``, a count that is not the
            number of spatial dimensions, ``align_corners`` with a nearest mode.
        NotImplementedError: a mode that does not fit the input's rank, or is not supported.
        RuntimeError: (OpError) an empty spatial dimension or output size.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[[1.0, 2.0]]])
        >>> interpolate(x, scale_factor=2).tolist()
        [[[1.0, 1.0, 2.0, 2.0]]]
        >>> interpolate(x, size=4, mode="linear").tolist()
        [[[1.0, 1.25, 1.75, 2.0]]]
        >>> interpolate(x, size=3, mode="linear", align_corners=True).tolist()
        [[[1.0, 1.5, 2.0]]]
    """
    op = "interpolate"
    x = as_tensor_arg(input, "input", op)
    if mode in ("nearest", "nearest-exact", "area"):
        if align_corners is not None:
            raise ValueError(f"{op}: align_corners option can only be set with the "
                             f"interpolating modes: linear | bilinear | bicubic | trilinear "
                             f"(got mode {mode!r})")
    elif align_corners is None:
        align_corners = False
    if x.ndim not in (3, 4, 5):
        raise UnsupportedMode(f"{op}: Input Error: Only 3D, 4D and 5D input Tensors supported "
                              f"(got {x.ndim}D, shape {x.shape}) for the modes: nearest | "
                              f"linear | bilinear | bicubic | trilinear | area | nearest-exact "
                              f"(got {mode})")
    sizes, scales = _sizes(x, size, scale_factor, recompute_scale_factor)
    if antialias:
        raise UnsupportedMode(f"{op}: antialias=True is not supported by chainrule")
    if mode not in _MODES:
        raise UnsupportedMode(f"{op}: mode {mode!r} is not supported (chainrule implements "
                              f"{', '.join(_MODES)})")
    if mode in _LINEAR and x.ndim != _LINEAR[mode]:
        raise UnsupportedMode(f"{op}: Got {x.ndim}D input (shape {x.shape}), but {mode} mode "
                              f"needs {_LINEAR[mode]}D input")
    if x.dtype.kind != "f" and mode in _LINEAR:
        raise OpError(f"{op}: {mode} interpolation needs a floating input, got {x.dtype}")
    spatial = x.shape[2:]
    if min(spatial) < 1 or min(sizes) < 1 or min(x.shape[1:]) < 1:
        raise OpError(f"{op}: Input and output sizes should be greater than 0, but got input "
                      f"{tuple(spatial)} (shape {x.shape}) and output {tuple(sizes)}")
    plans = []
    for d, (n, o, s) in enumerate(zip(spatial, sizes, scales)):
        if mode in _LINEAR:
            taps = _linear_taps(n, o, s, bool(align_corners), x.dtype)
        else:
            taps = _nearest_taps(n, o, s, mode == "nearest-exact")
        plans.append((d + 2, n, taps))
    return AxisMap(plans, _NAMES[mode].format(k=x.ndim - 2))(x)
