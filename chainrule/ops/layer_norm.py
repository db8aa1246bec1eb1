"""Layer, group and RMS normalisation, as ``torch.nn.functional.layer_norm``, ``group_norm``
and ``rms_norm``.

Layer and group normalisation are one computation on a 4-D view ``(N, G, D, S)`` of the
input: statistics per (n, g) over (D, S), the affine ``weight``/``bias`` per (g, d):

    layer_norm over the last dims K:  (prod(leading), 1, prod(K), 1)    weight of shape K
    group_norm with G groups:         (N, G, C // G, prod(spatial))     weight of shape (C,)

    y = (x - mean) * rstd * weight + bias,   rstd = 1 / sqrt(var + eps),
    var = mean((x - mean)^2)   (the variance of centred values: stable for a large mean)

:class:`GroupNorm` is that op fused into one node (:class:`LayerNorm`, its subclass, differs
only in PyTorch's node name), with a hand-derived backward,

    gx = rstd * (g - mean(g) - xhat * mean(g * xhat)),  g = gy * weight,  xhat = (x - mean) * rstd
    gweight = sum(gy * xhat), gbias = sum(gy)           (means per (n, g), sums per (g, d)),

written once with differentiable ops (``backward``: second derivatives work) and once on
arrays (``fast_backward``). ``layer_norm_composed`` and ``group_norm_composed`` build the same
forward from primitives and are the references the fused op is tested against.

``rms_norm`` is composed, as PyTorch's CPU kernel: ``x * rsqrt(mean(x^2) + eps) * weight``.
"""
from __future__ import annotations

import builtins
import math
from typing import Any, Optional, Sequence

import numpy

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ..kernels import compiled_alike
from ..kernels.threads import over_parts
from ._util import as_tensor_arg
from .arithmetic import pow, sqrt
from .elementwise import rsqrt
from .reduce import mean, sum
from .shape import reshape

_STATS = (2, 3)  # the (D, S) axes of the (N, G, D, S) view: one group's values
_AFFINE = (0, 3)  # the (N, S) axes: what weight and bias are shared over


def _affine_view(t: Tensor, view: tuple[int, int, int, int]) -> Tensor:
    """A weight or bias as (1, G, D, 1), to broadcast against the (N, G, D, S) view."""
    return reshape(t, (1, view[1], view[2], 1))


