"""The model registry: a name -> its constructor and default config (used by the CLI and to
rebuild a model from a checkpoint's ``model`` and ``model_config``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional

from .charlstm import CharLSTM
from .gpt import GPT
from .lenet import LeNet5
from .mlp import MLP
from .neuron import Neuron


@dataclass(frozen=True)
class ModelSpec:
    """How to build one registered model.

    Attributes:
        name: the registry name (``lenet5``).
        constructor: called with the config as keyword arguments.
        defaults: the default config (JSON values only, so it fits in a checkpoint).
        input_shape: the shape of one input item, e.g. ``(1, 28, 28)``.
        description: one line for ``--help``.
    """

    name: str
    constructor: Callable[..., Any]
    defaults: Mapping[str, Any] = field(default_factory=dict)
    input_shape: tuple[int, ...] = ()
    description: str = ""


MODELS: dict[str, ModelSpec] = {
    "lenet5": ModelSpec("lenet5", LeNet5, {"num_classes": 10, "dropout": 0.3}, (1, 28, 28),
                        "LeNet-5 with batch norm, tanh and dropout (28x28 images)"),
    "mlp": ModelSpec("mlp", MLP, {"sizes": [784, 256, 128, 10], "activation": "relu"},
                     (1, 28, 28), "fully connected 784-256-128-10, ReLU"),
    "neuron": ModelSpec("neuron", Neuron, {"in_features": 2}, (2,),
                        "one neuron (affine + sigmoid), for the toy datasets"),
    "gpt": ModelSpec("gpt", GPT, {"vocab_size": 65, "block_size": 64, "n_layer": 4, "n_head": 4,
                                  "n_embd": 128, "dropout": 0.0, "bias": True}, (64,),
                     "decoder-only transformer (nanoGPT's layout), character ids in"),
    "lstm": ModelSpec("lstm", CharLSTM, {"vocab_size": 65, "n_embd": 64, "hidden_size": 256,
                                         "num_layers": 2, "dropout": 0.0}, (64,),
                      "character-level LSTM language model: Embedding, LSTM, Linear"),
}


def available_models() -> list[str]:
    """The registered names, sorted.

    Example:
        >>> available_models()
        ['gpt', 'lenet5', 'lstm', 'mlp', 'neuron']
    """
    return sorted(MODELS)


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` of ``name``; a ``ValueError`` lists the known names."""
    if not isinstance(name, str) or name.lower() not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(available_models())}")
    return MODELS[name.lower()]


def model_config(name: str, overrides: Optional[Mapping[str, Any]] = None) -> dict[str, Any]:
    """The full config of ``name``: its defaults updated by ``overrides`` (unknown keys refused).

    Example:
        >>> model_config("lenet5", {"dropout": 0.5})
        {'num_classes': 10, 'dropout': 0.5}
    """
    spec = get_spec(name)
    config = dict(spec.defaults)
    for key, value in dict(overrides or {}).items():
        if key not in config:
            raise ValueError(f"model {spec.name!r} has no config key {key!r}; its keys are "
                             f"{sorted(config)}")
        config[key] = value
    return config


def build_model(name: str, config: Optional[Mapping[str, Any]] = None) -> Any:
    """Build the registered model ``name`` with its default config updated by ``config``.

    Args:
        name: a name from :func:`available_models`.
        config: keys to override (all must exist in the defaults).

    Returns:
        A fresh ``chainrule.nn.Module`` (its weights drawn from the global generator).

    Example:
        >>> build_model("mlp", {"sizes": [4, 3]}).fc1.weight.shape
        (3, 4)
    """
    spec = get_spec(name)
    return spec.constructor(**model_config(name, config))
