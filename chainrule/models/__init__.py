"""Ready-made models: ``LeNet5``, ``MLP``, ``Neuron``, the language models ``GPT`` and
``CharLSTM``, the ``summary`` table and the registry.

Example:
    >>> import chainrule as cr
    >>> from chainrule.models import LeNet5, summary
    >>> s = summary(LeNet5(), (1, 1, 28, 28), print_fn=None)
    >>> s.rows[-1].output_shape
    (1, 10)
"""
from .charlstm import CharLSTM
from .gpt import GPT, GPTConfig, decay_groups, sample_next
from .lenet import LeNet5
from .mlp import MLP
from .neuron import Neuron
from .registry import MODELS, ModelSpec, available_models, build_model, get_spec, model_config
from .summary import LayerInfo, ModelSummary, layer_macs, summary

__all__ = ["LeNet5", "MLP", "Neuron", "GPT", "GPTConfig", "CharLSTM", "decay_groups",
           "sample_next", "summary", "ModelSummary", "LayerInfo", "layer_macs",
           "MODELS", "ModelSpec", "available_models", "build_model", "get_spec", "model_config"]
