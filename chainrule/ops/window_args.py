"""The arguments of the sliding-window ops (conv2d, the poolings): the one place that checks
and normalises them, with PyTorch's rules and messages that name the op, the shapes and the
rule. :func:`chainrule.ops.conv.conv2d` and :class:`chainrule.nn.Conv2d` share
:func:`conv_options`; the poolings call :func:`check_pool2d`.
"""
from __future__ import annotations

from typing import Any, NamedTuple, Optional, Union

import numpy

from ..autograd.errors import OpError
from ..autograd.tensor import Tensor
from ..kernels.conv_schedules import ConvGeometry
from ..kernels.pool_schedules import PoolGeometry
from ._util import pair


# ============================================================================ convolution
class ConvOptions(NamedTuple):
    """A convolution's non-tensor arguments, checked and normalised (:func:`conv_options`)."""

    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    padding: Union[tuple[int, int], str]  # (ph, pw), 'valid' or 'same'
    dilation: tuple[int, int]
    groups: int

    def pads(self) -> tuple[int, int, int, int]:
        """(top, bottom, left, right), by PyTorch's rules: ``'same'`` puts the odd one of an
        odd total at the bottom/right.

        Example:
            >>> conv_options((2, 3), 1, "same", 1, 1).pads()
            (0, 1, 1, 1)
        """
        if self.padding == "valid":
            return (0, 0, 0, 0)
        if self.padding == "same":
            pads = []
            for k, d in zip(self.kernel_size, self.dilation):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            return (pads[0], pads[1], pads[2], pads[3])
        ph, pw = self.padding
        return (ph, ph, pw, pw)


def conv_options(kernel_size: Any, stride: Any, padding: Any, dilation: Any, groups: Any,
                 op: str = "conv2d") -> ConvOptions:
    """Check and normalise a convolution's non-tensor arguments, as PyTorch does: the one
    place for these rules (:func:`conv2d` and :class:`chainrule.nn.Conv2d` both call it).

    Args:
        kernel_size: int or (KH, KW), positive.
        stride: int or (sh, sw), positive.
        padding: int or (ph, pw), non-negative; or ``'valid'``, or ``'same'`` (stride 1 only).
        dilation: int or (dh, dw), positive.
        groups: a positive int.
        op: the name in error messages.

    Raises:
        ValueError: a non-positive value, a negative padding, an unknown padding string,
            ``'same'`` with a stride.
        TypeError: a value that is not an int or a pair of ints.

    Example:
        >>> conv_options(5, 1, 2, 1, 1)
        ConvOptions(kernel_size=(5, 5), stride=(1, 1), padding=(2, 2), dilation=(1, 1), groups=1)
    """
    if not isinstance(groups, (int, numpy.integer)) or isinstance(groups, bool) or groups < 1:
        raise OpError(f"{op}: groups must be a positive int, got {groups!r}")
    kernel = pair(kernel_size, "kernel_size", op, 1)
    st = pair(stride, "stride", op, 1)
    dil = pair(dilation, "dilation", op, 1)
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise OpError(f"{op}: invalid padding string {padding!r}, should be one of "
                          f"'valid', 'same'")
        if padding == "same" and st != (1, 1):
            raise OpError(f"{op}: padding='same' is not supported for strided convolutions "
                          f"(stride={st})")
        pad: Union[tuple[int, int], str] = padding
    else:
        pad = pair(padding, "padding", op, 0)
    return ConvOptions(kernel, st, pad, dil, int(groups))


