"""``torch.nn.parallel``: :class:`DistributedDataParallel`, data-parallel training over MPI
(see :mod:`chainrule.distributed`)."""
from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
