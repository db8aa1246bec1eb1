"""``DataLoader``: batches from a dataset, in order or shuffled by a seeded NumPy generator.

Shuffling draws one permutation per epoch from a ``numpy.random.Generator``; the same seed gives
the same sequence of epochs, and :meth:`DataLoader.state_dict` / :meth:`DataLoader.load_state_dict`
save and restore the generator (and the position inside an epoch) as a JSON-friendly dict, so
a resumed run sees exactly the batches an uninterrupted one would have.
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

_STATE_VERSION = 1


# -- collate ---------------------------------------------------------------------------------

def _leaf_array(value: Any) -> np.ndarray:
    if isinstance(value, np.ndarray):
        return value
    data = getattr(value, "data", None)
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


def _finish(batch: Any, to_tensor: bool) -> Any:
    if isinstance(batch, dict):
        return {k: _finish(v, to_tensor) for k, v in batch.items()}
    if isinstance(batch, tuple):
        return tuple(_finish(v, to_tensor) for v in batch)
    batch = _normalize_dtype(_leaf_array(batch))
    if to_tensor:
        from chainrule.autograd.tensor import Tensor  # lazy: the data floor stays light

        return Tensor(batch)
    return batch


def numpy_collate(samples: Sequence[Any]) -> Any:
    """Stack a list of items into NumPy batches (tuples and dicts are stacked field by field).

    Floating fields become float32, integer fields int64 (uint8 pixel arrays stay uint8;
    apply ``ToFloat`` for float32 images), bool stays bool.

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
    return _finish(_stack(samples, ""), to_tensor=False)


def default_collate(samples: Sequence[Any]) -> Any:
    """Like :func:`numpy_collate`, but each batched array is wrapped in a ``chainrule.Tensor``
    (no copy: ``tensor._data`` is the array). Images come out float32, labels int64.

    Args:
        samples: items as returned by ``dataset[i]``.

    Returns:
        The batch of Tensors, with the structure of one item.

    Example:
        >>> import numpy as np
        >>> x, y = default_collate([(np.ones(2, np.float32), 3)])
        >>> x._data.dtype, y._data.tolist()
        (dtype('float32'), [3])
    """
    if len(samples) == 0:
        raise ValueError("collate: got an empty list of items")
    return _finish(_stack(samples, ""), to_tensor=True)


# -- the loader ------------------------------------------------------------------------------

