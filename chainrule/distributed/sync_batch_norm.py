"""Batch normalisation over the whole global batch: ``sync_batch_norm``, and the
differentiable sum over ranks it is written with, ``all_reduce_sum``.

Every rank holds a shard of the global batch. SyncBatchNorm is BatchNorm's array steps
(:mod:`chainrule.ops.norm`: compiled loops where they run, NumPy's formulas elsewhere) with one
collective each way between them, so it costs what BatchNorm costs plus two small messages:

* forward: each rank's per-channel count, mean and biased variance (one pass over its shard),
  all-gathered in float64 (one Allgather of 2C + 1 numbers a rank) and merged as one process
  would see them (Chan's parallel rule, in float64, in rank order: the same bits on every
  rank); then the shard is normalised with the global statistics (one pass);
* backward: each rank's two per-channel gradient sums (one pass), one Allreduce of the 2C sums,
  then the input gradient (one pass).

Two ranks thus compute what one process computes on the whole batch (within float rounding). In
a world of one the collectives are identities and ``sync_batch_norm`` is ``batch_norm`` in
training mode (to the bit, where the compiled loops run).

Forward, over the ranks r with n_r values per channel, M = sum n_r and w_r = n_r / M::

    mean = sum_r w_r mean_r,  var = sum_r w_r (var_r + (mean_r - mean)^2)
    y = (x - mean) * invstd * weight + bias,  invstd = 1 / sqrt(var + eps)
    (var is biased; running_var is updated with var * M / (M - 1))

Backward, with gyw = gy * weight and the two sums reduced over the ranks::

    gx = invstd * (gyw - sum(gyw) / M - xhat * sum(gyw * xhat) / M)
    gweight = sum(gy * xhat), gbias = sum(gy)       (this rank's: DistributedDataParallel
                                                      averages them as every gradient)
"""
from __future__ import annotations

from typing import Any, Optional

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..backend import xp
from ..ops import reshape, sqrt, sum
from ..ops.norm import (batch_norm_input_grad, channel_grad_sums, channel_moments, ncs_shape,
                        scale_shift_channels, update_running_stat)
from .process_group import ReduceOp, all_gather, all_reduce_array, get_world_size


def _reduced(array: Any) -> Any:
    """A copy of ``array`` summed over the ranks (float64 sums stay float64)."""
    out = xp.array(array, copy=True, order="C")
    all_reduce_array(out, ReduceOp.SUM)
    return out


# ============================================================================ all_reduce_sum
class AllReduceSum(Function):
    """y = the sum of x over every rank (each rank gets it); its gradient is the sum of the
    ranks' upstream gradients, since every rank's y depends on every rank's x."""

    derivative = "all_reduce_sum(upstream)"

    def forward(self, x: Any) -> Any:
        return _reduced(x)

    def backward(self, gy: Tensor) -> Tensor:
        return all_reduce_sum(gy)

    def fast_backward(self, gy: Any) -> Any:
        return _reduced(gy)


def all_reduce_sum(input: Any) -> Tensor:
    """The sum of ``input`` over all ranks, recorded by autograd (``torch.distributed.nn
    .functional.all_reduce`` with SUM): every rank must call it, in the same order.

    Args:
        input: a Tensor of the same shape and dtype on every rank.

    Shape:
        Output has the shape of ``input``.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> y = all_reduce_sum(x)            # a world of one: a copy
        >>> y.sum().backward()
        >>> y.tolist(), x.grad.tolist()
        ([1.0, 2.0], [1.0, 1.0])
    """
    return AllReduceSum()(input)


# ============================================================================ sync_batch_norm
def _all_gathered(row: Any) -> Any:
    """(P, K): every rank's (K,) float64 ``row``, in rank order (one Allgather)."""
    out = xp.empty((get_world_size(), row.size), row.dtype)
    all_gather([Tensor(part) for part in out], Tensor(row))  # written into out's rows
    return out


