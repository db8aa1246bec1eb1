"""``Optimizer``: parameter groups, ``step``, ``zero_grad`` and a portable ``state_dict``.

A subclass writes one method, ``_update(param, grad, state, group)``, that changes
``param._data`` in place with float32 arithmetic (NumPy keeps Python scalars weak, so
``lr * grad`` stays float32). The base class runs it under ``no_grad`` for every parameter
that has a gradient and bumps the parameter's version, so a graph recorded before the step
refuses to backpropagate through the stale value.

``state_dict()`` uses PyTorch's layout: ``{"state": {index: {...}}, "param_groups": [{...,
"params": [index, ...]}]}`` with parameters numbered in group order. Buffers are NumPy arrays
(copies), everything else is JSON-friendly (numbers, bools, lists), so a checkpoint stores the
arrays in safetensors and the rest in JSON. (A hyper-parameter given as a 1-element Tensor, as
PyTorch allows, e.g. ``lr=cr.tensor(0.01)``, is read as its value at each step and stays a
Tensor in the groups and the state dict, as in PyTorch.)

Each subclass also declares its rules once: ``hypers`` (every hyper-parameter and what it must
be: the constructor checks them with PyTorch's wording, :meth:`Optimizer.load_state_dict` checks
a restored state against them) and ``state_kinds`` (the names of a parameter's state and what
each holds), so a state dict from a file is refused before it can fail mid-step.
"""
from __future__ import annotations

import math
from typing import Any, Callable, ClassVar, Iterable, Mapping, NamedTuple, Optional, Union

import numpy

from ..autograd.grad_mode import enable_grad, no_grad
from ..autograd.tensor import Tensor
from ..backend import xp
from ..nn.module import reset_grad

ParamsT = Union[Iterable[Tensor], Iterable[dict[str, Any]]]


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, numpy.integer, numpy.floating)) \
        and not isinstance(value, (bool, numpy.bool_)) and math.isfinite(value)


def _as_number(value: Any) -> Any:
    """A 1-element Tensor as its Python number (recursively in a tuple or list, for betas);
    anything else as it is."""
    if isinstance(value, Tensor) and value.numel() == 1:
        return value.item()
    if isinstance(value, (tuple, list)):
        return type(value)(_as_number(v) for v in value)
    return value


def hyper_value(value: Any, where: str) -> Any:
    """A numeric hyper-parameter as the Python number a step computes with.

    PyTorch accepts a 1-element Tensor wherever it takes a float hyper-parameter (``lr``,
    ``betas``, ``weight_decay``, ...) and reads its current value at each step; a NumPy
    scalar or 1-element array is read the same way. Anything else that is not a real number
    raises, instead of making the update a silent no-op.

    Args:
        value: the group's value (a number, a 1-element Tensor or array, or for ``betas`` a
            tuple of them).
        where: how to name it in an error, e.g. ``"SGD.step: param_groups[0]['lr']"``.

    Example:
        >>> import chainrule as cr
        >>> hyper_value(cr.tensor(0.5), "lr")
        0.5
        >>> hyper_value("0.5", "lr")
        Traceback (most recent call last):
        ...
        TypeError: lr must be a number or a 1-element Tensor, got str '0.5'
    """
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value
    if isinstance(value, tuple):
        return tuple(hyper_value(v, f"{where}[{i}]") for i, v in enumerate(value))
    if isinstance(value, Tensor):
        if value.numel() != 1:
            raise ValueError(f"{where}: a Tensor hyper-parameter must be 1-element, got shape "
                             f"{tuple(value.shape)}")
        number = value.item()
    elif isinstance(value, (numpy.ndarray, numpy.generic)) and value.size == 1:
        number = value.item()
    else:
        number = value
    if isinstance(number, (int, float)) and not isinstance(number, bool):
        return number
    raise TypeError(f"{where} must be a number or a 1-element Tensor, got "
                    f"{type(value).__name__} {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, numpy.integer)) and not isinstance(value, (bool, numpy.bool_))


# kind of hyper-parameter -> (the test of a restored value, what the value must be)
_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "number": (_is_number, "a finite number"),
    "nonnegative": (lambda v: _is_number(v) and v >= 0, "a finite number >= 0"),
    "fraction": (lambda v: _is_number(v) and 0 <= v <= 1, "a finite number in [0, 1]"),
    "flag": (lambda v: isinstance(v, (bool, numpy.bool_)), "true or false"),
    "betas": (lambda v: isinstance(v, (list, tuple)) and len(v) == 2
              and all(_is_number(b) and 0 <= b < 1 for b in v),
              "two finite numbers in [0, 1)"),
}


