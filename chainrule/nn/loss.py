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
