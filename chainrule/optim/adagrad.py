"""Adagrad: per-coordinate learning rates from the sum of squared gradients."""
from __future__ import annotations

from typing import Any, Mapping

from ..autograd.tensor import Tensor
from ..backend import xp
from .optimizer import Hyper, Optimizer, ParamsT


class Adagrad(Optimizer):
    """Adagrad, exactly ``torch.optim.Adagrad``'s update.

    At step ``t``, with ``g`` the gradient (negated if ``maximize``, plus
    ``weight_decay * p``)::

        clr = lr / (1 + (t - 1) * lr_decay)
        sum = sum + g * g                    (sum starts at initial_accumulator_value)
        p = p - clr * g / (sqrt(sum) + eps)

    Args:
        params: parameters or parameter groups.
        lr: learning rate (>= 0).
        lr_decay: learning-rate decay per step (>= 0).
        weight_decay: L2 penalty (>= 0).
        initial_accumulator_value: the starting value of the squared-gradient sum (>= 0).
        eps: added to the denominator (>= 0).
        maximize: maximize the objective instead of minimizing it.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.Adagrad([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()                    # first step: lr * g / |g| = 0.1
        >>> round(w.item(), 4)
        0.9
    """

    hypers = {"lr": Hyper("nonnegative", "learning rate"),
              "lr_decay": Hyper("nonnegative", "lr_decay value"),
              "weight_decay": Hyper("nonnegative", "weight_decay value"),
              "initial_accumulator_value": Hyper("nonnegative",
                                                 "initial_accumulator_value value"),
              "eps": Hyper("nonnegative", "epsilon value"),
              "maximize": Hyper("flag")}
    state_kinds = {"step": "step", "sum": "buffer"}

    def __init__(self, params: ParamsT, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        maximize=maximize)
        self._check_arguments(defaults)
        super().__init__(params, defaults)

    def _required_state(self, group: Mapping[str, Any]) -> frozenset[str]:
        return frozenset({"step", "sum"})

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        p = param._data
        if not state:
            state.update(step=0, sum=xp.full_like(p, group["initial_accumulator_value"]))
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p
        clr = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
        state["sum"] += grad * grad
        std = xp.sqrt(state["sum"]) + group["eps"]
        p += -clr * grad / std  # torch's addcdiv_: (value * g) / std
