"""1-D convolution and the transposed convolutions, built on the 2-D machinery of
:mod:`chainrule.ops.conv`.

``conv1d``
    ``conv2d`` of the (N, C, 1, L) view with a (OC, Cg, 1, K) kernel: no copy, the same fast
    schedules, and a backward made of :class:`~chainrule.ops.conv.Conv2dGradInput` and
    :class:`~chainrule.ops.conv.Conv2dGradWeight` on the same views (double backward works).
``conv_transpose2d``
    the gradient of ``conv2d`` with respect to its input, which is what a transposed
    convolution is: ``conv_transpose2d(x, w) = d<x, conv2d(z, w)>/dz`` for a z of the output's
    shape. Its forward is ``Conv2dGradInput``'s, its input gradient is ``conv2d`` of the
    upstream with the same weight, its weight gradient ``Conv2dGradWeight`` with the roles of
    input and upstream swapped: all three differentiable.
``conv_transpose1d``
    ``conv_transpose2d`` of the (N, C, 1, L) view.

Each is one node named as PyTorch's, ``ConvolutionBackward0``, with the bias fused.

Dimension names: N batch, C in channels, L length, OC out channels, K kernel size, OL output
length, G groups, Cg = C/G, OCg = OC/G (for the transposed ops, weight is (C, OC/G, ...)).
"""
from __future__ import annotations

from typing import Any, Optional, Union

import numpy

from ..autograd.errors import OpError
from ..autograd.function import Function
from ..autograd.grad_mode import state
from ..autograd.tensor import Tensor
from ..kernels.conv_schedules import (ConvGeometry, fast_forward, fast_grad_input,
                                      fast_grad_weight, sum_nhw, what_to_keep)
from ._util import as_tensor_arg, pair
from .conv import Conv2d, Conv2dGradInput, Conv2dGradWeight
from .shape import pad as constant_pad
from .shape import reshape
from .window_args import conv_options


# ============================================================================ argument helpers
def single(value: Any, name: str, op: str, minimum: int) -> int:
    """A 1-D op's int argument: an int or a one-element tuple/list, at least ``minimum``.

    Example:
        >>> single(2, "stride", "conv1d", 1), single((3,), "padding", "conv1d", 0)
        (2, 3)
    """
    if isinstance(value, (tuple, list)) and len(value) != 1:
        raise OpError(f"{op}: expected {name} to be a single integer value or a list of 1 "
                      f"values to match the convolution dimensions, but got {name}="
                      f"{list(value)}")
    return pair(value, name, op, minimum)[0]


def _row(a: Any) -> Any:
    """An (N, C, L) array as its (N, C, 1, L) view (and (OC, Cg, K) as (OC, Cg, 1, K))."""
    return a.reshape(a.shape[:2] + (1,) + a.shape[2:])


def _row_t(t: Tensor) -> Tensor:
    """The differentiable (N, C, L) -> (N, C, 1, L)."""
    return reshape(t, t.shape[:2] + (1,) + t.shape[2:])


def _unrow(a: Any) -> Any:
    """(N, C, 1, L) -> (N, C, L), an array or a Tensor."""
    shape = a.shape[:2] + a.shape[3:]
    return reshape(a, shape) if isinstance(a, Tensor) else a.reshape(shape)


