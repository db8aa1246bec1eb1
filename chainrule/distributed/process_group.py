"""The process group over MPI and its collectives, with ``torch.distributed``'s names.

The engine is MPI through mpi4py: ``mpiexec -n N python -m mpi4py script.py`` starts N ranks
(``python -m mpi4py`` makes a rank that raises abort them all, where a plain launch would hang
until killed). mpi4py is imported inside the functions that need it, so ``import chainrule``
stays light, and only when a launcher started this process (its environment names a world
size: MPICH's and Intel MPI's ``PMI_SIZE``, Open MPI's ``OMPI_COMM_WORLD_SIZE``, MVAPICH's
``MV2_COMM_WORLD_SIZE``) or mpi4py's MPI is already imported (``python -m mpi4py``).

Outside a launcher everything is a world of one: rank 0, size 1, and every collective is the
identity (before ``init_process_group`` too: unlike PyTorch, ``get_rank()`` answers 0 rather
than raising). A world of more than one asked for without mpi4py, or of a size the launcher did
not start, is a :class:`DistributedError` (a ``RuntimeError``) saying how to install and launch.

Collectives act in place on a Tensor's array, as PyTorch's: ``all_reduce`` (``ReduceOp`` SUM,
AVG, PRODUCT, MIN, MAX), ``broadcast``, ``all_gather``; ``barrier`` waits for every rank. They
are not recorded by autograd (PyTorch's ``torch.distributed`` collectives are not either); the
differentiable sum is :func:`chainrule.distributed.all_reduce_sum` (``sync_batch_norm.py``).
"""
from __future__ import annotations

import enum
import os
import sys
from typing import Any, Optional, Sequence

from ..autograd.tensor import Tensor
from ..backend import xp

INSTALL_HINT = ('install MPI support with `pip install "chainrule[mpi]"` (mpi4py and the MPICH '
                'wheel) and launch every rank with `mpiexec -n N python -m mpi4py script.py` '
                '(or `mpiexec -n N python -m mpi4py -m chainrule train --distributed ...`)')

# the environment variables by which launchers tell a process the world's size
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE")


class DistributedError(RuntimeError):
    """A process group that cannot be set up or used as asked (a ``RuntimeError``, as
    PyTorch's ``torch.distributed`` errors)."""


class ReduceOp(enum.Enum):
    """How ``all_reduce`` combines the ranks' values (``torch.distributed.ReduceOp``)."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MIN = "min"
    MAX = "max"


class _World:
    """The default process group: an MPI communicator (None for a world of one), its rank
    and size. One per process, as PyTorch's default group."""

    def __init__(self) -> None:
        self.initialized = False
        self.comm: Any = None
        self.rank = 0
        self.size = 1


_world = _World()


def launcher_world_size() -> int:
    """The world size a launcher's environment announces (1 when no launcher started us).

    Example:
        >>> import chainrule.distributed as dist
        >>> dist.launcher_world_size() >= 1
        True
    """
    for var in _SIZE_VARS:
        value = os.environ.get(var)
        if value:
            try:
                return max(1, int(value))
            except ValueError:
                raise DistributedError(f"init_process_group: the launcher's {var}={value!r} is "
                                       f"not a number") from None
    return 1


def is_available() -> bool:
    """Whether MPI support (mpi4py) is installed; a world of one works without it.

    Example:
        >>> import chainrule.distributed as dist
        >>> isinstance(dist.is_available(), bool)
        True
    """
    if "mpi4py" in sys.modules:  # imported already (None: its import failed)
        return sys.modules["mpi4py"] is not None
    import importlib.util
    return importlib.util.find_spec("mpi4py") is not None


def _mpi() -> Any:
    """mpi4py's MPI module (imported here, lazily), or a DistributedError saying how to get it."""
    try:
        from mpi4py import MPI
    except ImportError as err:
        raise DistributedError(f"distributed: a world of more than one rank needs mpi4py, "
                               f"which is not installed ({err}); {INSTALL_HINT}") from None
    return MPI


