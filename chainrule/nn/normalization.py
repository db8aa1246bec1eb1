"""Normalisation layers: ``BatchNorm1d``, ``BatchNorm2d``, ``LayerNorm``, ``GroupNorm`` and
``RMSNorm``.

In training mode (``model.train()``) a BatchNorm layer normalises with the batch's mean and
(biased) variance per channel and updates its running averages (``running_mean``,
``running_var`` with the unbiased variance, ``num_batches_tracked``); in evaluation mode
(``model.eval()``) it normalises with the running averages and changes nothing. LayerNorm,
GroupNorm and RMSNorm normalise each sample on its own, the same in both modes.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy

from .. import distributed
from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from ..backend import xp
from . import functional as F
from . import init
from .module import Module, factory_dtype
from .parameter import Parameter


def _affine_parameters(module: Module, shape: Any, weight: bool, bias: Optional[bool],
                       dtype: Any) -> None:
    """Register a normalisation's learnt ``weight`` (ones) and ``bias`` (zeros) of ``shape``,
    or None in their place when not learnt (PyTorch's names either way); ``bias=None``: the
    layer has no bias at all (RMSNorm)."""
    module.register_parameter("weight", Parameter(xp.ones(shape, dtype=dtype)) if weight
                              else None)
    if bias is not None:
        module.register_parameter("bias", Parameter(xp.zeros(shape, dtype=dtype))
                                  if weight and bias else None)


def _reset_affine(module: Module) -> None:
    """``weight`` back to 1 and ``bias`` to 0, where the layer learns them."""
    if module.weight is not None:
        init.ones_(module.weight)
    if getattr(module, "bias", None) is not None:
        init.zeros_(module.bias)


class _BatchNorm(Module):
    """Shared by BatchNorm1d and BatchNorm2d; they differ only in the input ranks allowed."""

    _ranks: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None, *, bias: bool = True) -> None:
        super().__init__()
        name = type(self).__name__
        if isinstance(num_features, bool) or not isinstance(num_features, int) or \
                num_features < 1:
            raise OpError(f"{name}: num_features must be a positive int, got "
                          f"{num_features!r}")
        if momentum is not None and not 0 <= momentum <= 1:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum!r}")
        if eps <= 0:
            raise ValueError(f"{name}: eps must be positive, got {eps!r}")
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        dtype = factory_dtype(device, dtype, name)
        _affine_parameters(self, num_features, affine, bias, dtype)
        if track_running_stats:
            self.register_buffer("running_mean", Tensor(xp.zeros(num_features, dtype=dtype)))
            self.register_buffer("running_var", Tensor(xp.ones(num_features, dtype=dtype)))
            self.register_buffer("num_batches_tracked", Tensor(xp.array(0, dtype=numpy.int64)))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)

    def reset_running_stats(self) -> None:
        """Running mean 0, running variance 1, no batch tracked."""
        if self.track_running_stats:
            self.running_mean._data[...] = 0
            self.running_var._data[...] = 1
            self.num_batches_tracked._data[...] = 0

    def reset_parameters(self) -> None:
        """Reset the running statistics, and the affine ``weight`` to 1 and ``bias`` to 0
        (what the constructor sets), as PyTorch's ``reset_parameters``.

        Example:
            >>> import chainrule as cr
            >>> bn = cr.nn.BatchNorm1d(2)
            >>> _ = bn(cr.tensor([[1.0, 2.0], [3.0, 6.0]]))
            >>> bn.reset_parameters()
            >>> bn.weight.tolist(), bn.running_mean.tolist(), bn.num_batches_tracked.item()
            ([1.0, 1.0], [0.0, 0.0], 0)
        """
        self.reset_running_stats()
        _reset_affine(self)

    def _check_input(self, input: Tensor) -> None:
        name = type(self).__name__
        if input.ndim not in self._ranks:
            ranks = " or ".join(f"{r}D" for r in self._ranks)
            raise ValueError(f"{name}: expected {ranks} input (got {input.ndim}D input, shape "
                             f"{input.shape})")
        if input.shape[1] != self.num_features:
            raise OpError(f"{name}({self.num_features}): expected input with "
                          f"{self.num_features} channels in dimension 1, got "
                          f"{input.shape[1]} (input shape {input.shape})")

    def forward(self, input: Tensor) -> Tensor:
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative average over all batches seen
                factor = 1.0 / float(self.num_batches_tracked.item())
        use_batch_stats = self.training or (self.running_mean is None
                                            and self.running_var is None)
        use_running = not self.training or self.track_running_stats
        return F.batch_norm(input, self.running_mean if use_running else None,
                            self.running_var if use_running else None, self.weight, self.bias,
                            use_batch_stats, factor, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, "
                f"affine={self.affine}, bias={self.bias is not None}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalisation over a (N, C) or (N, C, L) input, per feature C.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the batch's statistics over
    N (and L) in training mode and the running averages in eval mode.

    Args:
        num_features: C.
        eps: added to the variance.
        momentum: running-average factor (``running = (1 - m) running + m batch``); None
            for a cumulative average.
        affine: learn ``weight`` (init 1) and ``bias`` (init 0).
        track_running_stats: keep running averages; False normalises with batch statistics
            in eval mode too.
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).
        bias: with ``affine``, also learn ``bias`` (False: weight only).

    Shape:
        Input ``(N, C)`` or ``(N, C, L)``; output the same shape.

    Example:
        >>> import chainrule as cr
        >>> bn = cr.nn.BatchNorm1d(2)
        >>> y = bn(cr.tensor([[1.0, 10.0], [3.0, 30.0]]))
        >>> [round(v, 3) for v in y[:, 1].tolist()], bn.running_mean.tolist()
        ([-1.0, 1.0], [0.20000000298023224, 2.0])
    """

    _ranks = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation over a (N, C, H, W) input, per channel C.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the batch's statistics over
    (N, H, W) in training mode and the running averages in eval mode.

    Args:
        num_features: C.
        eps: added to the variance.
        momentum: running-average factor; None for a cumulative average.
        affine: learn ``weight`` (init 1) and ``bias`` (init 0).
        track_running_stats: keep running averages.
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).
        bias: with ``affine``, also learn ``bias``.

    Shape:
        Input ``(N, C, H, W)``; output the same shape.

    Example:
        >>> import chainrule as cr
        >>> bn = cr.nn.BatchNorm2d(6)
        >>> bn(cr.randn(4, 6, 5, 5)).shape
        (4, 6, 5, 5)
        >>> bn
        BatchNorm2d(6, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
    """

    _ranks = (4,)


class SyncBatchNorm(_BatchNorm):
    """Batch normalisation whose training statistics are those of the global batch: every
    rank's shard together, as ``torch.nn.SyncBatchNorm``.

    In training mode under a process group of more than one rank, each rank's per-channel
    count, mean and variance are gathered and merged in forward, and the two gradient sums
    all-reduced in backward (:func:`chainrule.distributed.sync_batch_norm`), so W ranks compute what one
    process computes on the whole batch, running statistics included (the same on every rank).
    In evaluation mode, or in a world of one, it is exactly ``BatchNorm``.

    Args:
        num_features: C.
        eps: added to the variance.
        momentum: running-average factor; None for a cumulative average.
        affine: learn ``weight`` (init 1) and ``bias`` (init 0).
        track_running_stats: keep running averages.
        process_group: only None (the default group, every rank).
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        Input ``(N, C, ...)`` (at least 2-D); output the same shape.

    Example:
        >>> import chainrule as cr
        >>> net = cr.nn.Sequential(cr.nn.Conv2d(1, 4, 3), cr.nn.BatchNorm2d(4))
        >>> net = cr.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        >>> net[1]
        SyncBatchNorm(4, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)
        >>> net(cr.randn(2, 1, 5, 5)).shape
        (2, 4, 3, 3)
    """

    _ranks = (2, 3, 4, 5)

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: Optional[float] = 0.1,
                 affine: bool = True, track_running_stats: bool = True,
                 process_group: Any = None, device: Any = None, dtype: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device,
                         dtype)
        if process_group is not None:
            raise ValueError("SyncBatchNorm: process_group must be None (the default group: "
                             "every rank); sub-groups are not supported")
        self.process_group = process_group

    def forward(self, input: Tensor) -> Tensor:
        if not self.training or distributed.get_world_size() == 1:
            return super().forward(input)  # exactly BatchNorm
        self._check_input(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            if self.momentum is None:  # a cumulative average over all batches seen
                factor = 1.0 / float(self.num_batches_tracked.item())
        return distributed.sync_batch_norm(input, self.running_mean, self.running_var,
                                           self.weight, self.bias, factor, self.eps)

    @classmethod
    def convert_sync_batchnorm(cls, module: Module, process_group: Any = None) -> Module:
        """``module`` with every BatchNorm layer (``BatchNorm1d``, ``BatchNorm2d``) in it
        replaced by a ``SyncBatchNorm`` holding the same parameters (the same objects),
        running statistics and mode; a BatchNorm ``module`` itself comes back converted.

        Example:
            >>> import chainrule as cr
            >>> bn = cr.nn.BatchNorm1d(3)
            >>> sync = cr.nn.SyncBatchNorm.convert_sync_batchnorm(bn)
            >>> type(sync).__name__, sync.weight is bn.weight
            ('SyncBatchNorm', True)
        """
        out = module
        if isinstance(module, _BatchNorm) and not isinstance(module, SyncBatchNorm):
            out = cls(module.num_features, module.eps, module.momentum, module.affine,
                      module.track_running_stats, process_group)
            if module.affine:
                out.weight = module.weight
                out.bias = module.bias
            out.running_mean = module.running_mean
            out.running_var = module.running_var
            out.num_batches_tracked = module.num_batches_tracked
            out.training = module.training
        for name, child in module.named_children():
            out.add_module(name, cls.convert_sync_batchnorm(child, process_group))
        return out


def _shape_tuple(normalized_shape: Any, layer: str) -> tuple[int, ...]:
    """``normalized_shape`` (an int or a sequence of ints) as a tuple, as torch stores it."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else \
        tuple(normalized_shape)
    for s in shape:
        if isinstance(s, bool) or not isinstance(s, (int, numpy.integer)) or s < 0:
            raise OpError(f"{layer}: normalized_shape must be non-negative ints, got "
                          f"{normalized_shape!r}")
    return tuple(int(s) for s in shape)


class LayerNorm(Module):
    """Layer normalisation over the last dimensions, as ``torch.nn.LayerNorm``.

    ``y = (x - mean) / sqrt(var + eps) * weight + bias``, the mean and (biased) variance
    taken over the last ``len(normalized_shape)`` dimensions of each sample; the same in
    training and evaluation mode (no running statistics).

    Args:
        normalized_shape: the trailing shape to normalise over (an int for the last one).
        eps: added to the variance.
        elementwise_affine: learn ``weight`` (init 1) and ``bias`` (init 0) of shape
            ``normalized_shape``.
        bias: with ``elementwise_affine``, also learn ``bias``.
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        Input ``(*, *normalized_shape)``; output the same shape.

    Example:
        >>> import chainrule as cr
        >>> ln = cr.nn.LayerNorm(4)
        >>> ln(cr.randn(2, 3, 4)).shape
        (2, 3, 4)
        >>> ln
        LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)
    """

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape, "LayerNorm")
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = factory_dtype(device, dtype, "LayerNorm")
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, dtype)

    def reset_parameters(self) -> None:
        """``weight`` to 1 and ``bias`` to 0, as the constructor sets them."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        # F.layer_norm names normalized_shape and the input's shape on a mismatch
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}")


class GroupNorm(Module):
    """Group normalisation, as ``torch.nn.GroupNorm``: the channels split into
    ``num_groups`` groups, each normalised per sample over its channels and positions, then
    scaled and shifted per channel.

    Args:
        num_groups: G; must divide ``num_channels``.
        num_channels: C.
        eps: added to the variance.
        affine: learn per-channel ``weight`` (init 1) and ``bias`` (init 0).
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).
        bias: with ``affine``, also learn ``bias``.

    Shape:
        Input ``(N, C, *)``; output the same shape.

    Example:
        >>> import chainrule as cr
        >>> gn = cr.nn.GroupNorm(2, 6)
        >>> gn(cr.randn(4, 6, 5, 5)).shape
        (4, 6, 5, 5)
        >>> gn
        GroupNorm(2, 6, eps=1e-05, affine=True, bias=True)
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5,
                 affine: bool = True, device: Any = None, dtype: Any = None, *,
                 bias: bool = True) -> None:
        super().__init__()
        for name, v, least in (("num_groups", num_groups, 1), ("num_channels", num_channels, 0)):
            if isinstance(v, bool) or not isinstance(v, int) or v < least:
                raise OpError(f"GroupNorm: {name} must be an int >= {least}, got {v!r}")
        if num_channels % num_groups != 0:
            raise ValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                             f"num_groups ({num_groups})")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        dtype = factory_dtype(device, dtype, "GroupNorm")
        _affine_parameters(self, num_channels, affine, bias, dtype)

    def reset_parameters(self) -> None:
        """``weight`` to 1 and ``bias`` to 0, as the constructor sets them."""
        _reset_affine(self)

    def forward(self, input: Tensor) -> Tensor:
        if input.ndim >= 2 and input.shape[1] != self.num_channels:
            raise OpError(f"GroupNorm({self.num_groups}, {self.num_channels}): expected input "
                          f"with {self.num_channels} channels in dimension 1, got "
                          f"{input.shape[1]} (input shape {input.shape})")
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.num_groups}, {self.num_channels}, eps={self.eps}, "
                f"affine={self.affine}, bias={self.bias is not None}")


