"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""
from __future__ import annotations

from typing import Any, Mapping, Optional

from ..autograd.tensor import Tensor
from .optimizer import Hyper, Optimizer, ParamsT


class SGD(Optimizer):
    """Stochastic gradient descent, exactly ``torch.optim.SGD``'s update.

    With ``g`` the gradient (negated if ``maximize``)::

        g = g + weight_decay * p
        buf = g                                   (first step)
        buf = momentum * buf + (1 - dampening) * g  (later steps)
        g = g + momentum * buf if nesterov else buf  (when momentum != 0)
        p = p - lr * g

    Args:
        params: parameters or parameter groups.
        lr: learning rate (>= 0).
        momentum: momentum factor (>= 0).
        dampening: dampening of the momentum.
        weight_decay: L2 penalty (>= 0).
        nesterov: use Nesterov momentum (needs momentum > 0 and dampening 0).
        maximize: maximize the objective instead of minimizing it.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):
        ...     opt.zero_grad()
        ...     (w * w).sum().backward()          # gradient 2w
        ...     opt.step()
        >>> round(w.item(), 4)                  # 1 - 0.2 = 0.8, then 0.8 - 0.1*(1.6 + 1.8)
        0.46
    """

    hypers = {"lr": Hyper("nonnegative", "learning rate"),
              "momentum": Hyper("nonnegative", "momentum value"),
              "dampening": Hyper("number"),
              "weight_decay": Hyper("nonnegative", "weight_decay value"),
              "nesterov": Hyper("flag"), "maximize": Hyper("flag")}
    state_kinds = {"momentum_buffer": "buffer"}

    def __init__(self, params: ParamsT, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False,
                 *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        self._check_arguments(defaults)
        super().__init__(params, defaults)

    def _group_problem(self, group: Mapping[str, Any]) -> Optional[str]:
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            return "Nesterov momentum requires a momentum and zero dampening"
        return None

    def _required_state(self, group: Mapping[str, Any]) -> frozenset[str]:
        return frozenset({"momentum_buffer"} if group["momentum"] != 0 else ())

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        p = param._data
        momentum = group["momentum"]
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
            else:
                buf *= momentum
                if group["dampening"]:
                    buf += (1 - group["dampening"]) * grad
                else:
                    buf += grad  # no temporary array in the common case
            grad = grad + momentum * buf if group["nesterov"] else buf
        p += -group["lr"] * grad