def _jsonable(value: Any) -> Any:
    """Generator states hold ndarrays for some bit generators (MT19937): make them lists."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def _global_seed() -> Optional[int]:
    """``chainrule.initial_seed()`` when the package defines it, else None."""
    package = sys.modules.get("chainrule")
    fn = getattr(package, "initial_seed", None)
    if callable(fn):
        try:
            return int(fn())
        except Exception:  # a global seed is a convenience, never a reason to fail
            return None
    return None


class DataLoader:
    """Iterate over a dataset in batches, optionally shuffled.

    Args:
        dataset: anything with ``__len__`` and ``__getitem__``. When it also has
            ``get_batch(indices)`` (TensorDataset, MNIST, FashionMNIST) and ``collate_fn`` is a
            built-in one, each batch is gathered with one fancy index instead of a Python loop.
        batch_size: items per batch (> 0).
        shuffle: draw a new permutation of the items at the start of every epoch.
        drop_last: drop the last batch when it is smaller than ``batch_size``.
        collate_fn: turns a list of items into a batch; default :func:`default_collate`
            (Tensors). :func:`numpy_collate` gives NumPy arrays.
        generator: the ``numpy.random.Generator`` to shuffle with (shared, not copied).
        seed: seed of a new generator when ``generator`` is None. With neither, the seed is
            ``chainrule.initial_seed()`` if defined, else fresh OS entropy.

    ``len(loader)`` is the number of batches per epoch.

    Example:
        >>> import numpy as np
        >>> from chainrule.data import TensorDataset
        >>> ds = TensorDataset(np.arange(10, dtype=np.float32), np.arange(10))
        >>> def first_epoch(seed):
        ...     loader = DataLoader(ds, batch_size=4, shuffle=True, seed=seed,
        ...                         collate_fn=numpy_collate)
        ...     return len(loader), [y.tolist() for x, y in loader]
        >>> n, order = first_epoch(0)
        >>> n, [len(b) for b in order], sorted(sum(order, []))
        (3, [4, 4, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
        >>> first_epoch(0) == (n, order)  # same seed, same order
        True
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, collate_fn: Optional[Callable[[list], Any]] = None,
                 generator: Optional[np.random.Generator] = None,
                 seed: Optional[int] = None) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"DataLoader: batch_size must be an int, got {batch_size!r}")
        if batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size must be > 0, got {batch_size}")
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise TypeError(f"DataLoader: dataset must have __len__ and __getitem__, got "
                            f"{type(dataset).__name__}")
        if collate_fn is not None and not callable(collate_fn):
            raise TypeError(f"DataLoader: collate_fn must be callable, got {collate_fn!r}")
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: pass either generator or seed, not both")
        if generator is not None and not isinstance(generator, np.random.Generator):
            raise TypeError(f"DataLoader: generator must be a numpy.random.Generator, got "
                            f"{type(generator).__name__}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or seed < 0):
            raise ValueError(f"DataLoader: seed must be a non-negative int, got {seed!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn if collate_fn is not None else default_collate
        if generator is None:
            generator = np.random.default_rng(seed if seed is not None else _global_seed())
        self.generator = generator
        self._fast = (hasattr(dataset, "get_batch")
                      and self.collate_fn in (default_collate, numpy_collate))
        self._to_tensor = self.collate_fn is default_collate
        self._epochs_done = 0  # epochs whose permutation was drawn and fully consumed
        self._in_epoch = False
        self._epoch_start_state: Optional[dict] = None
        self._batches_done = 0
        self._skip = 0  # batches to skip in the next epoch (set by load_state_dict)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def epoch(self) -> int:
        """Number of epochs fully iterated (restored by :meth:`load_state_dict`)."""
        return self._epochs_done

    def _fetch(self, indices: np.ndarray) -> Any:
        if self._fast:
            return _finish(tuple(self.dataset.get_batch(indices)), self._to_tensor)
        return self.collate_fn([self.dataset[int(i)] for i in indices])

    def __iter__(self) -> Iterator[Any]:
        n = len(self.dataset)
        start_state = self.generator.bit_generator.state  # a fresh dict
        order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        skip, self._skip = self._skip, 0
        self._in_epoch, self._epoch_start_state, self._batches_done = True, start_state, skip
        bs = self.batch_size
        for b in range(skip, len(self)):
            batch = self._fetch(order[b * bs:(b + 1) * bs])
            self._batches_done = b + 1
            yield batch
        self._in_epoch, self._batches_done = False, 0
        self._epochs_done += 1

    def state_dict(self) -> dict[str, Any]:
        """The shuffling state as a JSON-friendly dict (ints, bools, strings, nested dicts).

        Taken between epochs it resumes at the next epoch; taken inside an epoch it records the
        generator state at the start of that epoch and the number of batches already yielded,
        so the resumed loader yields the rest of the same epoch.

        Example:
            >>> import json, numpy as np
            >>> from chainrule.data import TensorDataset
            >>> ds = TensorDataset(np.arange(6))
            >>> a = DataLoader(ds, batch_size=2, shuffle=True, seed=1, collate_fn=numpy_collate)
            >>> _ = list(a)  # one epoch
            >>> b = DataLoader(ds, batch_size=2, shuffle=True, seed=99, collate_fn=numpy_collate)
            >>> b.load_state_dict(json.loads(json.dumps(a.state_dict())))
            >>> [x.tolist() for (x,) in a] == [x.tolist() for (x,) in b]
            True
        """
        if self._in_epoch and self._batches_done < len(self):  # inside an epoch
            epoch, done, gen = self._epochs_done, self._batches_done, self._epoch_start_state
        elif self._in_epoch:  # the last batch was taken but the loop has not ended yet
            epoch, done, gen = self._epochs_done + 1, 0, self.generator.bit_generator.state
        else:
            epoch, done, gen = self._epochs_done, 0, self.generator.bit_generator.state
        return {
            "version": _STATE_VERSION,
            "dataset_len": len(self.dataset),
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
            "epoch": epoch,
            "batches_done": done,
            "generator": _jsonable(gen),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned; the next ``iter(loader)`` resumes there.

        Raises:
            ValueError: the state is malformed or was taken with another dataset size,
                batch size, shuffle or drop_last setting (the batches would differ).
        """
        if not isinstance(state, dict):
            raise TypeError(f"DataLoader.load_state_dict: expected a dict, got "
                            f"{type(state).__name__}")
        required = ("version", "dataset_len", "batch_size", "shuffle", "drop_last", "epoch",
                    "batches_done", "generator")
        missing = [k for k in required if k not in state]
        if missing:
            raise ValueError(f"DataLoader.load_state_dict: missing keys {missing}")
        if state["version"] != _STATE_VERSION:
            raise ValueError(f"DataLoader.load_state_dict: unsupported version "
                             f"{state['version']!r}, "
                             f"expected {_STATE_VERSION}")
        mine = {"dataset_len": len(self.dataset), "batch_size": self.batch_size,
                "shuffle": self.shuffle, "drop_last": self.drop_last}
        for key, value in mine.items():
            if state[key] != value:
                raise ValueError(
                    f"DataLoader.load_state_dict: the state was saved with {key}={state[key]!r} "
                    f"but this loader has {key}={value!r}; the batches would differ")
        epoch, done = state["epoch"], state["batches_done"]
        for key, value in (("epoch", epoch), ("batches_done", done)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"DataLoader.load_state_dict: {key} must be an int >= 0, "
                                 f"got {value!r}")
        if done >= max(len(self), 1):
            raise ValueError(f"DataLoader.load_state_dict: batches_done={done} but an epoch has "
                             f"{len(self)} batches")
        try:
            self.generator.bit_generator.state = state["generator"]
        except (TypeError, ValueError, KeyError) as exc:
            raise ValueError(f"DataLoader.load_state_dict: bad generator state for "
                             f"{type(self.generator.bit_generator).__name__}: {exc}") from exc
        self._epochs_done, self._skip = epoch, done
        self._in_epoch, self._batches_done, self._epoch_start_state = False, 0, None