def _check_tensors(op: str, x: Tensor, weight: Tensor, bias: Optional[Tensor], dims: int,
                   shown: tuple[int, ...]) -> None:
    """Ranks and dtypes of a ``dims``-D (transposed) convolution's tensors."""
    if x.ndim != dims + 2:
        raise OpError(f"{op}: Expected {dims + 1}D (unbatched) or {dims + 2}D (batched) input "
                      f"to {op}, but got input of size: {list(shown)}")
    if weight.ndim != dims + 2:
        raise OpError(f"{op}: expected a {dims + 2}-D weight, got weight of shape "
                      f"{weight.shape} for input of shape {shown}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got dtype {x.dtype}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and t.dtype != x.dtype:
            raise TypeError(f"{op}: input dtype ({x.dtype}) and {name} dtype ({t.dtype}) "
                            f"should be the same")
    if min(weight.shape) < 1:
        raise OpError(f"{op}: weight of shape {weight.shape} has an empty dimension")


# ============================================================================ conv1d
class Conv1d(Function):
    """y = conv1d(x, weight) + bias: conv2d's fast schedules on (N, C, 1, L) views."""

    node_name = "ConvolutionBackward0"  # PyTorch's name for the same op

    derivative = Conv2d.derivative

    def __init__(self, geometry: ConvGeometry, keep: str = "") -> None:
        self.g, self.keep = geometry, keep

    def forward(self, x: Any, weight: Any, bias: Any) -> Any:
        y, self.cols = fast_forward(_row(x), _row(weight), self.g, self.keep, bias)
        return _unrow(y)  # (N, OC, 1, OL) -> (N, OC, OL)

    def backward(self, gy: Tensor) -> tuple:
        x, weight, _ = self.inputs
        nx, nw, nb = self.needs_input_grad
        cols, self.cols = self.cols, None
        x4, w4, gy4 = _row_t(x), _row_t(weight), _row_t(gy)  # (N, C, 1, L), ...
        return (_unrow(Conv2dGradInput(self.g, x4.shape)(gy4, w4)) if nx else None,
                _unrow(Conv2dGradWeight(self.g, w4.shape, cols)(x4, gy4)) if nw else None,
                gy.sum(dim=(0, 2)) if nb else None)

    def fast_backward(self, gy: Any) -> tuple:
        x, weight, _ = self.inputs
        nx, nw, nb = self.needs_input_grad
        cols, self.cols = self.cols, None
        g4 = _row(gy.astype(x.dtype, copy=False))  # (N, OC, 1, OL)
        w4 = _row(weight._data)
        return (_unrow(fast_grad_input(g4, w4, _row(x._data).shape, self.g)) if nx else None,
                _unrow(fast_grad_weight(_row(x._data), g4, w4.shape, self.g, cols))
                if nw else None,
                sum_nhw(g4) if nb else None)


def conv1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
           padding: Union[int, tuple[int], str] = 0, dilation: Any = 1,
           groups: int = 1) -> Tensor:
    """1-D cross-correlation over an (N, C, L) input, as ``torch.nn.functional.conv1d``.

    Args:
        input: (N, C, L), or (C, L) unbatched (the output is then unbatched too).
        weight: (OC, C/groups, K), same dtype as ``input``.
        bias: optional (OC,).
        stride: int (or a 1-tuple), positive.
        padding: int, ``'valid'`` (none) or ``'same'`` (output length = input length; stride
            1 only; an odd total puts the extra zero on the right).
        dilation: int, spacing between kernel taps.
        groups: split the channels into ``groups`` independent convolutions.

    Shape:
        output (N, OC, OL) with ``OL = floor((L + 2*padding - dilation*(K-1) - 1)/stride + 1)``.

    Raises:
        RuntimeError: (OpError, also a ValueError) wrong ranks, a channel mismatch, groups
            not dividing the channels, a bad bias shape, a kernel longer than the padded input.
        TypeError: non-floating input, or differing dtypes.

    Example:
        >>> import chainrule as cr
        >>> conv1d(cr.ones(2, 3, 10), cr.ones(4, 3, 3), padding=1).shape
        (2, 4, 10)
        >>> conv1d(cr.tensor([[1.0, 2.0, 3.0, 4.0]]), cr.tensor([[[1.0, -1.0]]])).tolist()
        [[-1.0, -1.0, -1.0]]
    """
    op = "conv1d"
    x = as_tensor_arg(input, "input", op)
    weight = as_tensor_arg(weight, "weight", op)
    bias = as_tensor_arg(bias, "bias", op, optional=True)
    shown = x.shape
    unbatched = x.ndim == 2
    if unbatched:
        x = reshape(x, (1,) + x.shape)  # (C, L) -> (1, C, L)
    _check_tensors(op, x, weight, bias, 1, shown)
    OC, Cg, K = weight.shape
    s, d = single(stride, "stride", op, 1), single(dilation, "dilation", op, 1)
    p: Union[tuple[int, int], str] = padding if isinstance(padding, str) else \
        (0, single(padding, "padding", op, 0))
    opts = conv_options((1, K), (1, s), p, (1, d), groups, op)
    G, C = opts.groups, x.shape[1]
    if OC % G:
        raise OpError(f"{op}: Given groups={G}, expected weight to be divisible by {G} at "
                      f"dimension 0, but got weight of size {list(weight.shape)} instead")
    if C != Cg * G:
        raise OpError(f"{op}: Given groups={G}, weight of size {list(weight.shape)}, expected "
                      f"input{list(shown)} to have {Cg * G} channels, but got {C} channels "
                      f"instead")
    if bias is not None and bias.shape != (OC,):
        raise OpError(f"{op}: Given weight of size {list(weight.shape)}, expected bias to be "
                      f"1-dimensional with {OC} elements, but got bias of size "
                      f"{list(bias.shape)} instead")
    pads = opts.pads()  # (0, 0, left, right)
    padded = x.shape[2] + pads[2] + pads[3]
    if d * (K - 1) + 1 > padded:
        raise OpError(f"{op}: Calculated padded input size per channel: ({padded}). Kernel "
                      f"size: ({d * (K - 1) + 1}). Kernel size can't be greater than actual "
                      f"input size (input shape {shown}, weight shape {weight.shape})")
    g = ConvGeometry((1, s), pads, (1, d), G)
    keep = what_to_keep(_row(x._data).shape, (OC, Cg, 1, K), g) \
        if state.grad_enabled and weight.requires_grad else ""
    y = Conv1d(g, keep)(x, weight, bias)
    return reshape(y, y.shape[1:]) if unbatched else y


