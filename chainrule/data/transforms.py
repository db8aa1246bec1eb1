"""Transforms on NumPy images: one image ``(H, W)``/``(C, H, W)`` or a batch ``(N, ...)``.

Float32 in gives float32 out: nothing here upcasts to float64. Each built-in transform is
elementwise (or per channel), so it may be applied to a whole batch at once; the attribute
``batch_safe = True`` says so, and the data loader's fast path relies on it.
"""
from __future__ import annotations

from typing import Callable, Sequence, Union

import numpy as np

Number = Union[int, float]


class ToFloat:
    """Convert uint8 pixels to float32 in ``[0, 1]`` (divide by 255).

    Floating input is cast to float32 unchanged in value; bool becomes 0.0/1.0. Other integer
    types are refused (their scale is unknown).

    Shape:
        Any shape; the output has the input's shape.

    Example:
        >>> import numpy as np
        >>> ToFloat()(np.array([0, 51, 255], np.uint8))
        array([0. , 0.2, 1. ], dtype=float32)
    """

    batch_safe = True

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype == np.uint8:
            out = x.astype(np.float32)
            out /= np.float32(255.0)
            return out
        if x.dtype.kind == "f" or x.dtype == np.bool_:
            return x.astype(np.float32)
        raise TypeError(
            f"ToFloat: expected uint8 pixels (scaled by 1/255), floating or bool input, got "
            f"dtype {x.dtype}")

    def __repr__(self) -> str:
        return "ToFloat()"


def _as_stats(name: str, value: Union[Number, Sequence[Number]]) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float64)
    if arr.ndim > 1 or arr.size == 0:
        raise ValueError(f"Normalize: {name} must be a number or a non-empty sequence, "
                         f"got {value!r}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"Normalize: {name} must be finite, got {value!r}")
    return arr.reshape(-1)


class Normalize:
    """Subtract ``mean`` and divide by ``std``, per channel: ``(x - mean) / std``.

    Args:
        mean: a number, or one number per channel.
        std: a number, or one number per channel; every value must be > 0.

    Shape:
        With one number each: any shape. With ``C > 1`` numbers: ``(C, H, W)`` or
        ``(N, C, H, W)`` (channel axis ``-3``). Output: same shape and dtype as the input.

    Example:
        >>> import numpy as np
        >>> Normalize(0.5, 0.25)(np.array([0.0, 0.5, 1.0], np.float32))
        array([-2.,  0.,  2.], dtype=float32)
    """

    batch_safe = True

    def __init__(self, mean: Union[Number, Sequence[Number]],
                 std: Union[Number, Sequence[Number]]) -> None:
        self.mean = _as_stats("mean", mean)
        self.std = _as_stats("std", std)
        if self.mean.size != self.std.size:
            raise ValueError(
                f"Normalize: mean has {self.mean.size} values but std has {self.std.size}; "
                "give one per channel for both")
        if np.any(self.std <= 0):
            raise ValueError(f"Normalize: std must be > 0, got {std!r}")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype.kind != "f":
            raise TypeError(
                f"Normalize: expected a floating array, got dtype {x.dtype}; apply ToFloat() first")
        mean, std = self.mean.astype(x.dtype), self.std.astype(x.dtype)
        c = mean.size
        if c > 1:
            if x.ndim < 3 or x.shape[-3] != c:
                raise ValueError(
                    f"Normalize: {c} channel statistics need an input of shape (C, H, W) or "
                    f"(N, C, H, W) with C={c}, got shape {x.shape}")
            mean, std = mean.reshape(c, 1, 1), std.reshape(c, 1, 1)
        else:
            mean, std = mean[0], std[0]
        return (x - mean) / std

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean.tolist()}, std={self.std.tolist()})"


class Compose:
    """Apply transforms one after another.

    Args:
        transforms: callables taking and returning an array.

    Example:
        >>> import numpy as np
        >>> t = Compose([ToFloat(), Normalize(0.5, 0.5)])
        >>> t(np.array([0, 255], np.uint8))
        array([-1.,  1.], dtype=float32)
    """

    def __init__(self, transforms: Sequence[Callable[[np.ndarray], np.ndarray]]) -> None:
        self.transforms = list(transforms)
        for t in self.transforms:
            if not callable(t):
                raise TypeError(f"Compose: every transform must be callable, got {t!r}")

    @property
    def batch_safe(self) -> bool:
        """True when every transform may be applied to a whole batch at once."""
        return all(getattr(t, "batch_safe", False) for t in self.transforms)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        inner = ", ".join(repr(t) for t in self.transforms)
        return f"Compose([{inner}])"
