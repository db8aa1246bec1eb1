"""``DataLoader`` as ``torch.utils.data.DataLoader``: batches from a dataset, in one process or
in worker processes, with PyTorch's samplers, draws, collation and argument rules.

Each ``iter(loader)`` first draws ``base_seed`` (one int64 from ``loader.generator``, else the
default generator), then the sampler draws, as in PyTorch; so the same seed gives the same
batches, with any number of workers. :meth:`DataLoader.state_dict` and
:meth:`DataLoader.load_state_dict` save and restore the position (the generator at the start
of the epoch and the batches taken) as a JSON-friendly dict, so a resumed run sees exactly
the batches an uninterrupted one would have.

A dataset with ``get_batch(indices)`` (TensorDataset, MNIST, FashionMNIST) is gathered with
one fancy index per batch when the collate function is a built-in one: the fast path gives
what collating the items would.
"""
from __future__ import annotations

import collections.abc
import contextlib
import copy
import math
import multiprocessing
import os
import warnings
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from ..random import Generator, resolve
from .dataset_utils import IterableDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler, draw_seed
from .workers import WorkerPool

_STATE_VERSION = 1


# -- numpy_collate: chainrule's NumPy batches -----------------------------------------------

def _leaf_array(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    data = getattr(value, "_data", None)
    if isinstance(data, np.ndarray):  # a Tensor
        return data
    return np.asarray(value)


def _normalize_dtype(batch: np.ndarray) -> np.ndarray:
    """float* -> float32; integers -> int64, except uint8 pixels (per-item ndim >= 1)."""
    kind = batch.dtype.kind
    if kind == "f":
        return batch.astype(np.float32, copy=False)
    if kind in "iu":
        if batch.dtype == np.uint8 and batch.ndim >= 2:
            return batch
        return batch.astype(np.int64, copy=False)
    if kind == "b":
        return batch
    raise TypeError(f"DataLoader: cannot batch items of dtype {batch.dtype} "
                    "(only numbers and bool)")


def _stack(samples: Sequence[Any], where: str) -> Any:
    first = samples[0]
    if isinstance(first, dict):
        for s in samples:
            if not isinstance(s, dict) or s.keys() != first.keys():
                raise ValueError(f"collate: items{where} are dicts with different keys: "
                                 f"{sorted(first)} and {sorted(s) if isinstance(s, dict) else s!r}")
        return {k: _stack([s[k] for s in samples], f"{where}[{k!r}]") for k in first}
    if isinstance(first, (tuple, list)):
        for s in samples:
            if not isinstance(s, (tuple, list)) or len(s) != len(first):
                raise ValueError(f"collate: items{where} have different lengths: {len(first)} and "
                                 f"{len(s) if isinstance(s, (tuple, list)) else s!r}")
        return tuple(_stack([s[i] for s in samples], f"{where}[{i}]") for i in range(len(first)))
    arrays = [_leaf_array(s) for s in samples]
    shapes = {a.shape for a in arrays}
    if len(shapes) > 1:
        raise ValueError(f"collate: cannot stack items{where} of different shapes "
                         f"{sorted(shapes)}; all items must have the same shape")
    return np.stack(arrays)


def _normalized(batch: Any) -> Any:
    if isinstance(batch, dict):
        return {k: _normalized(v) for k, v in batch.items()}
    if isinstance(batch, tuple):
        return tuple(_normalized(v) for v in batch)
    return _normalize_dtype(_leaf_array(batch))


def numpy_collate(samples: Sequence[Any]) -> Any:
    """Stack a list of items into NumPy batches (tuples and dicts are stacked field by field).

    chainrule's own collate (PyTorch has none): floating fields become float32, integer
    fields int64 (uint8 pixel arrays stay uint8; apply ``ToFloat`` for float32 images), bool
    stays bool.

    Args:
        samples: items as returned by ``dataset[i]``, all of the same structure and shapes.

    Returns:
        The batch, with the structure of one item (a tuple for tuple or list items).

    Example:
        >>> import numpy as np
        >>> x, y = numpy_collate([(np.ones(2), 0), (np.zeros(2), 1)])
        >>> x.dtype, x.shape, y.dtype, y.tolist()
        (dtype('float32'), (2, 2), dtype('int64'), [0, 1])
    """
    if len(samples) == 0:
        raise ValueError("collate: got an empty list of items")
    return _normalized(_stack(samples, ""))


# -- default_collate / default_convert: PyTorch's -------------------------------------------

_COLLATE_ERROR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or "
                  "lists; found {}")