def init_process_group(backend: Optional[str] = "mpi", init_method: Optional[str] = None,
                       timeout: Any = None, world_size: int = -1, rank: int = -1,
                       store: Any = None, group_name: str = "", pg_options: Any = None,
                       device_id: Any = None) -> None:
    """Join the ranks the MPI launcher started (``torch.distributed.init_process_group``).

    Under ``mpiexec -n N python -m mpi4py`` this duplicates MPI's world communicator (so
    chainrule's messages never mix with the user's own MPI calls); outside a launcher it sets
    up a world of one without importing mpi4py.

    Args:
        backend: ``"mpi"`` (the only engine; None means it too).
        init_method, timeout, store, group_name, pg_options, device_id: accepted for PyTorch
            compatibility and ignored: MPI's launcher does the rendezvous.
        world_size: -1 (take the launcher's), or the size expected: a different one is an
            error.
        rank: -1 (take the launcher's), or the rank expected: a different one is an error.

    Raises:
        DistributedError: called twice, another backend, mpi4py missing for a world of more
            than one, or a size or rank other than the launcher's.

    Example:
        >>> import chainrule.distributed as dist
        >>> dist.init_process_group("mpi")      # no launcher: a world of one
        >>> dist.get_rank(), dist.get_world_size()
        (0, 1)
        >>> dist.destroy_process_group()
    """
    if _world.initialized:
        raise DistributedError("init_process_group: trying to initialize the default process "
                               "group twice! (call destroy_process_group first)")
    if backend is not None and str(backend).lower() != "mpi":
        raise DistributedError(f"init_process_group: backend {backend!r} is not available; "
                               f"chainrule runs on MPI only: backend='mpi'")
    announced = launcher_world_size()
    wanted = world_size if world_size is not None and world_size > 0 else None
    comm, size, me = None, 1, 0
    if announced > 1 or "mpi4py.MPI" in sys.modules or (wanted or 1) > 1:
        MPI = _mpi()
        comm = MPI.COMM_WORLD.Dup()
        size, me = comm.Get_size(), comm.Get_rank()
        if size == 1:  # a world of one: no communicator to keep
            comm.Free()
            comm = None
        if announced != 1 and size != announced:
            raise DistributedError(
                f"init_process_group: the launcher started {announced} ranks but MPI sees a "
                f"world of {size}: mpiexec belongs to another MPI than the one mpi4py uses; "
                f"launch with the mpiexec of the MPI mpi4py was built for (`python -m mpi4py "
                f"--mpi-library` names it); {INSTALL_HINT}")
    if wanted is not None and wanted != size:
        raise DistributedError(f"init_process_group: world_size={wanted} asked for, but the "
                               f"launcher started {size} rank(s); {INSTALL_HINT}")
    if rank is not None and rank >= 0 and rank != me:
        raise DistributedError(f"init_process_group: rank={rank} asked for, but MPI gave this "
                               f"process rank {me} (MPI's launcher assigns ranks)")
    _world.comm, _world.size, _world.rank, _world.initialized = comm, size, me, True


def is_initialized() -> bool:
    """Whether ``init_process_group`` has run (and ``destroy_process_group`` not since)."""
    return _world.initialized


def get_rank(group: Any = None) -> int:
    """This process's rank, 0 to world size - 1 (0 in a world of one or before init)."""
    return _world.rank


def get_world_size(group: Any = None) -> int:
    """The number of ranks (1 in a world of one or before init)."""
    return _world.size


def get_backend(group: Any = None) -> str:
    """``"mpi"``."""
    return "mpi"


def destroy_process_group(group: Any = None) -> None:
    """Leave the process group: free its communicator; ``init_process_group`` may run again.
    (MPI itself is finalized by mpi4py at exit.)"""
    comm = _world.comm
    _world.comm, _world.size, _world.rank, _world.initialized = None, 1, 0, False
    if comm is not None:
        comm.Free()


def abort(code: int = 1) -> None:
    """Stop every rank now with exit status ``code`` (MPI_Abort on the world), after flushing
    this rank's output; in a world of one, ``SystemExit(code)``.

    For the last resort only (a rank that cannot go on, e.g. a NaN on one rank): no ``finally``
    block or ``atexit`` handler runs on any rank.
    """
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    if _world.comm is not None or ("mpi4py.MPI" in sys.modules and launcher_world_size() > 1):
        _mpi().COMM_WORLD.Abort(int(code))
    raise SystemExit(int(code))


