"""Samplers, random_split and the loader's draws against PyTorch's, draw for draw.

The ``torch_stream`` fixture serves chainrule's draws from a ``torch.Generator`` seeded as
the chainrule one: with it, every index PyTorch's samplers and loader produce must be ours.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import chainrule as cr
from chainrule.data.dataloader import DataLoader
from chainrule.data.dataset_utils import random_split
from chainrule.data.sampler import (SEED_HIGH, BatchSampler, RandomSampler, Sampler,
                                    SequentialSampler, SubsetRandomSampler,
                                    WeightedRandomSampler, multinomial_indices)
from chainrule.random import Generator

_TORCH_DTYPES = {np.dtype(np.float64): torch.float64, np.dtype(np.float32): torch.float32}


@pytest.fixture
def torch_stream(monkeypatch):
    """chainrule's draws served by a torch.Generator seeded with the chainrule seed."""
    seed_fn = Generator.manual_seed

    def manual_seed(self, seed):
        seed_fn(self, seed)
        self._torch = torch.Generator().manual_seed(seed)
        return self

    def integers(self, low, high, shape):
        if (low, high) == (0, SEED_HIGH):  # PyTorch's int64 seed: random_()
            return torch.empty(shape, dtype=torch.int64).random_(generator=self._torch).numpy()
        return torch.randint(low, high, shape, generator=self._torch).numpy()

    def permutation(self, n):
        return torch.randperm(n, generator=self._torch).numpy()

    def uniform(self, shape, dtype):
        dt = _TORCH_DTYPES[np.dtype(dtype)]
        return torch.rand(shape, dtype=dt, generator=self._torch).numpy()

    monkeypatch.setattr(Generator, "manual_seed", manual_seed)
    monkeypatch.setattr(Generator, "_integers", integers)
    monkeypatch.setattr(Generator, "_permutation", permutation)
    monkeypatch.setattr(Generator, "_uniform", uniform)

    def seed_both(seed):
        cr.manual_seed(seed)
        torch.manual_seed(seed)

    yield seed_both
    cr.manual_seed(0)


def pair(seed):
    return cr.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)


# -- sequential and batch samplers ---------------------------------------------------------

@pytest.mark.parametrize("n, bs, drop_last", [(10, 3, False), (10, 3, True), (9, 3, True),
                                              (0, 2, False), (2, 5, True)])
def test_batch_sampler_is_torchs(n, bs, drop_last):
    ours = BatchSampler(SequentialSampler(range(n)), bs, drop_last)
    theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), bs, drop_last)
    assert list(ours) == list(theirs) and len(ours) == len(theirs)


@pytest.mark.parametrize("args", [(0, False), (-1, False), (2.0, False), (True, False), (2, 1)])
def test_batch_sampler_argument_errors_are_torchs(args):
    with pytest.raises(ValueError) as theirs:
        tud.BatchSampler(range(3), *args)
    with pytest.raises(ValueError) as ours:
        BatchSampler(range(3), *args)
    assert str(ours.value) == str(theirs.value)


def test_sampler_base_class():
    with pytest.raises(NotImplementedError):
        iter(Sampler())


# -- random samplers, draw for draw --------------------------------------------------------

@pytest.mark.parametrize("kw", [{}, {"num_samples": 23}, {"num_samples": 10},
                                {"replacement": True}, {"replacement": True, "num_samples": 70}])
def test_random_sampler_with_generator_is_torchs(torch_stream, kw):
    g, tg = pair(5)
    ours, theirs = RandomSampler(range(10), generator=g, **kw), \
        tud.RandomSampler(range(10), generator=tg, **kw)
    for _ in range(2):  # two passes: the stream goes on
        assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


def test_random_sampler_without_generator_is_torchs(torch_stream):
    torch_stream(11)
    for _ in range(2):
        assert list(RandomSampler(range(17))) == list(tud.RandomSampler(range(17)))
    assert cr.rand(3).tolist() == torch.rand(3).tolist()  # the default streams kept in step


def test_random_sampler_argument_errors():
    with pytest.raises(ValueError, match="num_samples should be a positive integer"):
        RandomSampler(range(0))
    with pytest.raises(ValueError, match="num_samples=0"):
        RandomSampler(range(3), num_samples=0)
    with pytest.raises(TypeError, match="replacement should be a boolean"):
        RandomSampler(range(3), replacement=1)
    with pytest.raises(TypeError, match="chainrule.Generator"):
        RandomSampler(range(3), generator=torch.Generator())
    for cls in (tud.RandomSampler,):  # the same classes as PyTorch's
        with pytest.raises(ValueError):
            cls(range(0))
        with pytest.raises(TypeError):
            cls(range(3), replacement=1)


def test_subset_random_sampler_is_torchs(torch_stream):
    g, tg = pair(2)
    idx = [3, 9, 4, 11, 0]
    assert list(SubsetRandomSampler(idx, generator=g)) == \
        list(tud.SubsetRandomSampler(idx, generator=tg))
    torch_stream(4)
    assert list(SubsetRandomSampler(idx)) == list(tud.SubsetRandomSampler(idx))


