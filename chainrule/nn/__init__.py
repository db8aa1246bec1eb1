"""Neural-network layers, containers, losses, ``init`` and ``functional`` (as ``torch.nn``).

``model.train()`` / ``model.eval()`` (or the ``train_mode`` / ``eval_mode`` context managers)
switch every submodule's ``training`` flag: ``Dropout`` drops only in training mode and
``BatchNorm`` uses batch statistics (updating its running averages) only in training mode.
"""
from . import functional, init, parallel, utils
from .activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .activation import (CELU, ELU, GELU, GLU, Hardsigmoid, Hardswish, Hardtanh, LogSigmoid,
                         Mish, PReLU, ReLU6, SELU, SiLU, Softplus, Softsign, Tanhshrink)
from .attention import MultiheadAttention
from .transformer import (Transformer, TransformerDecoder, TransformerDecoderLayer,
                          TransformerEncoder, TransformerEncoderLayer)
from .containers import (Identity, ModuleDict, ModuleList, ParameterDict, ParameterList,
                         Sequential)
from .conv import Conv2d
from .conv import Conv1d, ConvTranspose1d, ConvTranspose2d
from .pooling import AdaptiveAvgPool1d, AvgPool1d, MaxPool1d
from .upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
from .dropout import Dropout, Dropout1d, Dropout2d
from .flatten import Flatten, Unflatten
from .linear import Linear
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss)
from .loss import (CosineEmbeddingLoss, CTCLoss, HuberLoss, KLDivLoss, MarginRankingLoss,
                   SmoothL1Loss)
from .module import Module, eval_mode, train_mode
from .normalization import BatchNorm1d, BatchNorm2d
from .normalization import GroupNorm, LayerNorm, RMSNorm
from .normalization import SyncBatchNorm
from .sparse import Embedding
from .parameter import Parameter
from .pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d
from .rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase

__all__ = ["Conv1d", "ConvTranspose1d", "ConvTranspose2d", "MaxPool1d", "AvgPool1d",
           "AdaptiveAvgPool1d", "Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d",
           "MultiheadAttention", "Transformer", "TransformerEncoder", "TransformerDecoder",
           "TransformerEncoderLayer", "TransformerDecoderLayer",
           "GELU", "SiLU", "ELU", "SELU", "CELU", "Softplus", "Mish", "Hardtanh", "ReLU6",
           "Hardswish", "Hardsigmoid", "LogSigmoid", "PReLU", "Softsign", "Tanhshrink", "GLU",
           "RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell",
           "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
           "ParameterDict", "Identity", "eval_mode",
           "train_mode", "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d",
           "BatchNorm2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Dropout", "Dropout1d",
           "Dropout2d", "Flatten", "Unflatten", "ReLU", "LeakyReLU", "Sigmoid",
           "Tanh", "Softmax", "LogSoftmax", "MSELoss", "L1Loss", "BCELoss",
           "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss", "SmoothL1Loss", "HuberLoss",
           "KLDivLoss", "CosineEmbeddingLoss", "MarginRankingLoss", "CTCLoss",
           "functional", "init", "utils",
           "Embedding", "LayerNorm", "GroupNorm", "RMSNorm",
           "SyncBatchNorm", "parallel"]
