"""Adadelta: step sizes from running averages of squared gradients and squared updates."""
from __future__ import annotations

from typing import Any, Mapping

from ..autograd.tensor import Tensor
from ..backend import xp
from .optimizer import Hyper, Optimizer, ParamsT


class Adadelta(Optimizer):
    """Adadelta, exactly ``torch.optim.Adadelta``'s update.

    With ``g`` the gradient (negated if ``maximize``, plus ``weight_decay * p``)::

        v = rho * v + (1 - rho) * g * g
        delta = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * delta * delta
        p = p - lr * delta

    Args:
        params: parameters or parameter groups.
        lr: scale of the update (>= 0).
        rho: decay rate of the running averages, in [0, 1].
        eps: added inside the square roots (>= 0).
        weight_decay: L2 penalty (>= 0).
        maximize: maximize the objective instead of minimizing it.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.Adadelta([w], lr=1.0)
        >>> (w * w).sum().backward()
        >>> opt.step()          # first step: sqrt(eps) / sqrt(0.1 g^2 + eps) * g ~ 0.00316
        >>> round(w.item(), 5)
        0.99684
    """

    hypers = {"lr": Hyper("nonnegative", "learning rate"),
              "rho": Hyper("fraction", "rho value"),
              "eps": Hyper("nonnegative", "epsilon value"),
              "weight_decay": Hyper("nonnegative", "weight_decay value"),
              "maximize": Hyper("flag")}
    state_kinds = {"step": "step", "square_avg": "buffer", "acc_delta": "buffer"}

    def __init__(self, params: ParamsT, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        self._check_arguments(defaults)
        super().__init__(params, defaults)

    def _required_state(self, group: Mapping[str, Any]) -> frozenset[str]:
        return frozenset({"step", "square_avg", "acc_delta"})

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        p = param._data
        rho, eps = group["rho"], group["eps"]
        if not state:
            state.update(step=0, square_avg=xp.zeros_like(p), acc_delta=xp.zeros_like(p))
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p
        square_avg, acc_delta = state["square_avg"], state["acc_delta"]
        square_avg *= rho
        square_avg += (1 - rho) * grad * grad
        std = xp.sqrt(square_avg + eps)
        delta = xp.sqrt(acc_delta + eps) / std * grad
        acc_delta *= rho
        acc_delta += (1 - rho) * delta * delta
        p += -group["lr"] * delta
