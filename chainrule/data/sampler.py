"""Samplers as ``torch.utils.data.sampler``: which items a ``DataLoader`` takes, in what order.

A sampler is an iterable of dataset indices (or, for :class:`BatchSampler`, of lists of
indices). The random ones draw exactly as PyTorch's do, one ``chainrule.random`` draw where
PyTorch makes one call: ``randperm`` is ``_permutation``, ``randint`` is ``_integers``,
``rand`` is ``_uniform``, and the int64 seed PyTorch takes with ``torch.empty((),
dtype=torch.int64).random_()`` is ``_integers(0, 2**63 - 1, ())``. So a PyTorch-backed stream
substituted for the draws gives PyTorch's indices, and ``WeightedRandomSampler`` reproduces
``torch.multinomial``'s arithmetic on its uniform draws.
"""
from __future__ import annotations

import itertools
from typing import Any, Iterable, Iterator, Optional, Sequence, Sized

import numpy as np

from ..autograd.errors import OpError
from ..random import Generator, resolve

SEED_HIGH = 2 ** 63 - 1
"""``_integers(0, SEED_HIGH, ())`` stands for PyTorch's ``torch.empty((), dtype=torch.int64)
.random_()`` (an int64 seed drawn from a generator)."""

_CHUNK = 32  # RandomSampler with replacement draws its indices 32 at a time, as PyTorch's


def draw_seed(generator: Optional[Generator], op: str = "random") -> int:
    """One int64 seed drawn from ``generator`` (the default one when None), as PyTorch's
    ``torch.empty((), dtype=torch.int64).random_(generator=generator).item()``.

    Example:
        >>> import chainrule as cr
        >>> a = draw_seed(cr.Generator().manual_seed(0))
        >>> a == draw_seed(cr.Generator().manual_seed(0)), 0 <= a < 2 ** 63
        (True, True)
    """
    return int(resolve(generator, op)._integers(0, SEED_HIGH, ()))


def _check_generator(generator: Any, op: str) -> Any:
    return None if generator is None else resolve(generator, op)


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


class Sampler:
    """Base class of samplers: ``__iter__`` yields indices (or lists of indices); ``__len__``
    (optional) says how many.

    Example:
        >>> class Reversed(Sampler):
        ...     def __init__(self, n): self.n = n
        ...     def __iter__(self): return iter(range(self.n - 1, -1, -1))
        ...     def __len__(self): return self.n
        >>> list(Reversed(3))
        [2, 1, 0]
    """

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")


class SequentialSampler(Sampler):
    """The indices ``0, 1, ..., len(data_source) - 1``, always in that order.

    Args:
        data_source: anything with ``__len__`` (a dataset).

    Example:
        >>> list(SequentialSampler(range(4)))
        [0, 1, 2, 3]
    """

    def __init__(self, data_source: Sized) -> None:
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """Random indices: a new permutation each pass, or ``num_samples`` draws with replacement.

    Without a generator each pass draws an int64 seed from the default generator and runs a
    fresh ``Generator`` seeded with it, as PyTorch does.

    Args:
        data_source: anything with ``__len__`` (a dataset).
        replacement: draw with replacement (``num_samples`` uniform indices, 32 per draw).
        num_samples: how many indices per pass; default ``len(data_source)``. Without
            replacement, whole permutations are chained and the last one cut.
        generator: the ``chainrule.Generator`` to draw from (shared, not copied).

    Example:
        >>> import chainrule as cr
        >>> order = list(RandomSampler(range(5), generator=cr.Generator().manual_seed(0)))
        >>> sorted(order)
        [0, 1, 2, 3, 4]
        >>> len(RandomSampler(range(5), replacement=True, num_samples=12))
        12
    """

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: Optional[int] = None, generator: Optional[Generator] = None) -> None:
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = _check_generator(generator, "RandomSampler")
        if not isinstance(replacement, bool):
            raise TypeError(f"replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        if not _is_int(self.num_samples) or self.num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={self.num_samples}")

    @property
    def num_samples(self) -> int:
        """``num_samples`` as given, else ``len(data_source)``."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self) -> Iterator[int]:
        n = len(self.data_source)
        generator = self.generator
        if generator is None:  # a private stream seeded from the default generator
            generator = Generator().manual_seed(draw_seed(None, "RandomSampler"))
        if self.replacement:
            for _ in range(self.num_samples // _CHUNK):
                yield from generator._integers(0, n, (_CHUNK,)).tolist()
            yield from generator._integers(0, n, (self.num_samples % _CHUNK,)).tolist()
        else:
            for _ in range(self.num_samples // n):
                yield from generator._permutation(n).tolist()
            yield from generator._permutation(n).tolist()[:self.num_samples % n]

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given indices in a random order (one permutation per pass).

    Args:
        indices: the dataset indices to sample from.
        generator: the ``chainrule.Generator`` to draw from; default: the default generator.

    Example:
        >>> import chainrule as cr
        >>> s = SubsetRandomSampler([10, 20, 30], generator=cr.Generator().manual_seed(1))
        >>> sorted(s), len(s)
        ([10, 20, 30], 3)
    """

    def __init__(self, indices: Sequence[int], generator: Optional[Generator] = None) -> None:
        self.indices = indices
        self.generator = _check_generator(generator, "SubsetRandomSampler")

    def __iter__(self) -> Iterator[int]:
        perm = resolve(self.generator, "SubsetRandomSampler")._permutation(len(self.indices))
        for i in perm.tolist():
            yield self.indices[i]

    def __len__(self) -> int:
        return len(self.indices)


