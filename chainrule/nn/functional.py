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
from ..backend import xp
from ..ops.dtypes import cast
from ..ops.activation import leaky_relu as _leaky_relu
from ..ops.activation import log_softmax as _log_softmax
from ..ops.activation import relu as _relu
from ..ops.activation import logsigmoid, sigmoid, tanh
from ..ops.activation import softmax as _softmax
from ..ops.activation_more import (celu, elu, gelu, glu, hardsigmoid, hardswish, hardtanh,
                                   mish, prelu, relu6, selu, silu, softplus, softsign,
                                   tanhshrink)
from ..ops.attention import multi_head_attention_forward, scaled_dot_product_attention
from ..ops.conv import conv2d
from ..ops.linalg import linear as _linear
from ..ops.linalg import linear_composed as _linear_composed
from ..ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy,
                        l1_loss, mse_loss, nll_loss)
from ..ops.loss import (cosine_embedding_loss, cosine_similarity, ctc_loss, huber_loss, kl_div,
                        margin_ranking_loss, smooth_l1_loss)
from ..ops.norm import batch_norm
from ..ops.embedding import embedding, one_hot
from ..ops.layer_norm import group_norm, layer_norm, rms_norm
from ..ops.pool import avg_pool2d, max_pool2d
from ..ops.conv_transpose import conv1d, conv_transpose1d, conv_transpose2d
from ..ops.pool1d import adaptive_avg_pool1d, avg_pool1d, max_pool1d
from ..ops.resample import interpolate, pad
from ..ops.reduce import mean
from ..ops.shape import flatten, gather, reshape, stack
from ..random import get_rng

__all__ = ["conv1d", "conv_transpose1d", "conv_transpose2d", "max_pool1d", "avg_pool1d",
           "adaptive_avg_pool1d", "interpolate",
           "scaled_dot_product_attention", "multi_head_attention_forward",
           "gelu", "silu", "elu", "selu", "celu", "softplus", "mish", "hardtanh", "relu6",
           "hardswish", "hardsigmoid", "prelu", "softsign", "tanhshrink", "glu",
           "linear", "conv2d", "max_pool2d", "avg_pool2d", "adaptive_avg_pool2d",
           "adaptive_max_pool2d", "batch_norm", "dropout", "dropout1d", "dropout2d", "relu",
           "leaky_relu", "logsigmoid", "sigmoid", "tanh", "softmax", "log_softmax", "pad", "flatten",
           "mse_loss", "l1_loss", "binary_cross_entropy", "binary_cross_entropy_with_logits",
           "cross_entropy", "nll_loss", "smooth_l1_loss", "huber_loss", "kl_div",
           "cosine_embedding_loss", "margin_ranking_loss", "cosine_similarity",
           "ctc_loss",
           "embedding", "one_hot", "layer_norm", "group_norm", "rms_norm"]


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
    return _masked(input, p, training, input.shape)


def _masked(input: Tensor, p: float, training: bool, mask_shape: tuple[int, ...]) -> Tensor:
    """``input * mask / (1 - p)`` with one ``_bernoulli(1 - p, mask_shape)`` draw (broadcast
    over ``input``), as torch's ``_dropout_impl``: no draw when nothing is random (eval mode,
    ``p`` 0 or 1, an empty input)."""
    if not training or p == 0 or input.numel() == 0:
        return input
    if p == 1:  # everything dropped, as torch: input * 0 without a draw
        return input * Tensor(xp.zeros((), dtype=input.dtype))
    if input._data.dtype.kind != "f":  # the mask is scaled by 1 / (1 - p): a float
        raise OpError(f"dropout: result type float32 can't be cast to the desired output type "
                      f"{input.dtype} (dropout with 0 < p < 1 needs a floating input)")
    keep = get_rng()._bernoulli(1.0 - p, mask_shape)
    # torch's noise.div_(1 - p): in the input's dtype
    noise = keep.astype(input.dtype) / xp.asarray(1.0 - p, dtype=input.dtype)
    return input * Tensor(noise)