def _is_text_array(a: np.ndarray) -> bool:
    return a.dtype.kind in "SaUO"  # strings and objects: not batched into tensors


def _rebuild(elem: Any, values: Any, as_dict: bool) -> Any:
    """A container of ``elem``'s type holding ``values`` (PyTorch's copy-then-fill rule)."""
    try:
        if as_dict:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update(values)
                return clone
            return type(elem)(values)
        if isinstance(elem, collections.abc.MutableSequence):
            clone = copy.copy(elem)
            for i, v in enumerate(values):
                clone[i] = v
            return clone
        return type(elem)(values)
    except TypeError:  # a container that cannot be copied or built from its values
        return dict(values) if as_dict else list(values)


def _collate_tensors(batch: Sequence[Any]) -> Any:
    from ..ops.shape import stack  # lazy: the data floor stays light

    return stack(list(batch), 0)


def _collate_leaves(batch: Sequence[Any]) -> Any:
    """Tensors, arrays, numbers and strings (None when ``batch[0]`` is none of these)."""
    from ..autograd.tensor import Tensor

    elem = batch[0]
    if isinstance(elem, Tensor):
        return _collate_tensors(batch)
    if isinstance(elem, np.ndarray):
        if _is_text_array(elem):
            raise TypeError(_COLLATE_ERROR.format(elem.dtype))
        return _collate_tensors([Tensor(np.asarray(b)) for b in batch])
    if isinstance(elem, (np.bool_, np.number, np.object_)):
        return Tensor(np.asarray(batch))
    if isinstance(elem, float):
        return Tensor(np.array(batch, dtype=np.float64))
    if isinstance(elem, int):  # bool included: PyTorch's torch.tensor(batch)
        arr = np.array(batch)
        return Tensor(arr.astype(np.float32) if arr.dtype.kind == "f" else arr)
    if isinstance(elem, (str, bytes)):
        return batch
    return None


