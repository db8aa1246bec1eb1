"""Loading a state into live tensors, all or nothing: check and convert every entry first
(:func:`plan_state_load`), then write them all (:func:`assign_state`).

Shared by :meth:`chainrule.nn.Module.load_state_dict` and :func:`chainrule.io.load_into`, so
a model and a checkpoint loader refuse the same states with the same words.
"""
from __future__ import annotations

from collections import namedtuple
from typing import Any, Mapping, NamedTuple, Optional

import numpy

from .tensor import Tensor


class IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What :meth:`Module.load_state_dict` and :func:`chainrule.io.load_into` return: the
    missing and the unexpected keys.

    Shown as torch's: ``<All keys matched successfully>`` when both lists are empty, else
    the named tuple under torch's class name.

    Example:
        >>> IncompatibleKeys([], [])
        <All keys matched successfully>
        >>> IncompatibleKeys(["w"], [])
        _IncompatibleKeys(missing_keys=['w'], unexpected_keys=[])
    """

    __slots__ = ()

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return "_" + super().__repr__()  # torch's class is _IncompatibleKeys

    __str__ = __repr__


class StateLoadPlan(NamedTuple):
    """What loading a state would do, found before anything is written.

    Attributes:
        values: ``(key, array)`` for every key of the target that the state holds, in the
            target's order, each array a fresh copy already in the target's dtype.
        missing_keys: keys of the target the state lacks.
        unexpected_keys: keys of the state the target lacks.
        errors: one message per problem (torch's wording where torch has one), each naming
            its key; when not empty, nothing must be written.
    """

    values: list[tuple[str, numpy.ndarray]]
    missing_keys: list[str]
    unexpected_keys: list[str]
    errors: list[str]


def array_of(value: Any) -> Optional[numpy.ndarray]:
    """The array behind a Tensor or NumPy value (a NumPy scalar counts as 0-d), else None."""
    if isinstance(value, Tensor):
        return value._data
    if isinstance(value, (numpy.ndarray, numpy.generic)):
        return numpy.asarray(value)
    return None


def cast_problem(src: numpy.dtype, dst: numpy.dtype) -> Optional[str]:
    """Why values of dtype ``src`` may not be copied into an array of dtype ``dst`` (None when
    they may: a cast within a kind or to a wider kind, numpy's ``same_kind``)."""
    if src.kind in "OUSVMm":
        return f"a {src} array holds {'objects' if src.kind == 'O' else 'text or records'}, " \
               "not numbers"
    if src.kind == "c" and dst.kind != "c":
        return "complex values would lose their imaginary part"
    if not numpy.can_cast(src, dst, "same_kind"):
        return f"{src} values would be cast to {dst} across kinds, losing information"
    return None


def plan_state_load(targets: Mapping[str, Any], state: Mapping[str, Any],
                    strict: bool) -> StateLoadPlan:
    """Check ``state`` against ``targets`` entry by entry and convert it, writing nothing.

    The validation half of an all-or-nothing load (:meth:`Module.load_state_dict`; the other
    half is :func:`assign_state`). Checked: missing and unexpected keys (errors only when
    ``strict``, torch's order: missing first); for each shared key, that the value is a Tensor
    or a NumPy array, that its shape equals the target's and that its dtype converts to the
    target's without crossing kinds (float64 -> float32 yes; complex -> float, float -> int,
    strings, objects no); that the target's array is writable.

    Args:
        targets: name -> Tensor or NumPy array to be written (e.g. ``state_dict(keep_vars=True)``).
        state: name -> value to load.
        strict: whether missing or unexpected keys are errors.

    Returns:
        A :class:`StateLoadPlan`: the converted values, the key lists and every error.

    Example:
        >>> import numpy as np
        >>> plan = plan_state_load({"w": np.zeros(2, np.float32)},
        ...                        {"w": np.array([1.0, 2.0]), "x": np.ones(1)}, strict=False)
        >>> plan.values, plan.unexpected_keys, plan.errors
        ([('w', array([1., 2.], dtype=float32))], ['x'], [])
    """
    missing = [k for k in targets if k not in state]
    unexpected = [k for k in state if k not in targets]
    errors = []
    if strict:
        if missing:
            errors.append("Missing key(s) in state_dict: "
                          + ", ".join(f'"{k}"' for k in missing) + ". ")
        if unexpected:
            errors.append("Unexpected key(s) in state_dict: "
                          + ", ".join(f'"{k}"' for k in unexpected) + ". ")
    values = []
    for k, target in targets.items():
        if k not in state:
            continue
        dst, src = array_of(target), array_of(state[k])
        where = f'While copying the parameter named "{k}", '
        if dst is None:
            errors.append(f"{where}the target is a {type(target).__name__}, not a Tensor or a "
                          "NumPy array")
        elif src is None:
            errors.append(f"{where}expected a Tensor or a NumPy array from the checkpoint but "
                          f"received {type(state[k])}")
        elif src.shape != dst.shape:
            errors.append(f"size mismatch for {k}: copying a param with shape {src.shape} "
                          f"from checkpoint, the shape in current model is {dst.shape}.")
        elif (problem := cast_problem(src.dtype, dst.dtype)) is not None:
            errors.append(f"{where}whose dtype in the model is {dst.dtype} and whose dtype in "
                          f"the checkpoint is {src.dtype}: {problem}.")
        elif not dst.flags.writeable:
            errors.append(f"{where}the model's array is read-only.")
        else:
            values.append((k, src.astype(dst.dtype, copy=True)))  # read now: sources may alias
    return StateLoadPlan(values, missing, unexpected, errors)


def assign_state(targets: Mapping[str, Any], values: list[tuple[str, numpy.ndarray]]) -> None:
    """Write checked values (:attr:`StateLoadPlan.values`) into the targets in place.

    Each value already has its target's shape and dtype, so no copy can fail half-way;
    a Tensor target's ``_version`` is bumped, as an in-place write does.
    """
    for k, value in values:
        target = targets[k]
        numpy.copyto(array_of(target), value)
        if isinstance(target, Tensor):
            target._version += 1