# ============================================================================ collectives
class Work:
    """A collective started with ``async_op=True``: ``wait()`` finishes it (and writes the
    result into the tensor); ``is_completed()`` says whether it has (``torch.distributed.Work``).
    """

    def __init__(self, request: Any = None, finish: Any = None) -> None:
        self._request, self._finish = request, finish
        self._done = request is None and finish is None

    def is_completed(self) -> bool:
        if self._done:
            return True
        return bool(self._request is not None and self._request.Test() and self._complete())

    def _complete(self) -> bool:
        if not self._done:
            self._done = True
            if self._finish is not None:
                self._finish()
        return True

    def wait(self, timeout: Any = None) -> bool:
        if not self._done:
            if self._request is not None:
                self._request.Wait()
            self._complete()
        return True


def _check_tensor(tensor: Any, op: str) -> Any:
    if not isinstance(tensor, Tensor):
        raise TypeError(f"{op}: expected a chainrule Tensor, got {type(tensor).__name__}")
    return tensor._data


def _mpi_op(MPI: Any, op: ReduceOp) -> Any:
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MIN: MPI.MIN, ReduceOp.MAX: MPI.MAX}[op]


def _as_reduce_op(op: Any, name: str) -> ReduceOp:
    if isinstance(op, ReduceOp):
        return op
    try:
        return ReduceOp(str(op).lower()) if isinstance(op, str) else ReduceOp[op.name]
    except (KeyError, ValueError, AttributeError):
        raise ValueError(f"{name}: unknown reduce op {op!r}; use ReduceOp.SUM, AVG, PRODUCT, "
                         f"MIN or MAX") from None


def all_reduce_array(array: Any, op: ReduceOp = ReduceOp.SUM, async_op: bool = False) -> Any:
    """``all_reduce`` on a contiguous NumPy array, in place (what DistributedDataParallel's
    buckets use); returns a :class:`Work` when ``async_op`` (MPI's non-blocking Iallreduce).

    AVG sums then divides by the world size (exact for a power-of-two world), on floating
    arrays only.
    """
    op = _as_reduce_op(op, "all_reduce")
    if op is ReduceOp.AVG and array.dtype.kind not in "fc":
        raise DistributedError(f"all_reduce: ReduceOp.AVG needs a floating tensor, got dtype "
                               f"{array.dtype} (use SUM and divide)")
    comm = _world.comm
    if comm is None:
        return Work() if async_op else None
    if not array.flags.c_contiguous:
        raise DistributedError(f"all_reduce: the array must be contiguous (shape "
                               f"{array.shape}, strides {array.strides})")
    MPI = _mpi()
    size = _world.size

    def finish() -> None:
        if op is ReduceOp.AVG:
            xp.divide(array, xp.asarray(size, dtype=array.dtype), out=array)

    if async_op:
        return Work(comm.Iallreduce(MPI.IN_PLACE, array, op=_mpi_op(MPI, op)), finish)
    comm.Allreduce(MPI.IN_PLACE, array, op=_mpi_op(MPI, op))
    finish()
    return None


def _in_place(tensor: Tensor, op: str, run: Any) -> None:
    """Run ``run(array)`` on the tensor's array, through a contiguous copy when it is a
    strided view, and count the write in its version (PyTorch's in-place rule)."""
    data = tensor._data
    if data.flags.c_contiguous and data.flags.writeable:
        run(data)
    else:
        work = xp.ascontiguousarray(data).copy()
        run(work)
        data[...] = work
    tensor._version += 1