def _feature_dropout(input: Tensor, p: float, training: bool) -> Tensor:
    """torch's ``feature_dropout``: one mask entry per (sample, channel), broadcast over the
    remaining dimensions (N, C, 1, ..., 1)."""
    if input.ndim < 2:
        raise OpError(f"Feature dropout requires at least 2 dimensions in the input, got "
                      f"shape {input.shape}")
    mask_shape = input.shape[:2] + (1,) * (input.ndim - 2)
    return _masked(input, p, training, mask_shape)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels of a (N, C, L) or (C, L) input with probability ``p`` and scale
    the rest by ``1 / (1 - p)`` in training; identity otherwise.

    Args:
        input: ``(N, C, L)`` or ``(C, L)``.
        p: probability of a channel to be zeroed, in [0, 1].
        training: apply dropout (False: return ``input`` unchanged).
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Raises:
        RuntimeError: the input is not 2-D or 3-D.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> y = dropout1d(cr.ones(1, 50, 3), p=0.5)
        >>> all(len(set(row)) == 1 for row in y[0].tolist())   # a channel is kept or dropped whole
        True
    """
    check_dropout_p(p, "dropout1d")
    if input.ndim not in (2, 3):
        raise OpError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                      f"input (shape {input.shape}). Note that dropout1d exists to provide "
                      f"channel-wise dropout on inputs with 1 spatial dimension, a channel "
                      f"dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    if input.ndim == 2:  # (C, L) -> (1, C, L) -> (C, L)
        return reshape(_feature_dropout(reshape(input, (1,) + input.shape), p, training),
                       input.shape)
    return _feature_dropout(input, p, training)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True,
              inplace: bool = False) -> Tensor:
    """Zero whole channels (feature maps) with probability ``p`` and scale the rest by
    ``1 / (1 - p)`` in training; identity otherwise. The mask is one ``(N, C, 1, 1)`` draw.

    As torch's, a 3-D input is read as ``(N, C, L)`` (1-D channel dropout) with a warning,
    and other ranks are dropped channel-wise along dimension 1 with a deprecation warning.

    Args:
        input: ``(N, C, H, W)``.
        p: probability of a channel to be zeroed, in [0, 1].
        training: apply dropout (False: return ``input`` unchanged).
        inplace: accepted for PyTorch compatibility; the result is always a new tensor.

    Example:
        >>> import chainrule as cr
        >>> _ = cr.manual_seed(0)
        >>> y = dropout2d(cr.ones(2, 20, 3, 3), p=0.5).numpy()
        >>> bool(((y == 0) | (y == 2)).all() and (y.min((2, 3)) == y.max((2, 3))).all())
        True
    """
    check_dropout_p(p, "dropout2d")
    if input.ndim not in (3, 4):
        warnings.warn(f"dropout2d: Received a {input.ndim}-D input to dropout2d, which is "
                      f"deprecated and will result in an error in a future release. To retain "
                      f"the behavior and silence this warning, please use dropout instead.",
                      UserWarning, stacklevel=2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that "
                      "channel-wise 1D dropout behavior is desired - input is interpreted as "
                      "shape (N, C, L), where C is the channel dim. To maintain the 1D "
                      "channel-wise dropout behavior, please switch to using dropout1d "
                      "instead.", UserWarning, stacklevel=2)
    return _feature_dropout(input, p, training)


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



# ============================================================================ adaptive pooling
def _adaptive_args(input: Tensor, output_size: Any, op: str) -> tuple[Tensor, int, int]:
    """The batched input (N, C, H, W) and the output size (OH, OW) of an adaptive pool;
    ``None`` in ``output_size`` keeps the input's size."""
    if input.ndim not in (3, 4):
        raise OpError(f"{op}(): Expected 3D or 4D tensor, but got input of shape {input.shape}")
    for d in range(1, input.ndim) if input.ndim == 4 else range(input.ndim):
        if input.shape[d] == 0:
            raise OpError(f"{op}(): Expected input to have non-zero size for non-batch "
                          f"dimensions, but input has sizes {list(input.shape)} with "
                          f"dimension {d} being empty")
    sizes = (output_size, output_size) if not isinstance(output_size, (tuple, list)) \
        else tuple(output_size)
    if len(sizes) != 2:
        raise OpError(f"{op}: output_size must be 2, got {output_size!r}")
    out = [input.shape[-2 + i] if s is None else s for i, s in enumerate(sizes)]
    for s in out:
        if isinstance(s, bool) or not isinstance(s, int) or s < 0:
            raise OpError(f"{op}: elements of output_size must be greater than or equal to 0 "
                          f"but received {output_size!r}")
    x = input if input.ndim == 4 else reshape(input, (1,) + input.shape)  # (C,H,W)->(1,C,H,W)
    return x, out[0], out[1]


