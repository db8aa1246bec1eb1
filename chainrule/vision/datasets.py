"""torchvision's ``datasets.MNIST`` and ``datasets.FashionMNIST``, on chainrule's IDX loader.

``FashionMNIST(root, train=True, transform=None, target_transform=None, download=False)``
as torchvision's. The files are looked for, in order, in torchvision's layout
``root/FashionMNIST/raw/`` (the ``.gz`` files or the uncompressed ones), then in
chainrule's places: ``$CHAINRULE_DATA``, the user cache, Debian's
``/usr/share/datasets/fashion-mnist``; only then, with ``download=True``, are they downloaded
(into ``root/FashionMNIST/raw``, MD5-checked). With ``download=False`` and no files, the
error (a ``RuntimeError``, as torchvision's) lists every folder searched.

Differences from torchvision, all from having no PIL:

- ``ds[i]`` without a transform gives the image as a uint8 ndarray ``(28, 28)`` (a copy:
  what ``numpy.asarray(pil_image)`` gives), not a PIL image; ``ToTensor()`` turns it into a
  float32 Tensor ``(1, 28, 28)`` in ``[0, 1]``, exactly as torchvision's does.
- Downloaded files stay gzip-compressed (they are read as they are); ``processed/`` and the
  legacy ``.pt`` files are not used. ``resources`` is a table of file names and MD5s.
- ``FashionMNIST`` is not a subclass of ``MNIST`` here (both share chainrule's loader).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Optional, Union

import numpy as np

from ..autograd.tensor import Tensor
from ..data import datasets as base
from .transforms import batch_form

PathLike = Union[str, "os.PathLike[str]"]


def _array(value: Any) -> np.ndarray:
    """The ndarray of ``.data``/``.targets`` (a Tensor, or an array a user assigned)."""
    return value.detach().numpy() if isinstance(value, Tensor) else np.asarray(value)


class _TorchvisionMnist:
    """What torchvision's MNIST-style datasets add to chainrule's: the signature and layout,
    Tensors in ``.data`` and ``.targets``, ``target_transform``, ``class_to_idx``."""

    name: str
    system_dirs: tuple[str, ...]
    classes: list[str]
    train: bool
    transform: Optional[Callable[[Any], Any]]
    data: Any
    targets: Any

    def __init__(self, root: Optional[PathLike], train: bool = True,
                 transform: Optional[Callable[[Any], Any]] = None,
                 target_transform: Optional[Callable[[Any], Any]] = None,
                 download: bool = False) -> None:
        name = type(self).__name__
        if target_transform is not None and not callable(target_transform):
            raise TypeError(f"{name}: target_transform must be callable, got "
                            f"{target_transform!r}")
        self.target_transform = target_transform
        root = Path(os.path.expanduser(os.fspath(root))) if root is not None else None
        super().__init__(root=root, train=train, transform=transform,  # type: ignore[call-arg]
                         download=download)
        self.data = Tensor(self.data)  # (N, 28, 28) uint8, sharing the loaded array
        self.targets = Tensor(self.targets)  # (N,) int64

    # -- where the files are -----------------------------------------------------------------

    @property
    def raw_folder(self) -> str:
        """torchvision's folder of the files: ``root/<ClassName>/raw``."""
        return os.path.join(str(self.root), type(self).__name__, "raw")

    @property
    def processed_folder(self) -> str:
        """torchvision's ``root/<ClassName>/processed`` (unused: nothing is converted)."""
        return os.path.join(str(self.root), type(self).__name__, "processed")

    def search_dirs(self) -> list[tuple[Path, str]]:
        """``root/<ClassName>/raw`` first (with a root), then chainrule's default places."""
        first = [(Path(self.raw_folder), "root")] if self.root is not None else []
        return first + base.default_search_dirs(self.name, self.system_dirs)

    def download_dir(self) -> Path:
        """``root/<ClassName>/raw``, as torchvision (the user cache without a root)."""
        return Path(self.raw_folder) if self.root is not None else base.user_cache_dir(self.name)

    def placement_hint(self) -> str:
        """Where to put the files by hand: torchvision's layout, or ``$CHAINRULE_DATA``."""
        where = self.raw_folder if self.root is not None else "ROOT/" + type(self).__name__ + \
            "/raw"
        return (f"put the four IDX files in {where} (torchvision's layout) or in a folder named "
                "by CHAINRULE_DATA=FOLDER")

    # -- items -------------------------------------------------------------------------------

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Each class name's index, as torchvision's."""
        return {c: i for i, c in enumerate(self.classes)}

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        image = _array(self.data)[index].copy()  # (28, 28) uint8, the dataset stays intact
        target: Any = int(_array(self.targets)[index])
        if self.transform is not None:
            image = self.transform(image)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    @property
    def get_batch(self) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
        """``get_batch(indices)``: the items ``indices`` stacked, in one fancy index.

        The DataLoader's fast path. It exists only when both transforms have a batch form
        (:func:`chainrule.vision.transforms.batch_form`: None, ToTensor, Normalize, ...), so
        that it gives exactly what collating the items would; with any other transform (a
        Lambda) ``hasattr(ds, "get_batch")`` is False and the loader makes item by item.

        Example:
            >>> import os, tempfile, numpy as np
            >>> from chainrule.data.idx import write_idx
            >>> from chainrule.vision.transforms import Lambda, ToTensor
            >>> with tempfile.TemporaryDirectory() as d:
            ...     raw = f"{d}/MNIST/raw"; os.makedirs(raw)
            ...     write_idx(f"{raw}/t10k-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
            ...     write_idx(f"{raw}/t10k-labels-idx1-ubyte", np.arange(3, dtype=np.uint8))
            ...     ds = MNIST(d, train=False, transform=ToTensor())
            >>> images, targets = ds.get_batch(np.array([2, 0]))
            >>> images.shape, images.dtype, targets.tolist()
            ((2, 1, 28, 28), dtype('float32'), [2, 0])
            >>> ds.target_transform = Lambda(lambda y: y * 2)
            >>> hasattr(ds, "get_batch")
            False
        """
        images_fn, targets_fn = batch_form(self.transform), batch_form(self.target_transform)
        if images_fn is None or targets_fn is None:
            raise AttributeError(f"{type(self).__name__} has no get_batch while a transform "
                                 "runs item by item (it has no batch form)")

        def get_batch(indices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            images = _array(self.data)[indices]  # (B, 28, 28) uint8
            targets = _array(self.targets)[indices]  # (B,) int64
            return images_fn(images), targets_fn(targets)

        return get_batch

    def __repr__(self) -> str:
        body = [f"Number of datapoints: {len(self)}"]  # type: ignore[arg-type]
        if self.root is not None:
            body.append(f"Root location: {self.root}")
        body.append(f"Split: {'Train' if self.train else 'Test'}")
        transforms = ["StandardTransform"]
        for head, t in (("Transform: ", self.transform),
                        ("Target transform: ", self.target_transform)):
            if t is not None:
                lines = repr(t).splitlines()
                transforms += [head + lines[0]] + [" " * len(head) + line for line in lines[1:]]
        if len(transforms) > 1:
            body.append("\n".join(transforms))
        return "\n".join([f"Dataset {type(self).__name__}"] + ["    " + line for line in body])


class MNIST(_TorchvisionMnist, base.MNIST):
    """MNIST, as ``torchvision.datasets.MNIST``: 28x28 grayscale digits, 10 classes.

    Args:
        root: the folder holding ``MNIST/raw/`` (``~`` is expanded); None skips it and
            searches chainrule's places only.
        train: the 60,000 training images (True) or the 10,000 test images.
        transform: applied to each image (a uint8 ndarray ``(28, 28)``), e.g. ``ToTensor()``.
        target_transform: applied to each target (an int).
        download: download the files into ``root/MNIST/raw`` when no folder holds them.

    Attributes:
        data: uint8 Tensor ``(N, 28, 28)``. targets: int64 Tensor ``(N,)``.
        classes: the class names. class_to_idx: name -> index. folder: where the files were
            found.

    Raises:
        chainrule.data.DatasetNotFoundError: no folder holds the files (a ``RuntimeError``
            and a ``FileNotFoundError``); its message lists every folder searched.

    Example:
        >>> import os, tempfile, numpy as np
        >>> from chainrule.data.idx import write_idx
        >>> from chainrule.vision.transforms import ToTensor
        >>> with tempfile.TemporaryDirectory() as d:
        ...     os.makedirs(f"{d}/MNIST/raw")
        ...     write_idx(f"{d}/MNIST/raw/t10k-images-idx3-ubyte", np.zeros((3, 28, 28), np.uint8))
        ...     write_idx(f"{d}/MNIST/raw/t10k-labels-idx1-ubyte", np.array([7, 1, 4], np.uint8))
        ...     ds = MNIST(d, train=False, transform=ToTensor())
        >>> image, label = ds[0]
        >>> len(ds), image.shape, image.dtype, label, ds.classes[label]
        (3, (1, 28, 28), dtype('float32'), 7, '7 - seven')
        >>> ds.class_to_idx["4 - four"], ds.raw_folder.endswith("MNIST/raw"), ds.data.shape
        (4, True, (3, 28, 28))
    """


class FashionMNIST(_TorchvisionMnist, base.FashionMNIST):
    """Fashion-MNIST, as ``torchvision.datasets.FashionMNIST``: 28x28 clothing, 10 classes.

    Args:
        root: the folder holding ``FashionMNIST/raw/`` (``~`` is expanded); None skips it and
            searches chainrule's places only.
        train: the 60,000 training images (True) or the 10,000 test images.
        transform: applied to each image (a uint8 ndarray ``(28, 28)``), e.g. ``ToTensor()``.
        target_transform: applied to each target (an int).
        download: download the files into ``root/FashionMNIST/raw`` when no folder holds them.

    Attributes:
        data: uint8 Tensor ``(N, 28, 28)``. targets: int64 Tensor ``(N,)``.
        classes: the class names. class_to_idx: name -> index. folder: where the files were
            found.

    Raises:
        chainrule.data.DatasetNotFoundError: no folder holds the files (a ``RuntimeError``
            and a ``FileNotFoundError``); its message lists every folder searched.

    Example:
        >>> import os, tempfile, numpy as np
        >>> from chainrule.data.idx import write_idx
        >>> with tempfile.TemporaryDirectory() as d:
        ...     raw = f"{d}/FashionMNIST/raw"; os.makedirs(raw)
        ...     write_idx(f"{raw}/train-images-idx3-ubyte.gz", np.zeros((2, 28, 28), np.uint8))
        ...     write_idx(f"{raw}/train-labels-idx1-ubyte.gz", np.array([9, 0], np.uint8))
        ...     ds = FashionMNIST(root=d, target_transform=lambda y: y + 100)
        >>> image, target = ds[0]
        >>> image.dtype, image.shape, target, ds.class_to_idx["Ankle boot"], ds.targets
        (dtype('uint8'), (28, 28), 109, 9, tensor([9, 0]))
    """
