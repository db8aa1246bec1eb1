"""``Conv2d``: a 2-D convolution layer over (N, C, H, W) images."""
from __future__ import annotations

from typing import Any, Union

from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from ..ops.window_args import conv_options
from . import functional as F
from .init import default_init_, init_weight_and_bias
from .module import Module, factory_dtype

IntOrPair = Union[int, tuple[int, int]]


class Conv2d(Module):
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
        padding_mode: only ``'zeros'``.
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
        for name, v in (("in_channels", in_channels), ("out_channels", out_channels)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise OpError(f"{op}: {name} must be a positive int, got {v!r}")
        if in_channels % groups:
            raise ValueError(f"{op}: in_channels ({in_channels}) must be divisible by groups "
                             f"({groups})")
        if out_channels % groups:
            raise ValueError(f"{op}: out_channels ({out_channels}) must be divisible by "
                             f"groups ({groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{op}: only padding_mode='zeros' is supported, got "
                             f"{padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.padding_mode = padding_mode
        dtype = factory_dtype(device, dtype, op)
        kh, kw = self.kernel_size
        init_weight_and_bias(self, (out_channels, in_channels // groups, kh, kw), bias, dtype)

    def reset_parameters(self) -> None:
        """Draw fresh weights with PyTorch's default initialisation."""
        default_init_(self.weight, self.bias)

    def forward(self, input: Tensor) -> Tensor:
        # conv2d checks the channel count and names both shapes in its ValueError
        return F.conv2d(input, self.weight, self.bias, self.stride, self.padding,
                        self.dilation, self.groups)

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        return s
