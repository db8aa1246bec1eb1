"""``chainrule.nn.functional`` (import it as ``F``): every layer's stateless form.

The ops themselves live in :mod:`chainrule.ops` (conv, pool, norm, activation, loss, shape)
and are re-exported here under PyTorch's names. What is defined here is the little that is
specific to layers: ``linear`` (a matmul with a clear feature-count error), ``dropout``
(draws its mask from the global generator), and the PyTorch signatures of the activations
(``inplace`` flags, the legacy implicit softmax dimension).
"""
from __future__ import annotations

import warnings
from typing import Any, Optional

from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from ..ops.dtypes import cast
from ..ops.activation import leaky_relu as _leaky_relu
from ..ops.activation import log_softmax as _log_softmax
from ..ops.activation import relu as _relu
from ..ops.activation import logsigmoid, sigmoid, tanh
from ..ops.activation import softmax as _softmax
from ..ops.conv import conv2d
from ..ops.linalg import linear as _linear
from ..ops.linalg import linear_composed as _linear_composed
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,
                        l1_loss, mse_loss, nll_loss)
from ..ops.norm import batch_norm
from ..ops.pool import avg_pool2d, max_pool2d
from ..ops.shape import flatten, pad
from ..random import get_rng

__all__ = ["linear", "conv2d", "max_pool2d", "avg_pool2d", "batch_norm", "dropout", "relu",
           "leaky_relu", "logsigmoid", "sigmoid", "tanh", "softmax", "log_softmax", "pad", "flatten",
           "mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "nll_loss"]


def linear(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """Affine map ``input @ weight.T + bias``.

    Args:
        input: ``(*, in_features)``.
        weight: ``(out_features, in_features)``.
        bias: ``(out_features,)`` or None.

    Shape:
        ``(*, in_features)`` -> ``(*, out_features)``.

    Example:
        >>> import chainrule as cr
        >>> linear(cr.ones(2, 3), cr.ones(4, 3), cr.zeros(4)).shape
        (2, 4)
    """
    if input.ndim == 0 or weight.ndim != 2 or input.shape[-1] != weight.shape[1]:
        n_in = input.shape[-1] if input.ndim else "no"
        raise OpError(f"linear: input of shape {input.shape} has {n_in} features in its "
                      f"last dimension, but weight of shape {weight.shape} expects "
                      f"in_features={weight.shape[-1]} (weight is (out_features, "
                      f"in_features))")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise OpError(f"linear: bias of shape {bias.shape} does not match weight of shape "
                      f"{weight.shape}; expected ({weight.shape[0]},)")
    if input.dtype != weight.dtype or (bias is not None and bias.dtype != weight.dtype):
        return _linear_composed(input, weight, bias)  # let matmul/add promote dtypes
    return _linear(input, weight, bias)


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            inplace: bool = False) -> Tensor:
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by
    ``1 / (1 - p)`` in training; identity otherwise.

    The mask is drawn from the global generator (``chainrule.manual_seed``).

    Args:
        input: any shape.
        p: drop probability, in [0, 1].
        training: apply dropout (False: return ``input`` unchanged).
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Shape:
        Output has the shape of ``input``.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> y = dropout(cr.ones(1000), p=0.5)
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
        >>> dropout(cr.ones(3), p=0.5, training=False).tolist()
        [1.0, 1.0, 1.0]
    """
    check_dropout_p(p, "dropout")
    if not training or p == 0:
        return input
    keep = get_rng()._bernoulli(1.0 - p, input.shape)
    # p == 1 drops everything (scale 0, as PyTorch, not 1/0)
    scale = 0.0 if p == 1 else 1.0 / (1.0 - p)
    return input * Tensor((keep * scale).astype(input.dtype))


def check_dropout_p(p: Any, op: str) -> None:
    """Raise PyTorch's ValueError unless ``0 <= p <= 1``."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p!r}")


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(input, 0)`` (gradient 0 at 0). ``inplace`` is accepted and ignored.

    Example:
        >>> import chainrule as cr
        >>> relu(cr.tensor([-1.0, 2.0])).tolist()
        [0.0, 2.0]
    """
    return _relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``input`` where positive, ``negative_slope * input`` elsewhere. ``inplace`` is ignored.

    Example:
        >>> import chainrule as cr
        >>> leaky_relu(cr.tensor([-1.0, 2.0]), 0.1).tolist()
        [-0.10000000149011612, 2.0]
    """
    return _leaky_relu(input, negative_slope)


def _softmax_dim(input: Tensor, dim: Optional[int], name: str) -> int:
    """PyTorch's legacy choice when ``dim`` is None (0 for 0-, 1- and 3-D input, else 1)."""
    if dim is not None:
        return dim
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  f"to include dim=X as an argument.", UserWarning, stacklevel=3)
    return 0 if input.ndim in (0, 1, 3) else 1


def _as_dtype(input: Tensor, dtype: Any) -> Tensor:
    """``input`` cast to ``dtype`` first (differentiably), as the ``dtype=`` of softmax."""
    return input if dtype is None else cast(input, dtype)


def softmax(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3,
            dtype: Any = None) -> Tensor:
    """``exp(input) / sum(exp(input), dim)``, stable for logits of +-1000.

    Args:
        input: any shape.
        dim: the dimension that sums to 1 (None: PyTorch's legacy choice, with a warning).
        _stacklevel: accepted for PyTorch compatibility.
        dtype: cast ``input`` to this dtype before the operation.

    Example:
        >>> import chainrule as cr
        >>> softmax(cr.tensor([[0.0, 0.0]]), dim=1).tolist()
        [[0.5, 0.5]]
        >>> softmax(cr.tensor([0.0, 0.0]), dim=0, dtype=cr.float64).dtype
        dtype('float64')
    """
    return _softmax(_as_dtype(input, dtype), _softmax_dim(input, dim, "softmax"))


def log_softmax(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3,
                dtype: Any = None) -> Tensor:
    """``input - logsumexp(input, dim)``, stable for logits of +-1000.

    Args:
        input: any shape.
        dim: the dimension to normalise over (None: PyTorch's legacy choice, with a warning).
        _stacklevel: accepted for PyTorch compatibility.
        dtype: cast ``input`` to this dtype before the operation.

    Example:
        >>> import chainrule as cr
        >>> round(log_softmax(cr.tensor([[0.0, 0.0]]), dim=1)[0, 0].item(), 4)
        -0.6931
    """
    return _log_softmax(_as_dtype(input, dtype), _softmax_dim(input, dim, "log_softmax"))