def default_collate(batch: Sequence[Any]) -> Any:
    """Merge a list of items into a batch, as ``torch.utils.data.default_collate``.

    Tensors and NumPy arrays are stacked into a Tensor of their dtype; Python floats become
    a float64 Tensor, ints an int64 one (bools a bool one), NumPy scalars a Tensor of their
    dtype; strings stay a list; dicts, namedtuples, tuples and lists are collated field by
    field (a tuple item gives a list, as PyTorch's).

    Args:
        batch: items as returned by ``dataset[i]``, all of the same structure.

    Returns:
        The batch.

    Raises:
        TypeError: an item of another type (PyTorch's message).
        RuntimeError: sequences of different lengths.

    Example:
        >>> import numpy as np
        >>> x, y = default_collate([(np.ones(2, np.float32), 3), (np.zeros(2, np.float32), 4)])
        >>> x.shape, x.dtype, y.tolist(), y.dtype
        ((2, 2), dtype('float32'), [3, 4], dtype('int64'))
        >>> default_collate([{"w": 1.5, "s": "a"}, {"w": 2.5, "s": "b"}])
        {'w': tensor([1.5000, 2.5000], dtype=float64), 's': ['a', 'b']}
    """
    if len(batch) == 0:
        raise IndexError("default_collate: got an empty batch (no items to merge)")
    leaf = _collate_leaves(batch)
    if leaf is not None:
        return leaf
    elem = batch[0]
    if isinstance(elem, collections.abc.Mapping):
        return _rebuild(elem, {k: default_collate([d[k] for d in batch]) for k in elem}, True)
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # a namedtuple
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        if any(len(e) != len(elem) for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        fields = [default_collate(s) for s in zip(*batch)]
        return fields if isinstance(elem, tuple) else _rebuild(elem, fields, False)
    raise TypeError(_COLLATE_ERROR.format(type(elem)))


def default_convert(data: Any) -> Any:
    """Turn NumPy arrays and scalars (inside dicts, tuples and lists) into Tensors, without
    batching, as ``torch.utils.data.default_convert`` (the collate of ``batch_size=None``).

    Args:
        data: one item.

    Returns:
        The item with every numeric array a Tensor (a tuple becomes a list, as PyTorch's).

    Example:
        >>> import numpy as np
        >>> default_convert((np.arange(3), "label"))
        [tensor([0, 1, 2]), 'label']
    """
    from ..autograd.tensor import Tensor

    if isinstance(data, Tensor):
        return data
    if isinstance(data, (np.ndarray, np.bool_, np.number)):
        return data if isinstance(data, np.ndarray) and _is_text_array(data) else \
            Tensor(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return _rebuild(data, {k: default_convert(v) for k, v in data.items()}, True)
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _rebuild(data, [default_convert(d) for d in data], False)
    return data


# -- fetching a batch -----------------------------------------------------------------------

class _Fetcher:
    """Indices -> batch, in the main process or a worker (picklable: spawn sends it)."""

    def __init__(self, dataset: Any, iterable: bool, auto_collation: bool,
                 collate_fn: Callable, drop_last: bool) -> None:
        self.dataset, self.iterable = dataset, iterable
        self.auto_collation, self.collate_fn, self.drop_last = auto_collation, collate_fn, drop_last
        self.fast = (not iterable and auto_collation and hasattr(dataset, "get_batch")
                     and collate_fn in (default_collate, numpy_collate))
        self._it: Optional[Iterator[Any]] = None

    def start(self) -> None:
        """Begin an epoch (an IterableDataset's iterator starts again)."""
        self._it = iter(self.dataset) if self.iterable else None
        self._ended = False

    def fetch(self, index: Any) -> Any:
        if self.iterable:
            return self._fetch_stream(index)
        if self.fast:
            arrays = tuple(self.dataset.get_batch(np.asarray(index, dtype=np.int64)))
            if self.collate_fn is numpy_collate:
                return _normalized(arrays)
            from ..autograd.tensor import Tensor

            return [Tensor(a) for a in arrays]  # default_collate of tuple items: a list
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if callable(getattr(self.dataset, "__getitems__", None)):
            return self.collate_fn(self.dataset.__getitems__(index))
        return self.collate_fn([self.dataset[i] for i in index])

    def _fetch_stream(self, index: Any) -> Any:
        if self._it is None:
            self.start()
        if self._ended:
            raise StopIteration
        if not self.auto_collation:
            return self.collate_fn(next(self._it))
        data = []
        for _ in index:
            try:
                data.append(next(self._it))
            except StopIteration:
                self._ended = True
                break
        if not data or (self.drop_last and len(data) < len(index)):
            raise StopIteration
        return self.collate_fn(data)


class _InfiniteConstantSampler:
    """The sampler of an IterableDataset: None forever (the dataset decides when to stop)."""

    def __iter__(self) -> Iterator[None]:
        while True:
            yield None


def _int_arg(value: Any, name: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"DataLoader: {name} must be an int, got {value!r}")
    return int(value)


def _context(ctx: Any, num_workers: int) -> Any:
    """PyTorch's checks of ``multiprocessing_context``; returns a context or None."""
    if ctx is None:
        return None
    if num_workers == 0:
        raise ValueError(f"multiprocessing_context can only be used with multi-process loading "
                         f"(num_workers > 0), but got num_workers={num_workers}")
    if isinstance(ctx, str):
        methods = multiprocessing.get_all_start_methods()
        if ctx not in methods:
            raise ValueError(f"multiprocessing_context option should specify a valid start "
                             f"method in {methods!r}, but got multiprocessing_context={ctx!r}")
        ctx = multiprocessing.get_context(ctx)
    if not isinstance(ctx, multiprocessing.context.BaseContext):
        raise TypeError(f"multiprocessing_context option should be a valid context object or a "
                        f"string specifying the start method, but got "
                        f"multiprocessing_context={ctx}")
    return ctx


# -- the loader -----------------------------------------------------------------------------

class DataLoader:
    """Iterate over a dataset in batches, as ``torch.utils.data.DataLoader``.

    Args:
        dataset: a map-style dataset (``__getitem__`` and ``__len__``) or an
            ``IterableDataset``.
        batch_size: items per batch; None turns batching off (items one by one, through
            ``default_convert``).
        shuffle: reshuffle every epoch (a ``RandomSampler`` over ``generator``).
        sampler: the indices to draw (not with ``shuffle``).
        batch_sampler: yields lists of indices (not with ``batch_size``, ``shuffle``,
            ``sampler`` or ``drop_last``).
        num_workers: worker processes (0: load in the main process).
        collate_fn: merges a list of items into a batch; default :func:`default_collate`
            (Tensors); :func:`numpy_collate` gives NumPy arrays.
        pin_memory: accepted; there is no accelerator, so nothing is pinned (a warning).
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        timeout: seconds to wait for a batch from the workers (0: no limit).
        worker_init_fn: called as ``worker_init_fn(worker_id)`` in each worker, after seeding.
        multiprocessing_context: a start method (``"fork"``, ``"spawn"``, ``"forkserver"``)
            or a context; default: the platform's.
        generator: the ``chainrule.Generator`` for ``base_seed`` and the shuffling (default:
            the default generator).
        prefetch_factor: batches in flight per worker (default 2 with workers).
        persistent_workers: keep the workers alive between epochs.
        pin_memory_device: accepted, unused.
        in_order: return batches in sampler order (False: as the workers finish them).
        seed: chainrule's shorthand for ``generator=chainrule.Generator().manual_seed(seed)``.

    ``len(loader)`` is the number of batches per epoch.

    Example:
        >>> import chainrule as cr
        >>> from chainrule.data import TensorDataset
        >>> ds = TensorDataset(cr.arange(10.0), cr.arange(10))
        >>> def first_epoch(seed):
        ...     loader = DataLoader(ds, batch_size=4, shuffle=True,
        ...                         generator=cr.Generator().manual_seed(seed))
        ...     return len(loader), [y.tolist() for x, y in loader]
        >>> n, order = first_epoch(0)
        >>> n, [len(b) for b in order], sorted(sum(order, []))
        (3, [4, 4, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        >>> first_epoch(0) == (n, order)  # same seed, same order
        True
    """

    _initialized = False
    _FROZEN = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
               "persistent_workers")

    def __init__(self, dataset: Any, batch_size: Optional[int] = 1,
                 shuffle: Optional[bool] = None, sampler: Any = None, batch_sampler: Any = None,
                 num_workers: int = 0, collate_fn: Optional[Callable[[list], Any]] = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Optional[Callable[[int], None]] = None,
                 multiprocessing_context: Any = None, generator: Optional[Generator] = None,
                 *, prefetch_factor: Optional[int] = None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True,
                 seed: Optional[int] = None) -> None:
        num_workers = _int_arg(num_workers, "num_workers")
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             "disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        prefetch_factor = self._check_prefetch(prefetch_factor, num_workers)
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")
        if not (hasattr(dataset, "__getitem__") or isinstance(dataset, IterableDataset)):
            raise TypeError(f"DataLoader: dataset must have __getitem__ (and __len__) or be an "
                            f"IterableDataset, got {type(dataset).__name__}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {collate_fn!r}")
        generator = self._generator(generator, seed)
        self.dataset, self.num_workers, self.prefetch_factor = dataset, num_workers, prefetch_factor
        self.pin_memory, self.pin_memory_device = pin_memory, pin_memory_device
        self.timeout, self.worker_init_fn, self.in_order = timeout, worker_init_fn, in_order
        self.multiprocessing_context = _context(multiprocessing_context, num_workers)
        self._iterable = isinstance(dataset, IterableDataset)
        sampler, batch_sampler, batch_size, drop_last = self._samplers(
            dataset, batch_size, shuffle, sampler, batch_sampler, drop_last, generator)
        self.batch_size, self.drop_last = batch_size, drop_last
        self.sampler, self.batch_sampler, self.generator = sampler, batch_sampler, generator
        if collate_fn is None:
            collate_fn = default_collate if batch_sampler is not None else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers
        self._iterator: Optional[_DataLoaderIter] = None
        self._epochs_done = 0  # epochs whose batches were all taken
        self._in_epoch = False
        self._batches_done = 0
        self._epoch_start: tuple[Optional[dict], Optional[int]] = (None, None)
        self._resume: Optional[dict] = None  # set by load_state_dict for the next iter()
        self._current: Optional[object] = None  # the token of the iterator of the epoch
        self._initialized = True
        self._check_worker_number()

    # -- construction checks (PyTorch's rules and messages) ----------------------------------
    @staticmethod
    def _check_prefetch(prefetch_factor: Optional[int], num_workers: int) -> Optional[int]:
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            return 2
        if prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        return prefetch_factor

    @staticmethod
    def _generator(generator: Any, seed: Optional[int]) -> Optional[Generator]:
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: pass either generator or seed, not both")
        if seed is not None:
            if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
                raise ValueError(f"DataLoader: seed must be a non-negative int, got {seed!r}")
            return Generator().manual_seed(int(seed))
        return None if generator is None else resolve(generator, "DataLoader")

    def _samplers(self, dataset: Any, batch_size: Any, shuffle: Any, sampler: Any,
                  batch_sampler: Any, drop_last: bool, generator: Any) -> tuple:
        if self._iterable:
            if shuffle not in {False, None}:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError("batch_size=None option disables auto-batching and is mutually "
                                 "exclusive with drop_last")
        else:
            batch_size = _int_arg(batch_size, "batch_size")
            if batch_size <= 0:
                raise ValueError(f"DataLoader: batch_size must be > 0, got {batch_size}")
        if sampler is None:
            if self._iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)
        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, bool(drop_last))
        return sampler, batch_sampler, batch_size, bool(drop_last)

    def _check_worker_number(self) -> None:
        if self.num_workers == 0:
            return
        try:
            cpus = len(os.sched_getaffinity(0))
        except AttributeError:  # not Linux
            cpus = os.cpu_count() or 0
        if self.num_workers > cpus:
            warnings.warn(f"This DataLoader will create {self.num_workers} worker processes in "
                          f"total. Our suggested max number of worker in current system is "
                          f"{cpus}, which is smaller than what this DataLoader is going to "
                          "create. Please be aware that excessive worker creation might get "
                          "DataLoader running slow or even freeze, lower the worker number to "
                          "avoid potential slowness/freeze if necessary.", stacklevel=3)

    def __setattr__(self, attr: str, value: Any) -> None:
        if self._initialized and attr in self._FROZEN:
            raise ValueError(f"{attr} attribute should not be set after {type(self).__name__} "
                             "is initialized")
        super().__setattr__(attr, value)

    # -- iteration ---------------------------------------------------------------------------
    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Any:
        return self.batch_sampler if self._auto_collation else self.sampler

    def _fetcher(self) -> _Fetcher:
        return _Fetcher(self.dataset, self._iterable, self._auto_collation, self.collate_fn,
                        self.drop_last)

    def __iter__(self) -> "_DataLoaderIter":
        if self.pin_memory:
            warnings.warn("'pin_memory' argument is set as true but no accelerator is found, "
                          "then device pinned memory won't be used.", stacklevel=2)
        if self.persistent_workers and self._iterator is not None:
            self._iterator._reset()
            return self._iterator
        it = _DataLoaderIter(self)
        if self.persistent_workers:
            self._iterator = it
        return it

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)
            if self.batch_size is not None:
                n = n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
            return n
        return len(self._index_sampler)

    @property
    def epoch(self) -> int:
        """Number of epochs fully iterated (restored by :meth:`load_state_dict`)."""
        return self._epochs_done

    # -- the draws of an epoch, and replaying them -------------------------------------------
    def _stream(self) -> Generator:
        return resolve(self.generator, "DataLoader")

    @contextlib.contextmanager
    def _epoch_draws(self) -> Iterator[Optional[dict]]:
        """Around the draws that begin an epoch; yields the resume state (or None).

        A resumed epoch draws from the saved state: the loader's own generator is set to it;
        without one, the default generator runs from it and then goes back to where it was
        (its own position is the caller's to restore, as with ``torch.set_rng_state``).
        """
        resume, self._resume = self._resume, None
        saved = resume["generator"] if resume else None
        stream = self._stream()
        if saved is None:
            yield resume
            return
        if self.generator is not None:
            stream.set_state(saved)
            yield resume
            return
        current = stream.get_state()
        stream.set_state(saved)
        try:
            yield resume
        finally:
            stream.set_state(current)

    def _state_of_stream(self) -> dict:
        return _jsonable(self._stream().get_state()["bit_generator"])

    def _begin_epoch(self, it: "_DataLoaderIter", start_state: dict,
                     reused_seed: Optional[int]) -> None:
        """``it`` starts an epoch: from now on its batches are the loader's position."""
        self._current = it._token = object()
        self._in_epoch, self._batches_done = True, 0
        self._epoch_start = (start_state, reused_seed)

    def _took_batch(self, it: "_DataLoaderIter") -> None:
        if it._token is self._current:
            self._batches_done = it._num_yielded

    def _end_epoch(self, it: "_DataLoaderIter") -> None:
        if it._token is self._current and self._in_epoch:
            self._in_epoch, self._batches_done = False, 0
            self._epochs_done += 1

    # -- resumable state ---------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The position as a JSON-friendly dict (ints, bools, strings, nested dicts).

        Taken between epochs it resumes at the next epoch; taken inside an epoch it records
        the generator state at the start of that epoch and the number of batches already
        yielded, so the resumed loader yields the rest of the same epoch. ``generator`` is
        None between epochs of a loader without its own generator (the next epoch draws from
        the default generator, whose state the caller saves).

        Example:
            >>> import json, chainrule as cr
            >>> from chainrule.data import TensorDataset
            >>> ds = TensorDataset(cr.arange(6))
            >>> a = DataLoader(ds, batch_size=2, shuffle=True, seed=1)
            >>> _ = list(a)  # one epoch
            >>> b = DataLoader(ds, batch_size=2, shuffle=True, seed=99)
            >>> b.load_state_dict(json.loads(json.dumps(a.state_dict())))
            >>> [x.tolist() for (x,) in a] == [x.tolist() for (x,) in b]
            True
        """
        if self._iterable:
            raise TypeError("DataLoader.state_dict: an IterableDataset's position cannot be "
                            "saved (only map-style datasets)")
        live = self._iterator._base_seed if self._iterator is not None else None
        if self._in_epoch and self._batches_done < len(self):  # inside an epoch
            epoch, done = self._epochs_done, self._batches_done
            gen, base_seed = self._epoch_start
        else:  # between epochs (or the last batch taken, the loop not ended yet)
            epoch, done, base_seed = self._epochs_done + self._in_epoch, 0, live
            gen = self._state_of_stream() if self.generator is not None else None
        return {
            "version": _STATE_VERSION,
            "dataset_len": len(self.dataset),
            "batch_size": self.batch_size,
            "shuffle": isinstance(self.sampler, RandomSampler),
            "drop_last": self.drop_last,
            "epoch": epoch,
            "batches_done": done,
            "generator": gen,
            "base_seed": base_seed,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; the next ``iter(loader)`` resumes there.

        Raises:
            ValueError: the state is malformed or was taken with another dataset size,
                batch size, shuffle or drop_last setting (the batches would differ).
        """
        _check_state(self, state)
        if state["generator"] is not None:
            try:  # checks the state on a scratch generator before keeping it
                Generator().set_state(state["generator"])
            except (TypeError, ValueError, KeyError) as exc:
                raise ValueError(f"DataLoader.load_state_dict: bad generator state for "
                                 f"PCG64: {exc}") from exc
        self._epochs_done = state["epoch"]
        self._resume = {"generator": state["generator"], "skip": state["batches_done"],
                        "base_seed": state.get("base_seed")}
        self._in_epoch, self._batches_done, self._epoch_start = False, 0, (None, None)
        if self._iterator is not None:  # persistent workers: the next epoch starts afresh
            self._iterator._shutdown()
            self._iterator = None


