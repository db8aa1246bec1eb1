"""Training checkpoints: the model, optimizer, data-loader and RNG state of a run, no pickle.

A training checkpoint is a :mod:`chainrule.io.checkpoint` pair (``<stem>.safetensors`` +
``<stem>.json``) whose meta holds::

    kind            "chainrule.train"
    model           registry name ("lenet5")      model_config   its constructor arguments
    data            dataset name, mean, std, class names, limits
    train           epochs, batch size, optimizer, lr, momentum, weight decay, seed
    epoch           epochs completed              metrics        one row per epoch
    optimizer       optimizer.state_dict()        loader         DataLoader.state_dict()
    rng             chainrule.get_rng_state()     version        chainrule.__version__

Everything needed to continue bit-identically: resuming restores the weights, the optimizer
buffers, the shuffling generator and the global generator (dropout).

Nothing restored is trusted: :func:`read_training_checkpoint` checks the meta's layout and its
metrics, :func:`restore_training_state` checks the optimizer state against the optimizer (its
keys, hyper-parameters and buffers), the loader's state and both generator states before it
changes anything, so a tampered checkpoint fails with one :class:`CheckpointError` naming the
entry and the rule, never with NumPy's error in the middle of a step.
"""
from __future__ import annotations

import math
import os
from typing import Any, Mapping, Optional, Union

import numpy as np

from .. import __version__
from ..io.checkpoint import CheckpointPaths, checkpoint_paths, load_checkpoint, load_into, \
    save_checkpoint
from ..io.errors import CheckpointError
from ..models.registry import build_model
from ..random import get_rng, get_rng_state, set_rng_state
from .metrics import METRIC_FIELDS

PathLike = Union[str, "os.PathLike[str]"]
KIND = "chainrule.train"
_REQUIRED = {"model": str, "model_config": dict, "data": dict, "train": dict, "epoch": int,
             "metrics": list}
_PCG64_WORDS = {"state": 2 ** 128, "inc": 2 ** 128}
"""The 128-bit words of a PCG64 state (``inc``, the stream, is odd) and their bound."""


def save_training_checkpoint(path: PathLike, *, model: Any, optimizer: Any, loader: Any,
                             model_name: str, model_config: Mapping[str, Any],
                             data: Mapping[str, Any], train: Mapping[str, Any], epoch: int,
                             metrics: list) -> CheckpointPaths:
    """Save everything a resumed run needs (atomically, refusing NaN/inf weights).

    Args:
        path: the checkpoint stem or folder (see ``chainrule.io.checkpoint_paths``).
        model, optimizer, loader: the live objects (their ``state_dict()`` is saved).
        model_name, model_config: the registry name and config that rebuild the model.
        data: dataset name, normalisation and limits. train: the training hyperparameters.
        epoch: epochs completed. metrics: one dict per epoch.

    Returns:
        The two paths written.

    Raises:
        ValueError: a weight or buffer holds NaN or inf (nothing is written).
    """
    meta = {
        "kind": KIND,
        "version": __version__,
        "model": model_name,
        "model_config": dict(model_config),
        "data": dict(data),
        "train": dict(train),
        "epoch": int(epoch),
        "metrics": list(metrics),
        "optimizer": optimizer.state_dict(),
        "loader": loader.state_dict(),
        "rng": get_rng_state(),
    }
    return save_checkpoint(path, model.state_dict(), meta)