# ============================================================================ transposed
class ConvTranspose2d(Function):
    """y = conv_transpose2d(x, weight) + bias: conv2d's input gradient, as a layer."""

    node_name = "ConvolutionBackward0"  # PyTorch's name for the same op

    derivative = ("upstream correlated with {x1} (the forward conv2d)",
                  "upstream correlated with {x0} (conv2d's weight gradient, roles swapped)",
                  "upstream summed over N, OH, OW")

    def __init__(self, geometry: ConvGeometry, out_shape: tuple[int, ...]) -> None:
        self.g, self.out_shape = geometry, tuple(out_shape)  # (N, OC, OH, OW)

    def forward(self, x: Any, weight: Any, bias: Any) -> Any:
        y = fast_grad_input(x.astype(weight.dtype, copy=False), weight, self.out_shape, self.g)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)  # (OC,) -> (1, OC, 1, 1)
        return y

    def backward(self, gy: Tensor) -> tuple:
        x, weight, _ = self.inputs
        nx, nw, nb = self.needs_input_grad
        return (Conv2d(self.g)(gy, weight, None) if nx else None,
                Conv2dGradWeight(self.g, weight.shape)(gy, x) if nw else None,
                gy.sum(dim=(0, 2, 3)) if nb else None)

    def fast_backward(self, gy: Any) -> tuple:
        x, weight, _ = self.inputs
        nx, nw, nb = self.needs_input_grad
        g = gy.astype(x.dtype, copy=False)
        return (fast_forward(g, weight._data, self.g)[0] if nx else None,
                fast_grad_weight(g, x._data, weight.shape, self.g) if nw else None,
                sum_nhw(g) if nb else None)


