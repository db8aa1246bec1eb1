"""1-D pooling: ``max_pool1d``, ``avg_pool1d`` and ``adaptive_avg_pool1d``, as
``torch.nn.functional``'s.

``max_pool1d`` and ``avg_pool1d`` are the 2-D poolings of :mod:`chainrule.ops.pool` on the
(N, C, 1, L) view with a (1, K) window, so they share its kernels, its tie rule (the first
maximum) and its differentiable backward. ``adaptive_avg_pool1d`` is ``avg_pool1d`` when the
output length divides the input's, else one matrix product with the (OL, L) averaging matrix
(row i averages PyTorch's window ``[floor(i*L/OL), ceil((i+1)*L/OL))``).

The arguments are checked here, with 1-D shapes in the messages, before the 2-D op runs.
"""
from __future__ import annotations

from typing import Any

import numpy

from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from ..backend import xp
from ._util import as_tensor_arg
from .linalg import matmul
from .pool import avg_pool2d, max_pool2d
from .shape import reshape
from .window_args import pool_output_size


def _one(value: Any, name: str, op: str, minimum: int) -> int:
    """A 1-D pooling's int argument (an int or a one-element sequence), PyTorch's messages."""
    if isinstance(value, (tuple, list)):
        if len(value) != 1:
            raise OpError(f"{op}() {name} must be an int, list of ints or tuple of ints of "
                          f"size 1 but got size {len(value)}")
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, (int, numpy.integer)):
        raise TypeError(f"{op}(): {name} must be an int, got {value!r}")
    if value < minimum:
        rule = "greater than zero" if minimum == 1 else "non-negative"
        raise OpError(f"{op}() {name} must be {rule}, but got {value}")
    return int(value)


def _batched(x: Tensor, op: str) -> tuple[Tensor, bool]:
    """(N, C, L) as it is, (C, L) as (1, C, L); any other rank refused."""
    if x.ndim not in (2, 3) or min(x.shape[-2:]) < 1:
        raise OpError(f"{op}: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch "
                      f"size for input, but got: {list(x.shape)}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got dtype {x.dtype}")
    return (reshape(x, (1,) + x.shape), True) if x.ndim == 2 else (x, False)


def _window(op: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
            ceil_mode: bool) -> tuple[int, int, int, int]:
    """(K, stride, padding, dilation) checked by PyTorch's rules for a 1-D pooling of x."""
    k = _one(kernel_size, "kernel_size", op, 1)
    s = k if stride is None or (isinstance(stride, (tuple, list)) and not stride) \
        else _one(stride, "stride", op, 1)
    p = _one(padding, "padding", op, 0)
    d = _one(dilation, "dilation", op, 1)
    if p > k // 2:
        raise OpError(f"{op}() padding should be at most half of kernel size, but got "
                      f"padding={p} and kernel_size={k}")
    out = pool_output_size(x.shape[-1], k, s, p, d, ceil_mode)
    if out < 1:
        raise OpError(f"{op}() Invalid computed output size: {out} (input shape {x.shape}, "
                      f"kernel_size={k}, stride={s}, padding={p}, dilation={d})")
    return k, s, p, d


def _unrow(y: Tensor, unbatched: bool) -> Tensor:
    """(N, C, 1, OL) -> (N, C, OL), or (C, OL) for an unbatched input."""
    return reshape(y, y.shape[1:2] + y.shape[3:] if unbatched else y.shape[:2] + y.shape[3:])


def max_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False) -> Any:
    """1-D max pooling, as ``torch.nn.functional.max_pool1d``.

    Args:
        input: (N, C, L), or (C, L) unbatched.
        kernel_size: the window length K.
        stride: the window step; defaults to ``kernel_size``.
        padding: implicit -inf padding on both sides, at most ``K // 2``.
        dilation: spacing between window taps.
        ceil_mode: round the output length up (a last window may hang over the right edge,
            but never start in the padding).
        return_indices: also return each maximum's position in the input (int64).

    Shape:
        output (N, C, OL) with ``OL = floor((L + 2*padding - dilation*(K-1) - 1)/stride + 1)``
        (ceil with ``ceil_mode``); with ``return_indices``, ``(output, indices)``.

    The gradient of each window goes to its first maximum, as PyTorch's CPU kernel.

    Example:
        >>> import chainrule as cr
        >>> y, i = max_pool1d(cr.tensor([[[1.0, 3.0, 2.0, 2.0, 5.0]]]), 2, return_indices=True)
        >>> y.tolist(), i.tolist()
        ([[[3.0, 2.0]]], [[[1, 2]]])
    """
    op = "max_pool1d"
    x, unbatched = _batched(as_tensor_arg(input, "input", op), op)
    k, s, p, d = _window(op, x, kernel_size, stride, padding, dilation, ceil_mode)
    # (N, C, L) -> (N, C, 1, L), pooled with a (1, K) window
    y, idx = max_pool2d(reshape(x, x.shape[:2] + (1,) + x.shape[2:]), (1, k), (1, s), (0, p),
                        (1, d), ceil_mode, return_indices=True)
    y = _unrow(y, unbatched)
    # the 2-D index row * L + col has row 0: it is the position along L
    return (y, _unrow(idx, unbatched)) if return_indices else y


