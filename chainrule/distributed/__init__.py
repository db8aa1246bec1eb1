"""Several processes, one model: ``torch.distributed``'s names over MPI (mpi4py).

Launch N ranks with ``mpiexec -n N python -m mpi4py script.py``; in the script::

    import chainrule.distributed as dist
    dist.init_process_group("mpi")
    model = chainrule.nn.parallel.DistributedDataParallel(model)

Without a launcher (or without mpi4py) this is a world of one: rank 0, size 1, every
collective the identity. mpi4py is imported only when a launcher started the process.

- :mod:`.process_group`: ``init_process_group``, ``is_initialized``, ``is_available``,
  ``get_rank``, ``get_world_size``, ``all_reduce`` (``ReduceOp``), ``broadcast``,
  ``all_gather``, ``barrier``, ``destroy_process_group``, ``abort``;
- :mod:`.sync_batch_norm`: ``sync_batch_norm`` (what ``nn.SyncBatchNorm`` runs) and the
  differentiable ``all_reduce_sum``.

Example:
    >>> import chainrule as cr
    >>> import chainrule.distributed as dist
    >>> dist.get_world_size(), dist.get_rank()
    (1, 0)
"""
from .process_group import (INSTALL_HINT, DistributedError, ReduceOp, Work, abort, all_gather,
                            all_gather_object, all_reduce, all_reduce_array, barrier, broadcast,
                            broadcast_object_list, destroy_process_group, get_backend, get_rank,
                            get_world_size, init_process_group, is_available, is_initialized,
                            launcher_world_size)
from .sync_batch_norm import AllReduceSum, all_reduce_sum, sync_batch_norm

__all__ = [
    "INSTALL_HINT", "DistributedError", "ReduceOp", "Work", "abort", "all_gather",
    "all_gather_object", "all_reduce", "all_reduce_array", "barrier", "broadcast",
    "broadcast_object_list", "destroy_process_group", "get_backend", "get_rank",
    "get_world_size", "init_process_group", "is_available", "is_initialized",
    "launcher_world_size", "AllReduceSum", "all_reduce_sum", "sync_batch_norm",
]
