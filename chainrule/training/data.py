"""The image datasets the training application knows, with their normalisation statistics."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional, Union

import numpy as np

from ..data import Compose, FashionMNIST, MNIST, Normalize, ToFloat

PathLike = Union[str, "os.PathLike[str]"]


@dataclass(frozen=True)
class DatasetSpec:
    """A dataset the CLI can train on.

    Attributes:
        name: the command-line name (``fashion-mnist``).
        cls: the dataset class (``FashionMNIST``).
        mean, std: the pixel statistics of its training split, in [0, 1] units.
    """

    name: str
    cls: type
    mean: float
    std: float


DATASETS: dict[str, DatasetSpec] = {
    # mean/std of the 60,000 training images scaled to [0, 1]
    "fashion-mnist": DatasetSpec("fashion-mnist", FashionMNIST, 0.2860, 0.3530),
    "mnist": DatasetSpec("mnist", MNIST, 0.1307, 0.3081),
}


class EmptySplitError(ValueError):
    """A dataset split holds no image: there is nothing to train on, test or evaluate."""


class AddChannel:
    """Insert a channel axis: ``(H, W) -> (1, H, W)``, ``(N, H, W) -> (N, 1, H, W)``.

    Example:
        >>> AddChannel()(np.zeros((5, 28, 28), np.float32)).shape
        (5, 1, 28, 28)
    """

    batch_safe = True

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return x[..., None, :, :]  # (..., H, W) -> (..., 1, H, W)

    def __repr__(self) -> str:
        return "AddChannel()"


class Limited:
    """The first ``limit`` items of a MNIST-like dataset (a view: nothing is copied).

    Keeps what the tools use: ``data``, ``targets``, ``classes``, ``transform``, ``get_batch``.
    """

    def __init__(self, base: Any, limit: Optional[int]) -> None:
        self.base = base
        self.size = len(base) if limit is None else min(int(limit), len(base))
        self.classes = list(base.classes)
        self.transform = base.transform

    @property
    def data(self) -> np.ndarray:
        return self.base.data[:self.size]  # (N, 28, 28) uint8

    @property
    def targets(self) -> np.ndarray:
        return self.base.targets[:self.size]  # (N,) int64

    def __len__(self) -> int:
        return self.size

    def __getitem__(self, index: int) -> Any:
        if not -self.size <= index < self.size:
            raise IndexError(f"index {index} is out of range for {self.size} items")
        return self.base[index % self.size]

    def get_batch(self, indices: np.ndarray) -> Any:
        return self.base.get_batch(indices)


def image_transform(mean: float, std: float) -> Compose:
    """uint8 (N, 28, 28) -> float32 (N, 1, 28, 28), normalised with ``mean`` and ``std``."""
    return Compose([ToFloat(), Normalize(mean, std), AddChannel()])


def load_split(name: str, *, train: bool, root: Optional[PathLike] = None,
               limit: Optional[int] = None, download: bool = False,
               mean: Optional[float] = None, std: Optional[float] = None) -> Limited:
    """Load one split of a known dataset, normalised and limited to its first ``limit`` items.

    Args:
        name: a key of :data:`DATASETS`.
        train: the training split (True) or the test split.
        root: the folder of the IDX files; None searches the default places.
        limit: keep only the first ``limit`` items (None: all).
        download: fetch missing files from the official site.
        mean, std: normalisation statistics (default: the dataset's).

    Raises:
        ValueError: an unknown dataset name.
        chainrule.data.DatasetNotFoundError: no files found.
        chainrule.data.IdxFormatError: a corrupt file.
        EmptySplitError: the split's files hold no image (a file of 0 images, before
            ``limit``, which is at least 1).
    """
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(sorted(DATASETS))}")
    spec = DATASETS[name]
    transform = image_transform(spec.mean if mean is None else mean,
                                spec.std if std is None else std)
    base = spec.cls(root=root, train=train, transform=transform, download=download)
    if len(base) == 0:
        images = getattr(base, "files", (getattr(base, "folder", root),))[0]
        raise EmptySplitError(f"the {'train' if train else 'test'} split of {name} is empty: "
                              f"{images} holds 0 images")
    return Limited(base, limit)


# -- data-parallel training: each rank's part ---------------------------------------------------

def rank_bounds(n: int, rank: int, world: int) -> tuple[int, int]:
    """The contiguous part ``[lo, hi)`` of ``n`` items that rank ``rank`` of ``world`` takes:
    ``lo = n * rank // world``; the parts tile ``[0, n)`` in rank order and differ in size by
    at most one.

    Example:
        >>> [rank_bounds(5, r, 2) for r in range(2)]
        [(0, 2), (2, 5)]
    """
    if not 0 <= rank < world:
        raise ValueError(f"rank_bounds: rank {rank} is not in [0, {world})")
    return n * rank // world, n * (rank + 1) // world


class RankShard:
    """A dataset as one rank of a data-parallel run sees it: a ``DataLoader`` over it draws
    the *global* batches (the same indices on every rank, from the same seed: the batches of
    the single-process run) and each batch holds only this rank's items of it, rows
    ``rank::world`` (as ``DistributedSampler`` deals them, and as dropout under
    ``DistributedDataParallel`` draws its mask: the global batch's, each rank keeping those
    rows). So the ranks' parts of each step together are exactly the single-process batch, and
    the loader's state (dataset length, batch size, shuffling) is the single-process run's.

    ``len()`` is the whole dataset's (the sampler draws from all of it); only the fetch is
    sharded. Use :func:`shard_batches`, which keeps ``get_batch`` when the dataset has one.

    Example:
        >>> import numpy as np
        >>> from chainrule.data import TensorDataset
        >>> ds = TensorDataset(np.arange(10))
        >>> [shard_batches(ds, r, 2).get_batch(np.array([7, 1, 4]))[0].tolist() for r in (0, 1)]
        [[7, 4], [1]]
    """

    def __init__(self, base: Any, rank: int, world: int) -> None:
        rank_bounds(0, rank, world)  # checks the rank
        self.base, self.rank, self.world = base, int(rank), int(world)
        self.classes = list(getattr(base, "classes", []))

    def __len__(self) -> int:
        return len(self.base)

    def part(self, indices: Any) -> Any:
        """This rank's items of one global batch's indices: rows ``rank::world``."""
        return indices[self.rank::self.world]

    def __getitem__(self, index: int) -> Any:
        return self.base[index]

    def __getitems__(self, indices: Any) -> list:
        return [self.base[int(i)] for i in self.part(list(indices))]


class _BatchedRankShard(RankShard):
    """:class:`RankShard` of a dataset with ``get_batch`` (the loader's one-gather path)."""

    def get_batch(self, indices: np.ndarray) -> Any:
        return self.base.get_batch(self.part(np.asarray(indices, dtype=np.int64)))


def shard_batches(dataset: Any, rank: int, world: int) -> RankShard:
    """``dataset`` as rank ``rank`` of ``world`` trains on it (see :class:`RankShard`)."""
    cls = _BatchedRankShard if hasattr(dataset, "get_batch") else RankShard
    return cls(dataset, rank, world)


class RankSlice:
    """Rank ``rank``'s contiguous part of a dataset, for evaluation: the ranks' parts tile
    the dataset once (:func:`rank_bounds`), so their counts summed are the whole set's.

    Example:
        >>> import numpy as np
        >>> from chainrule.data import TensorDataset
        >>> part = RankSlice(TensorDataset(np.arange(5)), 1, 2)
        >>> len(part), part.get_batch(np.array([0, 2]))[0].tolist()
        (3, [2, 4])
    """

    def __init__(self, base: Any, rank: int, world: int) -> None:
        self.base = base
        self.lo, self.hi = rank_bounds(len(base), rank, world)
        self.classes = list(getattr(base, "classes", []))

    def __len__(self) -> int:
        return self.hi - self.lo

    def __getitem__(self, index: int) -> Any:
        n = len(self)
        if not -n <= index < n:
            raise IndexError(f"index {index} is out of range for {n} items")
        return self.base[self.lo + index % n]

    def get_batch(self, indices: np.ndarray) -> Any:
        return self.base.get_batch(np.asarray(indices, dtype=np.int64) + self.lo)
