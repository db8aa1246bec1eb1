"""Convolution layers: ``Conv1d`` over (N, C, L) sequences, ``Conv2d`` over (N, C, H, W)
images, and the transposed ``ConvTranspose1d``, ``ConvTranspose2d`` (learned upsampling)."""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import numpy

from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from ..backend import xp
from ..ops.conv_transpose import axis_ints, single, transposed_output_size
from ..ops.window_args import conv_options
from . import functional as F
from .init import default_init_, init_weight_and_bias
from .module import Module, factory_dtype
from .parameter import Parameter

IntOrPair = Union[int, tuple[int, int]]
IntOrOne = Union[int, tuple[int]]
PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _check_channels(op: str, in_channels: Any, out_channels: Any, groups: Any) -> None:
    """PyTorch's rules for a conv layer's channel counts (positive, divisible by groups)."""
    for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
        if isinstance(v, bool) or not isinstance(v, (int, numpy.integer)) or v < 1:
            raise OpError(f"{op}: {name} must be a positive int, got {v!r}")
    if isinstance(groups, bool) or not isinstance(groups, (int, numpy.integer)) or groups < 1:
        raise OpError(f"{op}: groups must be a positive int, got {groups!r}")
    if in_channels % groups:
        raise ValueError(f"{op}: in_channels ({in_channels}) must be divisible by groups "
                         f"({groups})")
    if out_channels % groups:
        raise ValueError(f"{op}: out_channels ({out_channels}) must be divisible by "
                         f"groups ({groups})")


def _check_padding_mode(op: str, padding_mode: Any, modes: Sequence[str]) -> None:
    if padding_mode not in modes:
        if tuple(modes) == ("zeros",):
            raise ValueError(f'Only "zeros" padding mode is supported for {op}, got '
                             f"padding_mode={padding_mode!r}")
        raise ValueError(f"{op}: padding_mode must be one of {list(modes)}, but got "
                         f"padding_mode={padding_mode!r}")


def _reversed_padding(padding: Any, kernel: Sequence[int], dilation: Sequence[int]
                      ) -> list[int]:
    """``F.pad``'s widths (last dimension first) for a padding_mode other than zeros, as
    PyTorch's ``_reversed_padding_repeated_twice`` (``'same'``: the odd one on the right)."""
    out: list[int] = []
    for i in reversed(range(len(kernel))):
        if padding == "valid":
            lo = hi = 0
        elif padding == "same":
            total = dilation[i] * (kernel[i] - 1)
            lo, hi = total // 2, total - total // 2
        else:
            lo = hi = padding[i]
        out += [lo, hi]
    return out


def _conv_repr(m: Module, zeros_padding: Any, transposed: bool = False) -> str:
    """PyTorch's ``_ConvNd.extra_repr``: the non-default settings."""
    s = (f"{m.in_channels}, {m.out_channels}, kernel_size={m.kernel_size}, "
         f"stride={m.stride}")
    if m.padding != zeros_padding:
        s += f", padding={m.padding}"
    if m.dilation != (1,) * len(m.kernel_size):
        s += f", dilation={m.dilation}"
    if transposed and m.output_padding != (0,) * len(m.kernel_size):
        s += f", output_padding={m.output_padding}"
    if m.groups != 1:
        s += f", groups={m.groups}"
    if m.bias is None:
        s += ", bias=False"
    if m.padding_mode != "zeros":
        s += f", padding_mode={m.padding_mode}"
    return s


class _ConvNd(Module):
    """What Conv1d and Conv2d share: their reset, forward (padding modes other than zeros pad
    first) and repr; each subclass names its functional, ``_conv``."""

    _conv: Any

    def reset_parameters(self) -> None:
        """Draw fresh weights with PyTorch's default initialisation."""
        default_init_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        # the functional checks the channel count and names both shapes in its ValueError
        if self.padding_mode != "zeros":
            padded = F.pad(input, _reversed_padding(self.padding, self.kernel_size,
                                                    self.dilation), mode=self.padding_mode)
            return self._conv(padded, self.weight, self.bias, self.stride, 0, self.dilation,
                              self.groups)
        return self._conv(input, self.weight, self.bias, self.stride, self.padding,
                          self.dilation, self.groups)

    def extra_repr(self) -> str:
        return _conv_repr(self, (0,) * len(self.kernel_size))


