"""Adam and AdamW (decoupled weight decay), with optional AMSGrad."""
from __future__ import annotations

from typing import Any, Mapping

from ..autograd.tensor import Tensor
from ..backend import xp
from .optimizer import Hyper, Optimizer, ParamsT, lerp_


class Adam(Optimizer):
    """Adam, exactly ``torch.optim.Adam``'s update.

    At step ``t``, with ``g`` the gradient (plus ``weight_decay * p``, or with ``p`` scaled
    by ``1 - lr * weight_decay`` first when decoupled)::

        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g      (v_max = max(v_max, v) with amsgrad)
        p = p - lr / (1 - beta1**t) * m / (sqrt(v) / sqrt(1 - beta2**t) + eps)

    Args:
        params: parameters or parameter groups.
        lr: learning rate (>= 0).
        betas: decay rates of the first and second moment averages, each in [0, 1).
        eps: added to the denominator (>= 0).
        weight_decay: L2 penalty (>= 0).
        amsgrad: use the maximum of past second moments.
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: AdamW's decay of the weights instead of an L2 gradient term.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0, -1.0]))
        >>> opt = cr.optim.Adam([w], lr=0.1)
        >>> (w * w).sum().backward()
        >>> opt.step()                      # the first step moves each weight by about lr
        >>> [round(v, 4) for v in w.tolist()]
        [0.9, -0.9]
    """

    hypers = {"lr": Hyper("nonnegative", "learning rate"),
              "eps": Hyper("nonnegative", "epsilon value"),
              "betas": Hyper("betas", "beta parameter"),
              "weight_decay": Hyper("nonnegative", "weight_decay value"),
              "amsgrad": Hyper("flag"), "maximize": Hyper("flag"),
              "decoupled_weight_decay": Hyper("flag")}
    state_kinds = {"step": "step", "exp_avg": "buffer", "exp_avg_sq": "buffer",
                   "max_exp_avg_sq": "buffer"}

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, maximize: bool = False,
                 decoupled_weight_decay: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize,
                        decoupled_weight_decay=decoupled_weight_decay)
        self._check_arguments(defaults)
        super().__init__(params, defaults)

    def _required_state(self, group: Mapping[str, Any]) -> frozenset[str]:
        needed = {"step", "exp_avg", "exp_avg_sq"}
        return frozenset(needed | {"max_exp_avg_sq"} if group["amsgrad"] else needed)

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        p = param._data
        lr, (beta1, beta2), wd = group["lr"], group["betas"], group["weight_decay"]
        if not state:
            state.update(step=0, exp_avg=xp.zeros_like(p), exp_avg_sq=xp.zeros_like(p))
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = xp.zeros_like(p)
        state["step"] += 1
        step = state["step"]
        if wd != 0:
            if group["decoupled_weight_decay"]:
                p *= 1 - lr * wd
            else:
                grad = grad + wd * p
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        lerp_(exp_avg, grad, 1 - beta1)
        exp_avg_sq *= beta2
        exp_avg_sq += (1 - beta2) * grad * grad
        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        if group["amsgrad"]:
            xp.maximum(state["max_exp_avg_sq"], exp_avg_sq, out=state["max_exp_avg_sq"])
            exp_avg_sq = state["max_exp_avg_sq"]
        denom = xp.sqrt(exp_avg_sq) / bias_correction2_sqrt + group["eps"]
        p += -step_size * exp_avg / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (``torch.optim.AdamW``): each step first scales the
    weights by ``1 - lr * weight_decay``, then takes an Adam step on the plain gradient.

    Args:
        params: parameters or parameter groups.
        lr: learning rate (>= 0).
        betas: decay rates of the moment averages, each in [0, 1).
        eps: added to the denominator (>= 0).
        weight_decay: decoupled decay rate (default 1e-2).
        amsgrad: use the maximum of past second moments.
        maximize: maximize the objective instead of minimizing it.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.tensor([1.0]))
        >>> opt = cr.optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> w.grad = cr.tensor([0.0])              # no gradient: only the decay acts
        >>> opt.step()
        >>> round(w.item(), 4)
        0.95
    """

    def __init__(self, params: ParamsT, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