@pytest.mark.parametrize("weights, n, replacement", [
    ([0.1, 0.9, 0.4, 0.7, 3.0, 0.6], 40, True),
    ([0.1, 0.9, 0.4, 0.7, 3.0, 0.6], 1, True),
    ([0.9, 0.4, 0.05, 0.2, 0.3, 0.1], 5, False),
    ([0.0, 2.0, 1.0, 0.0], 1, False),
    ([0.0, 2.0, 1.0, 0.0], 4, False),  # zero weights last, as PyTorch's
])
def test_weighted_random_sampler_is_torchs(torch_stream, weights, n, replacement):
    g, tg = pair(9)
    ours = WeightedRandomSampler(weights, n, replacement, generator=g)
    theirs = tud.WeightedRandomSampler(weights, n, replacement, generator=tg)
    assert list(ours) == list(theirs) and list(ours) == list(theirs)


def test_weighted_random_sampler_statistics():
    draws = multinomial_indices(np.array([1.0, 0.0, 3.0]), 4000, True,
                                cr.Generator().manual_seed(0))
    counts = np.bincount(draws, minlength=3)
    assert counts[1] == 0 and abs(counts[2] / 4000 - 0.75) < 0.03
    no_repeat = multinomial_indices(np.array([1.0, 2.0, 3.0, 4.0]), 4, False, None)
    assert sorted(no_repeat.tolist()) == [0, 1, 2, 3]


def test_weighted_random_sampler_errors():
    for args in [([1.0, 2.0], 0), ([1.0, 2.0], 2, 1), ([[1.0, 2.0]], 2)]:
        with pytest.raises(ValueError) as theirs:
            tud.WeightedRandomSampler(*args)
        with pytest.raises(ValueError) as ours:
            WeightedRandomSampler(*args)
        assert str(ours.value) == str(theirs.value)
    for weights, n, rep, match in [([1.0, -1.0], 2, True, "non-negative"),
                                   ([0.0, 0.0], 2, True, "sum to 0"),
                                   ([1.0, 0.0], 3, False, "cannot draw 3 samples")]:
        with pytest.raises(RuntimeError, match=match):
            list(WeightedRandomSampler(weights, n, rep))
        with pytest.raises(RuntimeError):
            list(tud.WeightedRandomSampler(weights, n, rep))


# -- random_split ---------------------------------------------------------------------------

@pytest.mark.parametrize("lengths", [[3, 7], [0.5, 0.3, 0.2], [0.34, 0.33, 0.33], [10, 0]])
def test_random_split_is_torchs(torch_stream, lengths):
    g, tg = pair(42)
    ours = random_split(range(10), lengths, generator=g)
    theirs = tud.random_split(range(10), lengths, generator=tg)
    assert [list(s) for s in ours] == [list(s) for s in theirs]
    torch_stream(1)
    ours = random_split(range(10), lengths)
    theirs = tud.random_split(range(10), lengths)
    assert [s.indices for s in ours] == [s.indices for s in theirs]


def test_random_split_errors():
    with pytest.raises(ValueError, match=r"does not equal the length .* \(9 != 10\)"):
        random_split(range(10), [4, 5])
    with pytest.raises(ValueError, match="fraction at index 0 is not between 0 and 1, got 1.5"):
        random_split(range(10), [1.5, -0.5])
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(range(2), [1.0, 0.0])


# -- the loader's draws --------------------------------------------------------------------

def _torch_batches(loader):
    return [b.tolist() for b in loader]


@pytest.mark.parametrize("kw", [dict(batch_size=4, shuffle=True),
                                dict(batch_size=3, shuffle=True, drop_last=True),
                                dict(batch_size=5, shuffle=False)])
def test_loader_batches_are_torchs_default_generator(torch_stream, kw):
    torch_stream(3)
    ours, theirs = DataLoader(list(range(13)), **kw), tud.DataLoader(list(range(13)), **kw)
    for _ in range(3):  # epochs: base_seed, then the sampler's seed and permutation
        assert [b.tolist() for b in ours] == _torch_batches(theirs)
    assert cr.rand(2).tolist() == torch.rand(2).tolist()


def test_loader_batches_and_base_seed_are_torchs_with_generator(torch_stream):
    g, tg = pair(8)
    ours = DataLoader(list(range(11)), batch_size=4, shuffle=True, generator=g)
    theirs = tud.DataLoader(list(range(11)), batch_size=4, shuffle=True, generator=tg)
    for _ in range(2):
        it, tit = iter(ours), iter(theirs)
        assert [b.tolist() for b in it] == [b.tolist() for b in tit]
        assert it._base_seed == tit._base_seed


def test_loader_with_samplers_is_torchs(torch_stream):
    g, tg = pair(6)
    w = [1.0, 5.0, 2.0, 0.5]
    ours = DataLoader(list(range(4)), batch_size=3,
                      sampler=WeightedRandomSampler(w, 7, generator=g))
    theirs = tud.DataLoader(list(range(4)), batch_size=3,
                            sampler=tud.WeightedRandomSampler(w, 7, generator=tg))
    assert [b.tolist() for b in ours] == _torch_batches(theirs)
    g, tg = pair(7)
    ours = DataLoader(list(range(9)), batch_sampler=BatchSampler(
        RandomSampler(range(9), generator=g), 2, False))
    theirs = tud.DataLoader(list(range(9)), batch_sampler=tud.BatchSampler(
        tud.RandomSampler(range(9), generator=tg), 2, False))
    assert [b.tolist() for b in ours] == _torch_batches(theirs)
