"""chainrule: reverse-mode automatic differentiation and neural networks on NumPy.

The API follows PyTorch: ``import chainrule as cr`` then ``cr.tensor``, ``.backward()``,
``cr.nn``, ``cr.optim``, ``cr.data``.
"""
from __future__ import annotations

import importlib
from typing import Any

from . import autograd
from .autograd import (OpError, OpIndexError, Size, Tensor, enable_grad, inference_mode,
                       is_grad_enabled, is_inference_mode_enabled, no_grad, set_grad_enabled)
from .autograd import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor,
                       HalfTensor, IntTensor, LongTensor, ShortTensor)
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
from . import random
from .accelerators import accelerator, backends, cuda
from .creation import bernoulli, empty_like, logspace, multinomial, normal, randint_like
from .creation import from_dlpack, is_floating_point, is_tensor, numel
from .device import (channels_last, contiguous_format, device, get_default_device,
                     get_default_dtype, layout, memory_format, preserve_format,
                     set_default_device, set_default_dtype, sparse_coo, strided)
from .random import (Generator, default_generator, get_rng_state, initial_seed, manual_seed,
                     seed, set_rng_state)
# saving and loading (torch.save / torch.load)
from .io.serialization import load, save
# ops added for PyTorch compatibility
from .ops import (addmm, all, any, argsort, baddbmm, bmm, ceil, clamp_max, clamp_min, cumprod,
                  cumsum, diag, divide, einsum, erf, expm1, fix, flip, floor, frac, ger, isinf,
                  isnan, lerp, log1p, log2, log10, masked_fill, msort, multiply, narrow, norm,
                  outer, prod, repeat_interleave, roll, round, rsqrt, sort, square, subtract,
                  topk, tril, triu, true_divide, trunc, unbind, scatter, scatter_add,
                  addcdiv, addcmul, fliplr, flipud, index_select, unflatten)
from .ops import linalg_namespace as linalg
from .ops.activation_more import celu, prelu, selu  # torch.celu, torch.prelu, torch.selu

__version__ = "0.1.0"
float = float32  # noqa: A001  (torch.float is float32)
double = float64
long = int64
bool = bool_  # noqa: A001

_SUBMODULES = {"nn", "optim", "data", "models", "viz", "io", "testing", "backend", "ops",
               "utils", "vision"}


def __getattr__(name: str) -> Any:
    """Import the heavier floors (``cr.nn``, ``cr.viz``, ...) on first use."""
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    if name == "trace":
        from .viz.trace import trace

        return trace
    raise AttributeError(f"module 'chainrule' has no attribute {name!r}")
