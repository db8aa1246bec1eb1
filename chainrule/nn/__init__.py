"""Neural-network layers, containers, losses, ``init`` and ``functional`` (as ``torch.nn``).

``model.train()`` / ``model.eval()`` (or the ``train_mode`` / ``eval_mode`` context managers)
switch every submodule's ``training`` flag: ``Dropout`` drops only in training mode and
``BatchNorm`` uses batch statistics (updating its running averages) only in training mode.
"""
from . import functional, init
from .activation import LeakyReLU, LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .containers import Identity, ModuleList, Sequential
from .conv import Conv2d
from .dropout import Dropout
from .flatten import Flatten, Unflatten
from .linear import Linear
from .loss import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, L1Loss, MSELoss, NLLLoss)
from .module import Module, eval_mode, train_mode
from .normalization import BatchNorm1d, BatchNorm2d
from .parameter import Parameter
from .pooling import AvgPool2d, MaxPool2d

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "Identity", "eval_mode",
           "train_mode", "Linear", "Conv2d", "MaxPool2d", "AvgPool2d", "BatchNorm1d",
           "BatchNorm2d", "Dropout", "Flatten", "Unflatten", "ReLU", "LeakyReLU", "Sigmoid",
           "Tanh", "Softmax", "LogSoftmax", "MSELoss", "L1Loss", "BCELoss",
           "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss", "functional", "init"]