def _bounds(size: int, out: int) -> list[tuple[int, int]]:
    """torch's adaptive windows: ``[floor(i * size / out), ceil((i + 1) * size / out))``."""
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def _unbatch(y: Tensor, input: Tensor) -> Tensor:
    return y if input.ndim == 4 else reshape(y, y.shape[1:])  # (1, C, OH, OW) -> (C, OH, OW)


def adaptive_avg_pool2d(input: Tensor, output_size: Any) -> Tensor:
    """Average pooling to a fixed output size: output cell ``(i, j)`` is the mean of rows
    ``floor(i*H/OH) .. ceil((i+1)*H/OH)`` and the matching columns, as torch's.

    When OH divides H and OW divides W this is ``avg_pool2d`` with kernel and stride
    ``(H // OH, W // OW)``; otherwise rows and then columns are averaged window by window.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        output_size: ``(OH, OW)``, or one int for both; ``None`` keeps that input size.

    Shape:
        Output ``(N, C, OH, OW)`` (or ``(C, OH, OW)``).

    Example:
        >>> import chainrule as cr
        >>> adaptive_avg_pool2d(cr.arange(9.0).reshape(1, 3, 3), 2).tolist()
        [[[2.0, 3.0], [5.0, 6.0]]]
    """
    x, oh, ow = _adaptive_args(input, output_size, "adaptive_avg_pool2d")
    n, c, h, w = x.shape
    if oh == 0 or ow == 0:
        return _unbatch(Tensor(xp.zeros((n, c, oh, ow), x.dtype)), input)  # empty
    if h % oh == 0 and w % ow == 0:
        return _unbatch(avg_pool2d(x, (h // oh, w // ow)), input)
    rows = stack([mean(x[:, :, a:b, :], -2) for a, b in _bounds(h, oh)], -2)  # (N, C, OH, W)
    y = stack([mean(rows[..., a:b], -1) for a, b in _bounds(w, ow)], -1)  # (N, C, OH, OW)
    return _unbatch(y, input)


def _window_argmax(a: Any, oh: int, ow: int) -> Any:
    """The flat index ``row * W + col`` of each adaptive window's first maximum (int64)."""
    n, c, h, w = a.shape
    idx = xp.empty((n, c, oh, ow), dtype=xp.int64)
    for i, (h0, h1) in enumerate(_bounds(h, oh)):
        for j, (w0, w1) in enumerate(_bounds(w, ow)):
            # (N, C, wh, ww) -> (N, C, wh*ww): the window's flat arg-max, (N, C)
            k = a[:, :, h0:h1, w0:w1].reshape(n, c, (h1 - h0) * (w1 - w0)).argmax(-1)
            idx[:, :, i, j] = (h0 + k // (w1 - w0)) * w + w0 + k % (w1 - w0)
    return idx


def adaptive_max_pool2d(input: Tensor, output_size: Any, return_indices: bool = False) -> Any:
    """Max pooling to a fixed output size, over torch's adaptive windows (see
    :func:`adaptive_avg_pool2d`); the gradient of each window goes to its first maximum.

    When OH divides H and OW divides W this is ``max_pool2d`` with kernel and stride
    ``(H // OH, W // OW)``; otherwise each window's arg-max is found and gathered.

    Args:
        input: ``(N, C, H, W)`` or ``(C, H, W)``.
        output_size: ``(OH, OW)``, or one int for both; ``None`` keeps that input size.
        return_indices: also return each maximum's position ``row * W + col`` (int64).

    Shape:
        Output ``(N, C, OH, OW)`` (or ``(C, OH, OW)``); with ``return_indices``,
        ``(output, indices)``.

    Example:
        >>> import chainrule as cr
        >>> y, i = adaptive_max_pool2d(cr.arange(9.0).reshape(1, 3, 3), 2, return_indices=True)
        >>> y.tolist(), i.tolist()
        ([[[4.0, 5.0], [7.0, 8.0]]], [[[4, 5], [7, 8]]])
    """
    x, oh, ow = _adaptive_args(input, output_size, "adaptive_max_pool2d")
    n, c, h, w = x.shape
    if oh and ow and h % oh == 0 and w % ow == 0:
        y, idx = max_pool2d(x, (h // oh, w // ow), return_indices=True)
    else:
        idx = Tensor(_window_argmax(x._data, oh, ow))
        # (N, C, H*W) gathered at (N, C, OH*OW) -> (N, C, OH, OW)
        y = reshape(gather(flatten(x, 2), 2, reshape(idx, (n, c, oh * ow))), (n, c, oh, ow))
    y, idx = _unbatch(y, input), _unbatch(idx, input)
    return (y, idx) if return_indices else y
