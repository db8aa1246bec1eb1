"""Data: datasets, the DataLoader, transforms, the IDX reader and toy datasets.

Importing this package is light (NumPy and the standard library only); the network client
and ``Tensor`` are imported when first needed.
"""
from .dataloader import DataLoader, default_collate, numpy_collate
from .datasets import (MNIST, Dataset, DatasetChecksumError, DatasetNotFoundError, FashionMNIST,
                       TensorDataset, user_cache_dir)
from .idx import (IdxCountMismatchError, IdxFormatError, IdxHeader, IdxLabelRangeError,
                  load_idx_pair, read_idx, read_idx_header, write_idx)
from .toy import blobs, logic_gate, spirals
from .transforms import Compose, Normalize, ToFloat

__all__ = [
    "DataLoader", "default_collate", "numpy_collate",
    "Dataset", "TensorDataset", "FashionMNIST", "MNIST",
    "DatasetNotFoundError", "DatasetChecksumError", "user_cache_dir",
    "read_idx", "read_idx_header", "write_idx", "load_idx_pair", "IdxHeader",
    "IdxFormatError", "IdxCountMismatchError", "IdxLabelRangeError",
    "ToFloat", "Normalize", "Compose",
    "logic_gate", "blobs", "spirals",
]
