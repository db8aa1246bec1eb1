"""``FashionMNIST`` as torchvision defines it, reading ``root/FashionMNIST/raw`` (IDX files).

torchvision hands ``transform`` a PIL image made from the uint8 array; this stand-in hands it
the uint8 array (28, 28) itself, which ``ToTensor`` converts to the same tensor. Nothing is
downloaded: the harness puts the files under ``root`` beforehand.
"""
import gzip
import os
from typing import Any, Callable, Optional

import numpy as np
import torch

_FILES = {True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
          False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


def _read_idx(path: str) -> np.ndarray:
    """An IDX file (optionally gzipped) as an array; big-endian header, uint8 payload."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(tuple(dims))


class FashionMNIST(torch.utils.data.Dataset):
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]

    def __init__(self, root: str, train: bool = True, transform: Optional[Callable] = None,
                 target_transform: Optional[Callable] = None, download: bool = False) -> None:
        self.root, self.train = root, train
        self.transform, self.target_transform = transform, target_transform
        raw = os.path.join(root, type(self).__name__, "raw")
        images, labels = (self._find(raw, name) for name in _FILES[train])
        self.data = torch.from_numpy(_read_idx(images).copy())  # (N, 28, 28) uint8
        self.targets = torch.from_numpy(_read_idx(labels).astype(np.int64))  # (N,)

    @staticmethod
    def _find(folder: str, name: str) -> str:
        for candidate in (name, name + ".gz"):
            path = os.path.join(folder, candidate)
            if os.path.exists(path):
                return path
        raise RuntimeError(f"Dataset not found in {folder} (stand-in torchvision never "
                           "downloads: the harness must provide the files)")

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        img, target = self.data[index].numpy(), int(self.targets[index])
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self) -> int:
        return len(self.data)