def _merged_moments(stats: Any, C: int) -> tuple[int, Any, Any]:
    """(M, mean, var) per channel of the whole batch from every rank's [count, mean (C,),
    var (C,)] row of stats (P, 2C + 1).

    Each rank weighs by its share n_r / M, so an empty rank adds nothing and a world of one
    gets its own mean and var back unchanged; every term of var is >= 0 (no cancelling).
    """
    counts = stats[:, 0]
    M = int(counts.sum())
    if M == 0:
        return 0, None, None
    w = (counts / M)[:, None]  # (P, 1)
    means, variances = stats[:, 1:C + 1], stats[:, C + 1:]  # (P, C) each
    mean = (w * means).sum(axis=0)
    var = (w * (variances + (means - mean) ** 2)).sum(axis=0)
    return M, mean, var


class SyncBatchNorm(Function):
    """Training-mode batch norm whose statistics and gradient sums are combined over the ranks.

    Forward and a first-order backward on arrays: BatchNorm's array steps with one Allgather
    (the statistics) and one Allreduce (the gradient sums) between them; ``backward`` is the
    same formula with differentiable ops and ``all_reduce_sum``, so second derivatives work as
    for ``batch_norm``.
    """

    node_name = "SyncBatchNormBackward"  # PyTorch's name for the same node

    derivative = ("{x1}*invstd*(upstream - allsum(upstream)/M - xhat*allsum(upstream*xhat)/M) "
                  "per channel, sums over every rank's batch, xhat = ({x0} - mean)*invstd",
                  "upstream*xhat summed per channel (this rank's)",
                  "upstream summed per channel (this rank's)")

    def __init__(self, eps: float, momentum: float,
                 running: Optional[tuple[Tensor, Tensor]]) -> None:
        self.eps, self.momentum, self.running = eps, momentum, running

    def forward(self, x: Any, weight: Any, bias: Any) -> Any:
        N, C, S = ncs_shape(x.shape)
        x3 = x.reshape(N, C, S)  # (N, C, ...) -> (N, C, S)
        local = xp.zeros(2 * C + 1, xp.float64)  # this shard's [count, mean (C,), var (C,)]
        local[0] = N * S
        if N * S:  # an empty shard joins the collective too, with a count of 0
            mean_, var_, _ = channel_moments(x3)
            local[1:C + 1], local[C + 1:] = mean_, var_
        M, mean64, var = _merged_moments(_all_gathered(local), C)
        self.count, self.xc = M, None  # xc: x - global mean from NumPy's formulas, for backward
        if M == 0:  # every rank's shard is empty: an empty output, statistics untouched
            self.mean, self.invstd = xp.zeros(C, x.dtype), xp.ones(C, x.dtype)
            return xp.empty(x.shape, x.dtype)
        if M == 1:
            raise OpError(f"sync_batch_norm: Expected more than 1 value per channel when "
                          f"training, got {M} over all ranks (input size {x.shape} here)")
        if self.running is not None:
            with no_grad():
                update_running_stat(self.running[0], mean64, self.momentum)
                update_running_stat(self.running[1], var * (M / (M - 1)), self.momentum)
        self.mean = mean64.astype(x.dtype)
        self.invstd = (1 / xp.sqrt(var + self.eps)).astype(x.dtype)
        scale = self.invstd if weight is None else self.invstd * weight
        y3, self.xc = scale_shift_channels(x3, self.mean, scale, bias)
        return y3.reshape(x.shape)

    def backward(self, gy: Tensor) -> tuple:
        x, weight, _ = self.inputs
        nx, nw, nb = self.needs_input_grad
        axes = (0,) + tuple(range(2, x.ndim))  # every axis but C
        cshape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        M = self.count

        def allsum(t: Tensor) -> Tensor:  # (C,) summed over this shard and every rank
            return reshape(all_reduce_sum(sum(t, axes)), cshape)

        xc = x - allsum(x) / M
        invstd = 1 / sqrt(allsum(xc * xc) / M + self.eps)
        xhat = xc * invstd
        gx = None
        if nx:
            gyw = gy if weight is None else gy * reshape(weight, cshape)
            gx = invstd * (gyw - allsum(gyw) / M - xhat * (allsum(gyw * xhat) / M))
        return (gx, sum(gy * xhat, axes) if nw else None, sum(gy, axes) if nb else None)

    def fast_backward(self, gy: Any) -> tuple:
        x, weight, _ = self.inputs
        nx, nw, nb = self.needs_input_grad
        g = gy.astype(x.dtype, copy=False)
        N, C, S = ncs_shape(g.shape)
        g3, x3 = g.reshape(N, C, S), x._data.reshape(N, C, S)  # (N, C, ...) -> (N, C, S)
        sums = xp.empty(2 * C, xp.float64)  # [sum(gy), sum(gy * xc)] per channel, this rank's
        sums[:C], sums[C:] = channel_grad_sums(g3, x3, self.mean, self.xc)
        gw = (sums[C:] * self.invstd).astype(x.dtype) if nw else None  # sum(gy * xhat)
        gb = sums[:C].astype(x.dtype) if nb else None
        M = self.count
        if not nx:
            return None, gw, gb
        if M == 0:
            return xp.empty(x.shape, x.dtype), gw, gb
        all_reduce_array(sums, ReduceOp.SUM)  # in place: the sums over every rank's shard
        # gx = a * (gy + d - xc * k), k = invstd^2 * sum_gxc/M, d = -sum_g/M
        a = self.invstd if weight is None else self.invstd * weight._data  # (C,)
        k = (self.invstd * self.invstd * sums[C:] / M).astype(x.dtype)
        d = (-sums[:C] / M).astype(x.dtype)
        gx3 = batch_norm_input_grad(g3, x3, self.mean, a, k, d, self.xc)
        return gx3.reshape(x.shape), gw, gb