def all_reduce(tensor: Tensor, op: Any = ReduceOp.SUM, group: Any = None,
               async_op: bool = False) -> Optional[Work]:
    """Combine ``tensor`` over all ranks, in place: every rank ends with the result.

    Args:
        tensor: any dtype MPI knows (float32/64, int8-64, uint8, bool); the same shape and
            dtype on every rank.
        op: ``ReduceOp.SUM`` (default), ``AVG`` (floating only), ``PRODUCT``, ``MIN``, ``MAX``.
        group: accepted for PyTorch compatibility (the default group only).
        async_op: return a :class:`Work` to ``wait()`` on instead of blocking.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.distributed as dist
        >>> t = cr.tensor([1.0, 2.0])
        >>> dist.all_reduce(t, op=dist.ReduceOp.SUM)    # a world of one: unchanged
        >>> t.tolist()
        [1.0, 2.0]
    """
    _check_tensor(tensor, "all_reduce")
    op = _as_reduce_op(op, "all_reduce")
    if tensor.dtype.kind not in "fc" and op is ReduceOp.AVG:
        raise DistributedError(f"all_reduce: ReduceOp.AVG needs a floating tensor, got dtype "
                               f"{tensor.dtype} (use SUM and divide)")
    if _world.comm is None:
        return Work() if async_op else None
    data = tensor._data
    if async_op and data.flags.c_contiguous and data.flags.writeable:
        tensor._version += 1
        return all_reduce_array(data, op, async_op=True)
    _in_place(tensor, "all_reduce", lambda a: all_reduce_array(a, op))
    return Work() if async_op else None


def broadcast(tensor: Tensor, src: int = 0, group: Any = None,
              async_op: bool = False) -> Optional[Work]:
    """Copy rank ``src``'s ``tensor`` into every other rank's ``tensor``, in place.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.distributed as dist
        >>> t = cr.tensor([3, 4])
        >>> dist.broadcast(t, src=0)
        >>> t.tolist()
        [3, 4]
    """
    _check_tensor(tensor, "broadcast")
    if not 0 <= src < _world.size:
        raise DistributedError(f"broadcast: src={src} is not a rank of this world of "
                               f"{_world.size}")
    comm = _world.comm
    if comm is not None:
        _in_place(tensor, "broadcast", lambda a: comm.Bcast(a, root=src))
    return Work() if async_op else None


def all_gather(tensor_list: list, tensor: Tensor, group: Any = None,
               async_op: bool = False) -> Optional[Work]:
    """Every rank's ``tensor`` into ``tensor_list`` (one tensor per rank, in rank order,
    each of ``tensor``'s shape and dtype), written in place.

    Example:
        >>> import chainrule as cr
        >>> import chainrule.distributed as dist
        >>> out = [cr.zeros(2)]
        >>> dist.all_gather(out, cr.tensor([1.0, 2.0]))
        >>> out[0].tolist()
        [1.0, 2.0]
    """
    data = _check_tensor(tensor, "all_gather")
    if not isinstance(tensor_list, (list, tuple)) or len(tensor_list) != _world.size:
        n = len(tensor_list) if isinstance(tensor_list, (list, tuple)) else type(tensor_list)
        raise DistributedError(f"all_gather: tensor_list must hold one tensor per rank "
                               f"({_world.size}), got {n}")
    for i, t in enumerate(tensor_list):
        out = _check_tensor(t, "all_gather")
        if out.shape != data.shape or out.dtype != data.dtype:
            raise DistributedError(f"all_gather: tensor_list[{i}] has shape {out.shape} and "
                                   f"dtype {out.dtype}; expected {data.shape} {data.dtype} "
                                   f"(the input's)")
    comm = _world.comm
    if comm is None:
        gathered = data[None]
    else:
        gathered = xp.empty((_world.size,) + data.shape, data.dtype)
        comm.Allgather(xp.ascontiguousarray(data), gathered)
    for t, part in zip(tensor_list, gathered):
        t._data[...] = part
        t._version += 1
    return Work() if async_op else None


def all_gather_object(object_list: list, obj: Any, group: Any = None) -> None:
    """Every rank's picklable ``obj`` into ``object_list`` (one slot per rank)."""
    if len(object_list) != _world.size:
        raise DistributedError(f"all_gather_object: object_list must have one slot per rank "
                               f"({_world.size}), got {len(object_list)}")
    comm = _world.comm
    values: Sequence[Any] = [obj] if comm is None else comm.allgather(obj)
    object_list[:] = list(values)


def broadcast_object_list(object_list: list, src: int = 0, group: Any = None) -> None:
    """Rank ``src``'s picklable objects into every rank's ``object_list``, in place."""
    comm = _world.comm
    if comm is not None:
        object_list[:] = comm.bcast(list(object_list), root=src)


def barrier(group: Any = None, async_op: bool = False, device_ids: Any = None) -> None:
    """Wait until every rank has called ``barrier``."""
    if _world.comm is not None:
        _world.comm.Barrier()
