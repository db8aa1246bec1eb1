"""``torch.utils.data`` under chainrule: ``from chainrule.utils.data import DataLoader``.

The classes live in :mod:`chainrule.data`; this package gives them PyTorch's names and module
layout (``chainrule.utils.data.dataloader``, ``.dataset``, ``.sampler``), so code written for
``torch.utils.data`` runs with only the import changed.

Example:
    >>> import chainrule as cr
    >>> from chainrule.utils.data import DataLoader, TensorDataset, random_split
    >>> train, test = random_split(TensorDataset(cr.arange(10.0)), [8, 2],
    ...                            generator=cr.Generator().manual_seed(0))
    >>> [len(b[0]) for b in DataLoader(train, batch_size=3)]
    [3, 3, 2]
"""
from .dataloader import DataLoader, default_collate, default_convert, get_worker_info
from .dataset import (ChainDataset, ConcatDataset, Dataset, IterableDataset, StackDataset, Subset,
                      TensorDataset, random_split)
from .sampler import (BatchSampler, DistributedSampler, RandomSampler, Sampler,
                      SequentialSampler, SubsetRandomSampler, WeightedRandomSampler)

__all__ = [
    "BatchSampler", "ChainDataset", "ConcatDataset", "DataLoader", "Dataset",
    "DistributedSampler",
    "IterableDataset", "RandomSampler", "Sampler", "SequentialSampler", "StackDataset",
    "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler",
    "default_collate", "default_convert", "get_worker_info", "random_split",
]
