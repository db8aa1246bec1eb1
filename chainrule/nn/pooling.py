"""Pooling layers over (N, C, H, W) images: ``MaxPool2d``, ``AvgPool2d`` and the adaptive
``AdaptiveAvgPool2d``, ``AdaptiveMaxPool2d`` (a fixed output size); over (N, C, L) sequences:
``MaxPool1d``, ``AvgPool1d``, ``AdaptiveAvgPool1d``."""
from __future__ import annotations

from typing import Any, Optional, Union

from ..autograd.tensor import Tensor
from . import functional as F
from .module import Module

IntOrPair = Union[int, tuple[int, int]]


class _MaxPoolNd(Module):
    """What MaxPool1d and MaxPool2d share: their arguments (an int, or a pair for 2-D) and repr;
    each subclass's forward calls its functional."""

    def __init__(self, kernel_size: IntOrPair, stride: Optional[IntOrPair] = None,
                 padding: IntOrPair = 0, dilation: IntOrPair = 1, return_indices: bool = False,
                 ceil_mode: bool = False) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class _AdaptivePoolNd(Module):
    """What the adaptive pools share: ``output_size`` and the repr."""

    def __init__(self, output_size: Any) -> None:
        super().__init__()
        self.output_size = output_size

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"


class MaxPool2d(_MaxPoolNd):
    """Maximum over each ``kernel_size`` window; the gradient goes to the arg-max of each
    window (PyTorch's rule for ties: the first maximum in row-major order).

    Args:
        kernel_size: window size (KH, KW), or one int.
        stride: window step (default: ``kernel_size``).
        padding: implicit -inf padding on each side.
        dilation: spacing between window elements.
        return_indices: also return the position of each maximum (``row * W + col`` in the
            input plane, int64), as ``F.max_pool2d``.
        ceil_mode: round the output size up instead of down.

    Shape:
        Input ``(N, C, H, W)`` or ``(C, H, W)``; output ``(N, C, OH, OW)`` with
        ``OH = floor((H + 2*padding[0] - dilation[0]*(KH-1) - 1) / stride[0] + 1)`` (ceil in
        ceil_mode), likewise OW. With ``return_indices``, ``(output, indices)``.

    Example:
        >>> import chainrule as cr
        >>> pool = cr.nn.MaxPool2d(2)
        >>> pool(cr.arange(16.0).reshape(1, 1, 4, 4)).tolist()
        [[[[5.0, 7.0], [13.0, 15.0]]]]
        >>> pool
        MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
        >>> x = cr.arange(16.0).reshape(1, 1, 4, 4)
        >>> y, indices = cr.nn.MaxPool2d(2, return_indices=True)(x)
        >>> indices.tolist()
        [[[[5, 7], [13, 15]]]]
    """

    def forward(self, input: Tensor) -> Union[Tensor, tuple[Tensor, Tensor]]:
        return F.max_pool2d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


class AvgPool2d(Module):
    """Mean over each ``kernel_size`` window.

    Args:
        kernel_size: window size (KH, KW), or one int.
        stride: window step (default: ``kernel_size``).
        padding: implicit zero padding on each side.
        ceil_mode: round the output size up instead of down.
        count_include_pad: count the padding zeros in the divisor.
        divisor_override: if given, divide every window sum by it instead.

    Shape:
        Input ``(N, C, H, W)``; output ``(N, C, OH, OW)`` with
        ``OH = floor((H + 2*padding[0] - KH) / stride[0] + 1)`` (ceil in ceil_mode), likewise
        OW.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AvgPool2d(2)(cr.arange(16.0).reshape(1, 1, 4, 4)).tolist()
        [[[[2.5, 4.5], [10.5, 12.5]]]]
        >>> cr.nn.AvgPool2d(2, divisor_override=2)(cr.arange(16.0).reshape(1, 1, 4, 4)).tolist()
        [[[[5.0, 9.0], [21.0, 25.0]]]]
    """

    def __init__(self, kernel_size: IntOrPair, stride: Optional[IntOrPair] = None,
                 padding: IntOrPair = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True, divisor_override: Optional[int] = None) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool2d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad, self.divisor_override)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


SizeT = Union[Optional[int], tuple[Optional[int], Optional[int]]]


class AdaptiveAvgPool2d(_AdaptivePoolNd):
    """Average pooling to a fixed output size, whatever the input size (see
    :func:`chainrule.nn.functional.adaptive_avg_pool2d` for the windows).

    Args:
        output_size: ``(OH, OW)``, or one int for both; ``None`` keeps that input size.

    Shape:
        Input ``(N, C, H, W)`` or ``(C, H, W)``; output ``(N, C, OH, OW)`` or ``(C, OH, OW)``.

    Example:
        >>> import chainrule as cr
        >>> pool = cr.nn.AdaptiveAvgPool2d((1, 1))
        >>> pool(cr.ones(8, 64, 7, 5)).shape
        (8, 64, 1, 1)
        >>> cr.nn.AdaptiveAvgPool2d((None, 3))
        AdaptiveAvgPool2d(output_size=(None, 3))
    """

    def __init__(self, output_size: SizeT) -> None:
        super().__init__(output_size)

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool2d(input, self.output_size)