def check_conv2d(x: Tensor, weight: Tensor, bias: Optional[Tensor], stride: Any, padding: Any,
                 dilation: Any, groups: Any, shown: Optional[tuple[int, ...]] = None
                 ) -> ConvGeometry:
    """Validate every argument of conv2d with PyTorch-quality messages; return the geometry.

    ``shown`` is the input shape to name in messages (the user's, before batching a 3-D input).
    """
    op = "conv2d"
    shown = x.shape if shown is None else shown
    if weight.ndim != 4:
        raise OpError(f"{op}: expected a 4-D weight (out_channels, in_channels/groups, KH, "
                      f"KW), got weight of shape {weight.shape}")
    if x.ndim != 4:
        raise OpError(f"{op}: expected 3-D (unbatched C, H, W) or 4-D (batched N, C, H, W) "
                      f"input, got input of shape {shown}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got dtype {x.dtype}")
    if weight.dtype != x.dtype:
        raise TypeError(f"{op}: input dtype ({x.dtype}) and weight dtype ({weight.dtype}) should "
                        f"be the same")
    if min(weight.shape) < 1:
        raise OpError(f"{op}: weight of shape {weight.shape} has an empty dimension")
    OC, Cg, KH, KW = weight.shape
    opts = conv_options((KH, KW), stride, padding, dilation, groups, op)
    G, C = opts.groups, x.shape[1]
    if OC % G:
        raise OpError(f"{op}: out_channels ({OC}, weight shape {weight.shape}) must be "
                      f"divisible by groups={G}")
    if C % G:
        raise OpError(f"{op}: in_channels ({C}, input shape {shown}) must be divisible by "
                      f"groups={G}")
    if C != Cg * G:
        raise OpError(f"{op}: expected input with {Cg * G} channels (weight shape "
                      f"{weight.shape}, groups={G}), got {C} channels (input shape "
                      f"{shown})")
    if bias is not None:
        if bias.shape != (OC,):
            raise OpError(f"{op}: expected bias of shape ({OC},) (one per out channel, weight "
                          f"shape {weight.shape}), got bias of shape {bias.shape}")
        if bias.dtype != x.dtype:
            raise TypeError(f"{op}: input dtype ({x.dtype}) and bias dtype ({bias.dtype}) "
                            f"should be the same")
    pads, dil = opts.pads(), opts.dilation
    hp, wp = x.shape[2] + pads[0] + pads[1], x.shape[3] + pads[2] + pads[3]
    ekh, ekw = dil[0] * (KH - 1) + 1, dil[1] * (KW - 1) + 1
    if ekh > hp or ekw > wp:
        dilated = "" if dil == (1, 1) else f", dilated to {ekh} x {ekw}"
        raise OpError(f"{op}: kernel size ({KH} x {KW}{dilated}) can't be greater than the "
                      f"padded input size ({hp} x {wp}) (input shape {shown}, padding "
                      f"{padding!r})")
    return ConvGeometry(opts.stride, pads, dil, G)


# ============================================================================ pooling
def pool_output_size(size: int, kernel: int, stride: int, pad: int, dilation: int,
                     ceil_mode: bool) -> int:
    """PyTorch's pooling output size.

    ``floor_or_ceil((size + 2*pad - dilation*(kernel-1) - 1) / stride) + 1``, and with
    ``ceil_mode`` a last window that would start in the right padding is dropped.

    Example:
        >>> pool_output_size(5, 2, 2, 0, 1, ceil_mode=False), pool_output_size(5, 2, 2, 0, 1, True)
        (2, 3)
    """
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def check_pool2d(op: str, x: Tensor, kernel_size: Any, stride: Any, padding: Any,
                 dilation: Any, ceil_mode: bool) -> PoolGeometry:
    """Validate the arguments of a 2-D pooling of the (N, C, H, W) ``x``; return the geometry
    (``stride`` None or empty: the kernel size, as PyTorch)."""
    if x.ndim != 4:
        raise OpError(f"{op}: expected 3-D (unbatched C, H, W) or 4-D (batched N, C, H, W) "
                      f"input, got input of shape {x.shape}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: expected a floating point input, got dtype {x.dtype}")
    kernel = pair(kernel_size, "kernel_size", op, 1)
    st = kernel if stride is None or (isinstance(stride, (tuple, list)) and not stride) \
        else pair(stride, "stride", op, 1)
    pad = pair(padding, "padding", op, 0)
    dil = pair(dilation, "dilation", op, 1)
    if pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:  # PyTorch's rule (undilated kernel)
        raise OpError(f"{op}: pad should be smaller than or equal to half of kernel size, "
                      f"but got padding={padding!r} and kernel_size={kernel_size!r}")
    H, W = x.shape[2:]
    out = tuple(pool_output_size(s, k, t, p, d, ceil_mode)
                for s, k, t, p, d in zip((H, W), kernel, st, pad, dil))
    if min(out) < 1 or min(x.shape[1:]) < 1:
        raise OpError(f"{op}: given input of shape {x.shape}, kernel_size={kernel}, "
                      f"stride={st}, padding={pad}, dilation={dil}, the calculated output "
                      f"size ({out[0]} x {out[1]}) is too small")
    return PoolGeometry(kernel, st, pad, dil, (out[0], out[1]))
