"""Upsampling layers: ``Upsample`` (nearest, linear, bilinear, trilinear, by a size or a
scale factor) and PyTorch's fixed-mode ``UpsamplingNearest2d``, ``UpsamplingBilinear2d``."""
from __future__ import annotations

from typing import Any, Optional

from ..autograd.tensor import Tensor
from . import functional as F
from .module import Module


def _factor(scale_factor: Any) -> Any:
    """PyTorch stores a scale factor as a float (a tuple of floats), or None."""
    if isinstance(scale_factor, (tuple, list)):
        return tuple(float(f) for f in scale_factor)
    return float(scale_factor) if scale_factor else None


class Upsample(Module):
    """Resize the spatial dimensions of (N, C, L), (N, C, H, W) or (N, C, D, H, W) inputs by
    :func:`chainrule.nn.functional.interpolate`.

    Args:
        size: the output's spatial size (an int, or one per dimension).
        scale_factor: a multiplier (or one per dimension) instead of ``size``.
        mode: ``'nearest'``, ``'nearest-exact'``, ``'linear'``, ``'bilinear'``,
            ``'trilinear'``.
        align_corners: for the linear modes (see ``interpolate``).
        recompute_scale_factor: compute the scale from the output size (see ``interpolate``).

    Shape:
        ``(N, C, *spatial)`` -> ``(N, C, *size)``, ``size = floor(spatial * scale_factor)``.

    Example:
        >>> import chainrule as cr
        >>> up = cr.nn.Upsample(scale_factor=2, mode="bilinear")
        >>> up(cr.ones(1, 3, 4, 5)).shape
        (1, 3, 8, 10)
        >>> up
        Upsample(scale_factor=2.0, mode='bilinear')
    """

    def __init__(self, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                 align_corners: Optional[bool] = None,
                 recompute_scale_factor: Optional[bool] = None) -> None:
        super().__init__()
        self.name = type(self).__name__
        self.size = size
        self.scale_factor = _factor(scale_factor)
        self.mode = mode
        self.align_corners = align_corners
        self.recompute_scale_factor = recompute_scale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.interpolate(input, self.size, self.scale_factor, self.mode, self.align_corners,
                             recompute_scale_factor=self.recompute_scale_factor)

    def extra_repr(self) -> str:
        info = (f"scale_factor={self.scale_factor!r}" if self.scale_factor is not None
                else f"size={self.size!r}")
        return info + f", mode={self.mode!r}"


class UpsamplingNearest2d(Upsample):
    """``Upsample(size, scale_factor, mode='nearest')`` for (N, C, H, W) inputs.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.UpsamplingNearest2d(scale_factor=2)(cr.ones(1, 1, 2, 2)).shape
        (1, 1, 4, 4)
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="nearest")


class UpsamplingBilinear2d(Upsample):
    """``Upsample(size, scale_factor, mode='bilinear', align_corners=True)`` for
    (N, C, H, W) inputs.

    Example:
        >>> import chainrule as cr
        >>> cr.nn.UpsamplingBilinear2d(size=3)(cr.ones(1, 1, 2, 2)).shape
        (1, 1, 3, 3)
    """

    def __init__(self, size: Any = None, scale_factor: Any = None) -> None:
        super().__init__(size, scale_factor, mode="bilinear", align_corners=True)
