"""``ToTensor``, ``Lambda`` and ``Compose`` as torchvision defines them (numeric behaviour)."""
from typing import Any, Callable

import numpy as np
import torch


class ToTensor:
    """A uint8 image (H, W) or (H, W, C) -> a float32 tensor (C, H, W) scaled to [0, 1]."""

    def __call__(self, pic: Any) -> torch.Tensor:
        arr = np.asarray(pic)
        if arr.ndim == 2:
            arr = arr[:, :, None]  # (H, W) -> (H, W, 1)
        img = torch.from_numpy(arr.transpose((2, 0, 1))).contiguous()  # (C, H, W)
        if img.dtype == torch.uint8:
            return img.to(dtype=torch.get_default_dtype()).div(255)
        return img

    def __repr__(self) -> str:
        return "ToTensor()"


class Lambda:
    """Apply a user function."""

    def __init__(self, lambd: Callable[[Any], Any]) -> None:
        if not callable(lambd):
            raise TypeError(f"Argument lambd should be callable, got {type(lambd).__name__!r}")
        self.lambd = lambd

    def __call__(self, img: Any) -> Any:
        return self.lambd(img)

    def __repr__(self) -> str:
        return "Lambda()"


class Compose:
    """Apply transforms in order."""

    def __init__(self, transforms: list) -> None:
        self.transforms = transforms

    def __call__(self, img: Any) -> Any:
        for t in self.transforms:
            img = t(img)
        return img
