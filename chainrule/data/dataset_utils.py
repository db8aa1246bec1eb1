"""Dataset combinators as ``torch.utils.data.dataset``: ``Subset``, ``ConcatDataset``,
``StackDataset``, ``IterableDataset``, ``ChainDataset`` and ``random_split``.

``random_split`` draws exactly as PyTorch's: one ``randperm(sum(lengths))`` (here
``_permutation``) from the generator given, the default one if none.
"""
from __future__ import annotations

import abc
import bisect
import itertools
import math
import warnings
from typing import Any, Iterable, Iterator, Optional, Sequence, Union

from ..random import Generator, default_generator, resolve
from .datasets import Dataset


class IterableDataset(Dataset):
    """A dataset read as a stream: subclasses define ``__iter__`` (no indexing).

    With ``num_workers > 0`` each worker runs its own copy of the iterator; use
    ``get_worker_info()`` inside ``__iter__`` to give each worker its share.

    Example:
        >>> class Count(IterableDataset):
        ...     def __iter__(self): return iter(range(3))
        >>> list(Count())
        [0, 1, 2]
    """

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Any]:
        """Yield the items."""

    def __getitem__(self, index: int) -> Any:
        raise TypeError(f"{type(self).__name__} is an IterableDataset: it is iterated, not "
                        "indexed")

    def __len__(self) -> int:
        raise TypeError(f"object of type '{type(self).__name__}' has no len()")

    def __add__(self, other: Any) -> "ChainDataset":
        return ChainDataset([self, other])


class ChainDataset(IterableDataset):
    """Several iterable datasets read one after the other.

    Args:
        datasets: the ``IterableDataset`` objects to chain.

    Example:
        >>> class Count(IterableDataset):
        ...     def __init__(self, n): self.n = n
        ...     def __iter__(self): return iter(range(self.n))
        >>> list(ChainDataset([Count(2), Count(3)]))
        [0, 1, 0, 1, 2]
    """

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = datasets

    def _checked(self) -> Iterator[Any]:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise AssertionError(f"ChainDataset only supports IterableDataset, got "
                                     f"{type(d).__name__}")  # PyTorch's class
            yield d

    def __iter__(self) -> Iterator[Any]:
        for d in self._checked():
            yield from d

    def __len__(self) -> int:
        return sum(len(d) for d in self._checked())


class Subset(Dataset):
    """The items of ``dataset`` at ``indices``: ``subset[i] = dataset[indices[i]]``.

    Args:
        dataset: the whole dataset.
        indices: the indices of the items kept, in order.

    Example:
        >>> s = Subset(list("abcdef"), [4, 0, 2])
        >>> len(s), s[0], s.__getitems__([1, 2])
        (3, 'e', ['a', 'c'])
    """

    def __init__(self, dataset: Any, indices: Sequence[int]) -> None:
        self.dataset = dataset
        self.indices = indices

    def __getitem__(self, idx: Any) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[self.indices[idx]]

    def __getitems__(self, indices: list[int]) -> list[Any]:
        """The items at ``indices`` (the dataset's ``__getitems__`` when it has one)."""
        mapped = [self.indices[i] for i in indices]
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.dataset.__getitems__(mapped)
        return [self.dataset[i] for i in mapped]

    def __len__(self) -> int:
        return len(self.indices)


class ConcatDataset(Dataset):
    """Several map-style datasets end to end: indices run through the first, then the next.

    Args:
        datasets: the datasets (at least one; no ``IterableDataset``).

    Example:
        >>> c = ConcatDataset([[1, 2], [3, 4, 5]])
        >>> len(c), c[2], c[-1], c.cumulative_sizes
        (5, 3, 5, [2, 5])
    """

    def __init__(self, datasets: Iterable[Any]) -> None:
        self.datasets = list(datasets)
        if len(self.datasets) == 0:
            # AssertionError: PyTorch's class for both
            raise AssertionError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise AssertionError("ConcatDataset does not support IterableDataset")
        self.cumulative_sizes = list(itertools.accumulate(len(d) for d in self.datasets))

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, idx: int) -> Any:
        if idx < 0:
            if -idx > len(self):
                raise ValueError(f"ConcatDataset: absolute value of index should not exceed "
                                 f"dataset length, got index {idx} for length {len(self)}")
            idx = len(self) + idx
        d = bisect.bisect_right(self.cumulative_sizes, idx)
        return self.datasets[d][idx - (self.cumulative_sizes[d - 1] if d else 0)]


class StackDataset(Dataset):
    """Several datasets of the same length side by side: item ``i`` is the tuple (positional
    datasets) or the dict (keyword datasets) of their items ``i``.

    Args:
        *args: datasets whose items form a tuple.
        **kwargs: datasets whose items form a dict (not both).

    Example:
        >>> StackDataset([1, 2], ["a", "b"])[1], StackDataset(x=[1, 2], y=[3, 4])[0]
        ((2, 'b'), {'x': 1, 'y': 3})
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise ValueError("StackDataset: give datasets either positionally (tuple items) or "
                             "by keyword (dict items), not both")
        if not args and not kwargs:
            raise ValueError("StackDataset: at least one dataset should be passed")
        self.datasets: Union[tuple, dict] = args if args else kwargs
        sizes = [len(d) for d in (args if args else kwargs.values())]
        if len(set(sizes)) > 1:
            raise ValueError(f"StackDataset: size mismatch between datasets: {sizes}")
        self._length = sizes[0]

    def __getitem__(self, index: int) -> Any:
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


def _fraction_lengths(n: int, fractions: Sequence[float]) -> list[int]:
    """PyTorch's rounding: floor each share, then hand the remainder out round-robin."""
    lengths = []
    for i, frac in enumerate(fractions):
        if frac < 0 or frac > 1:
            raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1, "
                             f"got {frac}")
        lengths.append(math.floor(n * frac))
    for i in range(n - sum(lengths)):
        lengths[i % len(lengths)] += 1
    for i, length in enumerate(lengths):
        if length == 0:
            warnings.warn(f"Length of split at index {i} is 0. This might result in an empty "
                          "dataset.", stacklevel=3)
    return lengths


def random_split(dataset: Any, lengths: Sequence[Union[int, float]],
                 generator: Optional[Generator] = default_generator) -> list[Subset]:
    """Split a dataset into non-overlapping random subsets, as ``torch.utils.data.random_split``.

    Args:
        dataset: the dataset to split.
        lengths: the subsets' lengths, summing to ``len(dataset)``; or fractions summing to 1
            (each floor(len * fraction), the remainder handed out one by one from the first).
        generator: the ``chainrule.Generator`` for the one permutation drawn.

    Returns:
        One :class:`Subset` per length.

    Example:
        >>> import chainrule as cr
        >>> a, b = random_split(range(10), [0.7, 0.3], generator=cr.Generator().manual_seed(0))
        >>> len(a), len(b), sorted(list(a) + list(b)) == list(range(10))
        (7, 3, True)
    """
    total = sum(lengths)
    if math.isclose(total, 1) and total <= 1:
        lengths = _fraction_lengths(len(dataset), lengths)
    if sum(lengths) != len(dataset):
        raise ValueError(f"random_split: sum of input lengths does not equal the length of the "
                         f"input dataset! ({sum(lengths)} != {len(dataset)})")
    indices = resolve(generator, "random_split")._permutation(sum(lengths)).tolist()
    offsets = itertools.accumulate(lengths)
    return [Subset(dataset, indices[end - length:end]) for end, length in zip(offsets, lengths)]
