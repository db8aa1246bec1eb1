"""Worker processes of the ``DataLoader`` (``num_workers > 0``), as PyTorch's.

Each worker is a process that receives ``(task, indices)`` on its own queue, fetches and
collates the batch, and sends ``(task, payload)`` back on one shared result queue; the main
process hands tasks out round-robin, keeps ``prefetch_factor`` per worker in flight and
returns the batches in task order (``in_order=True``), so the batches are those of
``num_workers=0``. Worker ``i`` is seeded as in PyTorch: Python's ``random`` and chainrule's
default generator with ``base_seed + i``, NumPy's legacy global generator with PyTorch's
``_generate_state(base_seed, i)``; ``worker_init_fn(i)`` then runs in the worker.

Batches cross the process boundary as pickled NumPy arrays (Tensors are unwrapped in the
worker and wrapped again in the main process); the pickling happens in the worker, so a
batch that cannot be pickled is an error reported like any other. A worker's exception
reaches the main process as PyTorch's: ``Caught ValueError in DataLoader worker process 0.
Original Traceback (most recent call last): ...``. Workers are daemons, watch their parent
(a worker whose parent died exits within a second) and are stopped and joined when the
iterator ends, is deleted, or the interpreter exits (before multiprocessing's own exit
handler terminates them).
"""
from __future__ import annotations

import atexit
import itertools
import multiprocessing
import multiprocessing.util  # registers its exit handler now, before ours (see _at_exit)
import os
import pickle
import queue
import random
import sys
import traceback
import weakref
from dataclasses import dataclass
from multiprocessing.reduction import ForkingPickler
from typing import Any, Iterator, Optional

STATUS_INTERVAL = 1.0
"""Seconds between checks that the workers (or, in a worker, the parent) are alive."""

_exiting = False
_live_pools: "weakref.WeakSet[WorkerPool]" = weakref.WeakSet()


def _at_exit() -> None:
    """Stop the live pools while their workers still run. Registered after multiprocessing's
    own exit handler, so it runs first: that one terminates daemon workers, and a worker
    terminated inside ``done_event.is_set()`` would leave the event's lock held, so a later
    ``shutdown`` (from ``__del__``) would wait on it forever."""
    global _exiting
    _exiting = True
    for pool in list(_live_pools):
        pool.shutdown()


atexit.register(_at_exit)


# -- what a worker knows about itself -------------------------------------------------------

@dataclass(frozen=True)
class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker.

    Attributes:
        id: this worker's index, in ``[0, num_workers)``.
        num_workers: how many workers the loader runs.
        seed: the seed this worker was given (``base_seed + id``).
        dataset: this process's copy of the dataset.

    Example:
        >>> WorkerInfo(id=0, num_workers=2, seed=5, dataset=[]).num_workers
        2
    """

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: Optional[WorkerInfo] = None


def get_worker_info() -> Optional[WorkerInfo]:
    """The :class:`WorkerInfo` of the current ``DataLoader`` worker; None in the main process.

    Use it in a dataset's ``__iter__`` (or in ``worker_init_fn``) to give each worker its
    share of an ``IterableDataset``.

    Example:
        >>> get_worker_info() is None  # the main process
        True
    """
    return _worker_info


# -- exceptions across processes ------------------------------------------------------------

class ExceptionWrapper:
    """An exception and its traceback text, carried from a worker to the main process.

    Args:
        exc_info: ``sys.exc_info()`` of the exception (default: the one being handled).
        where: where it happened (``"in DataLoader worker process 0"``).

    Example:
        >>> try:
        ...     raise ValueError("bad item")
        ... except ValueError:
        ...     wrapped = ExceptionWrapper(where="in DataLoader worker process 0")
        >>> try:
        ...     wrapped.reraise()
        ... except ValueError as exc:
        ...     str(exc).splitlines()[0]
        'Caught ValueError in DataLoader worker process 0.'
    """

    def __init__(self, exc_info: Any = None, where: str = "in background") -> None:
        exc_info = exc_info if exc_info is not None else sys.exc_info()
        self.exc_type = exc_info[0]
        self.exc_msg = "".join(traceback.format_exception(*exc_info))
        self.where = where

    def reraise(self) -> None:
        """Raise the exception again, its message holding the original traceback."""
        msg = f"Caught {self.exc_type.__name__} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:  # KeyError shows repr() of its argument
            msg = _KeyErrorMessage(msg)
        try:
            exception = self.exc_type(msg)
        except Exception:  # an exception class that takes other arguments
            raise RuntimeError(msg) from None
        raise exception


class _KeyErrorMessage(str):
    """A str whose repr is itself (so a KeyError prints the traceback readably)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return self


