"""``Dropout``, ``Dropout1d``, ``Dropout2d``: inverted dropout (of elements, or of whole
channels), active only in training mode.

Under ``DistributedDataParallel`` (W ranks, each holding rows ``r::W`` of the global batch, as
``DistributedSampler`` deals them) a layer's ``batch_shard`` is ``(rank, W)``: it then draws
the *global* batch's mask, ``(N * W, ...)``, from the generator (seeded alike on every rank)
and keeps rows ``rank::W``, so W ranks drop exactly what one process drops on the whole batch.
Every rank must hold the same N (equal shards). ``batch_shard`` is None otherwise (the usual
mask of the input's shape); the DDP wrapper sets it, explicitly, on the layers it wraps.
"""
from __future__ import annotations

from typing import Optional

from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from ..backend import xp
from ..random import get_rng
from . import functional as F
from .module import Module


def sharded_dropout(input: Tensor, p: float, rank: int, world_size: int,
                    channels: bool = False) -> Tensor:
    """Rows ``rank::world_size`` of dropout on the global batch: the mask is one draw of the
    global shape ``(N * world_size, ...)`` (``(N * world_size, C, 1, ...)`` for channel
    dropout), of which this rank's rows scale ``input``, with ``dropout``'s arithmetic.

    Args:
        input: this rank's ``(N, ...)`` shard (``(N, C, ...)`` with ``channels``).
        p: drop probability, in [0, 1].
        rank, world_size: which rows of the global batch ``input`` holds: ``rank::world_size``.
        channels: drop whole channels (Dropout1d/Dropout2d) rather than elements.

    Example:
        >>> import chainrule as cr
        >>> x = cr.ones(4, 3)
        >>> _ = cr.manual_seed(0); whole = cr.nn.functional.dropout(cr.ones(8, 3), 0.5)
        >>> _ = cr.manual_seed(0); part = sharded_dropout(x, 0.5, rank=1, world_size=2)
        >>> bool((part == whole[1::2]).all())
        True
    """
    F.check_dropout_p(p, "dropout")
    if input.ndim < (2 if channels else 1):
        raise OpError(f"dropout under DistributedDataParallel: expected a batch (N, ...), got "
                      f"input of shape {input.shape}")
    if p == 0 or input.numel() == 0:
        return input
    if p == 1:
        return input * Tensor(xp.zeros((), dtype=input.dtype))
    if input._data.dtype.kind != "f":
        raise OpError(f"dropout: result type float32 can't be cast to the desired output type "
                      f"{input.dtype} (dropout with 0 < p < 1 needs a floating input)")
    shape = input.shape[:2] + (1,) * (input.ndim - 2) if channels else input.shape
    keep = get_rng()._bernoulli(1.0 - p, (shape[0] * world_size,) + shape[1:])
    noise = keep[rank::world_size].astype(input.dtype) / xp.asarray(1.0 - p, dtype=input.dtype)
    return input * Tensor(noise)


class _DropoutNd(Module):
    """What the dropout layers share: ``p``, ``inplace``, ``batch_shard`` and the repr."""

    batch_shard: Optional[tuple[int, int]]
    """(rank, world size) under DistributedDataParallel: draw the global batch's mask and keep
    rows ``rank::world size`` (see the module docstring); None: an ordinary mask."""

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        F.check_dropout_p(p, type(self).__name__)
        self.p = p
        self.inplace = inplace
        self.batch_shard = None

    def _sharded(self, input: Tensor, channels: bool) -> Optional[Tensor]:
        """The global-mask dropout when ``batch_shard`` applies, else None."""
        shard = self.batch_shard
        if shard is None or not self.training or shard[1] == 1:
            return None
        return sharded_dropout(input, self.p, shard[0], shard[1], channels)

    def extra_repr(self) -> str:
        shard = "" if self.batch_shard is None else f", batch_shard={self.batch_shard}"
        return f"p={self.p}, inplace={self.inplace}{shard}"


class Dropout(_DropoutNd):
    """Zero each element with probability ``p`` during training and scale the survivors by
    ``1 / (1 - p)`` (inverted dropout), so evaluation (``model.eval()``) is the identity.

    The mask is drawn from the global generator, so ``chainrule.manual_seed`` makes it
    reproducible.

    Args:
        p: drop probability, in [0, 1].
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Input ``(*)``; output ``(*)``, the same shape.

    Example:
        >>> import chainrule as cr
        >>> drop = cr.nn.Dropout(p=0.5)
        >>> _ = cr.manual_seed(0)
        >>> sorted(set(drop(cr.ones(100)).tolist()))        # training: 0 or 1/(1-p)
        [0.0, 2.0]
        >>> drop.eval()(cr.ones(3)).tolist()                 # eval: identity
        [1.0, 1.0, 1.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        y = self._sharded(input, channels=False)
        return F.dropout(input, self.p, self.training, self.inplace) if y is None else y


class Dropout1d(_DropoutNd):
    """Zero whole channels of a (N, C, L) input with probability ``p`` during training (one
    mask draw of shape (N, C, 1)) and scale the others by ``1 / (1 - p)``.

    Args:
        p: probability of a channel to be zeroed, in [0, 1].
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output the same shape.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.Dropout1d(0.2)
        Dropout1d(p=0.2, inplace=False)
        >>> cr.nn.Dropout1d(0.2).eval()(cr.ones(1, 2, 3)).tolist()
        [[[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]]
    """

    def forward(self, input: Tensor) -> Tensor:
        y = self._sharded(input, channels=True) if input.ndim == 3 else None
        return F.dropout1d(input, self.p, self.training, self.inplace) if y is None else y


class Dropout2d(_DropoutNd):
    """Zero whole channels (feature maps) of a (N, C, H, W) input with probability ``p``
    during training (one mask draw of shape (N, C, 1, 1), as torch) and scale the others by
    ``1 / (1 - p)``; the identity in eval mode.

    Args:
        p: probability of a channel to be zeroed, in [0, 1].
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Input ``(N, C, H, W)``; output the same shape. (A 3-D input is read as (N, C, L), with
        torch's warning.)

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> y = cr.nn.Dropout2d(p=0.5)(cr.ones(4, 8, 2, 2)).numpy()
        >>> bool((y.min((2, 3)) == y.max((2, 3))).all())      # whole channels: 0 or 2
        True
    """

    def forward(self, input: Tensor) -> Tensor:
        y = self._sharded(input, channels=True) if input.ndim == 4 else None
        return F.dropout2d(input, self.p, self.training, self.inplace) if y is None else y
