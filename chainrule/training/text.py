"""The recipe of a character-level language-model run (``chainrule train --task charlm``) and
what it builds: the text's splits, the model's config, AdamW with decay on matrices, the loss.

An epoch is ``steps_per_epoch`` steps, each on ``batch_size`` blocks of ``block_size + 1``
characters drawn at random (with replacement) from the first nine tenths of the text; the
last tenth is the test split, scored on up to ``eval_blocks`` non-overlapping blocks spread
over it. Losses are the mean cross-entropy per character (nats), accuracies the fraction of
next characters predicted exactly.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Callable, Mapping, Optional

from .. import optim
from ..data.text import CharBlocks, CharVocab, split_ids
from ..models.gpt import decay_groups
from ..nn import functional as F
from .config import SEED_BOUND, TrainConfigError
from .loop import cosine_schedule

TEXT_MODELS = ("gpt", "lstm")
"""The language models a text run can train (names in ``chainrule.models``)."""
TEXT_METRIC_FIELDS = ("epoch", "train_loss", "train_acc", "test_loss", "test_acc", "seconds",
                      "tokens_per_second")
"""Columns of a text run's ``metrics.csv`` (losses in nats per character)."""
TEXT_TRAIN_KEYS = ("epochs", "steps_per_epoch", "batch_size", "block_size", "lr", "weight_decay",
                   "schedule", "grad_clip", "seed", "eval_blocks")
"""The fields a text run's checkpoint keeps under ``meta["train"]``."""
DEFAULT_TEXT_LR = {"gpt": 1e-3, "lstm": 2e-3}
"""AdamW's learning rate for each model when none is given."""


@dataclass(frozen=True)
class CharLMConfig:
    """How to train a character-level language model.

    Example:
        >>> cfg = CharLMConfig(model="lstm")
        >>> cfg.lr, cfg.block_size
        (0.002, 64)
        >>> CharLMConfig(block_size=0)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        chainrule.training.config.TrainConfigError: invalid training recipe: block_size must ...
    """

    model: str = "gpt"               # "gpt" or "lstm" (TEXT_MODELS)
    epochs: int = 5                  # total epochs (a resumed run may raise it)
    steps_per_epoch: int = 200       # optimizer steps per epoch
    batch_size: int = 32             # blocks per step
    block_size: int = 64             # characters of context per block (T)
    lr: Optional[float] = None       # AdamW's learning rate; None: DEFAULT_TEXT_LR[model]
    weight_decay: float = 0.1        # decoupled, on matrices and embeddings only
    schedule: str = "cosine"         # "cosine" decay to 0 over all steps, or "constant"
    grad_clip: float = 1.0           # the gradients' global norm is clipped to this (0: none)
    seed: int = 0                    # weights, dropout, the blocks drawn; < 2**64
    eval_blocks: int = 256           # test blocks scored after each epoch
    layers: Optional[int] = None     # n_layer (gpt) / num_layers (lstm); None: the registry's
    width: Optional[int] = None      # n_embd (gpt) / hidden_size (lstm); None: the registry's
    heads: Optional[int] = None      # n_head (gpt only); None: the registry's
    dropout: float = 0.0             # dropout of the model, in [0, 1)

    def __post_init__(self) -> None:
        if self.lr is None and self.model in DEFAULT_TEXT_LR:
            object.__setattr__(self, "lr", DEFAULT_TEXT_LR[self.model])
        problems = {}
        for f in fields(self):
            rule = _RULES[f.name](getattr(self, f.name))
            if rule is not None:
                problems[f.name] = f"{rule}, got {getattr(self, f.name)!r}"
        if not problems and self.model != "gpt" and self.heads is not None:
            problems["heads"] = f"applies to model 'gpt' only, got {self.heads!r}"
        if problems:
            raise TrainConfigError(problems)

    def train_meta(self) -> dict[str, Any]:
        """The ``train`` section of the checkpoint's meta."""
        return {k: getattr(self, k) for k in TEXT_TRAIN_KEYS}

    @classmethod
    def from_meta(cls, meta: Mapping[str, Any], **changes: Any) -> "CharLMConfig":
        """The recipe a text run's checkpoint records (``changes`` applied, e.g. ``epochs``).

        Raises:
            TrainConfigError: a missing or bad value.
        """
        train = meta["train"]
        missing = {k: "is missing" for k in TEXT_TRAIN_KEYS if k not in train}
        if missing:
            raise TrainConfigError(missing)
        return cls(model=meta["model"], **{**{k: train[k] for k in TEXT_TRAIN_KEYS}, **changes})

    def model_overrides(self, vocab_size: int) -> dict[str, Any]:
        """The registry config keys this recipe sets for a vocabulary of ``vocab_size``."""
        if self.model == "gpt":
            keys = {"vocab_size": vocab_size, "block_size": self.block_size,
                    "n_layer": self.layers, "n_embd": self.width, "n_head": self.heads,
                    "dropout": self.dropout}
        else:
            keys = {"vocab_size": vocab_size, "num_layers": self.layers,
                    "hidden_size": self.width, "dropout": self.dropout}
        return {k: v for k, v in keys.items() if v is not None}

    def make_optimizer(self, model: Any) -> Any:
        """AdamW (betas 0.9, 0.99) with ``weight_decay`` on the tensors of >= 2 dimensions."""
        return optim.AdamW(decay_groups(model, self.weight_decay), lr=self.lr,
                           betas=(0.9, 0.99))

    def lr_schedule(self) -> Optional[Callable[[int, int], float]]:
        """The per-step learning rate (cosine decay), or None for a constant rate."""
        if self.schedule == "cosine":
            return cosine_schedule(self.lr, self.epochs, self.steps_per_epoch)
        return None