def read_training_checkpoint(path: PathLike) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Load and validate a training checkpoint (the files, then the meta's keys and types).

    Raises:
        FileNotFoundError: no checkpoint at ``path``.
        CheckpointError: a corrupt file, or a checkpoint not written by the training loop.
    """
    state, meta = load_checkpoint(path)
    label = os.fspath(checkpoint_paths(path).meta)
    if meta.get("kind") != KIND:
        raise CheckpointError(f"{label}: not a training checkpoint (meta 'kind' is "
                              f"{meta.get('kind')!r}, expected {KIND!r})")
    for key, typ in _REQUIRED.items():
        if key not in meta:
            raise CheckpointError(f"{label}: the meta lacks {key!r}")
        if not isinstance(meta[key], typ) or isinstance(meta[key], bool):
            raise CheckpointError(f"{label}: meta {key!r} must be a {typ.__name__}, got "
                                  f"{type(meta[key]).__name__}")
    if meta["epoch"] < 0:
        raise CheckpointError(f"{label}: meta 'epoch' must be >= 0, got {meta['epoch']}")
    _check_metrics(meta["metrics"], meta["epoch"], label)
    return state, meta


def _check_metrics(rows: list, epochs: int, label: str) -> None:
    """The metrics are one row per epoch done (epochs 1, 2, ... ``epochs``), each value of
    :data:`METRIC_FIELDS` a finite number."""
    for i, row in enumerate(rows):
        if not isinstance(row, dict) or not _is_int(row.get("epoch")):
            raise CheckpointError(f"{label}: meta 'metrics'[{i}] must be a dict with an int "
                                  f"'epoch', got {row!r}")
        if row["epoch"] != i + 1:
            raise CheckpointError(f"{label}: meta 'metrics'[{i}] is for epoch {row['epoch']}, "
                                  f"expected {i + 1}: one row per epoch, in order")
        for field in METRIC_FIELDS:
            if field in row and not _is_finite_number(row[field]):
                raise CheckpointError(f"{label}: meta 'metrics'[{i}][{field!r}] must be a "
                                      f"finite number, got {row[field]!r}")
    if len(rows) != epochs:
        raise CheckpointError(f"{label}: meta 'metrics' has {len(rows)} rows but 'epoch' is "
                              f"{epochs}: one row per epoch done")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def model_from_checkpoint(state: Mapping[str, Any], meta: Mapping[str, Any]) -> Any:
    """Rebuild the registered model named in ``meta`` and load ``state`` into it (strict).

    Raises:
        CheckpointError: an unknown model or config, or weights that do not fit the model
            (missing/extra keys, wrong shapes); the model is then left untouched.
    """
    try:
        model = build_model(meta["model"], meta["model_config"])
    except (ValueError, TypeError, MemoryError) as exc:  # MemoryError: e.g. num_classes=10**12
        raise CheckpointError(f"cannot rebuild the model of the checkpoint: {exc}") from None
    load_into(model, state, strict=True)
    return model


def check_generator_state(state: Any, bit_generator: Any, what: str) -> None:
    """Check that ``state`` can be given to ``bit_generator.state`` as it stands.

    A PCG64 state (the generator of ``chainrule.random`` and of every seeded ``DataLoader``)
    must be exactly ``{"bit_generator": "PCG64", "state": {"state": s, "inc": i},
    "has_uint32": 0 or 1, "uinteger": u}`` with ints ``s`` in [0, 2**128), ``i`` odd in
    [0, 2**128) and ``u`` in [0, 2**32): NumPy would fail on some other values mid-run
    (``OverflowError``) and silently truncate others (a float). A state for another bit
    generator is tried on a fresh one of its kind. ``bit_generator`` itself is not changed.

    Raises:
        CheckpointError: naming ``what`` and the rule broken.

    Example:
        >>> import numpy as np
        >>> gen = np.random.default_rng(0).bit_generator
        >>> state = gen.state
        >>> check_generator_state(state, gen, "rng")
        >>> state["state"]["state"] = 2 ** 200
        >>> check_generator_state(state, gen, "rng")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        chainrule.io.errors.CheckpointError: the checkpoint's rng: state['state'] must be ...
    """
    fail = f"the checkpoint's {what}"
    kind = type(bit_generator).__name__
    if not isinstance(state, dict) or state.get("bit_generator") != kind:
        got = state.get("bit_generator") if isinstance(state, dict) else state
        raise CheckpointError(f"{fail} is not a {kind} generator state (its 'bit_generator' is "
                              f"{got!r})")
    if kind != "PCG64":
        try:
            type(bit_generator)().state = state
        except (TypeError, ValueError, KeyError, OverflowError) as exc:
            raise CheckpointError(f"{fail} is not a valid {kind} state: {exc}") from None
        return
    keys = {"bit_generator", "state", "has_uint32", "uinteger"}
    words = state.get("state")
    if set(state) != keys or not isinstance(words, dict) or set(words) != set(_PCG64_WORDS):
        raise CheckpointError(f"{fail} must have the keys {sorted(keys)} and 'state' the keys "
                              f"{sorted(_PCG64_WORDS)}")
    for key, bound in _PCG64_WORDS.items():
        if not _is_int(words[key]) or not 0 <= words[key] < bound:
            raise CheckpointError(f"{fail}: state[{key!r}] must be an int in [0, 2**128), got "
                                  f"{words[key]!r}")
    if words["inc"] % 2 == 0:
        raise CheckpointError(f"{fail}: state['inc'] must be odd (a PCG64 stream), got "
                              f"{words['inc']}")
    if state["has_uint32"] not in (0, 1) or isinstance(state["has_uint32"], bool):
        raise CheckpointError(f"{fail}: 'has_uint32' must be 0 or 1, got "
                              f"{state['has_uint32']!r}")
    if not _is_int(state["uinteger"]) or not 0 <= state["uinteger"] < 2 ** 32:
        raise CheckpointError(f"{fail}: 'uinteger' must be an int in [0, 2**32), got "
                              f"{state['uinteger']!r}")


def restore_training_state(meta: Mapping[str, Any], *, model: Any, optimizer: Any,
                           loader: Optional[Any] = None) -> None:
    """Restore the optimizer, the loader's generator and the global RNG from ``meta``.

    Everything is validated before the first object is changed: the optimizer state against
    the optimizer (``optimizer.validate_state_dict``: the keys of its groups, each
    hyper-parameter's type and range, each buffer's shape, dtype and finiteness), the loader's
    state and both generator states (:func:`check_generator_state`). So on any failure the
    optimizer, the loader and the global generator are as they were.

    Args:
        meta: the meta of a training checkpoint (see :func:`read_training_checkpoint`).
        model: the model whose parameters ``optimizer`` holds.
        optimizer: built over ``model.parameters()``, as the run was.
        loader: the training ``DataLoader``, or None.

    Raises:
        CheckpointError: the first problem found, naming the entry and the rule.
        ValueError: ``optimizer`` holds parameters that are not ``model``'s.
    """
    owned = {id(p) for p in model.parameters()}
    if any(id(p) not in owned for g in optimizer.param_groups for p in g["params"]):
        raise ValueError("restore_training_state: the optimizer holds parameters that are not "
                         "the model's")
    for key in ("optimizer", "rng") + (("loader",) if loader is not None else ()):
        if key not in meta:
            raise CheckpointError(f"the checkpoint's meta lacks {key!r}")
    try:
        optimizer.validate_state_dict(meta["optimizer"])
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"cannot restore the optimizer state into "
                              f"{type(optimizer).__name__}: {exc}") from None
    rng = meta["rng"]
    check_generator_state(rng, get_rng().bit_generator, "rng")
    if loader is not None:
        saved = meta["loader"]
        generator = getattr(loader, "generator", None)
        if isinstance(saved, dict) and generator is not None:
            check_generator_state(saved.get("generator"), generator.bit_generator,
                                  "loader generator")
        try:  # checks the rest before changing the loader
            loader.load_state_dict(saved)
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"cannot restore the data loader state: {exc}") from None
    optimizer.load_state_dict(meta["optimizer"])  # validated above
    set_rng_state(rng)  # validated above
