"""Neural-network layers, containers, losses, ``init`` and ``functional`` (as ``torch.nn``).

``model.train()`` / ``model.eval()`` (or the ``train_mode`` / ``eval_mode`` context managers)
switch every submodule's ``training`` flag: ``Dropout`` drops only in training mode and
``BatchNorm`` uses batch statistics (updating its running averages) only in training mode.
"""
from . import functional, init, utils
from .activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .containers import (Identity, ModuleDict, ModuleList, ParameterDict, ParameterList,
                         Sequential)
from .conv import Conv2d
from .dropout import Dropout, Dropout1d, Dropout2d
from .flatten import Flatten, Unflatten
from .linear import Linear
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss)
from .module import Module, eval_mode, train_mode
from .normalization import BatchNorm1d, BatchNorm2d
from .parameter import Parameter
from .pooling import AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool2d, MaxPool2d

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
           "ParameterDict", "Identity", "eval_mode",
           "train_mode", "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d",
           "BatchNorm2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Dropout", "Dropout1d",
           "Dropout2d", "Flatten", "Unflatten", "ReLU", "LeakyReLU", "Sigmoid",
           "Tanh", "Softmax", "LogSoftmax", "MSELoss", "L1Loss", "BCELoss",
           "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss", "functional", "init", "utils"]
