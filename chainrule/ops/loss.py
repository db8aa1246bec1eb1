"""Loss functions, composed from primitives (so their gradients of any order come for free),
and ``cross_entropy`` of class indices fused into one node (:class:`CrossEntropy`; its composed
twin :func:`cross_entropy_composed` is the tested reference). The elementwise terms of
``binary_cross_entropy`` and ``binary_cross_entropy_with_logits`` are one node each
(:class:`BinaryCrossEntropy`, :class:`BinaryCrossEntropyWithLogits`), for PyTorch's gradients
at the clamped logs and at infinite logits.

``mse_loss``, ``l1_loss``, ``binary_cross_entropy``, ``binary_cross_entropy_with_logits``,
``nll_loss`` and ``cross_entropy`` follow ``torch.nn.functional``: same signatures, defaults,
reductions (``'mean'``, ``'sum'``, ``'none'``) and shape rules. Class-index losses gather the
target's log-probability (no one-hot is built), so everything stays in the input's dtype.

``smooth_l1_loss`` and ``huber_loss`` are one node each (:class:`SmoothL1`, :class:`Huber`:
PyTorch's node names and its gradient at the kink); ``kl_div``, ``cosine_similarity``,
``cosine_embedding_loss`` and ``margin_ranking_loss`` are composed as PyTorch composes them;
``ctc_loss`` runs the log-space alpha/beta recursions in one first-order node
(:class:`CTCLoss`, PyTorch's gradient).
"""
from __future__ import annotations

import math
import warnings
from typing import Any, NamedTuple, Optional

import numpy

from ..autograd.errors import OpError, OpIndexError
from ..autograd.function import Function
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import broadcast_error
from .dtypes import as_float, as_operand, result_dtype
from .activation import (log_sigmoid_array, log_softmax, logsigmoid, shift_by_max, sigmoid,
                         softmax)
from .arithmetic import abs, clamp, exp, log, sqrt, where
from .elementwise import clamp_min
from .reduce import mean, sum
from .shape import expand, gather, reshape, unbroadcast, unsqueeze
from .vector_norm import vector_norm

_REDUCTIONS = ("mean", "sum", "none")


# ============================================================================ helpers
def legacy_reduction(size_average: Optional[bool], reduce: Optional[bool],
                      reduction: str) -> str:
    """Map the deprecated ``size_average``/``reduce`` flags to a reduction, as PyTorch does."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use "
                  "reduction='mean', 'sum' or 'none' instead.", UserWarning, stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    return "none" if not reduce else "mean" if size_average else "sum"


def check_reduction(reduction: str, op: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction; expected "
                         f"one of {_REDUCTIONS}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return mean(loss)
    if reduction == "sum":
        return sum(loss)
    return loss


def _as_input(x: Any, op: str) -> Tensor:
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    return as_float(x)


def _as_like(x: Any, like: Tensor) -> Tensor:
    """A target or weight as a Tensor of ``like``'s floating dtype (a constant if not one)."""
    if isinstance(x, Tensor):
        return x if x.dtype == like.dtype else x.to(like.dtype)
    return Tensor(xp.asarray(x, dtype=like.dtype))


def _promoted(input: Tensor, target: Any) -> tuple[Tensor, Tensor]:
    """``input`` and ``target`` cast (differentiably) to PyTorch's promotion of the two: a
    float32 input with a float64 target computes, and returns, float64. A target that is not
    a Tensor is a constant of the input's dtype."""
    if not isinstance(target, Tensor):
        return input, _as_like(target, input)
    dtype = result_dtype(input, target)
    return as_operand(input, dtype), as_operand(target, dtype)


def _warn_if_broadcast(input: Tensor, target: Tensor, op: str) -> None:
    """PyTorch's rule for regression losses: a different target size warns, then broadcasts
    (an (N, 1) prediction against an (N,) target silently makes an (N, N) loss otherwise)."""
    if target.shape == input.shape:
        return
    err = broadcast_error(op, input.shape, target.shape)
    if err is not None:  # a RuntimeError (OpError), as PyTorch's
        raise OpError(f"{op}: input of shape {input.shape} and target of shape "
                      f"{target.shape} cannot be broadcast together; they should have "
                      f"the same shape")
    warnings.warn(f"{op}: Using a target size ({target.shape}) that is different to the input "
                  f"size ({input.shape}). This will likely lead to incorrect results due to "
                  f"broadcasting. Please ensure they have the same size.", UserWarning,
                  stacklevel=3)