@dataclass(frozen=True)
class _ResumeIteration:
    """Sent to persistent workers at the start of a new epoch."""


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    """A worker's copy of an IterableDataset is exhausted."""

    worker_id: int


# -- batches as arrays ----------------------------------------------------------------------

@dataclass(frozen=True)
class _TensorBox:
    array: Any
    requires_grad: bool


def _map_batch(batch: Any, leaf: Any) -> Any:
    """``batch`` with ``leaf`` applied to every object that is not a dict, list or tuple."""
    if isinstance(batch, dict):
        out = {k: _map_batch(v, leaf) for k, v in batch.items()}
        try:
            return out if type(batch) is dict else type(batch)(out)
        except TypeError:  # a mapping type that cannot be built from a dict
            return out
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):  # a namedtuple
        return type(batch)(*(_map_batch(v, leaf) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_map_batch(v, leaf) for v in batch)
    return leaf(batch)


def _pack(batch: Any) -> bytes:
    """A batch as bytes: every Tensor replaced by its array, then pickled (in the worker)."""
    from ..autograd.tensor import Tensor  # lazy: the data floor stays light

    def box(x: Any) -> Any:
        return _TensorBox(x._data, bool(x.requires_grad)) if isinstance(x, Tensor) else x

    return bytes(ForkingPickler.dumps(_map_batch(batch, box)))


def _unpack(payload: bytes) -> Any:
    """The batch :func:`_pack` sent (in the main process; an in-memory message, no file)."""
    from ..autograd.tensor import Tensor

    def unbox(x: Any) -> Any:
        return Tensor(x.array, requires_grad=x.requires_grad) if isinstance(x, _TensorBox) else x

    return _map_batch(pickle.loads(payload), unbox)


# -- the worker process ---------------------------------------------------------------------

def _generate_state(base_seed: int, worker_id: int) -> list[int]:
    """PyTorch's seed of NumPy's legacy generator in a worker (``_utils/worker.py``)."""
    init_a, mult_a, init_b, mult_b = 0x43B0D7E5, 0x931E8875, 0x8B51F9DD, 0x58F38DED
    mix_l, mix_r, shift, mask = 0xCA01F9DD, 0x4973F715, 16, 0xFFFFFFFF
    entropy = [worker_id, base_seed & mask, base_seed >> 32, 0]
    const_a = [init_a]

    def hash32(value: int) -> int:
        value = (value ^ const_a[0]) & mask
        const_a[0] = (const_a[0] * mult_a) & mask
        value = (value * const_a[0]) & mask
        return (value ^ (value >> shift)) & mask

    def mix(x: int, y: int) -> int:
        r = (((mix_l * x) & mask) - ((mix_r * y) & mask)) & mask
        return (r ^ (r >> shift)) & mask

    pool = [hash32(e) for e in entropy]
    for src in range(4):
        for dst in range(4):
            if src != dst:
                pool[dst] = mix(pool[dst], hash32(pool[src]))
    const_b, state = init_b, []
    for value in pool:
        value = (value ^ const_b) & mask
        const_b = (const_b * mult_b) & mask
        value = (value * const_b) & mask
        state.append((value ^ (value >> shift)) & mask)
    return state


def _seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed this process as PyTorch seeds a worker; returns the worker's seed."""
    import numpy

    from ..backend import set_num_threads
    from ..random import manual_seed

    set_num_threads(1)
    seed = base_seed + worker_id
    random.seed(seed)
    manual_seed(seed)
    # NumPy's legacy global generator, seeded as PyTorch (>= 1.9) does, so that datasets
    # calling numpy.random in several workers do not repeat each other's numbers
    numpy.random.seed(_generate_state(base_seed, worker_id))
    return seed


def _worker_loop(fetcher: Any, index_queue: Any, data_queue: Any, done_event: Any,
                 base_seed: int, init_fn: Any, worker_id: int, num_workers: int) -> None:
    """The body of worker ``worker_id`` (PyTorch's ``_worker_loop``)."""
    global _worker_info
    try:
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(worker_id, num_workers, seed, fetcher.dataset)
        where = f"in DataLoader worker process {worker_id}"
        init_error = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher.start()
        except Exception:
            init_error = ExceptionWrapper(where=where)
        iteration_end = False
        parent = os.getppid()
        while os.getppid() == parent:  # the parent is alive
            try:
                r = index_queue.get(timeout=STATUS_INTERVAL)
            except queue.Empty:
                continue
            if isinstance(r, _ResumeIteration):
                data_queue.put((r, None))
                iteration_end = False
                fetcher.start()
                continue
            if r is None:  # the main process says stop
                break
            if done_event.is_set() or iteration_end:
                continue
            idx, index = r
            if init_error is not None:
                data, init_error = init_error, None
            else:
                try:
                    data = _pack(fetcher.fetch(index))
                except StopIteration:
                    if not fetcher.iterable:
                        data = ExceptionWrapper(where=where)
                    else:
                        data, iteration_end = _IterableDatasetStopIteration(worker_id), True
                except Exception:
                    data = ExceptionWrapper(where=where)
            data_queue.put((idx, data))
            del data, idx, index, r  # free the batch before waiting
    except KeyboardInterrupt:  # Ctrl-C reaches the workers too: the main process cleans up
        pass
    if done_event.is_set():
        data_queue.cancel_join_thread()
        data_queue.close()


# -- the pool, in the main process ----------------------------------------------------------

class WorkerPool:
    """``num_workers`` worker processes and the bookkeeping that returns their batches in
    order (PyTorch's ``_MultiProcessingDataLoaderIter``, without the sampler).

    Args:
        fetcher: turns indices into a batch (``fetch``), ``start()`` before each epoch,
            ``dataset`` and ``iterable`` attributes; pickled to each worker under ``spawn``.
        num_workers: worker processes (> 0).
        base_seed: worker ``i`` is seeded with ``base_seed + i``.
        worker_init_fn: called as ``worker_init_fn(i)`` in worker ``i``, after seeding.
        context: a ``multiprocessing`` context (default: the platform's default).
        prefetch_factor: batches in flight per worker (> 0).
        timeout: seconds to wait for a batch (0: forever, checking the workers are alive).
        in_order: return batches in sampler order; False returns them as they arrive.
        persistent: keep the workers for the next epoch (:meth:`start_epoch`).

    Example:
        >>> class Twice:  # a fetcher
        ...     dataset, iterable = None, False
        ...     def start(self): pass
        ...     def fetch(self, index): return [2 * i for i in index]
        >>> pool = WorkerPool(Twice(), 2, base_seed=0)
        >>> pool.start_epoch(iter([[0, 1], [2], [3]]))
        >>> [pool.next(), pool.next(), pool.next()]
        [[0, 2], [4], [6]]
        >>> pool.shutdown()
    """

    def __init__(self, fetcher: Any, num_workers: int, base_seed: int,
                 worker_init_fn: Any = None, context: Any = None, prefetch_factor: int = 2,
                 timeout: float = 0, in_order: bool = True, persistent: bool = False) -> None:
        ctx = context if context is not None else multiprocessing.get_context()
        # the process that owns the workers: only it may stop them (a forked child, e.g.
        # another loader's worker, inherits this object and may collect it: it leaves it be)
        self._owner_pid = os.getpid()
        _live_pools.add(self)
        self._num_workers, self._prefetch = num_workers, prefetch_factor
        self._timeout, self._in_order, self._persistent = timeout, in_order, persistent
        self._iterable = fetcher.iterable
        self._shutdown = False
        self._workers: list[Any] = []
        self._index_queues: list[Any] = []
        self._result_queue = ctx.Queue()
        self._done_event = ctx.Event()
        try:
            for i in range(num_workers):
                index_queue = ctx.Queue()
                index_queue.cancel_join_thread()
                w = ctx.Process(target=_worker_loop, daemon=True,
                                args=(fetcher, index_queue, self._result_queue,
                                      self._done_event, base_seed, worker_init_fn, i,
                                      num_workers))
                w.start()
                self._index_queues.append(index_queue)
                self._workers.append(w)
        except BaseException:
            self.shutdown()
            raise
        self._first_epoch = True

    @property
    def pids(self) -> list[int]:
        """The workers' process ids."""
        return [w.pid for w in self._workers]

    def start_epoch(self, index_iter: Iterator[Any]) -> None:
        """Take tasks from ``index_iter`` (batches of indices) and start prefetching them."""
        self._index_iter = index_iter
        self._send_idx = self._rcvd_idx = self._outstanding = 0
        self._task_info: dict[int, tuple] = {}
        self._status = [True] * self._num_workers
        self._num_tasks = [0] * self._num_workers
        self._cycle = itertools.cycle(range(self._num_workers))
        if not self._first_epoch:  # persistent workers: restart them, wait for each to say so
            for q in self._index_queues:
                q.put(_ResumeIteration())
            pending = self._num_workers
            while pending > 0:
                idx, _ = self._get()
                pending -= isinstance(idx, _ResumeIteration)
        self._first_epoch = False
        for _ in range(self._prefetch * self._num_workers):
            self._try_put_index()

    # -- receiving ----------------------------------------------------------------------------
    def _try_get(self, timeout: float) -> tuple[bool, Any]:
        try:
            return True, self._result_queue.get(timeout=timeout)
        except queue.Empty:
            dead = [w for i, w in enumerate(self._workers)
                    if self._status[i] and not w.is_alive()]
            if dead:
                for i, w in enumerate(self._workers):
                    if w in dead:
                        self._mark_unavailable(i)
                pids = ", ".join(str(w.pid) for w in dead)
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly") \
                    from None
            return False, None

    def _get(self) -> Any:
        if self._timeout > 0:
            ok, data = self._try_get(self._timeout)
            if not ok:
                raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
            return data
        while True:
            ok, data = self._try_get(STATUS_INTERVAL)
            if ok:
                return data

    def next(self) -> Any:
        """The next batch; raises StopIteration at the end of the epoch (and shuts the
        workers down unless they persist)."""
        while True:
            while self._rcvd_idx < self._send_idx:  # skip tasks of workers that ended
                info = self._task_info.get(self._rcvd_idx)
                if info and (len(info) == 2 or self._status[info[0]]):
                    break
                self._task_info.pop(self._rcvd_idx, None)
                self._rcvd_idx += 1
            else:
                if not self._persistent:
                    self.shutdown()
                raise StopIteration
            if len(self._task_info[self._rcvd_idx]) == 2:  # arrived earlier, out of order
                worker_id, data = self._task_info.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                return self._process(data, worker_id)
            idx, data = self._get()
            self._outstanding -= 1
            if isinstance(data, _IterableDatasetStopIteration):
                if self._persistent:
                    self._status[data.worker_id] = False
                else:
                    self._mark_unavailable(data.worker_id)
                self._try_put_index()
                continue
            if idx != self._rcvd_idx:
                if not self._in_order:
                    return self._process(data, self._task_info.pop(idx)[0])
                self._task_info[idx] += (data,)
            else:
                worker_id = self._task_info.pop(idx)[0]
                self._rcvd_idx += 1
                return self._process(data, worker_id)

    def _process(self, data: Any, worker_id: int) -> Any:
        self._num_tasks[worker_id] -= 1
        self._try_put_index()
        if isinstance(data, ExceptionWrapper):
            data.reraise()
        return _unpack(data)

    # -- sending ------------------------------------------------------------------------------
    def _try_put_index(self) -> None:
        try:
            index = next(self._index_iter)
        except StopIteration:
            return
        max_tasks = self._prefetch * self._num_workers
        for _ in range(self._num_workers):  # the next worker still running
            w = next(self._cycle)
            if self._status[w] and (self._in_order or
                                    self._num_tasks[w] < max_tasks // sum(self._status)):
                break
        else:
            return
        self._index_queues[w].put((self._send_idx, index))
        self._task_info[self._send_idx] = (w,)
        self._num_tasks[w] += 1
        self._outstanding += 1
        self._send_idx += 1

    def _mark_unavailable(self, worker_id: int) -> None:
        self._index_queues[worker_id].put(None)
        self._status[worker_id] = False

    # -- ending -------------------------------------------------------------------------------
    def shutdown(self) -> None:
        """Stop every worker and join it (terminating any that does not stop in time).

        Only in the process that started the pool: in another one (a process forked while
        this pool was alive, which collects its copy of it) the workers are not its children,
        so it touches neither them nor the queues, and does nothing.
        """
        if self._shutdown or os.getpid() != getattr(self, "_owner_pid", None):
            return
        self._shutdown = True
        try:
            self._done_event.set()
            for q, w in zip(self._index_queues, self._workers):
                if w.is_alive():
                    q.put(None)
            for w in self._workers:
                w.join(timeout=0 if _exiting else STATUS_INTERVAL)
            for q in self._index_queues:
                q.cancel_join_thread()
                q.close()
            self._result_queue.cancel_join_thread()
            self._result_queue.close()
        finally:
            for w in self._workers:
                if w.is_alive():
                    w.terminate()
                    w.join(timeout=STATUS_INTERVAL)

    def __del__(self) -> None:
        if getattr(self, "_workers", None) is not None and not getattr(self, "_shutdown", True):
            self.shutdown()