def _check_weights(weights: np.ndarray, num_samples: int, replacement: bool) -> None:
    """``torch.multinomial``'s checks (RuntimeError, at sampling time as in PyTorch)."""
    op = "WeightedRandomSampler"
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise OpError(f"{op}: weights must be finite and non-negative (torch.multinomial's "
                      f"rule), got {weights.tolist()}")
    if weights.sum() <= 0:
        raise OpError(f"{op}: the weights sum to 0; at least one must be positive")
    if not replacement and num_samples > weights.shape[0]:
        raise OpError(f"{op}: cannot draw {num_samples} samples without replacement from "
                      f"{weights.shape[0]} categories")


def multinomial_indices(weights: np.ndarray, num_samples: int, replacement: bool,
                        generator: Optional[Generator]) -> np.ndarray:
    """``torch.multinomial(weights, num_samples, replacement)`` for 1-d float64 weights, with
    PyTorch's draws: one uniform per sample searched in the normalised cumulative weights
    (with replacement), or else one exponential per category (``-log1p(-u)``) and the
    ``num_samples`` largest ``weights / exponential`` (PyTorch's path also for one sample).

    Example:
        >>> import chainrule as cr, numpy as np
        >>> g = cr.Generator().manual_seed(0)
        >>> multinomial_indices(np.array([0., 1., 0.]), 4, True, g).tolist()
        [1, 1, 1, 1]
    """
    _check_weights(weights, num_samples, replacement)
    gen = resolve(generator, "WeightedRandomSampler")
    if replacement and num_samples > 1:
        cum = np.cumsum(weights)  # (K,)
        cum /= cum[-1]
        cum[-1] = 1.0
        u = gen._uniform((num_samples,), np.float64)  # (num_samples,)
        return np.searchsorted(cum, u, side="left").astype(np.int64)
    q = -np.log1p(-gen._uniform(weights.shape, np.float64))  # (K,) exponential(1)
    ratio = weights / q
    if num_samples == 1:
        return np.array([int(np.argmax(ratio))], np.int64)
    return np.argsort(-ratio, kind="stable")[:num_samples].astype(np.int64)