class Hyper(NamedTuple):
    """The rule of one hyper-parameter.

    Attributes:
        kind: what a restored value must be: ``"number"`` (finite), ``"nonnegative"``
            (finite, >= 0), ``"fraction"`` (finite, in [0, 1]), ``"flag"`` (a bool) or
            ``"betas"`` (two finite numbers in [0, 1)).
        label: PyTorch's name of it in the constructor's ``Invalid <label>: <value>`` error;
            ``""`` where PyTorch's constructor does not check it.

    Example:
        >>> Hyper("nonnegative", "learning rate").problem(-1)
        'must be a finite number >= 0, got -1'
    """

    kind: str
    label: str = ""

    def check_argument(self, value: Any) -> None:
        """The constructor's check, as PyTorch makes it (a value of another type fails on its
        comparison, with a TypeError, as in PyTorch)."""
        if not self.label:
            return
        number = _as_number(value)  # a 1-element Tensor is checked by its value
        if self.kind == "betas":
            for i, beta in enumerate(number):
                if not 0.0 <= beta < 1.0:
                    raise ValueError(f"Invalid {self.label} at index {i}: {value[i]}")
        elif self.kind == "fraction" and not 0.0 <= number <= 1.0:
            raise ValueError(f"Invalid {self.label}: {value}")
        elif not 0.0 <= number:
            raise ValueError(f"Invalid {self.label}: {value}")

    def problem(self, value: Any) -> Optional[str]:
        """What is wrong with ``value`` as a restored hyper-parameter; None when it is good."""
        test, rule = _KINDS[self.kind]
        return None if test(_as_number(value)) else f"must be {rule}, got {value!r}"


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

    hypers: ClassVar[dict[str, Hyper]] = {}
    """Every hyper-parameter of the subclass and its rule, in the order PyTorch checks them."""
    state_kinds: ClassVar[Optional[dict[str, str]]] = None
    """Every entry a parameter's state may hold: name -> ``"buffer"`` (a float array of the
    parameter's shape) or ``"step"`` (an int >= 1); None: not declared (then any name is loaded
    and only the shapes of arrays are checked)."""

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
            for g, group in enumerate(self.param_groups):
                hypers = self.step_hypers(group, g)
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    grad = p.grad._data
                    if grad.dtype != p._data.dtype:
                        grad = grad.astype(p._data.dtype)
                    if group.get("maximize", False):
                        grad = -grad
                    state = self.state.get(p, {})
                    self._update(p, grad, state, hypers)
                    if state:  # plain SGD keeps no state, as in torch
                        self.state[p] = state
                    p._version += 1  # graphs recorded before the step now see a stale value
        return loss

    def step_hypers(self, group: dict[str, Any], index: int = 0) -> dict[str, Any]:
        """``group`` as a step reads it: every numeric hyper-parameter a Python number.

        A 1-element Tensor (``lr=cr.tensor(0.5)``, as PyTorch accepts) is read as its current
        value, so changing the tensor in place changes the next step, as in PyTorch. A value
        that is no number raises (see :func:`hyper_value`). The group itself is returned when
        nothing needs reading (the common case), else a copy.

        Raises:
            TypeError: a hyper-parameter that is neither a number nor a 1-element Tensor.
            ValueError: a Tensor hyper-parameter with more than one element.
        """
        read: Optional[dict[str, Any]] = None
        for name, value in group.items():
            hyper = self.hypers.get(name)
            if hyper is not None and hyper.kind == "flag" or name == "params":
                continue
            if hyper is not None or isinstance(value, Tensor):
                number = hyper_value(value, f"{type(self).__name__}.step: "
                                            f"param_groups[{index}][{name!r}]")
                if number is not value:
                    read = dict(group) if read is None else read
                    read[name] = number
        return group if read is None else read

    def _update(self, param: Tensor, grad: Any, state: dict[str, Any],
                group: dict[str, Any]) -> None:
        """Change ``param._data`` in place given its gradient (an ndarray not to be modified),
        its state dict and its group's hyper-parameters."""
        raise NotImplementedError(f"{type(self).__name__} does not implement _update")

    # ------------------------------------------------------------------ the rules
    def _check_arguments(self, defaults: Mapping[str, Any]) -> None:
        """The constructor's checks of ``hypers``, with PyTorch's errors, then the rule across
        hyper-parameters (:meth:`_group_problem`)."""
        for name, hyper in self.hypers.items():
            value = defaults[name]
            for i, v in enumerate(value if hyper.kind == "betas" else (value,)):
                if isinstance(v, Tensor) and v.numel() != 1:
                    label = f"{name}[{i}]" if hyper.kind == "betas" else name
                    raise ValueError(f"Tensor {label} must be 1-element")
            if hyper.kind == "betas" and len({isinstance(v, Tensor) for v in value}) > 1:
                raise ValueError("betas must be either both floats or both Tensors")
            hyper.check_argument(value)
        problem = self._group_problem({k: _as_number(v) for k, v in defaults.items()})
        if problem is not None:
            raise ValueError(problem)

    def _group_problem(self, group: Mapping[str, Any]) -> Optional[str]:
        """A rule across the hyper-parameters of one group that ``group`` breaks, or None."""
        return None

    def _required_state(self, group: Mapping[str, Any]) -> frozenset[str]:
        """The entries of ``state_kinds`` that a step with ``group`` needs in a parameter's
        state once it has one."""
        return frozenset()

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

        Everything is validated first (see :meth:`validate_state_dict`); on error the optimizer
        is unchanged.
        """
        self.state, self.param_groups = self._restored(state_dict)

    def validate_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Check that :meth:`load_state_dict` would accept ``state_dict``, changing nothing.

        Checked: the layout (``state`` and ``param_groups``), the number of groups and of
        parameters in each, distinct int parameter indices; in each group exactly the keys of
        this optimizer's group (an Adam state given to SGD lacks ``momentum``) and every
        hyper-parameter's rule (``hypers``: type, finiteness, range); in each parameter's state
        every entry a step with its group needs and none this optimizer never keeps
        (``state_kinds``), each buffer a finite float array of the parameter's shape, each
        step count an int in [1, 2**63).

        Raises:
            ValueError: naming the group or parameter, the entry and the rule broken.

        Example:
            >>> import chainrule as cr
            >>> opt = cr.optim.SGD([cr.nn.Parameter(cr.ones(2))], lr=0.1)
            >>> bad = opt.state_dict()
            >>> bad["param_groups"][0]["lr"] = -1
            >>> opt.validate_state_dict(bad)  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            ValueError: loaded state dict: param_groups[0]['lr'] must be a finite number >= 0...
        """
        self._restored(state_dict)

    def _restored(self, state_dict: Mapping[str, Any]
                  ) -> tuple[dict[Tensor, dict[str, Any]], list[dict[str, Any]]]:
        """The validated ``(state, param_groups)`` that ``state_dict`` restores."""
        fail = "loaded state dict:"
        if not isinstance(state_dict, Mapping) or "param_groups" not in state_dict:
            raise ValueError("optimizer state_dict must be a dict with 'state' and "
                             "'param_groups'")
        saved_groups = state_dict["param_groups"]
        if not isinstance(saved_groups, (list, tuple)):
            raise ValueError(f"{fail} 'param_groups' must be a list, got "
                             f"{type(saved_groups).__name__}")
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"loaded state dict has a different number of parameter groups "
                             f"({len(saved_groups)}) than the optimizer "
                             f"({len(self.param_groups)})")
        params: dict[int, tuple[Tensor, Mapping[str, Any]]] = {}
        for g, (group, saved) in enumerate(zip(self.param_groups, saved_groups)):
            self._check_group(g, group, saved)
            for i, p in zip(saved["params"], group["params"]):
                if int(i) in params:
                    raise ValueError(f"{fail} parameter index {i} appears twice in "
                                     "'param_groups'")
                params[int(i)] = (p, saved)
        saved_state = state_dict.get("state", {})
        if not isinstance(saved_state, Mapping):
            raise ValueError(f"{fail} 'state' must be a dict, got {type(saved_state).__name__}")
        new_state: dict[Tensor, dict[str, Any]] = {}
        for key, values in saved_state.items():
            index = _index_of(key)
            if index not in params:
                raise ValueError(f"loaded state dict has state for parameter {key!r}, which is "
                                 f"in no parameter group")
            p, saved = params[index]
            new_state[p] = self._restored_param_state(values, p, index, saved)
        groups = []
        for group, saved in zip(self.param_groups, saved_groups):
            restored = {k: tuple(_plain(v)) if isinstance(group.get(k), tuple) else _plain(v)
                        for k, v in saved.items() if k != "params"}
            restored = {k: _copied(v) for k, v in restored.items()}  # torch deep-copies
            groups.append({**restored, "params": group["params"]})
        return new_state, groups

    def _check_group(self, g: int, group: Mapping[str, Any], saved: Any) -> None:
        """``saved``, the ``g``-th group of a state dict, fits this optimizer's ``group``."""
        name, where = type(self).__name__, f"loaded state dict: param_groups[{g}]"
        if not isinstance(saved, Mapping) or not isinstance(saved.get("params"), (list, tuple)) \
                or not all(_is_int(i) for i in saved["params"]):
            raise ValueError(f"{where} must be a dict whose 'params' is a list of parameter "
                             "indices (ints)")
        if len(group["params"]) != len(saved["params"]):
            raise ValueError(f"loaded state dict contains a parameter group that doesn't "
                             f"match the size of optimizer's group ({len(saved['params'])} "
                             f"vs {len(group['params'])} parameters)")
        missing = [k for k in group if k not in saved]
        unexpected = [k for k in saved if k not in group]
        if missing or unexpected:
            raise ValueError(f"{where} does not fit {name}: it lacks {missing} and has "
                             f"{unexpected}, which {name} does not use (a state saved by "
                             "another optimizer?)")
        for key, hyper in self.hypers.items():
            problem = hyper.problem(saved[key])
            if problem is not None:
                raise ValueError(f"{where}[{key!r}] {problem}")
        problem = self._group_problem({k: _as_number(v) for k, v in saved.items()})
        if problem is not None:
            raise ValueError(f"{where}: {problem}")

    def _restored_param_state(self, values: Any, param: Tensor, key: int,
                              group: Mapping[str, Any]) -> dict[str, Any]:
        """The state of parameter ``key`` as stored, validated against ``state_kinds``."""
        where = f"loaded state dict: state of parameter {key}"
        if not isinstance(values, Mapping):
            raise ValueError(f"{where} must be a dict, got {type(values).__name__}")
        kinds = self.state_kinds
        if kinds is None:  # a subclass that does not declare its state
            return {name: _load_value(v, param, key, name) for name, v in values.items()}
        unexpected = [k for k in values if k not in kinds]
        missing = sorted(self._required_state(group) - set(values)) if values else []
        if missing or unexpected:
            raise ValueError(f"{where} does not fit {type(self).__name__}: it lacks {missing} "
                             f"and has {unexpected}; expected the entries {sorted(kinds)}")
        out = {}
        for name, value in values.items():
            if kinds[name] == "step":
                if not _is_int(value) or not 1 <= value < 2 ** 63:
                    raise ValueError(f"{where}: {name!r} must be an int in [1, 2**63), got "
                                     f"{value!r}")
                out[name] = int(value)
                continue
            array = value._data if isinstance(value, Tensor) else value
            if not isinstance(array, xp.ndarray) or array.shape != param.shape:
                got = f"shape {array.shape}" if isinstance(array, xp.ndarray) else \
                    f"a {type(array).__name__}"
                raise ValueError(f"loaded state dict: state '{name}' of parameter {key} has "
                                 f"{got}, but the parameter has shape {param.shape}")
            if array.dtype.kind != "f":
                raise ValueError(f"{where}: {name!r} must be a float array, got dtype "
                                 f"{array.dtype}")
            if not numpy.isfinite(array).all():
                raise ValueError(f"{where}: {name!r} holds NaN or inf")
            out[name] = numpy.array(array, dtype=param.dtype)
        return out

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