def _prepare(input: Any, size_average: Optional[bool], reduce: Optional[bool],
             reduction: str, op: str) -> tuple[Tensor, str]:
    """Every loss's first step: resolve the legacy flags, check ``reduction``, check input."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    check_reduction(reduction, op)
    return _as_input(input, op), reduction


# ============================================================================ regression
class _ReducedLoss:
    """Mixed into a loss Function computed elementwise, then weighted and reduced in the same
    node, with PyTorch's order in the backward: (the elementwise derivative times the
    upstream) times the weight, then divided by n for ``'mean'``. The order decides where a
    product overflows or underflows (an upstream of 1e308 times 0.5 / 0.25 is inf before the
    division by n). The Function's forward reduces its elementwise loss with ``_reduce``, its
    backward ends each input gradient with ``_finish`` (:class:`MeanSquaredError`'s keeps
    PyTorch's other order for that loss: the norm first)."""

    def __init__(self, reduction: str, weight: Optional[Any]) -> None:
        self.reduction, self.weight = reduction, weight

    def _reduce(self, loss: Any) -> Any:
        """The elementwise ``loss`` (an array) weighted and reduced."""
        if self.weight is not None:
            loss = loss * self.weight
        if self.reduction == "none":
            return loss
        total = loss.sum()
        if self.reduction == "sum":
            return xp.asarray(total)
        return xp.asarray(total / loss.size if loss.size else total * xp.nan)

    def _finish(self, g: Any) -> Any:
        """An input gradient (elementwise derivative times the upstream, a Tensor or an
        array of the input's shape) times the weight, over n for ``'mean'``."""
        if self.weight is not None:
            g = g * (Tensor(self.weight) if isinstance(g, Tensor) else self.weight)
        n = math.prod(g.shape)
        return g / n if self.reduction == "mean" and n else g


class MeanSquaredError(_ReducedLoss, Function):
    """``(x - t) ** 2`` (broadcast), reduced, in one node with PyTorch's gradient and its order
    of evaluation: ``gx = (norm (x - t)) gy``, ``gt = -gx``, ``norm = 2 / n`` for ``'mean'``
    (``n`` elements), else 2. The order matters at the edges of the floats: ``norm (x - t)``
    underflows to 0 for a tiny difference before an infinite upstream meets it, giving
    PyTorch's NaN rather than inf. ``backward`` builds it from differentiable ops.
    """

    node_name = "MseLossBackward0"  # PyTorch's name for the same op

    derivative = ("2*({x0} - {x1}) (/ n for 'mean')", "2*({x1} - {x0}) (/ n for 'mean')")

    def __init__(self, reduction: str) -> None:
        super().__init__(reduction, None)

    def forward(self, x: Any, t: Any) -> Any:
        with xp.errstate(invalid="ignore", over="ignore"):  # inf - inf, overflow: as PyTorch
            d = x - t
            return self._reduce(d * d)

    def backward(self, gy: Tensor) -> tuple:
        x, t = self.inputs
        nx, nt = self.needs_input_grad
        d = x - t
        n = d._data.size
        norm = 2.0 / n if self.reduction == "mean" and n else 2.0
        g = (d * norm) * gy  # PyTorch's order: norm * (x - t), then the upstream
        return (unbroadcast(g, x.shape) if nx else None,
                unbroadcast(-g, t.shape) if nt else None)


def mse_loss(input: Tensor, target: Any, size_average: Optional[bool] = None,
             reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """Mean squared error: ``(input - target) ** 2``, reduced.

    Args:
        input: predictions.
        target: targets, the same shape as ``input`` (another shape warns, then broadcasts,
            as in PyTorch).
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Shape:
        input ``(*)``, target ``(*)``; output a scalar, or ``(*)`` with ``'none'``, in the
        promotion of their dtypes (float32 with float64: float64), as in PyTorch.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.mse_loss(cr.tensor([1.0, 2.0]), cr.tensor([1.0, 4.0])).item()
        2.0
    """
    op = "mse_loss"
    input, reduction = _prepare(input, size_average, reduce, reduction, op)
    input, target = _promoted(input, target)
    _warn_if_broadcast(input, target, op)
    return MeanSquaredError(reduction)(input, target)


def l1_loss(input: Tensor, target: Any, size_average: Optional[bool] = None,
            reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """Mean absolute error: ``|input - target|``, reduced (gradient 0 where they are equal).

    Args:
        input: predictions.
        target: targets, the same shape as ``input`` (another shape warns, then broadcasts).
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Shape:
        input ``(*)``, target ``(*)``; output a scalar, or ``(*)`` with ``'none'``, in the
        promotion of their dtypes, as in PyTorch.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.l1_loss(cr.tensor([1.0, 2.0]), cr.tensor([0.0, 4.0])).item()
        1.5
    """
    op = "l1_loss"
    input, reduction = _prepare(input, size_average, reduce, reduction, op)
    input, target = _promoted(input, target)
    _warn_if_broadcast(input, target, op)
    return _reduce(abs(input - target), reduction)


# ============================================================================ binary
def _check_same_size(input: Tensor, target: Tensor, op: str, message: str) -> None:
    if target.shape != input.shape:
        raise ValueError(f"{op}: " + message.format(t=target.shape, i=input.shape))


def _constant_weight(weight: Any, input: Tensor, name: str, op: str) -> Optional[Any]:
    """A ``weight`` or ``pos_weight`` argument as an array of ``input``'s dtype that broadcasts
    to its shape (or None). It is a constant of the loss, as in PyTorch, which refuses one
    that requires grad."""
    if weight is None:
        return None
    weight = _as_like(weight, input)
    _check_broadcasts_to(weight, input, name, op)
    if weight.requires_grad:
        raise RuntimeError(f"{op}: the loss is not differentiable with respect to {name} (as "
                           f"in PyTorch); pass {name}.detach()")
    return weight._data


def _check_broadcasts_to(w: Tensor, input: Tensor, name: str, op: str) -> None:
    """``w`` must broadcast to ``input``'s shape without enlarging it, as in PyTorch (a (N, 1)
    weight against an (N,) input would otherwise silently make an (N, N) loss)."""
    if w.ndim > input.ndim or any(a != b and a != 1 for a, b in
                                  zip(w.shape[::-1], input.shape[::-1])):
        raise OpError(f"{op}: {name} of shape {w.shape} cannot be broadcast to the input "
                      f"shape {input.shape}")


# PyTorch's floor on p (1 - p) in the gradient of binary_cross_entropy: 1e-12 rounded to
# float32 (as PyTorch's constant), in every dtype
_BCE_EPS = float(numpy.float32(1e-12))


class BinaryCrossEntropy(_ReducedLoss, Function):
    """``-w (t log(p) + (1 - t) log(1 - p))``, each log clamped below at -100, reduced, with
    PyTorch's gradients in PyTorch's order (one node: :class:`_ReducedLoss`).

    ``gp = gy (p - t) / max(p (1 - p), 1e-12)`` and ``gt = gy (log(1 - p) - log(p))``: a
    confident wrong prediction (p = 0 with t > 0) is pushed towards t with a large finite
    gradient, where differentiating the clamped logs would give the wrong sign (or 0) and a
    tiny p (1e-40) an infinite one. ``backward`` builds these formulas from differentiable
    ops, so second order works (and agrees with PyTorch wherever ``p (1 - p) >= 1e-12``).
    """

    derivative = ("({x0} - {x1}) / max({x0}*(1-{x0}), 1e-12) (* weight, / n for 'mean')",
                  "log(1-{x0}) - log({x0}) (* weight, / n for 'mean')")

    def forward(self, p: Any, t: Any) -> Any:
        with xp.errstate(divide="ignore"):  # log(0) = -inf, then clamped to -100
            log_p = xp.maximum(xp.log(p), -100)
            log_1mp = xp.maximum(xp.log1p(-p), -100)
        return self._reduce((t - 1) * log_1mp - t * log_p)  # PyTorch's expression and order

    def backward(self, gy: Tensor) -> tuple:
        p, t = self.inputs
        np_, nt = self.needs_input_grad
        gp = self._finish(gy * (p - t) / clamp(p * (1 - p), min=_BCE_EPS)) if np_ else None
        gt = self._finish(gy * (log(1 - p) - log(p))) if nt else None
        return gp, gt

    def fast_backward(self, g: Any) -> tuple:
        p, t = self.inputs
        np_, nt = self.needs_input_grad
        pd, td = p._data, t._data
        gp = gt = None
        with xp.errstate(over="ignore"):  # an overflow is inf, as PyTorch's
            if np_:
                gp = self._finish(g * (pd - td) / xp.maximum(pd * (1 - pd), _BCE_EPS))
            if nt:
                with xp.errstate(divide="ignore"):  # -logit(p): +-inf at p = 0 or 1, as torch
                    gt = self._finish(g * (xp.log1p(-pd) - xp.log(pd)))
        return gp, gt


def _check_probabilities(p: Tensor, name: str, op: str, hint: str = "") -> None:
    """Every element of ``p`` in [0, 1] (NaN is not), else an :class:`OpError` (PyTorch's
    ``RuntimeError``)."""
    a = p._data
    outside = ~((a >= 0) & (a <= 1))  # NaN compares false: outside
    if outside.any():
        bad = a[outside].reshape(-1)[0]
        raise OpError(f"{op}: all elements of {name} should be between 0 and 1 (got "
                      f"{bad} in {name} of shape {p.shape}){hint}")


def binary_cross_entropy(input: Tensor, target: Any, weight: Any = None,
                         size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                         reduction: str = "mean") -> Tensor:
    """Binary cross-entropy of probabilities: ``-w (t log(p) + (1 - t) log(1 - p))``.

    Each log is clamped at -100 as in PyTorch, so a confident wrong prediction (p = 0 or 1)
    costs 100 rather than inf; the gradient is PyTorch's, ``w (p - t) / max(p (1 - p),
    1e-12)``, finite and pointing towards the target even there (:class:`BinaryCrossEntropy`).

    Args:
        input: probabilities in [0, 1] (e.g. a sigmoid's output).
        target: targets in [0, 1], exactly the shape of ``input`` (a different shape is a
            ``ValueError``, as in PyTorch: an (N, 1) prediction never meets an (N,) target)
            and, if a Tensor, of its dtype.
        weight: rescaling weight, broadcast to the input's shape (a constant: one that
            requires grad is refused, as in PyTorch).
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Shape:
        input ``(*)``, target ``(*)``; output a scalar, or ``(*)`` with ``'none'``.

    Raises:
        RuntimeError: an element of input or target outside [0, 1] or NaN, or a target
            Tensor of another dtype (as PyTorch).

    Example:
        >>> import chainrule as cr
        >>> p = cr.tensor([0.5, 1.0])
        >>> cr.nn.functional.binary_cross_entropy(p, cr.tensor([1.0, 0.0]),
        ...                                       reduction='none').tolist()
        [0.6931471824645996, 100.0]
    """
    op = "binary_cross_entropy"
    input, reduction = _prepare(input, size_average, reduce, reduction, op)
    if isinstance(target, Tensor) and target.dtype != input.dtype:  # as PyTorch's RuntimeError
        raise OpError(f"{op}: expected a target of the input's dtype {input.dtype}, got "
                      f"{target.dtype} (convert it first, e.g. target.to(input.dtype))")
    target = _as_like(target, input)
    _check_same_size(input, target, op, "Using a target size ({t}) that is different to the "
                     "input size ({i}) is deprecated. Please ensure they have the same size.")
    _check_probabilities(input, "input", op, "; apply a sigmoid first or use "
                         "binary_cross_entropy_with_logits")
    _check_probabilities(target, "target", op)
    return BinaryCrossEntropy(reduction, _constant_weight(weight, input, "weight", op))(input,
                                                                                     target)


class BinaryCrossEntropyWithLogits(_ReducedLoss, Function):
    """``w ((1 - t) x - l log_sigmoid(x))``, ``l = 1 + (pos_weight - 1) t`` (1 without
    ``pos_weight``), reduced, with PyTorch's gradients in PyTorch's order (one node:
    :class:`_ReducedLoss`).

    ``gx = gy (sigmoid(x) - t)``, or ``gy ((pos_weight t + 1 - t) sigmoid(x) - pos_weight t)``:
    finite at x = +-inf (-t pos_weight at -inf, 1 - t at +inf), where the loss itself is NaN
    (as PyTorch's) and differentiating the formula gives ``inf - inf``. ``gt = -gy x``, or
    ``gy (log_sigmoid(-x) - pos_weight log_sigmoid(x))``. ``backward`` builds these from
    differentiable ops, so second order works.
    """

    derivative = ("sigmoid({x0}) - {x1} ((pos_weight*{x1} + 1 - {x1})*sigmoid({x0}) - "
                  "pos_weight*{x1} with pos_weight; * weight, / n for 'mean')",
                  "-{x0} (log_sigmoid(-{x0}) - pos_weight*log_sigmoid({x0}) with pos_weight; "
                  "* weight, / n for 'mean')")

    def __init__(self, reduction: str, weight: Optional[Any], pos_weight: Optional[Any]) -> None:
        super().__init__(reduction, weight)
        self.pos_weight = pos_weight

    def forward(self, x: Any, t: Any) -> Any:
        log_sig = log_sigmoid_array(x)
        with xp.errstate(invalid="ignore"):  # 0 * inf, inf - inf: nan, as PyTorch
            if self.pos_weight is not None:
                log_sig = log_sig * ((self.pos_weight - 1) * t + 1)
            return self._reduce((1 - t) * x - log_sig)

    def backward(self, gy: Tensor) -> tuple:
        x, t = self.inputs
        nx, nt = self.needs_input_grad
        pw = None if self.pos_weight is None else Tensor(self.pos_weight)
        gx = gt = None
        if nx:  # PyTorch's order: the formula, times gy, times the weight, over n
            gx = sigmoid(x) - t if pw is None else (pw * t + 1 - t) * sigmoid(x) - pw * t
            gx = self._finish(gx * gy)
        if nt:
            gt = -x if pw is None else logsigmoid(-x) - logsigmoid(x) * pw
            gt = self._finish(gt * gy)
        return gx, gt


def binary_cross_entropy_with_logits(input: Tensor, target: Any, weight: Any = None,
                                     size_average: Optional[bool] = None,
                                     reduce: Optional[bool] = None, reduction: str = "mean",
                                     pos_weight: Any = None) -> Tensor:
    """Binary cross-entropy on logits, ``BCE(sigmoid(x), t)`` computed stably.

    ``(1 - t) x - l log_sigmoid(x)`` with ``l = 1 + (pos_weight - 1) t``, as PyTorch: no exp
    overflows, and a logit of 50 with target 0 costs exactly 50. One node
    (:class:`BinaryCrossEntropyWithLogits`) with PyTorch's gradients, also at +-inf.

    Args:
        input: logits.
        target: targets in [0, 1], exactly the shape of ``input``.
        weight: rescaling weight, broadcast to the input's shape (a constant: one that
            requires grad is refused, as in PyTorch).
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.
        pos_weight: weight of the positive term, broadcast along the last (class) dimension
            (a constant, as ``weight``).

    Shape:
        input ``(*)``, target ``(*)``; output a scalar, or ``(*)`` with ``'none'``, in the
        promotion of their dtypes (PyTorch's is the target's dtype when the input's is wider).

    Example:
        >>> import chainrule as cr
        >>> F = cr.nn.functional
        >>> F.binary_cross_entropy_with_logits(cr.tensor([50.0]), cr.tensor([0.0])).item()
        50.0
    """
    op = "binary_cross_entropy_with_logits"
    input, reduction = _prepare(input, size_average, reduce, reduction, op)
    input, target = _promoted(input, target)
    _check_same_size(input, target, op, "Target size ({t}) must be the same as input size "
                     "({i})")
    return BinaryCrossEntropyWithLogits(
        reduction, _constant_weight(weight, input, "weight", op),
        _constant_weight(pos_weight, input, "pos_weight", op))(input, target)


# ============================================================================ classification
class _ClassTargets(NamedTuple):
    """Class-index targets, validated: where to gather and how much each entry weighs."""

    safe: Any  # labels with ignored entries replaced by 0, int64, target shape
    keep: Any  # True where the entry is not ignore_index
    weight: Any  # weight[label] (1 without class weights), 0 where ignored; input dtype
    all_kept: bool  # no entry is ignored

    def select_kept(self, a: Any) -> Any:
        """``a`` (per entry: an array or a Tensor of the target's shape) with the ignored
        entries set to 0 by a select, not a product with weight 0, so an inf or NaN there
        (a loss of a row holding inf, an inf upstream gradient) gives 0, as PyTorch."""
        if self.all_kept:
            return a
        if isinstance(a, Tensor):
            return where(Tensor(self.keep), a, 0.0)
        return xp.where(self.keep, a, 0)


def _class_dim(input: Tensor) -> int:
    return 1 if input.ndim >= 2 else 0


def _class_weight(weight: Any, input: Tensor, op: str) -> Optional[Any]:
    if weight is None:
        return None
    w = weight._data if isinstance(weight, Tensor) else xp.asarray(weight)
    n_classes = input.shape[_class_dim(input)]
    if w.shape != (n_classes,):
        raise OpError(f"{op}: weight tensor should be defined either for all {n_classes} "
                      f"classes or no classes but got weight tensor of shape: {w.shape}")
    return w.astype(input.dtype, copy=False)


def _class_targets(input: Tensor, target: Any, weight: Optional[Any], ignore_index: int,
                   op: str) -> _ClassTargets:
    """Check class-index targets against ``input`` (N, C, d1, ...) or unbatched (C,)."""
    t = target._data if isinstance(target, Tensor) else xp.asarray(target)
    if t.dtype.kind not in "iu":
        raise TypeError(f"{op}: expected a target of class indices (an integer dtype), got "
                        f"dtype {t.dtype}")
    if input.ndim == 0:
        raise OpError(f"{op}: input must have at least 1 dimension (C,) or (N, C, ...), "
                      f"got a 0-d tensor")
    expected = () if input.ndim == 1 else (input.shape[0],) + input.shape[2:]
    if t.shape != expected:
        layout = "()" if input.ndim == 1 else "(N,)" if input.ndim == 2 else "(N, d1, ...)"
        raise OpError(f"{op}: expected target of shape {layout} = {expected} for input of "
                      f"shape {input.shape}, got target of shape {t.shape}")
    n_classes = input.shape[_class_dim(input)]
    keep = t != ignore_index
    bad = keep & ((t < 0) | (t >= n_classes))
    if bad.any():
        label = int(t[bad].reshape(-1)[0])
        raise OpIndexError(f"{op}: target label {label} is out of range for {n_classes} classes "
                           f"(labels must be in [0, {n_classes - 1}], or ignore_index="
                           f"{ignore_index})")
    safe = xp.where(keep, t, 0).astype(numpy.int64)
    w = keep.astype(input.dtype) if weight is None else weight[safe] * keep
    return _ClassTargets(safe, keep, w, bool(keep.all()))


def _pick(input: Tensor, safe: Any) -> Tensor:
    """``input[n, safe[n, ...], ...]``: the entry of each target class (a gather)."""
    if input.ndim == 1:
        return reshape(gather(input, 0, safe.reshape(1)), ())
    index = xp.expand_dims(safe, 1)  # (N, d1, ...) -> (N, 1, d1, ...)
    return reshape(gather(input, 1, index), safe.shape)  # (N, 1, d1, ...) -> (N, d1, ...)


def _reduce_weighted(loss: Tensor, total_weight: Any, reduction: str) -> Tensor:
    """Reduce a per-entry loss; 'mean' divides by the total weight of the entries kept."""
    if reduction == "none":
        return loss
    total = sum(loss)
    if reduction == "sum":
        return total
    w = float(total_weight.sum())
    # all ignored: nan, with a zero gradient, as PyTorch
    return total / w if w != 0 else total * 0 + float("nan")


class CrossEntropy(Function):
    """Cross-entropy of logits against class indices in one node: the fused twin of
    :func:`cross_entropy_composed` (``nll_loss(log_softmax(input), target)``, five nodes).

    Forward saves the softmax ``p``; backward is ``(p - onehot(target)) * coef`` with ``coef
    = gy * weight[target]`` (divided by the total weight for ``'mean'``). Ignored entries
    have loss and ``coef`` 0 by a select (an inf logit or an inf upstream there gives 0, as
    PyTorch); with every entry ignored ``'mean'`` is nan and its gradient 0, as in PyTorch.
    ``backward`` builds the formula from differentiable ops, so second order works;
    ``fast_backward`` computes it in place on the saved softmax.
    """

    derivative = "(softmax({x0}) - onehot(target)) * weight[target] (/ total weight for 'mean')"

    def __init__(self, cdim: int, targets: _ClassTargets, reduction: str) -> None:
        self.cdim, self.targets, self.reduction = cdim, targets, reduction

    def _flat_index(self, shape: tuple[int, ...]) -> Any:
        """Flat positions of the target logits in a C-contiguous array of ``shape``."""
        C = shape[self.cdim]
        N = shape[0] if self.cdim == 1 else 1  # 1 for unbatched (C,)
        S = math.prod(shape[2:])  # spatial size; 1 for (N, C) and for unbatched (C,)
        safe = self.targets.safe.reshape(N, S)  # (N, d1, ...) -> (N, S), also when empty
        n = xp.arange(N).reshape(N, 1)  # (N, 1)
        return ((n * C + safe) * S + xp.arange(S)).reshape(-1)  # (N*S,): (n, t, s)

    def forward(self, x: Any) -> Any:
        # shifted logits, (N, C, *), C-contiguous whatever x's layout (a transposed x would
        # give an F-ordered softmax, whose reshape(-1) in fast_backward is a copy)
        z = shift_by_max(xp.ascontiguousarray(x), self.cdim)
        e = xp.exp(z)
        s = e.sum(axis=self.cdim, keepdims=True)  # (N, 1, *)
        self.flat = self._flat_index(x.shape)
        w = self.targets.weight
        # -log p[n, t, s] = log(s) - z[n, t, s]; (N, 1, *) and the picks are both (N*S,)
        loss = (xp.log(s).reshape(-1) - z.reshape(-1)[self.flat]) * w.reshape(-1)
        # (N*S,) -> (N, d1, ...), 0 where ignored (the row may hold inf)
        loss = self.targets.select_kept(loss.reshape(self.targets.safe.shape))
        e /= s
        self.probs = e  # softmax, (N, C, *)
        # backward's d loss / d (-log p) per entry: weight[target], over the total for 'mean'
        self.scale = w
        if self.reduction == "none":
            return loss
        total = loss.sum()
        if self.reduction == "sum":
            return xp.asarray(total)
        total_weight = w.sum()
        if total_weight == 0:  # every entry ignored: nan, with a zero gradient (as PyTorch)
            self.scale = xp.zeros_like(w)
            return xp.asarray(total * xp.nan)
        self.scale = w / total_weight
        return xp.asarray(total / total_weight)

    def backward(self, gy: Tensor) -> Tensor:
        # coef (N, d1, ...) = gy * scale, 0 where ignored (selected, so an inf upstream gives
        # 0 there, as PyTorch); gy is a scalar, or (N, d1, ...) for 'none'; coef broadcasts
        # over the class dimension as (N, 1, d1, ...)
        x = self.inputs[0]
        at_target = xp.zeros(x.shape, bool)
        at_target.reshape(-1)[self.flat] = True
        coef = self.targets.select_kept(gy * Tensor(self.scale))
        coef = unsqueeze(coef, 1) if self.cdim == 1 else coef  # (N, d1, ...) -> (N, 1, d1, ...)
        # softmax * coef, minus coef at the targets only (as fast_backward: an inf coef gives
        # inf - inf there and inf elsewhere, as PyTorch)
        return softmax(x, self.cdim) * coef - where(Tensor(at_target), coef, 0.0)

    def fast_backward(self, gy: Any) -> Any:
        coef = self.targets.select_kept(gy * self.scale)  # (N, d1, ...), as backward
        # (N, 1, d1, ...) broadcast over the class dimension: (N, C, d1, ...)
        g = self.probs * (xp.expand_dims(coef, 1) if self.cdim == 1 else coef)
        g.reshape(-1)[self.flat] -= coef.reshape(-1)
        return g


def cross_entropy_composed(input: Tensor, target: Any, weight: Any = None,
                           ignore_index: int = -100, reduction: str = "mean") -> Tensor:
    """The reference twin of :func:`cross_entropy` (class-index targets, no smoothing):
    ``nll_loss(log_softmax(input, 1), target)`` from primitives."""
    op = "cross_entropy"
    input, reduction = _prepare(input, None, None, reduction, op)
    targets = _class_targets(input, target, _class_weight(weight, input, op), ignore_index, op)
    return _nll(log_softmax(input, _class_dim(input)), targets, reduction)


def nll_loss(input: Tensor, target: Any, weight: Any = None,
             size_average: Optional[bool] = None, ignore_index: int = -100,
             reduce: Optional[bool] = None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class-index targets, given log-probabilities.

    ``loss[n] = -weight[t_n] * input[n, t_n]`` (0 where ``t_n == ignore_index``); ``'mean'``
    divides by the sum of the weights of the entries kept.

    Args:
        input: log-probabilities, ``(N, C)``, ``(N, C, d1, ...)`` or unbatched ``(C,)``.
        target: class indices in [0, C) (int64); a label outside raises ``ValueError``.
        weight: per-class weights ``(C,)``.
        size_average: deprecated, use ``reduction``.
        ignore_index: a target value that contributes neither loss nor weight.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Shape:
        input ``(N, C, d1, ...)``, target ``(N, d1, ...)``; output a scalar, or
        ``(N, d1, ...)`` with ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> logp = cr.tensor([[-0.1, -2.0], [-3.0, -0.2]])
        >>> round(cr.nn.functional.nll_loss(logp, cr.tensor([0, 1])).item(), 4)
        0.15
    """
    op = "nll_loss"
    input, reduction = _prepare(input, size_average, reduce, reduction, op)
    targets = _class_targets(input, target, _class_weight(weight, input, op), ignore_index, op)
    return _nll(input, targets, reduction)


def _nll(logp: Tensor, targets: _ClassTargets, reduction: str) -> Tensor:
    """``-weight[t] * logp[n, t]`` per entry, reduced (nll_loss once the targets are checked)."""
    loss = targets.select_kept(-_pick(logp, targets.safe) * Tensor(targets.weight))
    return _reduce_weighted(loss, targets.weight, reduction)


def cross_entropy(input: Tensor, target: Any, weight: Any = None,
                  size_average: Optional[bool] = None, ignore_index: int = -100,
                  reduce: Optional[bool] = None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of logits: ``nll_loss(log_softmax(input, 1), target)``, stable for
    logits of +-1000.

    Targets are class indices (an integer tensor) or class probabilities (a float tensor of
    the input's shape). With ``label_smoothing`` = e the target becomes a mix of the given
    target (1 - e) and the uniform distribution (e), as in PyTorch. Class indices without
    smoothing (the usual training loss) run as one fused node, :class:`CrossEntropy`.

    Args:
        input: logits, ``(N, C)``, ``(N, C, d1, ...)`` or unbatched ``(C,)``.
        target: class indices ``(N, d1, ...)`` in [0, C), or probabilities shaped like input.
        weight: per-class weights ``(C,)``.
        size_average: deprecated, use ``reduction``.
        ignore_index: a class-index target value to skip (not allowed with probabilities).
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.
        label_smoothing: in [0, 1].

    Shape:
        input ``(N, C, d1, ...)``, target ``(N, d1, ...)`` or ``(N, C, d1, ...)``; output a
        scalar, or ``(N, d1, ...)`` with ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> logits = cr.tensor([[1000.0, -1000.0], [0.0, 0.0]])
        >>> round(cr.nn.functional.cross_entropy(logits, cr.tensor([0, 1])).item(), 4)
        0.3466
    """
    op = "cross_entropy"
    input, reduction = _prepare(input, size_average, reduce, reduction, op)
    if not 0.0 <= label_smoothing <= 1.0:
        raise OpError(f"{op}: label_smoothing must be between 0.0 and 1.0, got "
                      f"{label_smoothing}")
    cdim = _class_dim(input)
    n_classes = input.shape[cdim] if input.ndim else 0
    class_weight = _class_weight(weight, input, op)
    # per-class weights shaped to broadcast along the class dimension: (1, C, 1, ...)
    wview = None if class_weight is None else Tensor(
        class_weight.reshape(tuple(n_classes if i == cdim else 1 for i in range(input.ndim))))
    target_dtype = target.dtype if isinstance(target, Tensor) else xp.asarray(target).dtype
    if target_dtype.kind == "f":  # in the promotion of the two dtypes, as PyTorch
        logp, target = _promoted(log_softmax(input, cdim), target)
        return _cross_entropy_probs(logp, target, wview, ignore_index, reduction,
                                    label_smoothing, op)
    targets = _class_targets(input, target, class_weight, ignore_index, op)
    if label_smoothing == 0:  # the common case: one fused node
        return CrossEntropy(cdim, targets, reduction)(input)
    logp = log_softmax(input, cdim)
    nll = _nll(logp, targets, reduction)
    # the uniform part: -sum_c weight[c] log p_c per entry, 0 where ignored
    smooth = -sum(logp if wview is None else logp * wview, cdim)
    smooth = targets.select_kept(smooth)  # 0 where ignored, as _nll
    smooth = _reduce_weighted(smooth, targets.weight, reduction)
    return (1 - label_smoothing) * nll + smooth * (label_smoothing / n_classes)


def _cross_entropy_probs(logp: Tensor, target: Tensor, wview: Optional[Tensor],
                         ignore_index: int, reduction: str, label_smoothing: float,
                         op: str) -> Tensor:
    """Cross-entropy against class probabilities: ``-sum_c w_c t_c log p_c``."""
    if target.shape != logp.shape:
        raise OpError(f"{op}: a target of class probabilities must have the input's shape "
                      f"{logp.shape}, got {target.shape} (use an integer tensor for class "
                      f"indices)")
    if ignore_index >= 0:
        raise OpError(f"{op}: ignore_index is not supported for floating point target "
                      f"(class probabilities)")
    cdim = _class_dim(logp)
    n_classes = logp.shape[cdim]
    if label_smoothing > 0:
        target = target * (1 - label_smoothing) + label_smoothing / n_classes
    prod = logp * target if wview is None else logp * target * wview
    if reduction == "none":
        return -sum(prod, cdim)
    if reduction == "sum":
        return -sum(prod)
    n_entries = logp._data.size // n_classes
    return -sum(prod) / n_entries if n_entries else sum(prod) * float("nan")


# ============================================================================ robust regression
def _broadcast_pair(input: Tensor, target: Tensor, op: str) -> tuple[Tensor, Tensor]:
    """``torch.broadcast_tensors(input, target)``: both expanded to their common shape (the
    gradient sums back over the expanded axes), or PyTorch's error naming both shapes."""
    if input.shape == target.shape:
        return input, target
    err = broadcast_error(op, input.shape, target.shape)
    if err is not None:
        raise err
    shape = tuple(numpy.broadcast_shapes(input.shape, target.shape))
    return expand(input, shape), expand(target, shape)


class _PiecewiseLoss(_ReducedLoss):
    """Mixed into a loss Function quadratic for ``|x - t| < k`` and linear beyond (one node),
    with PyTorch's gradient (``+-slope`` for ``|d| >= k``, the kink taking the linear side;
    the quadratic piece's inside) and its second derivative (strictly inside only).
    Subclasses give the per-element loss (``_loss``), ``_slope`` and ``_inner``."""

    def __init__(self, reduction: str, k: float) -> None:
        super().__init__(reduction, None)
        self.k = k

    def _loss(self, z: Any) -> Any:
        """The per-element loss of ``z = |x - t|`` (an array)."""
        raise NotImplementedError

    def _slope(self) -> float:
        """The linear piece's slope: the gradient is +-slope for ``|d| >= k``."""
        raise NotImplementedError

    def _inner(self, d: Tensor, gy: Tensor) -> Tensor:
        """The quadratic piece's gradient times the upstream, in PyTorch's order."""
        raise NotImplementedError

    def forward(self, x: Any, t: Any) -> Any:
        with xp.errstate(invalid="ignore", over="ignore"):  # inf - inf, overflow: as PyTorch
            return self._reduce(self._loss(xp.abs(x - t)))

    def backward(self, gy: Tensor) -> tuple:
        x, t = self.inputs
        nx, nt = self.needs_input_grad
        d = x - t
        k, slope = self.k, self._slope()
        with xp.errstate(invalid="ignore"):  # NaN compares false: the inner branch, as torch
            below, above = Tensor(d._data <= -k), Tensor(d._data >= k)
        # (+-slope times the upstream, or the inner piece's), then / n for 'mean'
        g = where(below, gy * -slope, where(above, gy * slope, self._inner(d, gy)))
        g = self._finish(g)
        return (g if nx else None), (-g if nt else None)


class SmoothL1(_PiecewiseLoss, Function):
    """``0.5 d^2 / beta`` for ``|d| < beta``, else ``|d| - 0.5 beta`` (``d = x - t``), reduced,
    in one node with PyTorch's gradient ``clamp(d / beta, -1, 1)`` (``+-1`` at the kink)."""

    node_name = "SmoothL1LossBackward0"  # PyTorch's name for the same op

    derivative = ("{x0}-{x1} over beta inside |.| < beta, else sign (/ n for 'mean')",
                  "{x1}-{x0} over beta inside |.| < beta, else -sign (/ n for 'mean')")

    def _loss(self, z: Any) -> Any:
        beta = self.k
        return xp.where(z < beta, 0.5 * z * z / beta, z - 0.5 * beta)  # PyTorch's expression

    def _slope(self) -> float:
        return 1.0

    def _inner(self, d: Tensor, gy: Tensor) -> Tensor:
        return d * gy / self.k  # PyTorch's order: x * grad / beta


class Huber(_PiecewiseLoss, Function):
    """``0.5 d^2`` for ``|d| < delta``, else ``delta (|d| - 0.5 delta)``, reduced, in one node
    with PyTorch's gradient ``clamp(d, -delta, delta)``."""

    node_name = "HuberLossBackward0"  # PyTorch's name for the same op

    derivative = ("{x0}-{x1} inside |.| < delta, else delta*sign (/ n for 'mean')",
                  "{x1}-{x0} inside |.| < delta, else -delta*sign (/ n for 'mean')")

    def _loss(self, z: Any) -> Any:
        delta = self.k
        return xp.where(z < delta, 0.5 * z * z, delta * (z - 0.5 * delta))

    def _slope(self) -> float:
        return self.k

    def _inner(self, d: Tensor, gy: Tensor) -> Tensor:
        return d * gy


def _robust_inputs(input: Any, target: Any, size_average: Optional[bool],
                   reduce: Optional[bool], reduction: str, op: str) -> tuple[Tensor, Tensor, str]:
    """The first steps of smooth_l1_loss and huber_loss, as PyTorch's: promote, warn on a
    target of another size, broadcast both."""
    input, reduction = _prepare(input, size_average, reduce, reduction, op)
    input, target = _promoted(input, target)
    if target.shape != input.shape and broadcast_error(op, input.shape, target.shape) is None:
        warnings.warn(f"{op}: Using a target size ({target.shape}) that is different to the "
                      f"input size ({input.shape}). This will likely lead to incorrect results "
                      f"due to broadcasting. Please ensure they have the same size.",
                      UserWarning, stacklevel=3)
    input, target = _broadcast_pair(input, target, op)
    return input, target, reduction


def smooth_l1_loss(input: Tensor, target: Any, size_average: Optional[bool] = None,
                   reduce: Optional[bool] = None, reduction: str = "mean",
                   beta: float = 1.0) -> Tensor:
    """Smooth L1: ``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``, reduced.

    ``d = input - target``. Quadratic near 0 (a gradient that shrinks with the error), linear
    beyond ``beta`` (a gradient of +-1, robust to outliers). ``beta = 0`` is
    :func:`l1_loss`, as in PyTorch. One node, ``SmoothL1LossBackward0``, as PyTorch's.

    Args:
        input: predictions.
        target: targets, the same shape as ``input`` (another shape warns, then broadcasts,
            as in PyTorch).
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.
        beta: the threshold between the two pieces, >= 0.

    Shape:
        input ``(*)``, target ``(*)``; output a scalar, or ``(*)`` with ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.smooth_l1_loss(cr.tensor([0.5, 3.0]), cr.zeros(2),
        ...                                 reduction='none').tolist()
        [0.125, 2.5]
    """
    op = "smooth_l1_loss"
    input, target, reduction = _robust_inputs(input, target, size_average, reduce, reduction,
                                              op)
    if beta < 0:
        raise OpError(f"{op}: smooth_l1_loss does not support negative values for beta "
                      f"(got beta={beta})")
    if beta == 0:  # PyTorch's l1_loss
        return _reduce(abs(input - target), reduction)
    return SmoothL1(reduction, float(beta))(input, target)


def huber_loss(input: Tensor, target: Any, reduction: str = "mean", delta: float = 1.0,
               weight: Any = None) -> Tensor:
    """Huber loss: ``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``.

    ``d = input - target``; ``huber_loss(delta=b) == b * smooth_l1_loss(beta=b)``. One node,
    ``HuberLossBackward0``, as PyTorch's; with ``weight`` the per-element loss is multiplied
    by it before the reduction (``'mean'`` divides by the number of elements).

    Args:
        input: predictions.
        target: targets, the same shape as ``input`` (another shape warns, then broadcasts).
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.
        delta: the threshold between the two pieces, > 0.
        weight: per-element weights, exactly the input's shape.

    Shape:
        input ``(*)``, target ``(*)``, weight ``(*)``; output a scalar, or ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.huber_loss(cr.tensor([0.5, 3.0]), cr.zeros(2), delta=2.0,
        ...                             reduction='none').tolist()
        [0.125, 4.0]
    """
    op = "huber_loss"
    shape = input.shape if isinstance(input, Tensor) else None
    input, target, reduction = _robust_inputs(input, target, None, None, reduction, op)
    if not delta > 0:
        raise OpError(f"{op}: huber_loss does not support non-positive values for delta "
                      f"(got delta={delta})")
    if weight is None:
        return Huber(reduction, float(delta))(input, target)
    if not isinstance(weight, Tensor):
        weight = _as_like(weight, input)
    if weight.shape != shape:  # PyTorch's ValueError
        raise ValueError(f"{op}: Weights and input must have the same size (weight of shape "
                         f"{weight.shape}, input of shape {shape})")
    return _reduce(Huber("none", float(delta))(input, target) * weight, reduction)


# ============================================================================ divergences
class XLogY(Function):
    """``x * log(y)``, 0 where ``x == 0`` (unless y is NaN), as ``torch.xlogy``: the entropy
    term ``t log t`` of :func:`kl_div`, finite at t = 0. Gradients as PyTorch's:
    ``xlogy(x != 0, y)`` for x and ``x / y`` for y."""

    node_name = "XlogyBackward0"  # PyTorch's name for the same op

    derivative = ("log({x1}) (0 where {x0} == 0)", "{x0}/{x1}")

    def forward(self, x: Any, y: Any) -> Any:
        with xp.errstate(divide="ignore", invalid="ignore"):
            out = x * xp.log(y)
        return xp.where((x == 0) & ~xp.isnan(y), xp.zeros((), out.dtype), out)

    def backward(self, gy: Tensor) -> tuple:
        x, y = self.inputs
        nx, ny = self.needs_input_grad
        gx = gy * XLogY()(Tensor((x._data != 0).astype(x.dtype)), y) if nx else None
        return (None if gx is None else unbroadcast(gx, x.shape),
                unbroadcast(gy * x / y, y.shape) if ny else None)


_KL_REDUCTIONS = ("mean", "batchmean", "sum", "none")


def kl_div(input: Tensor, target: Any, size_average: Optional[bool] = None,
           reduce: Optional[bool] = None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence of ``target`` from ``input``, both over the same support.

    ``input`` holds log-probabilities; the elementwise loss is ``t (log t - input)``
    (``xlogy(t, t) - t * input``, 0 where ``t == 0``), or ``exp(t) (t - input)`` with
    ``log_target=True`` (``target`` then holds log-probabilities too). Composed from
    primitives, as PyTorch's, so gradients of any order are PyTorch's.

    Args:
        input: log-probabilities.
        target: probabilities (or log-probabilities with ``log_target``), broadcast with
            ``input``.
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'batchmean'`` (the sum over the batch size ``input.size(0)``: the KL
            divergence's definition) | ``'mean'`` (over every element; warns, as PyTorch)
            | ``'sum'`` | ``'none'``.
        log_target: ``target`` is given as log-probabilities.

    Shape:
        input ``(*)``, target ``(*)``; output a scalar, or ``(*)`` with ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> logp = cr.tensor([[0.5, 0.5]]).log()
        >>> round(cr.nn.functional.kl_div(logp, cr.tensor([[0.9, 0.1]]),
        ...                               reduction='batchmean').item(), 4)
        0.3681
    """
    op = "kl_div"
    if size_average is not None or reduce is not None:
        reduction = legacy_reduction(size_average, reduce, reduction)
        batchmean = False
    else:
        if reduction not in _KL_REDUCTIONS:
            raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction; "
                             f"expected one of {_KL_REDUCTIONS}")
        if reduction == "mean":
            warnings.warn("reduction: 'mean' divides the total loss by both the batch size and "
                          "the support size.'batchmean' divides only by the batch size, and "
                          "aligns with the KL div math definition.'mean' will be changed to "
                          "behave the same as 'batchmean' in the next major release.",
                          UserWarning, stacklevel=2)
        batchmean = reduction == "batchmean"
        if batchmean:
            reduction = "sum"
    input = _as_input(input, op)
    input, target = _promoted(input, target)
    if log_target:
        loss = exp(target) * (target - input)
    else:
        loss = XLogY()(target, target) - target * input
    reduced = _reduce(loss, reduction)
    if batchmean and input.ndim != 0:
        reduced = reduced / input.shape[0]
    return reduced


# ============================================================================ similarity
class ClampMinValue(Function):
    """``max(x, lower)`` for the value only: the gradient passes as if nothing were clamped.

    PyTorch's ``cosine_similarity`` clamps its norms in place under ``no_grad``, so their values
    are clamped and their gradients are not; one out-of-place node says the same (and exports:
    an in-place write outside the graph cannot be traced).
    """

    derivative = "1 (the clamp changes the value only)"

    def __init__(self, lower: float) -> None:
        self.lower = lower

    def forward(self, x: Any) -> Any:
        return xp.maximum(x, xp.asarray(self.lower, x.dtype))  # NaN stays NaN, as clamp_min_

    def backward(self, gy: Tensor) -> Tensor:
        return gy


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim``.

    As PyTorch 2.13 computes it: each input divided by its own norm first (the result stays
    in [-1, 1]), each norm clamped below at ``eps`` for the value only, the gradient
    flowing as through the unclamped norm: ``sum((x1 / max(|x1|, eps)) * (x2 / max(|x2|,
    eps)), dim)``. The inputs broadcast; integer inputs are converted to the other's
    floating dtype.

    Args:
        x1: first input.
        x2: second input, broadcastable with ``x1``.
        dim: the dimension of the vectors.
        eps: the smallest norm used in the division.

    Shape:
        x1 ``(*1, D, *2)``, x2 broadcastable to it; output ``(*1, *2)``, the broadcast shape
        without ``dim``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.cosine_similarity(cr.tensor([[1.0, 0.0]]),
        ...                                    cr.tensor([[1.0, 1.0]])).tolist()
        [0.7071067690849304]
    """
    op = "cosine_similarity"
    for name, x in (("x1", x1), ("x2", x2)):
        if not isinstance(x, Tensor):
            raise TypeError(f"{op}: {name} must be a Tensor, got {type(x).__name__}")
    dtype = result_dtype(x1, x2)
    if numpy.dtype(dtype).kind != "f":
        raise OpError(f"{op}: expected common dtype to be floating point, yet common dtype "
                      f"is {numpy.dtype(dtype)} (x1 {x1.dtype}, x2 {x2.dtype})")
    x1 = x1 if x1.dtype.kind == "f" else x1.to(dtype)
    x2 = x2 if x2.dtype.kind == "f" else x2.to(dtype)
    x1, x2 = _broadcast_pair(x1, x2, op)
    # the norms clamped for their value only: PyTorch's value and gradient
    n1 = ClampMinValue(eps)(vector_norm(x1, 2, dim=dim, keepdim=True))  # (*1, 1, *2)
    n2 = ClampMinValue(eps)(vector_norm(x2, 2, dim=dim, keepdim=True))
    return sum((x1 / n1) * (x2 / n2), dim)


# PyTorch's EPSILON of cosine_embedding_loss's squared norms: 1e-12 as a float32 constant
_COSINE_EPS = float(numpy.float32(1e-12))


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Any, margin: float = 0.0,
                          size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                          reduction: str = "mean") -> Tensor:
    """Cosine embedding loss: ``1 - cos(x1, x2)`` where ``y == 1``, ``max(0, cos(x1, x2) -
    margin)`` where ``y == -1``, reduced.

    The cosine is PyTorch's for this loss: ``sum(x1 x2) / sqrt((sum(x1^2) + 1e-12)
    (sum(x2^2) + 1e-12))`` over the last dimension (not :func:`cosine_similarity`'s), so a
    zero vector gives cosine 0. Composed from primitives, as PyTorch's.

    Args:
        input1: ``(N, D)`` or unbatched ``(D,)``.
        input2: the same shape.
        target: ``(N,)`` or ``()`` of 1 and -1 (other values contribute 0).
        margin: in [-1, 1]; 0 to 0.5 is suggested.
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Shape:
        input1, input2 ``(N, D)``, target ``(N,)``; output a scalar, or ``(N,)`` with
        ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> a, b = cr.tensor([[1.0, 0.0], [1.0, 0.0]]), cr.tensor([[1.0, 1.0], [0.0, 1.0]])
        >>> cr.nn.functional.cosine_embedding_loss(a, b, cr.tensor([1, -1]),
        ...                                        reduction='none').tolist()
        [0.2928932309150696, 0.0]
    """
    op = "cosine_embedding_loss"
    input1, reduction = _prepare(input1, size_average, reduce, reduction, op)
    input2 = _as_input(input2, op)
    target = target if isinstance(target, Tensor) else Tensor(xp.asarray(target))
    if target.ndim not in (0, 1):
        raise OpError(f"{op}: 0D or 1D target tensor expected, multi-target not supported "
                      f"(got target of shape {target.shape})")
    want = 2 if target.ndim == 1 else 1
    if input1.ndim != want:
        raise OpError(f"{op}: {target.ndim}D target tensor expects {want}D input tensors, but "
                      f"found inputs with sizes {input1.shape} and {input2.shape}.")
    d = target.ndim  # the dimension of the vectors
    prod_sum = sum(input1 * input2, d)
    mag_square1 = sum(input1 * input1, d) + _COSINE_EPS
    mag_square2 = sum(input2 * input2, d) + _COSINE_EPS
    cos = prod_sum / sqrt(mag_square1 * mag_square2)
    zeros = Tensor(xp.zeros(cos.shape, cos.dtype))
    pos = 1 - cos
    neg = clamp_min(cos - margin, 0)
    t = target._data
    output = where(Tensor(t == 1), pos, zeros) + where(Tensor(t == -1), neg, zeros)
    return _reduce(output, reduction)


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Any, margin: float = 0.0,
                        size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                        reduction: str = "mean") -> Tensor:
    """Margin ranking loss: ``max(0, -y (x1 - x2) + margin)``, reduced.

    ``y = 1`` says ``x1`` should rank higher than ``x2`` (by at least ``margin``), ``y = -1``
    lower. Composed from primitives, as PyTorch's (the three broadcast together).

    Args:
        input1: scores.
        input2: scores, with ``input1``'s number of dimensions.
        target: 1 or -1 per pair, with ``input1``'s number of dimensions.
        margin: the margin the ranking must hold by.
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Shape:
        input1, input2, target ``(N,)`` or ``()``; output a scalar, or ``(N,)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.functional.margin_ranking_loss(cr.tensor([2.0, 1.0]), cr.tensor([1.0, 2.0]),
        ...                                      cr.tensor([1.0, 1.0]), reduction='none').tolist()
        [0.0, 1.0]
    """
    op = "margin_ranking_loss"
    input1, reduction = _prepare(input1, size_average, reduce, reduction, op)
    input2 = _as_input(input2, op)
    target = target if isinstance(target, Tensor) else Tensor(xp.asarray(target))
    if not input1.ndim == input2.ndim == target.ndim:
        raise OpError(f"{op}: All input tensors should have same dimension but got sizes: "
                      f"input1: {input1.shape}, input2: {input2.shape}, target: "
                      f"{target.shape}")
    return _reduce(clamp_min(-target * (input1 - input2) + margin, 0), reduction)


# ============================================================================ CTC
def _logsumexp3(a: Any, b: Any, c: Any) -> Any:
    """``log(exp(a) + exp(b) + exp(c))`` as PyTorch's CTC kernel computes it: shifted by the
    largest, a shift of 0 where all three are -inf (so the result is -inf, not NaN)."""
    m = xp.maximum(xp.maximum(a, b), c)
    m = xp.where(m == -xp.inf, xp.zeros((), m.dtype), m)
    with xp.errstate(invalid="ignore", divide="ignore"):  # log(0) = -inf: no path
        return xp.log(xp.exp(a - m) + xp.exp(b - m) + xp.exp(c - m)) + m


class CTCLoss(Function):
    """The negative log-likelihood of each target sequence under connectionist temporal
    classification, one value per batch entry, with PyTorch's gradient.

    The alignments of target ``l`` (length L) are paths over the extended target ``l'`` =
    (blank, l1, blank, ..., lL, blank) of length 2L + 1. Forward runs the alpha recursion in
    log space: ``a[t, s] = lse(a[t-1, s], a[t-1, s-1], a[t-1, s-2]) + lp[t, l'_s]`` (the skip
    over a blank only between different labels); ``nll = -lse(a[T-1, 2L], a[T-1, 2L-1])``.
    The gradient runs the beta recursion backwards in time and gives, as PyTorch's,
    ``exp(lp[t, c]) - exp(lse_{s: l'_s = c}(a[t, s] + b[t, s]) + nll - lp[t, c])`` (times the
    upstream): the gradient of the loss with respect to the logits when ``lp`` is a
    log_softmax of them, which is what PyTorch returns for ``lp`` too (0 for t past the
    entry's input length; 0 for an infinite loss with ``zero_infinity``). First order only,
    as in PyTorch (its backward is not differentiable).
    """

    node_name = "CtcLossBackward0"  # PyTorch's name for the same op

    derivative = "exp({x0}) - exp(lse(alpha + beta at l'_s = c) + nll - {x0}) (0 past the length)"

    double_backward_hint = "; ctc_loss has no second derivative (nor has PyTorch's)"

    def __init__(self, targets: Any, input_lengths: Any, target_lengths: Any, blank: int,
                 zero_infinity: bool) -> None:
        self.targets = targets  # (N, S) int64, padded
        self.input_lengths, self.target_lengths = input_lengths, target_lengths  # (N,) int64
        self.blank, self.zero_infinity = blank, zero_infinity

    def _extended(self, N: int) -> tuple[Any, Any, Any]:
        """l' (N, 2S + 1), where the skip s-2 -> s is allowed (N, 2S + 1), and 2L + 1 (N,)."""
        S = self.targets.shape[1]
        ext = xp.full((N, 2 * S + 1), self.blank, dtype=numpy.int64)
        ext[:, 1::2] = self.targets
        skip = xp.zeros(ext.shape, bool)
        skip[:, 3::2] = ext[:, 3::2] != ext[:, 1:-2:2]  # a label unlike the one before
        return ext, skip, 2 * self.target_lengths + 1

    def forward(self, lp: Any) -> Any:  # lp (T, N, C) log-probabilities
        T, N, _ = lp.shape
        ext, skip, n_ext = self._extended(N)
        S2 = ext.shape[1]
        neg_inf = xp.asarray(-xp.inf, lp.dtype)
        rows = xp.arange(N)[:, None]
        inside = xp.arange(S2)[None, :] < n_ext[:, None]  # (N, 2S + 1): s < 2L + 1
        alpha = xp.full((T, N, S2), neg_inf, lp.dtype)
        if T:
            alpha[0, :, :2] = xp.where(inside[:, :2], lp[0][rows, ext[:, :2]], neg_inf)
        for t in range(1, T):
            prev = alpha[t - 1]
            a1 = xp.concatenate([xp.full((N, 1), neg_inf), prev[:, :-1]], axis=1)
            a2 = xp.concatenate([xp.full((N, 2), neg_inf), prev[:, :-2]], axis=1)
            a2 = xp.where(skip, a2, neg_inf)
            alpha[t] = xp.where(inside, _logsumexp3(prev, a1, a2) + lp[t][rows, ext], neg_inf)
        self.alpha, self.ext, self.n_ext = alpha, ext, n_ext
        nll = xp.empty(N, lp.dtype)
        for b in range(N):
            tb, L2 = int(self.input_lengths[b]), int(n_ext[b]) - 1  # L2 = 2L
            if tb == 0:  # no frames: log 1 for an empty target, else log 0
                nll[b] = -0.0 if L2 == 0 else xp.inf
                continue
            last = alpha[tb - 1, b]
            second = last[L2 - 1] if L2 > 0 else neg_inf
            nll[b] = -_logsumexp3(last[L2], second, neg_inf)
        self.nll = nll
        return nll

    def fast_backward(self, gy: Any) -> Any:  # gy (N,)
        lp = self.inputs[0]._data
        T, N, C = lp.shape
        ext, n_ext, alpha = self.ext, self.n_ext, self.alpha
        S2 = ext.shape[1]
        neg_inf = xp.asarray(-xp.inf, lp.dtype)
        grad = xp.zeros_like(lp)
        for b in range(N):
            tb, n = int(self.input_lengths[b]), int(n_ext[b])
            nll = self.nll[b]
            if tb == 0 or (self.zero_infinity and nll == xp.inf):
                continue
            e, lpb = ext[b, :n], lp[:tb, b]  # (2L + 1,), (Tb, C)
            skip = xp.zeros(n, bool)
            skip[:n - 2] = (e[:n - 2] != e[2:]) & (xp.arange(n - 2) % 2 == 1)  # s -> s + 2
            beta = xp.full((tb, n), neg_inf, lp.dtype)
            beta[tb - 1, n - 1] = lpb[tb - 1, self.blank]
            if n > 1:
                beta[tb - 1, n - 2] = lpb[tb - 1, e[n - 2]]
            for t in range(tb - 2, -1, -1):
                nxt = beta[t + 1]
                b1 = xp.concatenate([nxt[1:], xp.full(1, neg_inf)])  # beta[t+1, s+1]
                b2 = xp.concatenate([nxt[2:], xp.full(min(n, 2), neg_inf)])  # s + 2
                b2 = xp.where(skip, b2, neg_inf)
                beta[t] = _logsumexp3(nxt, b1, b2) + lpb[t, e]
            ab = alpha[:tb, b, :n] + beta  # (Tb, 2L + 1)
            lcab = xp.full((tb, C), neg_inf, lp.dtype)  # lse over s with l'_s = c
            for s in range(n):
                c = e[s]
                lcab[:, c] = _logsumexp3(lcab[:, c], ab[:, s], neg_inf)
            with xp.errstate(invalid="ignore", over="ignore"):
                grad[:tb, b] = (xp.exp(lpb) - xp.exp(lcab + nll - lpb)) * gy[b]
        return grad


def _lengths(x: Any, name: str, op: str) -> Any:
    a = x._data if isinstance(x, Tensor) else xp.asarray(x)
    if a.dtype.kind not in "iu" and a.size:
        raise TypeError(f"{op}: {name} must hold integers, got dtype {a.dtype}")
    return a.astype(numpy.int64).reshape(-1)


def ctc_loss(log_probs: Tensor, targets: Any, input_lengths: Any, target_lengths: Any,
             blank: int = 0, reduction: str = "mean", zero_infinity: bool = False) -> Tensor:
    """Connectionist temporal classification loss: ``-log p(target | log_probs)`` summed over
    every alignment of the target to the input frames (blanks and repeats), PyTorch's values
    and gradients (:class:`CTCLoss`).

    Args:
        log_probs: ``(T, N, C)`` or unbatched ``(T, C)`` log-probabilities (a log_softmax
            over C; the gradient is PyTorch's, right for that case).
        targets: ``(N, S)`` padded class indices, or the ``N`` targets concatenated
            ``(sum(target_lengths),)``; never ``blank``.
        input_lengths: ``(N,)`` frames of each entry, <= T (a tensor, list or tuple).
        target_lengths: ``(N,)`` length of each target, <= S.
        blank: the blank class.
        reduction: ``'mean'`` (each loss over its target length, then the batch mean) |
            ``'sum'`` | ``'none'``.
        zero_infinity: an impossible alignment (an infinite loss) gives 0 and a zero
            gradient, instead of inf and NaN.

    Shape:
        output a scalar, or ``(N,)`` (``()`` unbatched) with ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> lp = cr.full((2, 1, 2), 0.5).log()       # T=2, N=1, C=2: each frame even odds
        >>> # paths for target [1]: (1, 1), (0, 1), (1, 0): 3 of the 4, loss -log(3/4)
        >>> round(cr.nn.functional.ctc_loss(lp, cr.tensor([[1]]), [2], [1], reduction='sum')
        ...       .item(), 4)
        0.2877
    """
    op = "ctc_loss"
    check_reduction(reduction, op)
    log_probs = _as_input(log_probs, op)
    if log_probs.ndim not in (2, 3):
        raise OpError(f"{op}: log_probs must be (T, N, C) or unbatched (T, C), got shape "
                      f"{log_probs.shape}")
    batched = log_probs.ndim == 3
    lp = log_probs if batched else unsqueeze(log_probs, 1)  # (T, C) -> (T, 1, C)
    T, N, C = lp.shape
    t = targets._data if isinstance(targets, Tensor) else xp.asarray(targets)
    t = t.astype(numpy.int64)
    if not batched and t.ndim == 1:
        t = t.reshape(1, -1)
    il, tl = _lengths(input_lengths, "input_lengths", op), _lengths(target_lengths,
                                                                     "target_lengths", op)
    if not 0 <= blank < C:
        raise OpError(f"{op}: blank must be in label range (blank={blank}, {C} classes)")
    if il.size != N:
        raise OpError(f"{op}: input_lengths must be of size batch_size ({N}), got "
                      f"{il.size}")
    if tl.size != N:
        raise OpError(f"{op}: target_lengths must be of size batch_size ({N}), got "
                      f"{tl.size}")
    for name, a in (("input_lengths", il), ("target_lengths", tl)):
        if (a < 0).any():
            raise OpError(f"{op}: Expected {name} to have value at least 0, but got value "
                          f"{int(a.min())}")
    if (il > T).any():
        raise OpError(f"{op}: Expected input_lengths to have value at most {T}, but got "
                      f"value {int(il.max())} (log_probs of shape {log_probs.shape})")
    if t.ndim == 1:  # concatenated: split into a padded (N, S)
        if t.size != int(tl.sum()):
            raise OpError(f"{op}: Expected targets to have size {int(tl.sum())} (the sum of "
                          f"target_lengths), got size {t.size}")
        S = int(tl.max()) if N else 0
        padded = xp.zeros((N, S), numpy.int64)
        ends = numpy.cumsum(tl)
        for b in range(N):
            padded[b, :tl[b]] = t[ends[b] - tl[b]:ends[b]]
        t = padded
    elif t.ndim == 2:
        if t.shape[0] != N or (N and int(tl.max()) > t.shape[1]):
            need = int(tl.max()) if N else 0
            raise OpError(f"{op}: Expected targets of shape (N={N}, S >= {need}), got "
                          f"{t.shape}")
    else:
        raise OpError(f"{op}: targets must be (N, S) padded or 1-D concatenated, got shape "
                      f"{t.shape}")
    kept = xp.arange(t.shape[1])[None, :] < tl[:, None]
    if ((t < 0) | (t >= C))[kept].any():
        raise OpIndexError(f"{op}: target labels must be in [0, {C - 1}], got "
                           f"{int(t[kept & ((t < 0) | (t >= C))][0])}")
    res = CTCLoss(t, il, tl, blank, zero_infinity)(lp)  # (N,)
    if zero_infinity:
        res = where(Tensor(res._data == xp.inf), 0.0, res)
    if reduction == "mean":
        return mean(res / Tensor(xp.maximum(tl, 1).astype(res.dtype)))
    if reduction == "sum":
        return sum(res)
    return res if batched else reshape(res, ())
