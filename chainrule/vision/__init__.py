"""torchvision-shaped names: ``chainrule.vision.datasets`` and ``chainrule.vision.transforms``.

``from chainrule.vision import datasets`` and ``from chainrule.vision.transforms import
ToTensor`` stand in for ``from torchvision import datasets`` and
``from torchvision.transforms import ToTensor``.
"""
from . import datasets, transforms

__all__ = ["datasets", "transforms"]