class ConvTranspose1d(Function):
    """conv_transpose1d: :class:`ConvTranspose2d` on (N, C, 1, L) views."""

    node_name = "ConvolutionBackward0"  # PyTorch's name for the same op

    derivative = ConvTranspose2d.derivative

    def __init__(self, geometry: ConvGeometry, out_shape: tuple[int, ...]) -> None:
        self.g, self.out_shape = geometry, tuple(out_shape)  # (N, OC, 1, OL)

    def forward(self, x: Any, weight: Any, bias: Any) -> Any:
        y = fast_grad_input(_row(x).astype(weight.dtype, copy=False), _row(weight),
                            self.out_shape, self.g)
        if bias is not None:
            y += bias.reshape(1, -1, 1, 1)  # (OC,) -> (1, OC, 1, 1)
        return _unrow(y)

    def backward(self, gy: Tensor) -> tuple:
        x, weight, _ = self.inputs
        nx, nw, nb = self.needs_input_grad
        x4, w4, gy4 = _row_t(x), _row_t(weight), _row_t(gy)
        return (_unrow(Conv2d(self.g)(gy4, w4, None)) if nx else None,
                _unrow(Conv2dGradWeight(self.g, w4.shape)(gy4, x4)) if nw else None,
                gy.sum(dim=(0, 2)) if nb else None)

    def fast_backward(self, gy: Any) -> tuple:
        x, weight, _ = self.inputs
        nx, nw, nb = self.needs_input_grad
        g4 = _row(gy.astype(x.dtype, copy=False))  # (N, OC, 1, OL)
        w4 = _row(weight._data)
        return (_unrow(fast_forward(g4, w4, self.g)[0]) if nx else None,
                _unrow(fast_grad_weight(g4, _row(x._data), w4.shape, self.g)) if nw else None,
                sum_nhw(g4) if nb else None)


def axis_ints(value: Any, name: str, op: str, minimum: int, dims: int) -> tuple[int, ...]:
    """A per-axis int argument of a ``dims``-D (transposed) convolution, as a tuple.

    Example:
        >>> axis_ints(2, "stride", "conv_transpose2d", 1, 2), axis_ints((1,), "padding", "op", 0, 1)
        ((2, 2), (1,))
    """
    if isinstance(value, str):
        raise TypeError(f"{op}: argument '{name}' must be tuple of ints, not str "
                        f"({value!r}: string paddings are for the forward convolutions)")
    if dims == 1:
        return (single(value, name, op, minimum),)
    return pair(value, name, op, minimum)


def transposed_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int,
                           output_padding: int) -> int:
    """PyTorch's transposed-convolution output size.

    ``(size - 1)*stride - 2*padding + dilation*(kernel - 1) + output_padding + 1``

    Example:
        >>> transposed_output_size(5, 3, 2, 1, 1, 1)
        10
    """
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def _conv_transpose(op: str, dims: int, input: Any, weight: Any, bias: Any, stride: Any,
                    padding: Any, output_padding: Any, groups: Any, dilation: Any) -> Tensor:
    """The checks and the geometry of conv_transpose1d/2d, then the node."""
    x = as_tensor_arg(input, "input", op)
    weight = as_tensor_arg(weight, "weight", op)
    bias = as_tensor_arg(bias, "bias", op, optional=True)
    shown = x.shape
    unbatched = x.ndim == dims + 1
    if unbatched:
        x = reshape(x, (1,) + x.shape)  # (C, *spatial) -> (1, C, *spatial)
    _check_tensors(op, x, weight, bias, dims, shown)
    if isinstance(groups, bool) or not isinstance(groups, (int, numpy.integer)) or groups < 1:
        raise OpError(f"{op}: groups must be a positive int, got {groups!r}")
    G, C = int(groups), x.shape[1]
    st = axis_ints(stride, "stride", op, 1, dims)
    pad = axis_ints(padding, "padding", op, 0, dims)
    opad = axis_ints(output_padding, "output_padding", op, 0, dims)
    dil = axis_ints(dilation, "dilation", op, 1, dims)
    if weight.shape[0] % G:
        raise OpError(f"{op}: Given groups={G}, expected weight to be divisible by {G} at "
                      f"dimension 0, but got weight of size {list(weight.shape)} instead")
    if C != weight.shape[0]:
        raise OpError(f"{op}: Given transposed=1, weight of size {list(weight.shape)}, "
                      f"expected input{list(shown)} to have {weight.shape[0]} channels, but "
                      f"got {C} channels instead")
    OC = weight.shape[1] * G
    if bias is not None and bias.shape != (OC,):
        raise OpError(f"{op}: Given transposed=1, weight of size {list(weight.shape)}, "
                      f"expected bias to be 1-dimensional with {OC} elements, but got bias "
                      f"of size {list(bias.shape)} instead")
    for o, s, d in zip(opad, st, dil):
        if o >= max(s, d):
            raise OpError(f"{op}: output padding must be smaller than either stride or "
                          f"dilation, but got output_padding={opad}, stride={st}, "
                          f"dilation={dil}")
    kernel = weight.shape[2:]
    out = [transposed_output_size(n, k, s, p, d, o)
           for n, k, s, p, d, o in zip(x.shape[2:], kernel, st, pad, dil, opad)]
    if min(out) < 1:
        raise OpError(f"{op}: the calculated output size {tuple(out)} is too small (input "
                      f"shape {shown}, weight shape {weight.shape}, stride={st}, "
                      f"padding={pad}, dilation={dil}, output_padding={opad})")
    # the 2-D geometry: 1-D as a row of height 1
    st2, pad2, dil2 = ((1,) + st, (0,) + pad, (1,) + dil) if dims == 1 else (st, pad, dil)
    g = ConvGeometry((st2[0], st2[1]), (pad2[0], pad2[0], pad2[1], pad2[1]),
                     (dil2[0], dil2[1]), G)
    # the conv2d whose input gradient this is reads (size + 2p - d(k-1) - 1)//s + 1 positions;
    # with output_padding >= stride (allowed when dilation > stride) that is more than the
    # input has: the extra positions contribute zeros
    extra = [(o + 2 * p - d * (k - 1) - 1) // s + 1 - n
             for o, p, d, k, s, n in zip(out, pad, dil, kernel, st, x.shape[2:])]
    if max(extra) > 0:
        widths = [w for e in extra[::-1] for w in (0, e)]  # last dim first, as pad
        x = constant_pad(x, widths)
    if dims == 1:
        y = ConvTranspose1d(g, (x.shape[0], OC, 1, out[0]))(x, weight, bias)
    else:
        y = ConvTranspose2d(g, (x.shape[0], OC, out[0], out[1]))(x, weight, bias)
    return reshape(y, y.shape[1:]) if unbatched else y


