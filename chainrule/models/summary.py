"""``summary``: each layer's output shape, parameter count and multiply-accumulate count."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional, Sequence

from .. import nn
from ..autograd.grad_mode import no_grad
from ..autograd.tensor import Tensor
from ..creation import zeros


@dataclass
class LayerInfo:
    """One row of a :class:`ModelSummary` (one leaf module call).

    Attributes:
        name: the module's hierarchical name (``conv1``, ``block.0``).
        kind: its class name (``Conv2d``).
        output_shape: the shape of its output for the summarised input.
        params: number of parameters it owns.
        macs: multiply-accumulates of its call (convolutions and linear layers; 0 otherwise).
    """

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    macs: int


@dataclass
class ModelSummary:
    """What :func:`summary` measured; ``str(s)`` is the printed table.

    Attributes:
        rows: one :class:`LayerInfo` per leaf-module call, in execution order.
        input_shape: the input the forward pass ran on.
        total_params: parameters of the whole model.
        trainable_params: those with ``requires_grad``.
        total_macs: the sum of the rows' MACs.
    """

    rows: list[LayerInfo]
    input_shape: tuple[int, ...]
    total_params: int
    trainable_params: int
    total_macs: int = field(default=0)

    def __str__(self) -> str:
        head = ("Layer", "Type", "Output shape", "Params", "MACs")
        body = [(r.name, r.kind, str(list(r.output_shape)), f"{r.params:,}", f"{r.macs:,}")
                for r in self.rows]
        widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h)
                  for i, h in enumerate(head)]

        def line(cells: Sequence[str]) -> str:
            left = [c.ljust(w) for c, w in zip(cells[:3], widths[:3])]
            right = [c.rjust(w) for c, w in zip(cells[3:], widths[3:])]
            return "  ".join(left + right).rstrip()

        rule = "-" * len(line(["x" * w for w in widths]))
        out = [f"input shape: {list(self.input_shape)}", line(head), rule]
        out += [line(b) for b in body]
        out += [rule,
                f"total params: {self.total_params:,} (trainable {self.trainable_params:,})",
                f"total MACs: {self.total_macs:,}"]
        return "\n".join(out)


def layer_macs(module: Any, output: Tensor) -> int:
    """Multiply-accumulates of one call of ``module`` that produced ``output``.

    Convolutions: ``KH*KW*(C_in/groups)*C_out*OH*OW*N`` (``C_out*OH*OW*N`` is the output size);
    linear layers: ``in*out*N`` (``out*N`` is the output size); any other layer: 0.
    """
    n_out = int(output.numel()) if isinstance(output, Tensor) else 0
    if hasattr(module, "kernel_size") and hasattr(module, "in_channels"):
        k = module.kernel_size
        k = math.prod(k) if isinstance(k, (tuple, list)) else int(k) ** 2
        groups = int(getattr(module, "groups", 1))
        return k * (int(module.in_channels) // groups) * n_out
    if hasattr(module, "in_features") and hasattr(module, "out_features") \
            and isinstance(module, nn.Linear):
        return int(module.in_features) * n_out
    return 0


def _is_leaf(module: Any) -> bool:
    return next(iter(module.children()), None) is None


def summary(model: Any, input_shape: Sequence[int] = (1, 1, 28, 28), *,
            print_fn: Optional[Callable[[str], Any]] = print) -> ModelSummary:
    """Run one forward pass on zeros and report every leaf layer it called.

    The model runs in eval mode under ``no_grad`` (its mode is restored afterwards, its weights,
    buffers and the random generator are untouched).

    Args:
        model: a ``chainrule.nn.Module``.
        input_shape: the full input shape, batch first, e.g. ``(1, 1, 28, 28)``; MACs scale
            with the batch size N.
        print_fn: called with the table; None prints nothing.

    Returns:
        A :class:`ModelSummary` (rows, totals; ``str()`` gives the table).

    Example:
        >>> import chainrule as cr
        >>> from chainrule.models import LeNet5
        >>> s = summary(LeNet5(), (1, 1, 28, 28), print_fn=None)
        >>> s.total_params, s.total_macs
        (61990, 416520)
        >>> s.rows[0]
        LayerInfo(name='conv1', kind='Conv2d', output_shape=(1, 6, 28, 28), params=156, macs=117600)
    """
    shape = tuple(int(s) for s in input_shape)
    if not shape or any(s < 1 for s in shape):
        raise ValueError(f"summary: input_shape must be positive ints, batch first, got "
                         f"{tuple(input_shape)}")
    rows: list[LayerInfo] = []
    handles = []

    def make_hook(name: str) -> Callable[..., None]:
        def hook(module: Any, inputs: Any, output: Any) -> None:
            out_shape = tuple(output.shape) if isinstance(output, Tensor) else ()
            params = sum(int(p.numel()) for p in module.parameters())
            rows.append(LayerInfo(name or type(module).__name__, type(module).__name__,
                                  out_shape, params, layer_macs(module, output)))
        return hook

    for name, module in model.named_modules():
        if _is_leaf(module):
            handles.append(module.register_forward_hook(make_hook(name)))
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            model(zeros(*shape))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    params = list(model.parameters())
    result = ModelSummary(rows, shape, sum(int(p.numel()) for p in params),
                          sum(int(p.numel()) for p in params if p.requires_grad),
                          sum(r.macs for r in rows))
    if print_fn is not None:
        print_fn(str(result))
    return result
