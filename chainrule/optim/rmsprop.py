"""RMSprop, optionally centered and with momentum."""
from __future__ import annotations

from typing import Any, Mapping

from ..autograd.tensor import Tensor
from ..backend import xp
from .optimizer import Hyper, Optimizer, ParamsT, lerp_


class RMSprop(Optimizer):
    """RMSprop, exactly ``torch.optim.RMSprop``'s update.

    With ``g`` the gradient (plus ``weight_decay * p``)::

        v = alpha * v + (1 - alpha) * g * g
        avg = sqrt(v - mean_g**2) if centered else sqrt(v)     (mean_g: running mean of g)
        buf = momentum * buf + g / (avg + eps);  p = p - lr * buf     (momentum > 0)
        p = p - lr * g / (avg + eps)                                  (momentum == 0)

    Args:
        params: parameters or parameter groups.
        lr: learning rate (>= 0).
        alpha: smoothing constant of the squared-gradient average (>= 0).
        eps: added to the denominator (>= 0).
        weight_decay: L2 penalty (>= 0).
        momentum: momentum factor (>= 0).
        centered: normalise by the estimated variance of the gradient.
        maximize: maximize the objective instead of minimizing it.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.RMSprop([w], lr=0.01)
        >>> (w * w).sum().backward()
        >>> opt.step()                 # first step: lr * g / sqrt(0.01 g^2) = 0.1
        >>> round(w.item(), 4)
        0.9
    """

    hypers = {"lr": Hyper("nonnegative", "learning rate"),
              "eps": Hyper("nonnegative", "epsilon value"),
              "momentum": Hyper("nonnegative", "momentum value"),
              "weight_decay": Hyper("nonnegative", "weight_decay value"),
              "alpha": Hyper("nonnegative", "alpha value"),
              "centered": Hyper("flag"), "maximize": Hyper("flag")}
    state_kinds = {"step": "step", "square_avg": "buffer", "momentum_buffer": "buffer",
                   "grad_avg": "buffer"}

    def __init__(self, params: ParamsT, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, *, maximize: bool = False) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        self._check_arguments(defaults)
        super().__init__(params, defaults)

    def _required_state(self, group: Mapping[str, Any]) -> frozenset[str]:
        return frozenset({"step", "square_avg"}
                         | ({"momentum_buffer"} if group["momentum"] > 0 else set())
                         | ({"grad_avg"} if group["centered"] else set()))

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        p = param._data
        alpha = group["alpha"]
        if not state:
            state.update(step=0, square_avg=xp.zeros_like(p))
            if group["momentum"] > 0:
                state["momentum_buffer"] = xp.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p)
        state["step"] += 1
        if group["weight_decay"] != 0:
            grad = grad + group["weight_decay"] * p
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1 - alpha) * grad * grad
        if group["centered"]:
            grad_avg = state["grad_avg"]
            lerp_(grad_avg, grad, 1 - alpha)
            avg = xp.sqrt(square_avg + -1 * grad_avg * grad_avg)
        else:
            avg = xp.sqrt(square_avg)
        avg += group["eps"]
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf *= group["momentum"]
            buf += grad / avg
            p += -group["lr"] * buf
        else:
            p += -group["lr"] * grad / avg
