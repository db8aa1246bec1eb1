"""A stand-in for the few parts of torchvision the beginner tutorials use (test harness only).

Real torchvision is not installed in the venv: its wheel must match the installed torch build
exactly and pulls in Pillow. The PyTorch run of each tutorial puts this folder's parent on
``sys.path`` so that ``from torchvision import datasets`` and
``from torchvision.transforms import ToTensor, Lambda`` resolve here. It does what torchvision
does for Fashion-MNIST, numerically: the same images, labels, order and ``ToTensor`` scaling.
Only the PyTorch run sees it; the chainrule run imports ``chainrule.vision``.
"""
from . import datasets, transforms

__version__ = "0.0-standin"
