"""``Optimizer``: parameter groups, ``step``, ``zero_grad`` and a portable ``state_dict``.

A subclass writes one method, ``_update(param, grad, state, group)``, that changes
``param.data`` in place with float32 arithmetic (NumPy keeps Python scalars weak, so
``lr * grad`` stays float32). The base class runs it under ``no_grad`` for every parameter
that has a gradient and bumps the parameter's version, so a graph recorded before the step
refuses to backpropagate through the stale value.

``state_dict()`` uses PyTorch's layout: ``{"state": {index: {...}}, "param_groups": [{...,
"params": [index, ...]}]}`` with parameters numbered in group order. Buffers are NumPy arrays
(copies), everything else is JSON-friendly (numbers, bools, lists), so a checkpoint stores the
arrays in safetensors and the rest in JSON.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping, Optional, Union

import numpy

from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.tensor import Tensor
from ..backend import xp
from ..nn.module import reset_grad

ParamsT = Union[Iterable[Tensor], Iterable[dict[str, Any]]]


def check_hyper(name: str, value: float, minimum: float = 0.0) -> None:
    """Raise ``ValueError("Invalid <name>: <value>")`` (PyTorch's wording) below ``minimum``."""
    if not minimum <= value:
        raise ValueError(f"Invalid {name}: {value}")


def lerp_(start: Any, end: Any, weight: float) -> None:
    """``start += weight * (end - start)`` in place, with PyTorch's formula for each half of
    the weight range (so the float32 roundings match ``Tensor.lerp_``)."""
    if weight < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)


class Optimizer:
    """Base class of the optimizers.

    Args:
        params: an iterable of parameters, or of dicts (parameter groups) each with a
            ``'params'`` entry and optional per-group hyper-parameters, e.g.
            ``[{'params': model.fc.parameters(), 'lr': 1e-3}, {'params': other}]``.
        defaults: the hyper-parameters of groups that do not set them.

    Example:
        >>> import chainrule as cr
        >>> w = cr.nn.Parameter(cr.ones(2))
        >>> opt = cr.optim.SGD([w], lr=0.5)
        >>> (w * w).sum().backward()
        >>> opt.step()
        >>> w.tolist()
        [0.0, 0.0]
        >>> opt.state_dict()["param_groups"][0]["params"]
        [0]
    """

    def __init__(self, params: ParamsT, defaults: dict[str, Any]) -> None:
        self.defaults = dict(defaults)
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.param_groups: list[dict[str, Any]] = []
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            "Tensors or dicts, but got Tensor")
        _check_ordered(params)
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (with its own hyper-parameters) to optimize.

        Args:
            param_group: a dict with ``'params'`` and optionally hyper-parameters; the
                others are taken from the optimizer's defaults.
        """
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group).__name__}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        else:
            _check_ordered(params)
            params = list(params)
        for p in params:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is "
                                f"{type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        if len({id(p) for p in params}) != len(params):
            raise ValueError("optimizer contains a parameter group with duplicate parameters")
        group = {k: _plain(v) for k, v in {**self.defaults, **param_group}.items()}
        group["params"] = params
        existing = {id(p) for g in self.param_groups for p in g["params"]}
        if any(id(p) in existing for p in params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # ------------------------------------------------------------------ stepping
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized parameters: to ``None`` (default) or zeros."""
        for group in self.param_groups:
            for p in group["params"]:
                reset_grad(p, set_to_none)

    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:
        """Update every parameter that has a gradient; return ``closure()``'s loss if given.

        Args:
            closure: re-evaluates the model and returns the loss (called with grad enabled).
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        with no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad.data
                    if grad.dtype != p.data.dtype:
                        grad = grad.astype(p.data.dtype)
                    if group.get("maximize", False):
                        grad = -grad
                    state = self.state.get(p, {})
                    self._update(p, grad, state, group)
                    if state:  # plain SGD keeps no state, as in torch
                        self.state[p] = state
                    p._version += 1  # graphs recorded before the step now see a stale value
        return loss

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        """Change ``param.data`` in place given its gradient (an ndarray not to be modified),
        its state dict and its group's hyper-parameters."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _update")

    # ------------------------------------------------------------------ state dict
    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state in PyTorch's layout, with parameters replaced by indices.

        Returns:
            ``{"state": {index: {name: ndarray or number}}, "param_groups": [{...,
            "params": [index, ...]}]}``; arrays are copies.
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = []
            for p in group["params"]:
                index.setdefault(id(p), len(index))
                packed["params"].append(index[id(p)])
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: v.copy() if isinstance(v, xp.ndarray) else v
                                           for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore a state from :meth:`state_dict` (its arrays are copied in).

        Everything is validated first (group count and sizes, buffer shapes); on error the
        optimizer is unchanged.
        """
        if not isinstance(state_dict, Mapping) or "param_groups" not in state_dict:
            raise ValueError("optimizer state_dict must be a dict with 'state' and "
                             "'param_groups'")
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)}) than the optimizer "
                             f"({len(self.param_groups)})")
        params: dict[int, Tensor] = {}
        for group, saved in zip(self.param_groups, saved_groups):
            if len(group["params"]) != len(saved["params"]):
                raise ValueError(f"loaded state dict contains a parameter group that doesn't "
                                 f"match the size of optimizer's group ({len(saved['params'])} "
                                 f"vs {len(group['params'])} parameters)")
            for i, p in zip(saved["params"], group["params"]):
                params[int(i)] = p
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, values in state_dict.get("state", {}).items():
            p = params.get(int(key))
            if p is None:
                raise ValueError(f"loaded state dict has state for parameter {key}, which is in "
                                 f"no parameter group")
            new_state[p] = {name: _load_value(v, p, key, name) for name, v in values.items()}
        groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            restored = {k: tuple(_plain(v)) if isinstance(group.get(k), tuple) else _plain(v)
                        for k, v in saved.items() if k != "params"}
            groups.append({**restored, "params": group["params"]})
        self.state = new_state
        self.param_groups = groups

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {k}: {group[k]}" for k in sorted(group) if k != "params"]
        return "\n".join(lines + [")"])


def _plain(value: Any) -> Any:
    """NumPy scalars (or tuples of them) as Python numbers: a float64 scalar hyper-parameter
    would otherwise upcast the float32 updates (NumPy keeps only Python scalars weak)."""
    if isinstance(value, numpy.generic):
        return value.item()
    if isinstance(value, (tuple, list)) and any(isinstance(v, numpy.generic) for v in value):
        return type(value)(v.item() if isinstance(v, numpy.generic) else v for v in value)
    return value


def _check_ordered(params: Any) -> None:
    if isinstance(params, (set, frozenset)):
        raise TypeError("optimizer parameters need to be organized in ordered collections, but "
                        "the ordering of tensors in sets will change between runs. Please use a "
                        "list instead.")


def _load_value(value: Any, param: Tensor, key: Any, name: str) -> Any:
    """A state entry as stored: arrays copied and cast to the parameter's dtype."""
    if isinstance(value, Tensor):
        value = value.data
    if isinstance(value, (xp.ndarray, numpy.generic)) and numpy.ndim(value) > 0:
        if value.shape != param.shape:
            raise ValueError(f"loaded state dict: state '{name}' of parameter {key} has shape "
                             f"{value.shape}, but the parameter has shape {param.shape}")
        return numpy.array(value, dtype=param.dtype)
    if isinstance(value, numpy.generic):
        return value.item()
    return value
