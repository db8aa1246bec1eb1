"""Loss layers: thin modules around the losses of :mod:`chainrule.ops.loss`.

As in PyTorch, the class weights of ``BCELoss``, ``BCEWithLogitsLoss``, ``NLLLoss`` and
``CrossEntropyLoss`` (and ``pos_weight``) are registered buffers, so they appear in
``state_dict`` when given.
"""
from __future__ import annotations

from typing import Any, Optional

from ..autograd.tensor import Tensor
from ..ops.loss import check_reduction, legacy_reduction
from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                 reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = legacy_reduction(size_average, reduce, reduction)
        check_reduction(self.reduction, type(self).__name__)


class _WeightedLoss(_Loss):
    def __init__(self, weight: Optional[Tensor] = None, size_average: Optional[bool] = None,
                 reduce: Optional[bool] = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class MSELoss(_Loss):
    """Mean squared error ``(input - target)^2``, reduced by ``reduction``.

    Args:
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Shape:
        input ``(*)``, target ``(*)`` (a different shape warns, then broadcasts, as in
        PyTorch); output a scalar, or ``(*)`` with ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.MSELoss()(cr.tensor([0.0, 2.0]), cr.tensor([1.0, 1.0])).item()
        1.0
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class L1Loss(_Loss):
    """Mean absolute error ``|input - target|``, reduced by ``reduction``.

    Args:
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Shape:
        input ``(*)``, target ``(*)``; output a scalar, or ``(*)`` with ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.L1Loss(reduction='sum')(cr.tensor([0.0, 2.0]), cr.tensor([1.0, 1.0])).item()
        2.0
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities (logs clamped at -100, as PyTorch).

    Args:
        weight: rescaling weight broadcast to the input's shape.
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Shape:
        input ``(*)`` in [0, 1], target exactly the same shape (else ``ValueError``); output
        a scalar, or ``(*)`` with ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> round(cr.nn.BCELoss()(cr.tensor([0.5]), cr.tensor([1.0])).item(), 4)
        0.6931
    """

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid plus binary cross-entropy in one stable function of the logits.

    Args:
        weight: rescaling weight broadcast to the input's shape.
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.
        pos_weight: weight of positive examples, broadcast along the last dimension.

    Shape:
        input ``(*)`` logits, target exactly the same shape; output a scalar, or ``(*)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.BCEWithLogitsLoss()(cr.tensor([50.0]), cr.tensor([0.0])).item()
        50.0
    """

    def __init__(self, weight: Optional[Tensor] = None, size_average: Optional[bool] = None,
                 reduce: Optional[bool] = None, reduction: str = "mean",
                 pos_weight: Optional[Tensor] = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  reduction=self.reduction,
                                                  pos_weight=self.pos_weight)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of class indices, given log-probabilities.

    Args:
        weight: per-class weights ``(C,)``.
        size_average: deprecated, use ``reduction``.
        ignore_index: a target value that contributes nothing.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` (divided by the total weight of the kept targets) | ``'sum'``
            | ``'none'``.

    Shape:
        input ``(N, C)`` or ``(N, C, d1, ...)``, target ``(N,)`` or ``(N, d1, ...)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.NLLLoss()(cr.tensor([[-1.0, -2.0]]), cr.tensor([1])).item()
        2.0
    """

    def __init__(self, weight: Optional[Tensor] = None, size_average: Optional[bool] = None,
                 ignore_index: int = -100, reduce: Optional[bool] = None,
                 reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.nll_loss(input, target, self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits against class indices or class probabilities.

    Args:
        weight: per-class weights ``(C,)``.
        size_average: deprecated, use ``reduction``.
        ignore_index: a class-index target value that contributes nothing.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.
        label_smoothing: in [0, 1]; mixes the target with the uniform distribution.

    Shape:
        input ``(N, C)`` or ``(N, C, d1, ...)``; target ``(N,)``/``(N, d1, ...)`` int64 or
        the input's shape (probabilities); output a scalar, or ``(N, d1, ...)``.

    Example:
        >>> import chainrule as cr
        >>> loss = cr.nn.CrossEntropyLoss()(cr.zeros(4, 10), cr.tensor([0, 1, 2, 3]))
        >>> round(loss.item(), 4)                  # log(10)
        2.3026
    """

    def __init__(self, weight: Optional[Tensor] = None, size_average: Optional[bool] = None,
                 ignore_index: int = -100, reduce: Optional[bool] = None,
                 reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.cross_entropy(input, target, self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class SmoothL1Loss(_Loss):
    """Smooth L1: quadratic (``0.5 d^2 / beta``) below ``beta``, linear (``|d| - 0.5 beta``)
    above, reduced by ``reduction``.

    Args:
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.
        beta: the threshold between the pieces, >= 0 (0 is the L1 loss).

    Shape:
        input ``(*)``, target ``(*)`` (another shape warns, then broadcasts, as PyTorch);
        output a scalar, or ``(*)`` with ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.SmoothL1Loss(beta=0.5)(cr.tensor([0.25, 2.0]), cr.zeros(2)).item()
        0.90625
    """

    def __init__(self, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                 reduction: str = "mean", beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Huber loss: ``0.5 d^2`` below ``delta``, ``delta (|d| - 0.5 delta)`` above, reduced.

    Args:
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.
        delta: the threshold between the pieces, > 0.

    Shape:
        input ``(*)``, target ``(*)``; output a scalar, or ``(*)`` with ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.HuberLoss(delta=2.0)(cr.tensor([1.0, 4.0]), cr.zeros(2)).item()
        3.25
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(None, None, reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class KLDivLoss(Module):
    """Kullback-Leibler divergence ``t (log t - input)`` of a target distribution from the
    log-probabilities ``input``.

    Args:
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'batchmean'`` (the KL divergence: the sum over the batch size) |
            ``'mean'`` (over every element; warns, as PyTorch) | ``'sum'`` | ``'none'``.
        log_target: the target holds log-probabilities.

    Shape:
        input ``(*)``, target ``(*)``; output a scalar, or ``(*)`` with ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> kl = cr.nn.KLDivLoss(reduction='batchmean')
        >>> kl(cr.tensor([[0.5, 0.5]]).log(), cr.tensor([[0.5, 0.5]])).item()
        0.0
    """

    def __init__(self, size_average: Optional[bool] = None, reduce: Optional[bool] = None,
                 reduction: str = "mean", log_target: bool = False) -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            reduction = legacy_reduction(size_average, reduce, reduction)
        elif reduction not in ("mean", "batchmean", "sum", "none"):
            raise ValueError(f"KLDivLoss: {reduction!r} is not a valid value for reduction; "
                             f"expected one of ('mean', 'batchmean', 'sum', 'none')")
        self.reduction = reduction
        self.log_target = log_target

    def forward(self, input: Tensor, target: Any) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CosineEmbeddingLoss(_Loss):
    """``1 - cos(x1, x2)`` for pairs labelled 1, ``max(0, cos(x1, x2) - margin)`` for pairs
    labelled -1, reduced.

    Args:
        margin: in [-1, 1].
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Shape:
        input1, input2 ``(N, D)`` or ``(D,)``, target ``(N,)`` or ``()``; output a scalar,
        or ``(N,)`` with ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> a = cr.tensor([[1.0, 0.0]])
        >>> cr.nn.CosineEmbeddingLoss()(a, a, cr.tensor([1])).item()
        0.0
    """

    def __init__(self, margin: float = 0.0, size_average: Optional[bool] = None,
                 reduce: Optional[bool] = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, self.margin,
                                       reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """``max(0, -y (x1 - x2) + margin)``: ``x1`` should rank above ``x2`` where ``y = 1``,
    below where ``y = -1``.

    Args:
        margin: the margin the ranking must hold by.
        size_average: deprecated, use ``reduction``.
        reduce: deprecated, use ``reduction``.
        reduction: ``'mean'`` | ``'sum'`` | ``'none'``.

    Shape:
        input1, input2, target ``(N,)`` or ``()``; output a scalar, or ``(N,)``.

    Example:
        >>> import chainrule as cr
        >>> rank = cr.nn.MarginRankingLoss(margin=1.0)
        >>> rank(cr.tensor([3.0, 0.5]), cr.tensor([1.0, 0.0]), cr.tensor([1.0, 1.0])).item()
        0.25
    """

    def __init__(self, margin: float = 0.0, size_average: Optional[bool] = None,
                 reduce: Optional[bool] = None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Any) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, self.margin,
                                     reduction=self.reduction)


class CTCLoss(_Loss):
    """Connectionist temporal classification: ``-log p(target | log_probs)`` over every
    alignment of an unsegmented target to the input frames.

    Args:
        blank: the blank class.
        reduction: ``'mean'`` (each loss over its target length, then the batch mean) |
            ``'sum'`` | ``'none'``.
        zero_infinity: an impossible alignment gives 0 and a zero gradient (not inf, NaN).

    Shape:
        log_probs ``(T, N, C)`` or ``(T, C)``; targets ``(N, S)`` or concatenated
        ``(sum(target_lengths),)``; input_lengths, target_lengths ``(N,)``; output a scalar,
        or ``(N,)`` with ``'none'``.

    Example:
        >>> import chainrule as cr
        >>> lp = cr.full((2, 1, 2), 0.5).log()
        >>> round(cr.nn.CTCLoss()(lp, cr.tensor([[1]]), [2], [1]).item(), 4)
        0.2877
    """

    def __init__(self, blank: int = 0, reduction: str = "mean",
                 zero_infinity: bool = False) -> None:
        super().__init__(None, None, reduction)
        self.blank = blank
        self.zero_infinity = zero_infinity

    def forward(self, log_probs: Tensor, targets: Any, input_lengths: Any,
                target_lengths: Any) -> Tensor:
        return F.ctc_loss(log_probs, targets, input_lengths, target_lengths, self.blank,
                          self.reduction, self.zero_infinity)
