"""The recipe of a training run: one typed dataclass, validated in one place.

``chainrule train`` builds a :class:`TrainConfig` from its flags (a new run) or from a
checkpoint's meta (a resumed run, :meth:`TrainConfig.from_meta`); either way every field is
checked by ``__post_init__``, and a bad value raises :class:`TrainConfigError` naming the fields.
The checkpoint keeps the recipe in its meta: ``model``, ``data`` (dataset name and limits) and
``train`` (:meth:`TrainConfig.train_meta`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping, Optional

from .. import optim
from .data import DATASETS
from .loop import cosine_schedule

MODELS = ("lenet5", "mlp")
"""The image models a run can train (names in ``chainrule.models``)."""
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "constant")
DEFAULT_LR = {"sgd": 0.05, "adam": 0.001}
"""The learning rate of each optimizer when none is given."""
DEFAULT_MOMENTUM = 0.9
"""SGD's momentum when none is given."""
SEED_BOUND = 2 ** 64
"""Seeds are in [0, SEED_BOUND): what ``chainrule.manual_seed`` takes (PyTorch's range)."""
TRAIN_KEYS = ("epochs", "batch_size", "optimizer", "lr", "momentum", "weight_decay", "schedule",
              "seed")
"""The fields a checkpoint keeps under ``meta["train"]``."""


def saved_recipe(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The recipe fields a training checkpoint's meta records, as saved (not validated).

    Example:
        >>> saved_recipe({"model": "mlp", "data": {"name": "mnist"}, "train": {"lr": 0.1}})["lr"]
        0.1
    """
    train, data = meta["train"], meta["data"]
    saved = {"model": meta["model"], "dataset": data.get("name"),
             "limit_train": data.get("limit_train"), "limit_test": data.get("limit_test")}
    saved.update({k: train.get(k) for k in TRAIN_KEYS})
    if saved["schedule"] is None:  # written before schedules existed
        saved["schedule"] = "constant"
    return saved


class TrainConfigError(ValueError):
    """A training recipe with bad values; ``fields`` lists their names in field order and
    ``details`` says what each must be.

    Example:
        >>> try:
        ...     TrainConfig(lr=-1.0)
        ... except TrainConfigError as exc:
        ...     print(exc.fields, exc)
        ['lr'] invalid training recipe: lr must be a finite number > 0, got -1.0
    """

    def __init__(self, problems: Mapping[str, str]) -> None:
        self.fields = list(problems)
        self.details = "; ".join(f"{name} {rule}" for name, rule in problems.items())
        super().__init__(f"invalid training recipe: {self.details}")


@dataclass(frozen=True)
class TrainConfig:
    """How to train: the model, the data, the optimizer and its schedule, the seed.

    ``lr`` and ``momentum`` left as None take the optimizer's defaults (:data:`DEFAULT_LR`;
    momentum 0.9 for SGD, 0.0 for Adam, which has none).

    Example:
        >>> cfg = TrainConfig(optimizer="adam")
        >>> cfg.lr, cfg.momentum, cfg.model
        (0.001, 0.0, 'lenet5')
        >>> TrainConfig(epochs=0, seed=-1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        chainrule.training.config.TrainConfigError: invalid training recipe: epochs must be ...
    """

    model: str = "lenet5"              # the model: "lenet5" or "mlp" (see MODELS)
    dataset: str = "fashion-mnist"     # the dataset: "fashion-mnist" or "mnist" (DATASETS)
    epochs: int = 5                    # total number of epochs (a resumed run may raise it)
    batch_size: int = 64               # images per optimizer step
    optimizer: str = "sgd"             # "sgd" or "adam"
    lr: Optional[float] = None         # learning rate > 0; None: 0.05 for sgd, 0.001 for adam
    momentum: Optional[float] = None   # SGD momentum in [0, 1); None: 0.9 (sgd), 0.0 (adam)
    weight_decay: float = 0.0          # L2 weight decay, >= 0
    schedule: str = "cosine"           # "cosine": decay to 0 over all steps; or "constant"
    seed: int = 0                      # seed of the weights, dropout and shuffling, < 2**64
    limit_train: Optional[int] = None  # train on the first N images only (None: all)
    limit_test: Optional[int] = None   # test on the first N images only (None: all)

    def __post_init__(self) -> None:
        if self.lr is None and self.optimizer in DEFAULT_LR:
            object.__setattr__(self, "lr", DEFAULT_LR[self.optimizer])
        if self.momentum is None:
            object.__setattr__(self, "momentum",
                               DEFAULT_MOMENTUM if self.optimizer == "sgd" else 0.0)
        problems = {}
        for f in fields(self):
            rule = _RULES[f.name](getattr(self, f.name))
            if rule is not None:
                problems[f.name] = f"{rule}, got {getattr(self, f.name)!r}"
        if not problems and self.optimizer != "sgd" and self.momentum != 0:
            problems["momentum"] = f"applies to optimizer 'sgd' only, got {self.momentum!r} " \
                                   f"with {self.optimizer!r}"
        if problems:
            raise TrainConfigError(problems)

    # ------------------------------------------------------------------ the checkpoint's meta
    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], **changes: Any) -> "TrainConfig":
        """The recipe a training checkpoint's meta records, with ``changes`` applied.

        Args:
            meta: the meta of a training checkpoint (see ``chainrule.training.state``).
            **changes: fields to change, such as ``epochs`` for a run resumed for longer.

        Raises:
            TrainConfigError: a missing or bad value.

        Example:
            >>> meta = {"model": "mlp", "data": {"name": "mnist"},
            ...         "train": TrainConfig(optimizer="adam").train_meta()}
            >>> TrainConfig.from_meta(meta, epochs=7).epochs
            7
        """
        saved = {**saved_recipe(meta), **changes}
        missing = {k: "is missing" for k in ("lr", "momentum") if saved[k] is None}
        if missing:  # None would mean "the optimizer's default": a saved run always has one
            raise TrainConfigError(missing)
        return cls(**saved)

    def train_meta(self) -> dict[str, Any]:
        """The ``train`` section of the checkpoint's meta: the fields of :data:`TRAIN_KEYS`."""
        return {k: getattr(self, k) for k in TRAIN_KEYS}

    # ------------------------------------------------------------------ what it builds
    def make_optimizer(self, params: Any) -> Any:
        """The optimizer of the recipe over ``params``."""
        if self.optimizer == "sgd":
            return optim.SGD(params, lr=self.lr, momentum=self.momentum,
                             weight_decay=self.weight_decay)
        return optim.Adam(params, lr=self.lr, weight_decay=self.weight_decay)

    def lr_schedule(self, steps_per_epoch: int) -> Optional[Callable[[int, int], float]]:
        """The per-step learning rate (cosine decay), or None for a constant rate."""
        if self.schedule == "cosine":
            return cosine_schedule(self.lr, self.epochs, steps_per_epoch)
        return None


# ============================================================================ the rules
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], Optional[str]]:
    def rule(value: Any) -> Optional[str]:
        return None if value in choices else f"must be one of {', '.join(map(repr, choices))}"
    return rule


