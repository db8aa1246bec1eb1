"""The training loop: one epoch of SGD steps with a NaN guard and a progress bar, and evaluation."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

from .. import nn
from ..autograd.grad_mode import no_grad
from ..ops import softmax
from .metrics import accuracy, confusion_matrix


class NonFiniteLossError(FloatingPointError):
    """The loss (or, at the end of an epoch, a parameter) became NaN or inf.

    Attributes:
        epoch: the epoch (from 1).
        step: the step inside the epoch (from 1).
        steps: the number of steps per epoch.
        value: the offending loss value (None when a parameter is at fault).
        what: ``"loss"`` or ``"parameter 'fc1.weight'"``.
    """

    def __init__(self, epoch: int, step: int, steps: int, value: Optional[float],
                 what: str = "loss") -> None:
        self.epoch, self.step, self.steps, self.value, self.what = epoch, step, steps, value, what
        shown = f" is {value}" if value is not None else " holds NaN or inf"
        super().__init__(f"{what}{shown} at epoch {epoch}, step {step}/{steps}; training stopped "
                         "(try a lower learning rate)")


@dataclass
class EpochResult:
    """What :func:`train_one_epoch` measured.

    Attributes:
        loss: mean training loss over the epoch's images.
        accuracy: fraction of training images classified correctly (in train mode).
        images: number of images seen.
        seconds: wall time of the epoch.
    """

    loss: float
    accuracy: float
    images: int
    seconds: float

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds > 0 else 0.0


@dataclass
class EvalResult:
    """What :func:`evaluate` measured.

    Attributes:
        loss: mean loss (None without a loss function).
        accuracy: fraction classified correctly.
        confusion: (K, K) counts, row = true class, column = predicted class.
        images: number of images.
    """

    loss: Optional[float]
    accuracy: float
    confusion: np.ndarray
    images: int


def _tqdm(total: int, desc: str, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm  # optional: the bar is a convenience
    except ImportError:
        return None
    return tqdm(total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True)


def check_parameters_finite(model: Any) -> Optional[str]:
    """The name of the first parameter or buffer holding NaN or inf, or None if all are finite."""
    for name, value in model.state_dict().items():
        arr = getattr(value, "_data", value)
        if isinstance(arr, np.ndarray) and arr.dtype.kind == "f" and not np.isfinite(arr).all():
            return name
    return None


def min_train_batch(model: Any) -> int:
    """The fewest images a training batch of ``model`` may hold: 2 with batch norm, else 1.

    In training mode a batch-norm layer normalises each channel by its variance over the batch
    (and the feature map); a channel holding a single value has none, and PyTorch's
    ``BatchNorm`` raises "Expected more than 1 value per channel when training". A batch of
    one image gives a single value per channel wherever the feature map is 1x1 (LeNet-5's
    last batch norm) or flat (``BatchNorm1d``), so a model with batch norm is given 2.

    Example:
        >>> min_train_batch(nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3)))
        2
        >>> min_train_batch(nn.Linear(4, 3))
        1
    """
    norms = (nn.BatchNorm1d, nn.BatchNorm2d)
    return 2 if any(isinstance(m, norms) for m in model.modules()) else 1


def cosine_schedule(base_lr: float, epochs: int, steps_per_epoch: int
                    ) -> Callable[[int, int], float]:
    """A per-step cosine decay from ``base_lr`` towards 0 over ``epochs`` epochs.

    The rate of step ``s`` (from 1) of epoch ``e`` (from 1) is
    ``base_lr * (1 + cos(pi * t / T)) / 2`` with ``t = (e - 1) * steps_per_epoch + s - 1`` and
    ``T = epochs * steps_per_epoch``: a closed form, so a resumed run gets the same rates.

    Example:
        >>> lr = cosine_schedule(0.1, epochs=2, steps_per_epoch=2)
        >>> [round(lr(e, s), 4) for e in (1, 2) for s in (1, 2)]
        [0.1, 0.0854, 0.05, 0.0146]
    """
    total = max(1, int(epochs) * int(steps_per_epoch))

    def lr_at(epoch: int, step: int) -> float:
        t = (epoch - 1) * steps_per_epoch + step - 1
        return base_lr * 0.5 * (1.0 + math.cos(math.pi * min(t, total) / total))

    return lr_at


def train_one_epoch(model: Any, loader: Any, loss_fn: Callable[[Any, Any], Any], optimizer: Any,
                    *, epoch: int = 1, epochs: Optional[int] = None, progress: bool = True,
                    lr_schedule: Optional[Callable[[int, int], float]] = None,
                    grad_clip: Optional[float] = None, unit: str = "img",
                    distributed: bool = False) -> EpochResult:
    """Run one epoch of training: forward, loss, backward, optimizer step, for every batch.

    The loss is checked after each forward pass: NaN or inf stops the epoch before the
    optimizer step, with :class:`NonFiniteLossError` naming the epoch and the step. NumPy's
    overflow warnings are silenced inside (the guard reports the outcome instead).

    Args:
        model: a ``chainrule.nn.Module`` (put in train mode).
        loader: yields ``(images, labels)`` Tensors.
        loss_fn: ``loss_fn(logits, labels)`` -> a scalar Tensor (mean over the batch).
        optimizer: has ``zero_grad()`` and ``step()``.
        epoch: this epoch's number (from 1), for messages and the bar.
        epochs: the total number of epochs, for the bar.
        progress: show a tqdm bar with the running loss, accuracy and images/s.
        lr_schedule: ``lr_schedule(epoch, step)`` -> the learning rate of that step, set on
            every parameter group before the step (see :func:`cosine_schedule`).
        grad_clip: clip the gradients' global norm to this before each step (None: no clip).
        unit: what one target is, for the bar's rate (``"img"``; ``"tok"`` for a language
            model, whose logits are (N, T, K) and labels (N, T): every position counts).
        distributed: ``model`` is a ``DistributedDataParallel`` and ``loader`` yields this
            rank's part of each global batch (``chainrule.training.data.shard_batches``): each
            step sums the ranks' loss, correct count and batch size in one small all-reduce,
            so every rank sees the global batch's loss (a NaN on any rank stops every rank at
            the same step) and the results are the global ones. When the parts differ in size
            (a last batch not divisible by the ranks) each rank's loss is weighted by its
            share, so the averaged gradient is the global batch's mean exactly.

    Returns:
        An :class:`EpochResult`.

    Raises:
        NonFiniteLossError: the loss or a parameter became NaN or inf.
    """
    model.train()
    world = _world_size() if distributed else 1
    steps = len(loader)
    desc = f"epoch {epoch}" + (f"/{epochs}" if epochs else "")
    bar = _tqdm(steps, desc, progress)
    loss_sum, correct, seen = 0.0, 0, 0
    start = time.perf_counter()
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for step, (x, y) in enumerate(loader, start=1):
                logits = model(x)  # (N, K)
                loss = loss_fn(logits, y)
                value = float(loss.item())
                n = int(y.numel())  # labels (N,), or (N, T) for a language model
                hits = int((logits.detach().numpy().argmax(axis=-1) == y.numpy()).sum())
                if world > 1:  # the global batch's numbers, the same on every rank
                    total, n_all, hits = _sum_over_ranks([value * n if n else 0.0, n, hits])
                    if n * world != n_all:  # unequal parts: weight this rank's mean by its share
                        loss = loss * (n * world / n_all)
                    value, n, hits = total / n_all, int(n_all), int(hits)
                if not math.isfinite(value):
                    raise NonFiniteLossError(epoch, step, steps, value)
                if lr_schedule is not None:
                    lr = float(lr_schedule(epoch, step))
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                optimizer.zero_grad()
                loss.backward()
                if grad_clip is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                optimizer.step()
                loss_sum += value * n
                correct += hits
                seen += n
                if bar is not None:
                    elapsed = time.perf_counter() - start
                    bar.set_postfix({"loss": f"{loss_sum / seen:.4f}",
                                     "acc": f"{correct / seen:.2%}",
                                     f"{unit}/s": f"{seen / elapsed:.0f}" if elapsed > 0
                                     else "-"}, refresh=False)
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    bad = check_parameters_finite(model)
    if bad is not None:
        raise NonFiniteLossError(epoch, steps, steps, None, what=f"parameter {bad!r}")
    seconds = time.perf_counter() - start
    return EpochResult(loss_sum / seen if seen else float("nan"), correct / seen if seen else 0.0,
                       seen, seconds)


def evaluate(model: Any, loader: Any, loss_fn: Optional[Callable[[Any, Any], Any]] = None, *,
             num_classes: Optional[int] = None, distributed: bool = False) -> EvalResult:
    """Measure loss, accuracy and the confusion matrix in eval mode, without recording a graph.

    The model's train/eval mode is restored afterwards.

    Args:
        model: a classifier returning logits (N, K), or (N, T, K) for labels (N, T).
        loader: yields ``(images, labels)`` Tensors.
        loss_fn: optional ``loss_fn(logits, labels)`` (mean over the batch).
        num_classes: K (default: the width of the logits; required with ``distributed``).
        distributed: ``loader`` yields this rank's part of the test set
            (``chainrule.training.data.RankSlice``): the loss sums, counts and confusion
            matrices of the ranks are summed in one all-reduce, so every rank returns the
            whole set's result (the accuracy exactly the single-process one).

    Returns:
        An :class:`EvalResult`.
    """
    world = _world_size() if distributed else 1
    if world > 1 and num_classes is None:
        raise ValueError("evaluate: distributed=True needs num_classes (a rank may hold no "
                         "test item to read it from)")
    was_training = model.training
    model.eval()
    loss_sum, seen = 0.0, 0
    preds, targets = [], []
    try:
        with no_grad(), np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            for x, y in loader:
                logits = model(x)  # (N, K) or (N, T, K)
                if num_classes is None:
                    num_classes = int(logits.shape[-1])
                n = int(y.numel())
                if loss_fn is not None:
                    loss_sum += float(loss_fn(logits, y).item()) * n
                preds.append(logits.numpy().argmax(axis=-1).reshape(-1))
                targets.append(y.numpy().reshape(-1))
                seen += n
    finally:
        model.train(was_training)
    k = int(num_classes or 1)
    cm = confusion_matrix(np.concatenate(targets) if targets else np.zeros(0, np.int64),
                          np.concatenate(preds) if preds else np.zeros(0, np.int64), k)
    if world > 1:  # counts below 2**53 add exactly in float64
        summed = _sum_over_ranks(np.concatenate([[loss_sum, seen], cm.reshape(-1)]))
        loss_sum, seen = float(summed[0]), int(summed[1])
        cm = summed[2:].round().astype(np.int64).reshape(k, k)
    loss = loss_sum / seen if (loss_fn is not None and seen) else None
    return EvalResult(loss, accuracy(cm), cm, seen)


def _world_size() -> int:
    """The ranks of ``chainrule.distributed``'s process group (1 when none is set up)."""
    from .. import distributed as dist

    return dist.get_world_size() if dist.is_initialized() else 1


def _sum_over_ranks(values: Any) -> np.ndarray:
    """``values`` (numbers) summed over the ranks in one float64 all-reduce; every rank gets
    the sums."""
    from .. import distributed as dist
    from ..autograd.tensor import Tensor

    t = Tensor(np.array(values, dtype=np.float64))
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.numpy()


def predict_proba(model: Any, x: Any) -> np.ndarray:
    """Class probabilities (N, K) float32 of a batch, in eval mode (mode restored)."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            return softmax(model(x), dim=1).numpy()  # (N, K)
    finally:
        model.train(was_training)
