"""``torch.utils.data.sampler``: the samplers.

Example:
    >>> from chainrule.utils.data.sampler import BatchSampler, SequentialSampler
    >>> list(BatchSampler(SequentialSampler(range(5)), 2, drop_last=True))
    [[0, 1], [2, 3]]
"""
from ...data.sampler import (BatchSampler, DistributedSampler, RandomSampler, Sampler,
                             SequentialSampler, SubsetRandomSampler, WeightedRandomSampler)

__all__ = ["BatchSampler", "DistributedSampler", "RandomSampler", "Sampler",
           "SequentialSampler", "SubsetRandomSampler", "WeightedRandomSampler"]