def _int_at_least(minimum: int, optional: bool = False) -> Callable[[Any], Optional[str]]:
    def rule(value: Any) -> Optional[str]:
        if (optional and value is None) or (_is_int(value) and value >= minimum):
            return None
        return f"must be {'None or ' if optional else ''}an int >= {minimum}"
    return rule


def _int_below(bound: int, text: str) -> Callable[[Any], Optional[str]]:
    def rule(value: Any) -> Optional[str]:
        return None if _is_int(value) and 0 <= value < bound else f"must be an int in [0, {text})"
    return rule


def _number(check: Callable[[float], bool], what: str) -> Callable[[Any], Optional[str]]:
    def rule(value: Any) -> Optional[str]:
        return None if _is_number(value) and check(value) else f"must be a finite number {what}"
    return rule


# field -> its rule: None when the value is good, else what it must be
_RULES: dict[str, Callable[[Any], Optional[str]]] = {
    "model": _one_of(MODELS),
    "dataset": _one_of(tuple(DATASETS)),
    "epochs": _int_at_least(1),
    "batch_size": _int_at_least(1),
    "optimizer": _one_of(OPTIMIZERS),
    "lr": _number(lambda v: v > 0, "> 0"),
    "momentum": _number(lambda v: 0 <= v < 1, "in [0, 1)"),
    "weight_decay": _number(lambda v: v >= 0, ">= 0"),
    "schedule": _one_of(SCHEDULES),
    "seed": _int_below(SEED_BOUND, "2**64"),
    "limit_train": _int_at_least(1, optional=True),
    "limit_test": _int_at_least(1, optional=True),
}