class WeightedRandomSampler(Sampler):
    """Indices ``0..len(weights)-1`` drawn with probabilities proportional to ``weights``.

    Draws as ``torch.multinomial`` (see :func:`multinomial_indices`): with a PyTorch-backed
    stream the indices are PyTorch's.

    Args:
        weights: a 1-d sequence of non-negative weights (need not sum to one).
        num_samples: how many indices per pass (> 0).
        replacement: with replacement (default); without, an index appears at most once.
        generator: the ``chainrule.Generator`` to draw from; default: the default generator.

    Example:
        >>> import chainrule as cr
        >>> s = WeightedRandomSampler([0.0, 1.0, 0.0, 2.0], 6,
        ...                           generator=cr.Generator().manual_seed(3))
        >>> set(s) <= {1, 3}, len(s)
        (True, 6)
    """

    def __init__(self, weights: Sequence[float], num_samples: int, replacement: bool = True,
                 generator: Optional[Generator] = None) -> None:
        if not _is_int(num_samples) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got "
                             f"num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got "
                             f"replacement={replacement}")
        arr = np.asarray(getattr(weights, "_data", weights), dtype=np.float64)
        if arr.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape "
                             f"{tuple(arr.shape)}")
        self.weights = arr
        self.num_samples = int(num_samples)
        self.replacement = replacement
        self.generator = _check_generator(generator, "WeightedRandomSampler")

    def __iter__(self) -> Iterator[int]:
        yield from multinomial_indices(self.weights, self.num_samples, self.replacement,
                                       self.generator).tolist()

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of another sampler into lists of ``batch_size``.

    Args:
        sampler: a sampler or any iterable of indices.
        batch_size: indices per batch (a positive int).
        drop_last: drop the last batch when it is shorter than ``batch_size``.

    Example:
        >>> list(BatchSampler(SequentialSampler(range(7)), batch_size=3, drop_last=False))
        [[0, 1, 2], [3, 4, 5], [6]]
        >>> len(BatchSampler(range(7), batch_size=3, drop_last=True))
        2
    """

    def __init__(self, sampler: Iterable[int], batch_size: int, drop_last: bool) -> None:
        if not _is_int(batch_size) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got "
                             f"batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = int(batch_size)
        self.drop_last = drop_last

    def __iter__(self) -> Iterator[list[int]]:
        it = iter(self.sampler)
        batch = list(itertools.islice(it, self.batch_size))
        while batch and (len(batch) == self.batch_size or not self.drop_last):
            yield batch
            batch = list(itertools.islice(it, self.batch_size))

    def __len__(self) -> int:
        n = len(self.sampler)  # type: ignore[arg-type]
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


class DistributedSampler(Sampler):
    """Each rank's share of the dataset, as ``torch.utils.data.DistributedSampler``.

    Every rank builds the same order of ``len(dataset)`` indices (a permutation drawn from a
    ``Generator`` seeded with ``seed + epoch`` when ``shuffle``, else ``0, 1, 2, ...``), pads
    it by repeating its start to a multiple of ``num_replicas`` (or, with ``drop_last``, cuts
    it to one), and takes every ``num_replicas``-th index from ``rank`` on: rank r gets
    positions ``r, r + W, r + 2W, ...`` of the order (W = ``num_replicas``).

    **Global batches.** With a global batch of B (W dividing B) and each rank's loader taking
    ``B // W``, the ranks' k-th batches together are exactly positions ``k*B ... (k+1)*B - 1``
    of the order: the single-process batch k over the same order (``num_replicas=1``), rank r
    holding its rows ``r, r + W, ...`` (interleaved, not a contiguous block). The last, partial
    global batch is split the same way when W divides it; otherwise the padding repeats a few
    samples (or ``drop_last`` removes the tail). Dropout under ``DistributedDataParallel``
    takes the same rows ``r::W`` of the global batch's mask.

    The permutation is chainrule's (``Generator().manual_seed(seed + epoch)``), not PyTorch's:
    the unshuffled indices equal PyTorch's exactly, the shuffled ones have the same structure.

    Args:
        dataset: anything with ``__len__``.
        num_replicas: the number of ranks W (default: ``chainrule.distributed.get_world_size()``).
        rank: this rank, in [0, W) (default: ``chainrule.distributed.get_rank()``).
        shuffle: a new permutation each epoch (call ``set_epoch`` before each one).
        seed: the permutation's seed; the same on every rank.
        drop_last: cut the order to a multiple of W instead of padding it.

    Example:
        >>> ds = range(10)
        >>> [list(DistributedSampler(ds, num_replicas=3, rank=r, shuffle=False)) for r in range(3)]
        [[0, 3, 6, 9], [1, 4, 7, 0], [2, 5, 8, 1]]
        >>> list(DistributedSampler(ds, num_replicas=3, rank=2, shuffle=False, drop_last=True))
        [2, 5, 8]
    """

    def __init__(self, dataset: Sized, num_replicas: Optional[int] = None,
                 rank: Optional[int] = None, shuffle: bool = True, seed: int = 0,
                 drop_last: bool = False) -> None:
        if num_replicas is None or rank is None:
            from .. import distributed  # the process group, only when asked for it
            if num_replicas is None:
                num_replicas = distributed.get_world_size()
            if rank is None:
                rank = distributed.get_rank()
        if not _is_int(num_replicas) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas should be a positive integer, "
                             f"got num_replicas={num_replicas!r}")
        if not _is_int(rank) or rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % self.num_replicas != 0:
            # the largest multiple of W that fits: no rank gets a padded (repeated) sample
            self.num_samples = -(-(n - self.num_replicas) // self.num_replicas)
        else:
            self.num_samples = -(-n // self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:  # the same permutation on every rank: seeded with seed + epoch
            indices = Generator().manual_seed(self.seed + self.epoch)._permutation(n).tolist()
        else:
            indices = list(range(n))
        if not self.drop_last:
            padding = self.total_size - len(indices)
            if padding <= len(indices):
                indices += indices[:padding]
            else:
                indices += (indices * -(-padding // len(indices)))[:padding]
        else:
            indices = indices[:self.total_size]
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Use permutation ``seed + epoch`` from now on (call it before each epoch, on every
        rank, so the ranks shuffle alike and each epoch differently)."""
        self.epoch = epoch