def lm_loss(logits: Any, targets: Any) -> Any:
    """Mean cross-entropy of the next character: logits (B, T, V), targets (B, T)."""
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


@dataclass
class TextSplits:
    """A text ready to train on: its vocabulary and both splits as :class:`CharBlocks`."""

    vocab: CharVocab
    train: CharBlocks      # every start offset of the first nine tenths
    test: CharBlocks       # up to eval_blocks non-overlapping blocks of the last tenth
    train_chars: int
    test_chars: int


def prepare_text(text: str, block_size: int, eval_blocks: int, label: str,
                 vocab: Optional[CharVocab] = None) -> TextSplits:
    """Encode ``text`` with ``vocab`` (default: its own characters) and split it.

    Raises:
        TextDataError: the text is too short for ``block_size``.
        UnknownCharactersError: the text holds characters ``vocab`` lacks.
    """
    vocab = vocab if vocab is not None else CharVocab.from_text(text)
    ids = vocab.encode(text)
    train_ids, test_ids = split_ids(ids, block_size, label)
    return TextSplits(vocab, CharBlocks(train_ids, block_size),
                      CharBlocks.evenly_spaced(test_ids, block_size, eval_blocks),
                      len(train_ids), len(test_ids))


# ============================================================================ the rules
def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _int_at_least(minimum: int, optional: bool = False) -> Callable[[Any], Optional[str]]:
    def rule(value: Any) -> Optional[str]:
        if (optional and value is None) or (_is_int(value) and value >= minimum):
            return None
        return f"must be {'None or ' if optional else ''}an int >= {minimum}"
    return rule


def _number(check: Callable[[float], bool], what: str) -> Callable[[Any], Optional[str]]:
    def rule(value: Any) -> Optional[str]:
        return None if _is_number(value) and check(value) else f"must be a finite number {what}"
    return rule


def _one_of(choices: tuple[str, ...]) -> Callable[[Any], Optional[str]]:
    def rule(value: Any) -> Optional[str]:
        return None if value in choices else f"must be one of {', '.join(map(repr, choices))}"
    return rule


_RULES: dict[str, Callable[[Any], Optional[str]]] = {
    "model": _one_of(TEXT_MODELS),
    "epochs": _int_at_least(1),
    "steps_per_epoch": _int_at_least(1),
    "batch_size": _int_at_least(1),
    "block_size": _int_at_least(1),
    "lr": _number(lambda v: v > 0, "> 0"),
    "weight_decay": _number(lambda v: v >= 0, ">= 0"),
    "schedule": _one_of(("cosine", "constant")),
    "grad_clip": _number(lambda v: v >= 0, ">= 0"),
    "seed": lambda v: None if _is_int(v) and 0 <= v < SEED_BOUND else "must be an int in "
                                                                      "[0, 2**64)",
    "eval_blocks": _int_at_least(1),
    "layers": _int_at_least(1, optional=True),
    "width": _int_at_least(1, optional=True),
    "heads": _int_at_least(1, optional=True),
    "dropout": _number(lambda v: 0 <= v < 1, "in [0, 1)"),
}