def _jsonable(value: Any) -> Any:
    """Generator states may hold NumPy scalars or arrays: make them plain Python."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _check_state(loader: DataLoader, state: Any) -> None:
    """Every check of :meth:`DataLoader.load_state_dict`, before anything changes."""
    op = "DataLoader.load_state_dict"
    if not isinstance(state, dict):
        raise TypeError(f"{op}: expected a dict, got {type(state).__name__}")
    required = ("version", "dataset_len", "batch_size", "shuffle", "drop_last", "epoch",
                "batches_done", "generator")
    missing = [k for k in required if k not in state]
    if missing:
        raise ValueError(f"{op}: missing keys {missing}")
    if state["version"] != _STATE_VERSION:
        raise ValueError(f"{op}: unsupported version {state['version']!r}, expected "
                         f"{_STATE_VERSION}")
    mine = {"dataset_len": len(loader.dataset), "batch_size": loader.batch_size,
            "shuffle": isinstance(loader.sampler, RandomSampler), "drop_last": loader.drop_last}
    for key, value in mine.items():
        if state[key] != value:
            raise ValueError(f"{op}: the state was saved with {key}={state[key]!r} but this "
                             f"loader has {key}={value!r}; the batches would differ")
    epoch, done = state["epoch"], state["batches_done"]
    for key, value in (("epoch", epoch), ("batches_done", done)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{op}: {key} must be an int >= 0, got {value!r}")
    if done >= max(len(loader), 1):
        raise ValueError(f"{op}: batches_done={done} but an epoch has {len(loader)} batches")
    if done > 0 and state["generator"] is None and loader.generator is None \
            and isinstance(loader.sampler, RandomSampler):
        raise ValueError(f"{op}: a state inside an epoch needs the generator state of its start")
    base_seed = state.get("base_seed")
    if base_seed is not None:
        if isinstance(base_seed, bool) or not isinstance(base_seed, int) \
                or not 0 <= base_seed < 2 ** 63:
            raise ValueError(f"{op}: base_seed must be an int in [0, 2**63) or None, got "
                             f"{base_seed!r}")
        if not loader.persistent_workers:
            raise ValueError(f"{op}: the state was saved by a loader with persistent workers "
                             "(its epochs reuse one base_seed); this loader has none")


class _DataLoaderIter:
    """What ``iter(loader)`` returns: one epoch of batches (more with persistent workers)."""

    def __init__(self, loader: DataLoader) -> None:
        self._loader = loader
        self._pool: Optional[WorkerPool] = None
        with loader._epoch_draws() as resume:
            start = resume["generator"] if resume else None
            start = start if start is not None else loader._state_of_stream()
            self._sampler_iter = iter(loader._index_sampler)  # PyTorch's order: then the seed
            reused = resume["base_seed"] if resume else None
            self._base_seed = reused if reused is not None else draw_seed(loader.generator,
                                                                          "DataLoader")
            self._skip(resume["skip"] if resume else 0)
        loader._begin_epoch(self, start, reused)
        self._fetcher = loader._fetcher()
        self._fetcher.start()
        if loader.num_workers > 0:
            self._pool = WorkerPool(
                self._fetcher, loader.num_workers, self._base_seed, loader.worker_init_fn,
                loader.multiprocessing_context, loader.prefetch_factor, loader.timeout,
                loader.in_order, loader.persistent_workers)
            self._pool.start_epoch(self._sampler_iter)
        elif loader.timeout > 0:
            raise AssertionError("DataLoader: timeout > 0 needs num_workers > 0 (the time to "
                                 "wait for a worker's batch)")

    def _skip(self, skip: int) -> None:
        """Pass ``skip`` batches of the sampler (a resumed epoch) and take the next one now,
        so that every draw of the sampler happens from the replayed state."""
        self._num_yielded = skip
        if skip == 0:
            return
        for _ in range(skip):
            next(self._sampler_iter, None)
        first = next(self._sampler_iter, _END)
        rest = self._sampler_iter
        self._sampler_iter = rest if first is _END else _chain_first(first, rest)

    def _reset(self) -> None:
        """A new epoch on the same (persistent) workers: the sampler draws, no new seed."""
        loader = self._loader
        with loader._epoch_draws() as resume:
            start = resume["generator"] if resume else None
            start = start if start is not None else loader._state_of_stream()
            self._sampler_iter = iter(loader._index_sampler)
            self._skip(resume["skip"] if resume else 0)
        loader._begin_epoch(self, start, self._base_seed)
        if self._pool is not None:  # always: only persistent workers reset
            self._pool.start_epoch(self._sampler_iter)

    def __iter__(self) -> "_DataLoaderIter":
        return self

    def __len__(self) -> int:
        return len(self._loader)

    def __next__(self) -> Any:
        try:
            if self._pool is not None:
                data = self._pool.next()
            else:
                data = self._fetcher.fetch(next(self._sampler_iter))
        except StopIteration:
            self._loader._end_epoch(self)
            raise
        self._num_yielded += 1
        self._loader._took_batch(self)
        return data

    def _shutdown(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()

    def __del__(self) -> None:
        if getattr(self, "_pool", None) is not None:
            self._pool.shutdown()


_END = object()


def _chain_first(first: Any, rest: Iterator[Any]) -> Iterator[Any]:
    yield first
    yield from rest
