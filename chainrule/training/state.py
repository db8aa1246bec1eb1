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
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Optional, Union

import numpy as np

from .. import __version__
from ..io.checkpoint import CheckpointPaths, checkpoint_paths, load_checkpoint, load_into, \
    save_checkpoint
from ..io.safetensors import CheckpointError
from ..models.registry import build_model
from ..random import get_rng_state, set_rng_state

PathLike = Union[str, "os.PathLike[str]"]
KIND = "chainrule.train"
_REQUIRED = {"model": str, "model_config": dict, "data": dict, "train": dict, "epoch": int,
             "metrics": list}


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
    for i, row in enumerate(meta["metrics"]):
        if not isinstance(row, dict) or not isinstance(row.get("epoch"), int) \
                or isinstance(row.get("epoch"), bool):
            raise CheckpointError(f"{label}: meta 'metrics'[{i}] must be a dict with an int "
                                  f"'epoch', got {row!r}")
    return state, meta


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


def _check_optimizer_state(optimizer_state: Any, params: list) -> None:
    """Every array buffer of the saved optimizer state must have its parameter's shape."""
    if not isinstance(optimizer_state, dict) or "state" not in optimizer_state \
            or "param_groups" not in optimizer_state:
        raise CheckpointError("optimizer state: expected a dict with 'state' and 'param_groups'")
    per_param = optimizer_state["state"]
    if not isinstance(per_param, dict):
        raise CheckpointError("optimizer state: 'state' must be a dict")
    for key, buffers in per_param.items():
        if not isinstance(key, int) or not 0 <= key < len(params):
            raise CheckpointError(f"optimizer state: parameter index {key!r} out of range "
                                  f"(the model has {len(params)} parameters)")
        if not isinstance(buffers, dict):
            raise CheckpointError(f"optimizer state of parameter {key}: expected a dict")
        for name, value in buffers.items():
            if isinstance(value, np.ndarray) and value.ndim > 0 \
                    and tuple(value.shape) != tuple(params[key].shape):
                raise CheckpointError(
                    f"optimizer state of parameter {key}: {name!r} has shape "
                    f"{tuple(value.shape)} but the parameter has shape {tuple(params[key].shape)}")
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" \
                    and not np.isfinite(value).all():
                raise CheckpointError(f"optimizer state of parameter {key}: {name!r} holds NaN "
                                      "or inf")


def restore_training_state(meta: Mapping[str, Any], *, model: Any, optimizer: Any,
                           loader: Optional[Any] = None) -> None:
    """Restore the optimizer, the loader's generator and the global RNG from ``meta``.

    Everything is validated before the first object is changed where the objects allow it;
    any failure is raised as :class:`CheckpointError`.
    """
    params = list(model.parameters())
    _check_optimizer_state(meta.get("optimizer"), params)
    rng = meta.get("rng")
    if not isinstance(rng, dict) or "bit_generator" not in rng or "state" not in rng:
        raise CheckpointError(f"the checkpoint's 'rng' is not a generator state: {rng!r}")
    try:
        optimizer.load_state_dict(meta["optimizer"])
    except (ValueError, KeyError, TypeError, IndexError) as exc:
        raise CheckpointError(f"cannot restore the optimizer state: {exc}") from None
    if loader is not None:
        try:
            loader.load_state_dict(meta["loader"])
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointError(f"cannot restore the data loader state: {exc}") from None
    try:
        set_rng_state(rng)
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"cannot restore the random generator state: {exc}") from None
