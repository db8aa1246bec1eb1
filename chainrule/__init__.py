"""chainrule: reverse-mode automatic differentiation and neural networks on NumPy.

The API follows PyTorch: ``import chainrule as cr`` then ``cr.tensor``, ``.backward()``,
``cr.nn``, ``cr.optim``, ``cr.data``.
"""
from __future__ import annotations

import importlib
from typing import Any

from . import autograd
from .autograd import (OpError, OpIndexError, Tensor, enable_grad, is_grad_enabled, no_grad,
                       set_grad_enabled)
from .creation import (arange, as_tensor, bool_, empty, eye, float16, float32, float64,
                       from_numpy, full, full_like, int8, int32, int64, linspace, ones,
                       ones_like, rand, rand_like, randint, randn, randn_like, randperm,
                       tensor, uint8, zeros, zeros_like)
from .ops import (abs, add, allclose, amax, amin, argmax, argmin, broadcast_to, cat, chunk,
                  clamp, clip, clone, concat, cos, div, dot, eq, exp, expand, flatten,
                  floor_divide, gather,
                  ge, gt, isfinite, le, leaky_relu, log, log_softmax, logical_and, logical_not,
                  logical_or, logsumexp, lt, matmul, max, maximum, mean, min, minimum, mm, mul,
                  ne, neg, pad, permute, pow, reciprocal, relu, remainder, reshape, sigmoid,
                  sign, sin,
                  softmax, split,
                  sqrt, squeeze, stack, std, sub, sum, tanh, transpose, unsqueeze, var, where)
from .backend import get_num_threads, set_num_threads
# device, random numbers and factories (the device idiom, Generator objects)
from .device import device
from .random import (Generator, default_generator, get_rng_state, initial_seed, manual_seed,
                     seed, set_rng_state)
# saving and loading (torch.save / torch.load)
# ops added for PyTorch compatibility

__version__ = "0.1.0"
float = float32  # noqa: A001  (torch.float is float32)
double = float64
long = int64
bool = bool_  # noqa: A001

_SUBMODULES = {"nn", "optim", "data", "models", "viz", "io", "testing", "backend", "ops"}


def __getattr__(name: str) -> Any:
    """Import the heavier floors (``cr.nn``, ``cr.viz``, ...) on first use."""
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name == "trace":
        from .viz.trace import trace

        return trace
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")