class Conv2d(_ConvNd):
    """2-D convolution (cross-correlation, as every framework computes it) with a learned
    kernel per (out channel, in channel) pair and an optional bias.

    Weights start as PyTorch's: ``kaiming_uniform_(weight, a=sqrt(5))`` and bias
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with ``fan_in = in_channels/groups * KH * KW``.

    Args:
        in_channels: channels of the input, C.
        out_channels: channels of the output, OC.
        kernel_size: (KH, KW), or one int for both.
        stride: step of the kernel, int or pair.
        padding: zeros added on each side: int, pair, ``'valid'`` (none) or ``'same'``
            (output size = input size; stride 1 only).
        dilation: spacing between kernel taps, int or pair.
        groups: split the channels into this many independent convolutions.
        bias: learn an additive bias per out channel.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'`` (the
            padding is made by :func:`chainrule.nn.functional.pad` in that mode).
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        Input ``(N, C, H, W)`` or ``(C, H, W)``; output ``(N, OC, OH, OW)`` with
        ``OH = floor((H + 2*padding[0] - dilation[0]*(KH-1) - 1) / stride[0] + 1)`` and
        ``OW = floor((W + 2*padding[1] - dilation[1]*(KW-1) - 1) / stride[1] + 1)``.

    Attributes:
        weight: ``(OC, C/groups, KH, KW)``.
        bias: ``(OC,)``.

    Example:
        >>> import chainrule as cr
        >>> conv = cr.nn.Conv2d(1, 6, 5, padding=2)
        >>> conv(cr.zeros(8, 1, 28, 28)).shape
        (8, 6, 28, 28)
        >>> conv
        Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrPair,
                 stride: IntOrPair = 1, padding: Union[IntOrPair, str] = 0,
                 dilation: IntOrPair = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        op = "Conv2d"
        # kernel_size, stride, padding, dilation and groups: the rules conv2d applies too
        opts = conv_options(kernel_size, stride, padding, dilation, groups, op)
        self.kernel_size, self.stride, self.padding, self.dilation, self.groups = opts
        _check_channels(op, in_channels, out_channels, groups)
        _check_padding_mode(op, padding_mode, PADDING_MODES)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.padding_mode = padding_mode
        dtype = factory_dtype(device, dtype, op)
        kh, kw = self.kernel_size
        init_weight_and_bias(self, (out_channels, in_channels // groups, kh, kw), bias, dtype)

    _conv = staticmethod(F.conv2d)


class Conv1d(_ConvNd):
    """1-D convolution (cross-correlation) over (N, C, L) sequences, with a learned kernel
    per (out channel, in channel) pair and an optional bias.

    Weights start as PyTorch's: ``kaiming_uniform_(weight, a=sqrt(5))`` and bias
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with ``fan_in = in_channels/groups * K``.

    Args:
        in_channels: channels of the input, C.
        out_channels: channels of the output, OC.
        kernel_size: K, an int (or a 1-tuple).
        stride: step of the kernel.
        padding: added on both sides: an int, ``'valid'`` (none) or ``'same'`` (output
            length = input length; stride 1 only).
        dilation: spacing between kernel taps.
        groups: split the channels into this many independent convolutions.
        bias: learn an additive bias per out channel.
        padding_mode: ``'zeros'``, ``'reflect'``, ``'replicate'`` or ``'circular'``.
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output ``(N, OC, OL)`` with
        ``OL = floor((L + 2*padding - dilation*(K-1) - 1) / stride + 1)``.

    Attributes:
        weight: ``(OC, C/groups, K)``.
        bias: ``(OC,)``.

    Example:
        >>> import chainrule as cr
        >>> conv = cr.nn.Conv1d(16, 33, 3, stride=2)
        >>> conv(cr.zeros(20, 16, 50)).shape
        (20, 33, 24)
        >>> cr.nn.Conv1d(4, 8, 3, padding="same", padding_mode="circular")
        Conv1d(4, 8, kernel_size=(3,), stride=(1,), padding=same, padding_mode=circular)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrOne,
                 stride: IntOrOne = 1, padding: Union[IntOrOne, str] = 0,
                 dilation: IntOrOne = 1, groups: int = 1, bias: bool = True,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        op = "Conv1d"
        k = single(kernel_size, "kernel_size", op, 1)
        s = single(stride, "stride", op, 1)
        d = single(dilation, "dilation", op, 1)
        p = padding if isinstance(padding, str) else (0, single(padding, "padding", op, 0))
        opts = conv_options((1, k), (1, s), p, (1, d), groups, op)  # conv1d's rules
        self.kernel_size, self.stride, self.dilation = (k,), (s,), (d,)
        self.padding: Union[tuple[int], str] = padding if isinstance(padding, str) else \
            (opts.padding[1],)
        self.groups = opts.groups
        _check_channels(op, in_channels, out_channels, groups)
        _check_padding_mode(op, padding_mode, PADDING_MODES)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.padding_mode = padding_mode
        dtype = factory_dtype(device, dtype, op)
        init_weight_and_bias(self, (out_channels, in_channels // groups, k), bias, dtype)

    _conv = staticmethod(F.conv1d)


class _ConvTransposeNd(Module):
    """The shared body of ConvTranspose1d and ConvTranspose2d (``dims`` spatial axes)."""

    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any,
                 padding: Any, output_padding: Any, groups: int, bias: bool, dilation: Any,
                 padding_mode: str, device: Any, dtype: Any) -> None:
        super().__init__()
        op = type(self).__name__
        _check_padding_mode(op, padding_mode, ("zeros",))
        _check_channels(op, in_channels, out_channels, groups)
        if isinstance(padding, str):
            raise ValueError(f"{op}: padding must be an int or a tuple of ints, got "
                             f"{padding!r} (string paddings are for the forward convolutions)")
        k = self.dims
        self.kernel_size = axis_ints(kernel_size, "kernel_size", op, 1, k)
        self.stride = axis_ints(stride, "stride", op, 1, k)
        self.padding = axis_ints(padding, "padding", op, 0, k)
        self.output_padding = axis_ints(output_padding, "output_padding", op, 0, k)
        self.dilation = axis_ints(dilation, "dilation", op, 1, k)
        self.groups = int(groups)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.padding_mode = padding_mode
        dtype = factory_dtype(device, dtype, op)
        # (C, OC/groups, *kernel), as PyTorch's: fan_in = OC/groups * prod(kernel)
        self.weight = Parameter(xp.empty((in_channels, out_channels // groups)
                                            + self.kernel_size, dtype=dtype))
        if bias:
            self.bias = Parameter(xp.empty((out_channels,), dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Draw fresh weights with PyTorch's default initialisation."""
        default_init_(self.weight, self.bias)

    def _output_padding(self, input: Tensor, output_size: Optional[Sequence[int]]
                        ) -> tuple[int, ...]:
        """The output_padding that gives ``output_size`` (PyTorch's rule), else the layer's."""
        if output_size is None:
            return self.output_padding
        k = self.dims
        batched = input.ndim == k + 2
        sizes = [int(s) for s in output_size]
        if len(sizes) == k + (2 if batched else 1):
            sizes = sizes[-k:]
        if len(sizes) != k:
            raise ValueError(f"ConvTranspose{k}D: for {input.ndim}D input, output_size must "
                             f"have {k} or {k + (2 if batched else 1)} elements (got "
                             f"{len(sizes)})")
        spatial = input.shape[-k:]
        lo = [transposed_output_size(n, kk, s, p, d, 0) for n, kk, s, p, d in
              zip(spatial, self.kernel_size, self.stride, self.padding, self.dilation)]
        hi = [m + s - 1 for m, s in zip(lo, self.stride)]
        if any(not a <= n <= b for n, a, b in zip(sizes, lo, hi)):
            raise ValueError(f"requested an output size of {sizes}, but valid sizes range "
                             f"from {lo} to {hi} (for an input of {tuple(spatial)})")
        return tuple(n - a for n, a in zip(sizes, lo))

    def forward(self, input: Tensor, output_size: Optional[Sequence[int]] = None) -> Tensor:
        fn = F.conv_transpose1d if self.dims == 1 else F.conv_transpose2d
        return fn(input, self.weight, self.bias, self.stride, self.padding,
                  self._output_padding(input, output_size), self.groups, self.dilation)

    def extra_repr(self) -> str:
        return _conv_repr(self, (0,) * self.dims, transposed=True)


class ConvTranspose1d(_ConvTransposeNd):
    """1-D transposed convolution (the input gradient of a Conv1d, used as a learned
    upsampling) over (N, C, L) sequences.

    Args:
        in_channels: channels of the input, C.
        out_channels: channels of the output, OC.
        kernel_size: K.
        stride: the stride of the Conv1d this undoes (the upsampling factor).
        padding: ``dilation*(K-1) - padding`` zeros are added on both sides of the input.
        output_padding: added on the right of the output; smaller than stride or dilation.
        groups: split the channels into independent groups.
        bias: learn an additive bias per out channel.
        dilation: spacing between kernel taps.
        padding_mode: only ``'zeros'`` (as PyTorch).
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    ``forward(input, output_size=None)``: ``output_size`` (``(OL,)``, or with the batch and
    channel sizes) picks the output_padding that gives that length.

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output ``(N, OC, OL)`` with
        ``OL = (L-1)*stride - 2*padding + dilation*(K-1) + output_padding + 1``.

    Attributes:
        weight: ``(C, OC/groups, K)``.
        bias: ``(OC,)``.

    Example:
        >>> import chainrule as cr
        >>> up = cr.nn.ConvTranspose1d(16, 8, 3, stride=2, padding=1)
        >>> up(cr.zeros(2, 16, 10)).shape, up(cr.zeros(2, 16, 10), output_size=[20]).shape
        ((2, 8, 19), (2, 8, 20))
    """

    dims = 1

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrOne,
                 stride: IntOrOne = 1, padding: IntOrOne = 0, output_padding: IntOrOne = 0,
                 groups: int = 1, bias: bool = True, dilation: IntOrOne = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                         output_padding, groups, bias, dilation, padding_mode, device, dtype)


class ConvTranspose2d(_ConvTransposeNd):
    """2-D transposed convolution (the input gradient of a Conv2d, used as a learned
    upsampling) over (N, C, H, W) images.

    Args:
        in_channels: channels of the input, C.
        out_channels: channels of the output, OC.
        kernel_size: (KH, KW), or one int.
        stride: the stride of the Conv2d this undoes (the upsampling factor), int or pair.
        padding: ``dilation*(K-1) - padding`` zeros are added on each side of the input.
        output_padding: added at the bottom/right of the output; smaller than stride or
            dilation.
        groups: split the channels into independent groups.
        bias: learn an additive bias per out channel.
        dilation: spacing between kernel taps.
        padding_mode: only ``'zeros'`` (as PyTorch).
        device: only ``None`` or ``'cpu'``.
        dtype: parameter dtype (float32 by default).

    ``forward(input, output_size=None)``: ``output_size`` (``(OH, OW)``, or with the batch
    and channel sizes) picks the output_padding that gives that size.

    Shape:
        Input ``(N, C, H, W)`` or ``(C, H, W)``; output ``(N, OC, OH, OW)`` with
        ``OH = (H-1)*stride[0] - 2*padding[0] + dilation[0]*(KH-1) + output_padding[0] + 1``,
        likewise OW.

    Attributes:
        weight: ``(C, OC/groups, KH, KW)``.
        bias: ``(OC,)``.

    Example:
        >>> import chainrule as cr
        >>> up = cr.nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1)
        >>> up(cr.zeros(1, 16, 12, 12), output_size=(24, 24)).shape
        (1, 8, 24, 24)
        >>> up
        ConvTranspose2d(16, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))
    """

    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntOrPair,
                 stride: IntOrPair = 1, padding: IntOrPair = 0, output_padding: IntOrPair = 0,
                 groups: int = 1, bias: bool = True, dilation: IntOrPair = 1,
                 padding_mode: str = "zeros", device: Any = None, dtype: Any = None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding,
                         output_padding, groups, bias, dilation, padding_mode, device, dtype)