# ============================================================================ fused
class GroupNorm(Function):
    """``(x - mean) * rstd * weight + bias`` on the (N, G, D, S) view, statistics per (n, g);
    one node, hand-derived backward. :class:`LayerNorm` is the same op on the view
    ``(rows, 1, K, 1)``: one group of the trailing K values per row."""

    node_name = "NativeGroupNormBackward0"  # PyTorch's name for the same op

    derivative = ("{x1}*rstd*(upstream - mean(upstream) - xhat*mean(upstream*xhat)) per group, "
                  "xhat = ({x0} - mean)*rstd", "upstream*xhat summed over the batch",
                  "upstream summed over the batch")

    def __init__(self, view: tuple[int, int, int, int], eps: float) -> None:
        self.view, self.eps = view, eps

    def forward(self, x: Any, weight: Any, bias: Any) -> Any:
        N, G, D, S = self.view
        x2 = x.reshape(N * G, D * S)  # one row per group
        if x2.size == 0:  # nothing to normalise (no row, or empty rows)
            self.xhat = x2
            self.rstd = xp.ones((N * G, 1), x.dtype)
            return xp.empty(x.shape, x.dtype)
        xc = x2 - x2.mean(axis=1, keepdims=True)  # (N*G, D*S), centred
        var = xp.einsum("ij,ij->i", xc, xc)[:, None] / (D * S)  # biased
        self.rstd = (1 / xp.sqrt(var + self.eps)).astype(x.dtype, copy=False)  # (N*G, 1)
        xhat = xc
        xhat *= self.rstd
        self.xhat = xhat  # saved for backward
        if weight is None and bias is None:  # a copy: the saved xhat must not alias y
            return xhat.reshape(x.shape).copy()
        y4 = xhat.reshape(self.view).copy() if weight is None else \
            xhat.reshape(self.view) * weight.reshape(1, G, D, 1)
        if bias is not None:
            y4 += bias.reshape(1, G, D, 1)
        return y4.reshape(x.shape)

    def backward(self, gy: Tensor) -> tuple:
        x, weight, bias = self.inputs
        nx, nw, nb = self.needs_input_grad
        view = self.view
        x4, gy4 = reshape(x, view), reshape(gy, view)
        if x4._data.size == 0:  # empty groups: zero gradients, none of them NaN
            zero = [Tensor(xp.zeros(t.shape, gy.dtype)) if t is not None and n else None
                    for t, n in zip(self.inputs, self.needs_input_grad)]
            return tuple(zero)
        # the statistics again, with differentiable ops (they depend on x)
        xc = x4 - mean(x4, _STATS, keepdim=True)
        rstd = 1 / sqrt(mean(xc * xc, _STATS, keepdim=True) + self.eps)
        xhat = xc * rstd
        gx = gw = gb = None
        if nx:
            g = gy4 if weight is None else gy4 * _affine_view(weight, view)
            gx = reshape(rstd * (g - mean(g, _STATS, keepdim=True)
                                 - xhat * mean(g * xhat, _STATS, keepdim=True)), x.shape)
        if nw:
            gw = reshape(sum(gy4 * xhat, _AFFINE), weight.shape)
        if nb:
            gb = reshape(sum(gy4, _AFFINE), bias.shape)
        return gx, gw, gb

    def fast_backward(self, gy: Any) -> tuple:
        x, weight, bias = self.inputs
        nx, nw, nb = self.needs_input_grad
        N, G, D, S = self.view
        g4 = gy.astype(x.dtype, copy=False).reshape(self.view)
        xhat4 = self.xhat.reshape(self.view)
        if x._data.size == 0:
            return (xp.zeros(x.shape, x.dtype) if nx else None,
                    xp.zeros(weight.shape, x.dtype) if nw else None,
                    xp.zeros(bias.shape, x.dtype) if nb else None)
        gw = xp.einsum("ngds,ngds->gd", g4, xhat4).reshape(weight.shape) if nw else None
        gb = xp.einsum("ngds->gd", g4).reshape(bias.shape) if nb else None
        if not nx:
            return None, gw, gb
        g = g4 if weight is None else g4 * weight._data.reshape(1, G, D, 1)
        g2, xhat2 = g.reshape(N * G, D * S), self.xhat  # one row per group
        # gx = rstd * (g - mean(g) - xhat * mean(g * xhat)), means per row
        mg = g2.mean(axis=1, keepdims=True)
        mgx = xp.einsum("ij,ij->i", g2, xhat2)[:, None] / (D * S)
        gx = xhat2 * -mgx
        gx += g2
        gx -= mg
        gx *= self.rstd
        return gx.reshape(x.shape), gw, gb