def sync_batch_norm(input: Any, running_mean: Any, running_var: Any, weight: Any = None,
                    bias: Any = None, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Training-mode batch normalisation with the statistics of every rank's batch together.

    Every rank must call it, in the same order, with the same C. The running statistics are
    updated alike on every rank (from the global mean and unbiased variance).

    Args:
        input: (N, C, ...) this rank's shard (N may differ between ranks, 0 included).
        running_mean, running_var: (C,) or None; updated in place.
        weight, bias: optional (C,) affine parameters.
        momentum: weight of the batch statistic in the running update.
        eps: added to the variance.

    Shape:
        Output has the shape of ``input``.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([[1.0, 10.0], [3.0, 30.0]])
        >>> rm, rv = cr.zeros(2), cr.ones(2)
        >>> [[round(v, 4) for v in r] for r in sync_batch_norm(x, rm, rv).tolist()]
        [[-1.0, -1.0], [1.0, 1.0]]
        >>> [round(v, 4) for v in rm.tolist()]
        [0.2, 2.0]
    """
    x = input if isinstance(input, Tensor) else Tensor(xp.asarray(input))
    if x.ndim < 2:
        raise OpError(f"sync_batch_norm: expected input of shape (N, C, ...), got input of "
                      f"shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"sync_batch_norm: expected a floating point input, got dtype "
                        f"{x.dtype}")
    C = x.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var),
                    ("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (C,):
            raise OpError(f"sync_batch_norm: expected {name} of shape ({C},) (one per channel "
                          f"of input shape {x.shape}), got {name} of shape {tuple(t.shape)}")
    if (running_mean is None) != (running_var is None):
        raise ValueError("sync_batch_norm: running_mean and running_var must both be given "
                         "or both be None")
    running = None if running_mean is None else (running_mean, running_var)
    return SyncBatchNorm(float(eps), float(momentum), running)(x, weight, bias)
