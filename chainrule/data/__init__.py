"""Data: datasets, the DataLoader, transforms, the IDX reader and toy datasets.

Importing this package is light (NumPy and the standard library only); the network client
and ``Tensor`` are imported when first needed.
"""
from .dataloader import DataLoader, default_collate, default_convert, numpy_collate
from .dataset_utils import (ChainDataset, ConcatDataset, IterableDataset, StackDataset, Subset,
                            random_split)
from .datasets import (MNIST, Dataset, DatasetChecksumError, DatasetNotFoundError, FashionMNIST,
                       TensorDataset, user_cache_dir)
from .idx import (IdxCountMismatchError, IdxFormatError, IdxHeader, IdxLabelRangeError,
                  load_idx_pair, read_idx, read_idx_header, write_idx)
from .sampler import (BatchSampler, DistributedSampler, RandomSampler, Sampler,
                      SequentialSampler, SubsetRandomSampler, WeightedRandomSampler)
from .toy import blobs, logic_gate, spirals
from .transforms import Compose, Normalize, ToFloat
from .workers import WorkerInfo, get_worker_info

__all__ = [
    "DataLoader", "default_collate", "default_convert", "numpy_collate",
    "Sampler", "SequentialSampler", "RandomSampler", "SubsetRandomSampler",
    "WeightedRandomSampler", "BatchSampler", "DistributedSampler", "get_worker_info",
    "WorkerInfo",
    "IterableDataset", "ChainDataset", "ConcatDataset", "StackDataset", "Subset",
    "random_split",
    "Dataset", "TensorDataset", "FashionMNIST", "MNIST",
    "DatasetNotFoundError", "DatasetChecksumError", "user_cache_dir",
    "read_idx", "read_idx_header", "write_idx", "load_idx_pair", "IdxHeader",
    "IdxFormatError", "IdxCountMismatchError", "IdxLabelRangeError",
    "ToFloat", "Normalize", "Compose",
    "logic_gate", "blobs", "spirals",
]
