"""``torch.utils.data.dataloader``: the loader, its collate functions and ``get_worker_info``.

Example:
    >>> from chainrule.utils.data.dataloader import DataLoader, default_collate
    >>> default_collate([1, 2]).tolist(), len(DataLoader(range(5), batch_size=2))
    ([1, 2], 3)
"""
from ...data.dataloader import DataLoader, default_collate, default_convert
from ...data.workers import WorkerInfo, get_worker_info

__all__ = ["DataLoader", "WorkerInfo", "default_collate", "default_convert", "get_worker_info"]