class RMSNorm(Module):
    """Root-mean-square normalisation over the last dimensions, as ``torch.nn.RMSNorm``:
    ``y = x / sqrt(mean(x^2) + eps) * weight``.

    Args:
        normalized_shape: the trailing shape to normalise over (an int for the last one).
        eps: added to the mean square; None (the default) takes the input dtype's machine
            epsilon (``torch.finfo(x.dtype).eps``).
        elementwise_affine: learn ``weight`` (init 1) of shape ``normalized_shape``.
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        Input ``(*, *normalized_shape)``; output the same shape.

    Example:
        >>> import chainrule as cr
        >>> rms = cr.nn.RMSNorm([3, 4])
        >>> rms(cr.randn(2, 3, 4)).shape
        (2, 3, 4)
        >>> rms
        RMSNorm((3, 4), eps=None, elementwise_affine=True)
    """

    def __init__(self, normalized_shape: Any, eps: Optional[float] = None,
                 elementwise_affine: bool = True, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.normalized_shape = _shape_tuple(normalized_shape, "RMSNorm")
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        dtype = factory_dtype(device, dtype, "RMSNorm")
        _affine_parameters(self, self.normalized_shape, elementwise_affine, None, dtype)

    def reset_parameters(self) -> None:
        """``weight`` to 1, as the constructor sets it."""
        _reset_affine(self)

    def forward(self, x: Tensor) -> Tensor:
        return F.rms_norm(x, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self) -> str:
        return (f"{self.normalized_shape}, eps={self.eps}, "
                f"elementwise_affine={self.elementwise_affine}")