def avg_pool1d(input: Any, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """1-D average pooling, as ``torch.nn.functional.avg_pool1d``.

    Args:
        input: (N, C, L), or (C, L) unbatched.
        kernel_size: the window length K.
        stride: the window step; defaults to ``kernel_size``.
        padding: implicit zero padding on both sides, at most ``K // 2``.
        ceil_mode: round the output length up.
        count_include_pad: divide by the window length including padding (not a ceil_mode
            overhang); if False, by the number of input values the window covers.

    Shape:
        output (N, C, OL) with ``OL = floor((L + 2*padding - K)/stride + 1)`` (ceil with
        ``ceil_mode``).

    Example:
        >>> import chainrule as cr
        >>> avg_pool1d(cr.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]]), 2).tolist()
        [[[1.5, 3.5]]]
        >>> avg_pool1d(cr.tensor([[[1.0, 2.0]]]), 2, padding=1, count_include_pad=False).tolist()
        [[[1.0, 2.0]]]
    """
    op = "avg_pool1d"
    x, unbatched = _batched(as_tensor_arg(input, "input", op), op)
    k, s, p, _ = _window(op, x, kernel_size, stride, padding, 1, ceil_mode)
    # (N, C, L) -> (N, C, 1, L), pooled with a (1, K) window
    y = avg_pool2d(reshape(x, x.shape[:2] + (1,) + x.shape[2:]), (1, k), (1, s), (0, p),
                   ceil_mode, count_include_pad)
    return _unrow(y, unbatched)


def adaptive_windows(size: int, out: int) -> list[tuple[int, int]]:
    """PyTorch's adaptive windows: ``[floor(i * size / out), ceil((i + 1) * size / out))``.

    Example:
        >>> adaptive_windows(5, 3)
        [(0, 2), (1, 4), (3, 5)]
    """
    return [(i * size // out, -(-(i + 1) * size // out)) for i in range(out)]


def adaptive_avg_pool1d(input: Any, output_size: Any) -> Tensor:
    """Average pooling to a fixed output length, as ``torch.nn.functional.adaptive_avg_pool1d``:
    output ``i`` is the mean of ``input[..., floor(i*L/OL) : ceil((i+1)*L/OL)]``.

    Args:
        input: (N, C, L), or (C, L) unbatched.
        output_size: OL, an int (or a one-element tuple), at least 0.

    Shape:
        output (N, C, OL).

    Example:
        >>> import chainrule as cr
        >>> adaptive_avg_pool1d(cr.tensor([[1.0, 2.0, 3.0, 4.0, 5.0]]), 3).tolist()
        [[1.5, 3.0, 4.5]]
    """
    op = "adaptive_avg_pool1d"
    x = as_tensor_arg(input, "input", op)
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 1:
            raise OpError(f"{op}() argument 'output_size' should contain one int (got "
                          f"{len(output_size)})")
        output_size = output_size[0]
    if isinstance(output_size, bool) or not isinstance(output_size, (int, numpy.integer)):
        raise TypeError(f"{op}(): argument 'output_size' must be an int or a tuple of one "
                        f"int, not {type(output_size).__name__}")
    if output_size < 0:
        raise OpError(f"{op}: elements of output_size must be greater than or equal to 0 but "
                      f"received {output_size}")
    if x.ndim not in (2, 3):
        raise OpError(f"{op}: Expected 2 to 3 dimensions, but got {x.ndim}-dimensional tensor "
                      f"(shape {x.shape})")
    if x.shape[-1] < 1:
        raise OpError(f"{op}(): Expected input to have non-zero size for non-batch "
                      f"dimensions, but input has sizes {list(x.shape)} with dimension "
                      f"{x.ndim - 1} being empty")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got dtype {x.dtype}")
    L, out = x.shape[-1], int(output_size)
    if out and L % out == 0 and min(x.shape) > 0:
        return avg_pool1d(x, L // out)
    # the (OL, L) averaging matrix, transposed: (..., L) @ (L, OL) -> (..., OL)
    a = xp.zeros((out, L), dtype=x.dtype)
    for i, (lo, hi) in enumerate(adaptive_windows(L, out)):
        a[i, lo:hi] = 1.0 / (hi - lo)
    return matmul(x, Tensor(xp.ascontiguousarray(a.T)))