class LayerNorm(GroupNorm):
    """:class:`GroupNorm` over the last dimensions (the view ``(rows, 1, K, 1)``). Where the
    kernels serve the dtype, forward and first-order backward run compiled row loops
    (``kernels.numba_loops.layer_norm_rows``), with GroupNorm's NumPy formulas as the twin."""

    node_name = "NativeLayerNormBackward0"  # PyTorch's name for the same op

    def forward(self, x: Any, weight: Any, bias: Any) -> Any:
        jit = _rows_kernel(x, weight, bias)
        if jit is None:
            return super().forward(x, weight, bias)
        R, _, K, _ = self.view
        x2 = x.reshape(R, K) if x.flags.c_contiguous else xp.ascontiguousarray(x).reshape(R, K)
        y2 = xp.empty((R, K), x.dtype)
        mean, rstd = xp.empty(R), xp.empty(R)  # float64, whatever x's dtype
        none = xp.empty(0, x.dtype)
        w = none if weight is None else weight.reshape(K)
        b = none if bias is None else bias.reshape(K)

        def rows(r0: int, r1: int, part: int) -> None:  # rows r0..r1, on one thread
            jit.layer_norm_rows(x2[r0:r1], w, b, self.eps, y2[r0:r1], mean[r0:r1],
                                rstd[r0:r1])

        over_parts(R, R * K >= _SPLIT_ELEMS, rows)
        self.x2, self.mean, self.rstd = x2, mean, rstd  # xhat is recomputed in the backward
        return y2.reshape(x.shape)

    def fast_backward(self, gy: Any) -> tuple:
        if not hasattr(self, "mean"):  # the forward ran GroupNorm's NumPy formulas
            return super().fast_backward(gy)
        x, weight, bias = self.inputs
        jit = _rows_kernel(x._data, None if weight is None else weight._data,
                           None if bias is None else bias._data)
        nx, nw, nb = self.needs_input_grad
        R, _, K, _ = self.view
        g2 = xp.ascontiguousarray(gy, dtype=x.dtype).reshape(R, K)
        none = xp.empty(0, x.dtype)
        gx2 = xp.empty((R, K), x.dtype) if nx else none
        w = none if weight is None else weight._data.reshape(K)
        x2, mean, rstd = self.x2, self.mean, self.rstd
        sums: dict[int, tuple[Any, Any]] = {}  # each part's gw and gb, added up after

        def rows(r0: int, r1: int, part: int) -> None:  # rows r0..r1, on one thread
            gw = xp.zeros(K, x.dtype) if nw else none
            gb = xp.zeros(K, x.dtype) if nb else none
            jit.layer_norm_rows_grad(g2[r0:r1], x2[r0:r1], mean[r0:r1], rstd[r0:r1], w,
                                     gx2[r0:r1] if nx else none, gw, gb)
            sums[part] = gw, gb

        over_parts(R, R * K >= _SPLIT_ELEMS, rows)
        gw, gb = (builtins.sum(parts[k] for parts in sums.values()) for k in (0, 1))
        return (gx2.reshape(x.shape) if nx else None, gw.reshape(weight.shape) if nw else None,
                gb.reshape(bias.shape) if nb else None)


_SPLIT_ELEMS = 1 << 18  # elements from which the rows are split over the worker threads


def _rows_kernel(x: Any, weight: Any, bias: Any) -> Any:
    """The compiled kernels for a layer norm of a non-empty ``x`` (see ``compiled_alike``)."""
    return None if x.size == 0 else compiled_alike(x, weight, bias)


# ============================================================================ argument checks
def _normalized_shape(normalized_shape: Any, op: str) -> tuple[int, ...]:
    if isinstance(normalized_shape, (int, numpy.integer)) and \
            not isinstance(normalized_shape, bool):
        raise TypeError(f"{op}(): argument 'normalized_shape' (position 2) must be tuple of "
                        f"ints, not int (write ({normalized_shape},))")
    try:
        shape = tuple(int(s) for s in normalized_shape)
    except TypeError:
        raise TypeError(f"{op}(): argument 'normalized_shape' must be tuple of ints, got "
                        f"{normalized_shape!r}") from None
    if not shape:
        raise OpError(f"{op}: Expected normalized_shape to be at least 1-dimensional, i.e., "
                      f"containing at least one element, but got normalized_shape = []")
    return shape


def _check_float(x: Tensor, op: str) -> None:
    if x.dtype.kind != "f":
        raise OpError(f"{op}: expected a floating point input, got dtype {x.dtype} (input "
                      f"shape {x.shape})")


def _check_affine(x: Tensor, params: Sequence[tuple[str, Optional[Tensor]]],
                  shape: tuple[int, ...], rule: str, op: str) -> None:
    for name, t in params:
        if t is None:
            continue
        if t.shape != shape:
            raise OpError(f"{op}: Expected {name} to be {rule}, but got {name} of shape "
                          f"{list(t.shape)} and input of shape {list(x.shape)}")
        if t.dtype != x.dtype:
            raise OpError(f"{op}: mixed dtype: input is {x.dtype} but {name} is {t.dtype} "
                          f"(all inputs must share the same dtype)")


def _layer_norm_args(input: Any, normalized_shape: Any, weight: Any, bias: Any,
                     op: str) -> tuple[Tensor, Optional[Tensor], Optional[Tensor],
                                       tuple[int, int, int, int]]:
    x = as_tensor_arg(input, "input", op)
    w = as_tensor_arg(weight, "weight", op, optional=True)
    b = as_tensor_arg(bias, "bias", op, optional=True)
    shape = _normalized_shape(normalized_shape, op)
    k = len(shape)
    if x.ndim < k or x.shape[x.ndim - k:] != shape:
        raise OpError(f"{op}: Given normalized_shape={list(shape)}, expected input with shape "
                      f"[*, {', '.join(map(str, shape))}], but got input of size{list(x.shape)}")
    _check_float(x, op)
    _check_affine(x, (("weight", w), ("bias", b)), shape,
                  f"of same shape as normalized_shape = {list(shape)}", op)
    K = math.prod(shape)
    return x, w, b, (math.prod(x.shape[:x.ndim - k]), 1, K, 1)