def conv_transpose2d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """2-D transposed convolution (the input gradient of ``conv2d``), as
    ``torch.nn.functional.conv_transpose2d``.

    Args:
        input: (N, C, H, W), or (C, H, W) unbatched.
        weight: (C, OC/groups, KH, KW).
        bias: optional (OC,).
        stride: int or pair: the stride of the conv2d this undoes (an upsampling factor).
        padding: int or pair: ``dilation*(K-1) - padding`` zeros are added on each side.
        output_padding: int or pair added to one side of the output (bottom/right), smaller
            than the stride or the dilation: picks among the sizes a strided conv2d maps to
            the same input size.
        groups: split the channels into independent groups.
        dilation: int or pair, spacing between kernel taps.

    Shape:
        output (N, OC, OH, OW) with
        ``OH = (H-1)*stride[0] - 2*padding[0] + dilation[0]*(KH-1) + output_padding[0] + 1``,
        likewise OW.

    Example:
        >>> import chainrule as cr
        >>> conv_transpose2d(cr.ones(1, 2, 3, 3), cr.ones(2, 4, 3, 3), stride=2).shape
        (1, 4, 7, 7)
        >>> conv_transpose2d(cr.ones(1, 1, 1, 2), cr.ones(1, 1, 1, 2)).tolist()
        [[[[1.0, 2.0, 1.0]]]]
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose1d(input: Any, weight: Any, bias: Any = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """1-D transposed convolution (the input gradient of ``conv1d``), as
    ``torch.nn.functional.conv_transpose1d``.

    Args:
        input: (N, C, L), or (C, L) unbatched.
        weight: (C, OC/groups, K).
        bias: optional (OC,).
        stride, padding, output_padding, groups, dilation: as :func:`conv_transpose2d`, one
            int each.

    Shape:
        output (N, OC, OL) with
        ``OL = (L-1)*stride - 2*padding + dilation*(K-1) + output_padding + 1``.

    Example:
        >>> import chainrule as cr
        >>> conv_transpose1d(cr.tensor([[[1.0, 2.0]]]), cr.tensor([[[1.0, 1.0, 1.0]]]),
        ...                  stride=2).tolist()
        [[[1.0, 1.0, 3.0, 2.0, 2.0]]]
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)