def _copied(value: Any) -> Any:
    """A Tensor hyper-parameter (or a tuple of them) as a detached copy."""
    if isinstance(value, Tensor):
        return value.detach().clone()
    if isinstance(value, tuple) and any(isinstance(v, Tensor) for v in value):
        return tuple(_copied(v) for v in value)
    return value


def _check_ordered(params: Any) -> None:
    if isinstance(params, (set, frozenset)):
        raise TypeError("optimizer parameters need to be organized in ordered collections, but "
                        "the ordering of tensors in sets will change between runs. Please use a "
                        "list instead.")


def _index_of(key: Any) -> Optional[int]:
    """A parameter index of a state dict's ``state``: an int, or its decimal text (the key
    after a plain JSON round trip); None for anything else."""
    if _is_int(key):
        return int(key)
    if isinstance(key, str) and key.isascii() and key.isdigit():
        return int(key)
    return None


def _load_value(value: Any, param: Tensor, key: Any, name: str) -> Any:
    """A state entry as stored: arrays copied and cast to the parameter's dtype."""
    if isinstance(value, Tensor):
        value = value._data
    if isinstance(value, (xp.ndarray, numpy.generic)) and numpy.ndim(value) > 0:
        if value.shape != param.shape:
            raise ValueError(f"loaded state dict: state '{name}' of parameter {key} has shape "
                             f"{value.shape}, but the parameter has shape {param.shape}")
        return numpy.array(value, dtype=param.dtype)
    if isinstance(value, numpy.generic):
        return value.item()
    return value