def _group_norm_args(input: Any, num_groups: Any, weight: Any, bias: Any,
                     op: str) -> tuple[Tensor, Optional[Tensor], Optional[Tensor],
                                       tuple[int, int, int, int]]:
    x = as_tensor_arg(input, "input", op)
    w = as_tensor_arg(weight, "weight", op, optional=True)
    b = as_tensor_arg(bias, "bias", op, optional=True)
    if isinstance(num_groups, bool) or not isinstance(num_groups, (int, numpy.integer)) or \
            num_groups < 1:
        raise OpError(f"{op}: num_groups must be a positive int, got {num_groups!r}")
    if x.ndim < 2:
        raise OpError(f"{op}: Expected at least 2 dimensions for input tensor but received "
                      f"{x.ndim} (input shape {x.shape}; expected (N, C, *))")
    N, C = x.shape[0], x.shape[1]
    S = math.prod(x.shape[2:])
    if N * C // num_groups * S == 1:  # torch's _verify_batch_size, a ValueError
        raise ValueError(f"{op}: Expected more than 1 value per channel when training, got "
                         f"input size {list(x.shape)} with num_groups={num_groups} (each group "
                         f"holds one value: no variance)")
    if C % num_groups:
        raise OpError(f"{op}: Expected number of channels in input to be divisible by "
                      f"num_groups, but got input of shape {list(x.shape)} and "
                      f"num_groups={num_groups}")
    _check_float(x, op)
    _check_affine(x, (("weight", w), ("bias", b)), (C,),
                  "a vector of size equal to the number of channels in input", op)
    return x, w, b, (N, int(num_groups), C // num_groups, S)


# ============================================================================ functionals
def layer_norm(input: Any, normalized_shape: Sequence[int], weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:
    """Layer normalisation over the last ``len(normalized_shape)`` dimensions, as
    ``torch.nn.functional.layer_norm``: ``(x - mean) / sqrt(var + eps) * weight + bias``
    with the mean and biased variance of each sample's last dimensions (stable for a large
    mean: the variance is taken of centred values).

    Args:
        input: ``(*, *normalized_shape)``, floating.
        normalized_shape: the trailing shape to normalise over (a tuple or list of ints).
        weight: optional scale of shape ``normalized_shape``.
        bias: optional shift of shape ``normalized_shape``.
        eps: added to the variance.

    Shape:
        Output has the shape of ``input``.

    Example:
        >>> import chainrule as cr
        >>> y = layer_norm(cr.tensor([[1.0, 3.0], [10.0, 30.0]]), (2,))
        >>> [[round(v, 3) for v in row] for row in y.tolist()], y.grad_fn
        ([[-1.0, 1.0], [-1.0, 1.0]], None)
        >>> layer_norm(cr.ones(2, 3, requires_grad=True), [3]).grad_fn.name()
        'NativeLayerNormBackward0'
    """
    x, w, b, view = _layer_norm_args(input, normalized_shape, weight, bias, "layer_norm")
    return LayerNorm(view, float(eps))(x, w, b)


def group_norm(input: Any, num_groups: int, weight: Any = None, bias: Any = None,
               eps: float = 1e-5) -> Tensor:
    """Group normalisation, as ``torch.nn.functional.group_norm``: the C channels of each
    sample split into ``num_groups`` groups, each normalised with its own mean and biased
    variance over its channels and spatial positions, then ``* weight + bias`` per channel.

    Args:
        input: ``(N, C, *)``, floating; C divisible by ``num_groups``.
        num_groups: G.
        weight: optional per-channel scale ``(C,)``.
        bias: optional per-channel shift ``(C,)``.
        eps: added to the variance.

    Shape:
        Output has the shape of ``input``.

    Example:
        >>> import chainrule as cr
        >>> y = group_norm(cr.tensor([[1.0, 3.0, 10.0, 30.0]]), 2)
        >>> [round(v, 3) for v in y[0].tolist()]
        [-1.0, 1.0, -1.0, 1.0]
    """
    x, w, b, view = _group_norm_args(input, num_groups, weight, bias, "group_norm")
    return GroupNorm(view, float(eps))(x, w, b)


def rms_norm(input: Any, normalized_shape: Sequence[int], weight: Any = None,
             eps: Optional[float] = None) -> Tensor:
    """Root-mean-square normalisation over the last ``len(normalized_shape)`` dimensions,
    as ``torch.nn.functional.rms_norm``: ``x * rsqrt(mean(x^2) + eps) * weight``, composed
    of primitives as PyTorch's CPU kernel (its last node is ``MulBackward0``).

    Args:
        input: ``(*, *normalized_shape)``, floating.
        normalized_shape: the trailing shape to normalise over (a tuple or list of ints).
        weight: optional scale of shape ``normalized_shape`` (its dtype may differ: the
            product promotes, as PyTorch).
        eps: added to the mean square; None takes the input dtype's machine epsilon.

    Shape:
        Output has the shape of ``input``.

    Example:
        >>> import chainrule as cr
        >>> y = rms_norm(cr.tensor([[3.0, 4.0]]), [2], eps=0.0)
        >>> [round(v, 4) for v in y[0].tolist()]
        [0.8485, 1.1314]
    """
    op = "rms_norm"
    x = as_tensor_arg(input, "input", op)
    w = as_tensor_arg(weight, "weight", op, optional=True)
    shape = _normalized_shape(normalized_shape, op)
    k = len(shape)
    if x.ndim < k or x.shape[x.ndim - k:] != shape:
        raise OpError(f"{op}: Given normalized_shape={list(shape)}, expected input with shape "
                      f"[*{', '.join(map(str, shape))}], but got input of size{list(x.shape)}")
    _check_float(x, op)
    if w is not None and w.shape != shape:
        raise OpError(f"{op}: Expected weight to be of same shape as normalized_shape, but got "
                      f"weight of shape {list(w.shape)} and normalized_shape = {list(shape)}")
    if eps is None:
        eps = float(numpy.finfo(x.dtype).eps)
    dims = tuple(range(x.ndim - k, x.ndim))
    y = x * rsqrt(mean(pow(x, 2), dims, keepdim=True) + eps)
    return y if w is None else y * w


# ============================================================================ composed twins
def layer_norm_composed(input: Any, normalized_shape: Sequence[int], weight: Any = None,
                        bias: Any = None, eps: float = 1e-5) -> Tensor:
    """The reference twin of :func:`layer_norm`, composed of primitive differentiable ops.

    Example:
        >>> import chainrule as cr
        >>> x = cr.randn(4, 3, 5)
        >>> bool(cr.allclose(layer_norm_composed(x, (3, 5)), layer_norm(x, (3, 5)), atol=1e-5))
        True
    """
    x, w, b, view = _layer_norm_args(input, normalized_shape, weight, bias, "layer_norm")
    return _composed(x, w, b, view, eps)


def group_norm_composed(input: Any, num_groups: int, weight: Any = None, bias: Any = None,
                        eps: float = 1e-5) -> Tensor:
    """The reference twin of :func:`group_norm`, composed of primitive differentiable ops.

    Example:
        >>> import chainrule as cr
        >>> x = cr.randn(2, 4, 3)
        >>> bool(cr.allclose(group_norm_composed(x, 2), group_norm(x, 2), atol=1e-5))
        True
    """
    x, w, b, view = _group_norm_args(input, num_groups, weight, bias, "group_norm")
    return _composed(x, w, b, view, eps)


def _composed(x: Tensor, w: Optional[Tensor], b: Optional[Tensor],
              view: tuple[int, int, int, int], eps: float) -> Tensor:
    x4 = reshape(x, view)  # (N, G, D, S)
    xc = x4 - mean(x4, _STATS, keepdim=True)
    y = xc / sqrt(mean(xc * xc, _STATS, keepdim=True) + eps)
    if w is not None:
        y = y * _affine_view(w, view)
    if b is not None:
        y = y + _affine_view(b, view)
    return reshape(y, x.shape)
