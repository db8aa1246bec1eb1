"""``torch.utils.data.dataset``: the dataset classes and ``random_split``.

Example:
    >>> from chainrule.utils.data.dataset import ConcatDataset, Subset
    >>> len(ConcatDataset([Subset(range(9), [0, 1]), range(3)]))
    5
"""
from ...data.dataset_utils import (ChainDataset, ConcatDataset, IterableDataset, StackDataset,
                                   Subset, random_split)
from ...data.datasets import Dataset, TensorDataset

__all__ = ["ChainDataset", "ConcatDataset", "Dataset", "IterableDataset", "StackDataset",
           "Subset", "TensorDataset", "random_split"]
