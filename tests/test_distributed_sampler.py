"""DistributedSampler against torch.utils.data.DistributedSampler: without shuffling the
indices are torch's exactly (padding, drop_last, rank::num_replicas striding); shuffled, the
permutation is chainrule's generator's, so the structure is compared (lengths, the same
permutation on every rank, padding from its start, set_epoch). And the global-batch rule: the
ranks' k-th batches of B/W together are the single-process k-th batch of B."""
from __future__ import annotations

import numpy as np
import pytest
import torch.utils.data as tud
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.utils.data import DataLoader, DistributedSampler, TensorDataset


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 40), world=st.integers(1, 5), drop_last=st.booleans())
def test_unshuffled_indices_are_torchs(n, world, drop_last):
    for rank in range(world):
        ours = DistributedSampler(range(n), world, rank, shuffle=False, drop_last=drop_last)
        theirs = tud.DistributedSampler(range(n), world, rank, shuffle=False,
                                        drop_last=drop_last)
        assert list(ours) == list(theirs)
        assert len(ours) == len(theirs) == len(list(ours))
        assert (ours.num_samples, ours.total_size) == (theirs.num_samples, theirs.total_size)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), world=st.integers(1, 5), drop_last=st.booleans(),
       seed=st.integers(0, 100), epoch=st.integers(0, 3))
def test_shuffled_indices_have_torchs_structure(n, world, drop_last, seed, epoch):
    ours = [DistributedSampler(range(n), world, r, seed=seed, drop_last=drop_last)
            for r in range(world)]
    theirs = [tud.DistributedSampler(range(n), world, r, seed=seed, drop_last=drop_last)
              for r in range(world)]
    for s in ours + theirs:
        s.set_epoch(epoch)
    got = [list(s) for s in ours]
    assert [len(g) for g in got] == [len(list(t)) for t in theirs]
    # rank r holds positions r::W of one order: a permutation, padded from its start or cut
    total = [got[i % world][i // world] for i in range(sum(map(len, got)))]
    order = cr.randperm(n, generator=cr.Generator().manual_seed(seed + epoch)).tolist()
    want = order[:len(total)] if drop_last else (order * (len(total) // n + 1))[:len(total)]
    assert total == want
    again = [DistributedSampler(range(n), world, r, seed=seed, drop_last=drop_last)
             for r in range(world)]
    for s in again:
        s.set_epoch(epoch)
    assert got == [list(s) for s in again]  # the same seed and epoch: the same order


def test_set_epoch_changes_the_order_and_every_rank_follows():
    samplers = [DistributedSampler(range(50), 2, r, seed=3) for r in range(2)]
    first = [list(s) for s in samplers]
    for s in samplers:
        s.set_epoch(1)
    second = [list(s) for s in samplers]
    assert first != second
    for pair in (first, second):
        assert sorted(pair[0] + pair[1]) == list(range(50))


@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("n, world, B", [(32, 2, 8), (30, 2, 6), (36, 3, 6), (40, 4, 8)])
def test_the_ranks_batches_together_are_the_single_process_batch(shuffle, n, world, B):
    data = TensorDataset(cr.arange(n))

    def batches(num_replicas, rank, batch_size):
        sampler = DistributedSampler(data, num_replicas, rank, shuffle=shuffle, seed=5)
        sampler.set_epoch(2)
        return [b[0].tolist() for b in DataLoader(data, batch_size=batch_size, sampler=sampler)]

    single = batches(1, 0, B)
    per_rank = [batches(world, r, B // world) for r in range(world)]
    for k, whole in enumerate(single):
        parts = [per_rank[r][k] for r in range(world)]
        assert sorted(sum(parts, [])) == sorted(whole)
        for r, part in enumerate(parts):  # rank r holds rows r::W of the global batch
            assert part == whole[r::world]


def test_defaults_come_from_the_process_group_and_errors_are_torchs():
    s = DistributedSampler(range(5))
    assert (s.num_replicas, s.rank, s.shuffle, s.seed, s.drop_last) == (1, 0, True, 0, False)
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval "
                                         r"\[0, 1\]"):
        DistributedSampler(range(5), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="Invalid rank -1"):
        DistributedSampler(range(5), num_replicas=2, rank=-1)
    with pytest.raises(ValueError, match="num_replicas"):
        DistributedSampler(range(5), num_replicas=0, rank=0)
    assert list(DistributedSampler(range(0), 2, 1)) == []