class AdaptiveMaxPool2d(_AdaptivePoolNd):
    """Max pooling to a fixed output size, whatever the input size (see
    :func:`chainrule.nn.functional.adaptive_max_pool2d`).

    Args:
        output_size: ``(OH, OW)``, or one int for both; ``None`` keeps that input size.
        return_indices: also return each maximum's position ``row * W + col`` (int64).

    Shape:
        Input ``(N, C, H, W)`` or ``(C, H, W)``; output ``(N, C, OH, OW)`` or
        ``(C, OH, OW)``; with ``return_indices``, ``(output, indices)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AdaptiveMaxPool2d(2)(cr.arange(9.0).reshape(1, 1, 3, 3)).tolist()
        [[[[4.0, 5.0], [7.0, 8.0]]]]
    """

    def __init__(self, output_size: SizeT, return_indices: bool = False) -> None:
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, input: Tensor) -> Union[Tensor, tuple[Tensor, Tensor]]:
        return F.adaptive_max_pool2d(input, self.output_size, self.return_indices)


class MaxPool1d(_MaxPoolNd):
    """Maximum over each ``kernel_size`` window of a sequence; the gradient goes to the first
    maximum of each window.

    Args:
        kernel_size: window length K.
        stride: window step (default: ``kernel_size``).
        padding: implicit -inf padding on both sides, at most ``K // 2``.
        dilation: spacing between window elements.
        return_indices: also return the position of each maximum (int64), as
            ``F.max_pool1d``.
        ceil_mode: round the output length up instead of down.

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output ``(N, C, OL)`` with
        ``OL = floor((L + 2*padding - dilation*(K-1) - 1) / stride + 1)`` (ceil in ceil_mode).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.MaxPool1d(2)(cr.tensor([[[1.0, 3.0, 2.0, 0.0]]])).tolist()
        [[[3.0, 2.0]]]
        >>> cr.nn.MaxPool1d(3, stride=2)
        MaxPool1d(kernel_size=3, stride=2, padding=0, dilation=1, ceil_mode=False)
    """

    def forward(self, input: Tensor) -> Union[Tensor, tuple[Tensor, Tensor]]:
        return F.max_pool1d(input, self.kernel_size, self.stride, self.padding, self.dilation,
                            self.ceil_mode, self.return_indices)


def _one(value: Union[int, tuple[int]]) -> tuple[int]:
    """PyTorch's ``_single``: an int as a 1-tuple (a sequence as a tuple)."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)  # type: ignore


class AvgPool1d(Module):
    """Mean over each ``kernel_size`` window of a sequence.

    Args:
        kernel_size: window length K.
        stride: window step (default: ``kernel_size``).
        padding: implicit zero padding on both sides, at most ``K // 2``.
        ceil_mode: round the output length up instead of down.
        count_include_pad: count the padding zeros in the divisor.

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output ``(N, C, OL)`` with
        ``OL = floor((L + 2*padding - K) / stride + 1)`` (ceil in ceil_mode).

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AvgPool1d(3, stride=2)(cr.tensor([[[1.0, 2.0, 3.0, 4.0, 5.0]]])).tolist()
        [[[2.0, 4.0]]]
        >>> cr.nn.AvgPool1d(3, stride=2)
        AvgPool1d(kernel_size=(3,), stride=(2,), padding=(0,))
    """

    def __init__(self, kernel_size: Union[int, tuple[int]],
                 stride: Optional[Union[int, tuple[int]]] = None,
                 padding: Union[int, tuple[int]] = 0, ceil_mode: bool = False,
                 count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size = _one(kernel_size)
        self.stride = _one(stride if stride is not None else kernel_size)
        self.padding = _one(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, input: Tensor) -> Tensor:
        return F.avg_pool1d(input, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                            self.count_include_pad)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class AdaptiveAvgPool1d(_AdaptivePoolNd):
    """Average pooling of a sequence to a fixed output length, whatever the input length
    (see :func:`chainrule.nn.functional.adaptive_avg_pool1d` for the windows).

    Args:
        output_size: the output length OL.

    Shape:
        Input ``(N, C, L)`` or ``(C, L)``; output ``(N, C, OL)`` or ``(C, OL)``.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.AdaptiveAvgPool1d(5)(cr.ones(1, 64, 8)).shape
        (1, 64, 5)
    """

    def __init__(self, output_size: Union[int, tuple[int]]) -> None:
        super().__init__(output_size)

    def forward(self, input: Tensor) -> Tensor:
        return F.adaptive_avg_pool1d(input, self.output_size)
