"""DataLoader: batching, seeded shuffling, resumable state, the fast path and collate rules."""
from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.data.dataloader import DataLoader, default_collate, numpy_collate
from chainrule.data.sampler import draw_seed
from chainrule.data.datasets import Dataset, FashionMNIST, TensorDataset
from chainrule.data.idx import write_idx
from chainrule.data.transforms import Compose, Normalize, ToFloat


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(11)


@pytest.fixture
def tensor_cls(monkeypatch):
    """The real Tensor when the core imports, else a minimal stand-in with the same contract."""
    try:
        from chainrule.autograd.tensor import Tensor
        return Tensor
    except Exception:  # the core is being written in parallel
        class Tensor:
            def __init__(self, data, requires_grad=False):
                self._data = data

        module = types.ModuleType("chainrule.autograd.tensor")
        module.Tensor = Tensor
        monkeypatch.setitem(sys.modules, "chainrule.autograd.tensor", module)
        return Tensor


class ListDataset(Dataset):
    """A dataset without get_batch: forces the per-item path."""

    def __init__(self, x, y):
        self.x, self.y = x, y

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], int(self.y[i])


def labels_of(loader):
    return [y.tolist() for _, y in loader]


def make_ds(n=10):
    return TensorDataset(np.arange(n, dtype=np.float32).reshape(n, 1), np.arange(n))


# -- lengths and coverage ------------------------------------------------------------------------

@settings(max_examples=50, deadline=None)
@given(n=st.integers(0, 40), bs=st.integers(1, 12), drop_last=st.booleans(), shuffle=st.booleans())
def test_len_and_coverage(n, bs, drop_last, shuffle):
    if n == 0 and shuffle:  # PyTorch: RandomSampler of 0 items is refused
        with pytest.raises(ValueError, match="num_samples should be a positive integer"):
            DataLoader(make_ds(n), batch_size=bs, shuffle=True)
        return
    loader = DataLoader(make_ds(n), batch_size=bs, shuffle=shuffle, drop_last=drop_last, seed=0,
                        collate_fn=numpy_collate)
    batches = labels_of(loader)
    assert len(batches) == len(loader) == (n // bs if drop_last else -(-n // bs))
    assert all(len(b) == bs for b in batches[:-1] if b)
    seen = sum(batches, [])
    assert len(seen) == len(set(seen))
    if not drop_last:
        assert sorted(seen) == list(range(n))


def test_no_shuffle_is_in_order():
    assert labels_of(DataLoader(make_ds(5), batch_size=2, collate_fn=numpy_collate)) == \
        [[0, 1], [2, 3], [4]]


@pytest.mark.parametrize("bs", [0, -3])
def test_bad_batch_size(bs):
    with pytest.raises(ValueError, match=f"batch_size must be > 0, got {bs}"):
        DataLoader(make_ds(), batch_size=bs)


def test_bad_arguments():
    with pytest.raises(TypeError, match="batch_size must be an int"):
        DataLoader(make_ds(), batch_size=2.5)
    with pytest.raises(ValueError, match="either generator or seed"):
        DataLoader(make_ds(), generator=np.random.default_rng(0), seed=1)
    with pytest.raises(TypeError, match="chainrule.Generator"):
        DataLoader(make_ds(), generator=np.random.default_rng(0))
    with pytest.raises(TypeError, match="must have __getitem__"):
        DataLoader(42)


# -- shuffling -----------------------------------------------------------------------------------

def test_same_seed_same_order_and_epochs_differ():
    a = DataLoader(make_ds(50), batch_size=8, shuffle=True, seed=5, collate_fn=numpy_collate)
    b = DataLoader(make_ds(50), batch_size=8, shuffle=True, seed=5, collate_fn=numpy_collate)
    a1, a2 = labels_of(a), labels_of(a)
    assert a1 == labels_of(b) and a2 == labels_of(b)
    assert a1 != a2  # a new permutation each epoch
    assert sum(a1, []) != list(range(50))
    c = DataLoader(make_ds(50), batch_size=8, shuffle=True, seed=6, collate_fn=numpy_collate)
    assert labels_of(c) != a1
    assert a.epoch == 2


def test_shared_generator_is_used():
    g1, g2 = cr.Generator().manual_seed(9), cr.Generator().manual_seed(9)
    a = DataLoader(make_ds(20), batch_size=20, shuffle=True, generator=g1, collate_fn=numpy_collate)
    assert a.generator is g1
    draw_seed(g2)  # base_seed first, then the permutation, as PyTorch
    assert labels_of(a)[0] == g2._permutation(20).tolist()
    g2._permutation(20)  # PyTorch's RandomSampler draws randperm(n)[:0] at the end too
    assert g1.get_state() == g2.get_state()


def test_default_generator_used_when_no_generator():
    cr.manual_seed(1234)
    a = labels_of(DataLoader(make_ds(30), batch_size=30, shuffle=True, collate_fn=numpy_collate))
    cr.manual_seed(1234)
    b = labels_of(DataLoader(make_ds(30), batch_size=30, shuffle=True, collate_fn=numpy_collate))
    assert a == b and a[0] != list(range(30))


# -- resumable state -----------------------------------------------------------------------------

def test_resume_at_epoch_boundary():
    a = DataLoader(make_ds(17), batch_size=4, shuffle=True, seed=3, collate_fn=numpy_collate)
    labels_of(a)
    state = json.loads(json.dumps(a.state_dict()))  # JSON-friendly
    assert state["epoch"] == 1 and state["batches_done"] == 0
    expected = [labels_of(a), labels_of(a)]
    b = DataLoader(make_ds(17), batch_size=4, shuffle=True, seed=777, collate_fn=numpy_collate)
    b.load_state_dict(state)
    assert b.epoch == 1
    assert [labels_of(b), labels_of(b)] == expected


def test_resume_mid_epoch():
    a = DataLoader(make_ds(20), batch_size=3, shuffle=True, seed=4, collate_fn=numpy_collate)
    labels_of(a)  # epoch 0
    it = iter(a)
    first = [next(it)[1].tolist() for _ in range(2)]
    state = json.loads(json.dumps(a.state_dict()))
    assert state["epoch"] == 1 and state["batches_done"] == 2
    rest = [y.tolist() for _, y in it]
    following = labels_of(a)

    b = DataLoader(make_ds(20), batch_size=3, shuffle=True, seed=0, collate_fn=numpy_collate)
    b.load_state_dict(state)
    assert labels_of(b) == rest and labels_of(b) == following
    assert sorted(sum(first + rest, [])) == list(range(20))


def test_state_after_last_batch_counts_the_epoch():
    a = DataLoader(make_ds(4), batch_size=2, shuffle=True, seed=1, collate_fn=numpy_collate)
    it = iter(a)
    next(it), next(it)  # every batch taken, loop not finished
    state = a.state_dict()
    assert state["epoch"] == 1 and state["batches_done"] == 0
    b = DataLoader(make_ds(4), batch_size=2, shuffle=True, seed=2, collate_fn=numpy_collate)
    b.load_state_dict(state)
    assert labels_of(b) == labels_of(a)


def test_resume_mid_epoch_with_the_default_generator():
    """No loader generator: the epoch replays from the saved state; the default generator
    is the caller's to restore (as torch.set_rng_state), and stays in step."""
    cr.manual_seed(5)
    a = DataLoader(make_ds(14), batch_size=3, shuffle=True, collate_fn=numpy_collate)
    it = iter(a)
    next(it), next(it)
    state, rng = json.loads(json.dumps(a.state_dict())), cr.get_rng_state()
    rest, following, after = [y.tolist() for _, y in it], labels_of(a), cr.rand(2).tolist()

    cr.manual_seed(99)
    b = DataLoader(make_ds(14), batch_size=3, shuffle=True, collate_fn=numpy_collate)
    b.load_state_dict(state)
    cr.set_rng_state(rng)
    assert labels_of(b) == rest and labels_of(b) == following
    assert cr.rand(2).tolist() == after
    assert b.state_dict()["generator"] is None  # between epochs: the default generator's


def test_load_state_dict_rejects_mismatch():
    state = DataLoader(make_ds(10), batch_size=2, shuffle=True, seed=0).state_dict()
    with pytest.raises(ValueError, match="dataset_len=10 but this loader has dataset_len=11"):
        DataLoader(make_ds(11), batch_size=2, shuffle=True).load_state_dict(state)
    with pytest.raises(ValueError, match="batch_size=2 but this loader has batch_size=3"):
        DataLoader(make_ds(10), batch_size=3, shuffle=True).load_state_dict(state)
    with pytest.raises(ValueError, match=r"missing keys \['generator'\]"):
        DataLoader(make_ds(10), batch_size=2, shuffle=True).load_state_dict(
            {k: v for k, v in state.items() if k != "generator"})
    bad = dict(state, generator={"bit_generator": "MT19937", "state": {}})
    with pytest.raises(ValueError, match="bad generator state"):
        DataLoader(make_ds(10), batch_size=2, shuffle=True).load_state_dict(bad)
    with pytest.raises(ValueError, match="batches_done=5 but an epoch has 5 batches"):
        DataLoader(make_ds(10), batch_size=2, shuffle=True).load_state_dict(
            dict(state, batches_done=5))


# -- fast path and collate -----------------------------------------------------------------------

def test_fast_path_uses_one_gather_and_matches_slow_path(rng, monkeypatch):
    x = rng.standard_normal((23, 2, 3)).astype(np.float32)
    y = rng.integers(0, 5, 23).astype(np.int32)
    fast_ds = TensorDataset(x, y)

    def forbidden(self, i):
        raise AssertionError("the fast path must not index item by item")

    monkeypatch.setattr(TensorDataset, "__getitem__", forbidden)
    fast = list(DataLoader(fast_ds, batch_size=5, shuffle=True, seed=8, collate_fn=numpy_collate))
    slow = list(DataLoader(ListDataset(x, y), batch_size=5, shuffle=True, seed=8,
                           collate_fn=numpy_collate))
    assert len(fast) == len(slow) == 5
    for (fx, fy), (sx, sy) in zip(fast, slow):
        np.testing.assert_array_equal(fx, sx)
        np.testing.assert_array_equal(fy, sy)
        assert fx.dtype == sx.dtype == np.float32 and fy.dtype == sy.dtype == np.int64


def test_custom_collate_gets_items():
    seen = []

    def collate(items):
        seen.append(len(items))
        return items

    batches = list(DataLoader(make_ds(5), batch_size=2, collate_fn=collate))
    assert seen == [2, 2, 1] and batches[2][0][1] == 4


def test_default_collate_gives_tensors_of_the_items_dtype(tensor_cls):
    x = np.ones((4, 3), np.float64)
    for shuffle in (False, True):  # the fast path (get_batch) and ... the same result
        xb, yb = next(iter(DataLoader(TensorDataset(x, np.arange(4, dtype=np.uint8)),
                                      batch_size=4)))
        assert isinstance(xb, tensor_cls) and isinstance(yb, tensor_cls)
        assert xb._data.dtype == np.float64 and xb._data.shape == (4, 3)  # as PyTorch's
        assert yb._data.dtype == np.uint8 and yb._data.tolist() == [0, 1, 2, 3]
    items = default_collate([(np.zeros(2, np.float32), 1), (np.ones(2, np.float32), 0)])
    assert isinstance(items, list) and isinstance(items[0], tensor_cls)
    assert items[1]._data.dtype == np.int64


def test_fashion_batches(tmp_path, rng, tensor_cls):
    write_idx(tmp_path / "train-images-idx3-ubyte.gz",
              rng.integers(0, 256, (10, 28, 28), dtype=np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", (np.arange(10) % 10).astype(np.uint8))
    ds = FashionMNIST(root=tmp_path, transform=Compose([ToFloat(), Normalize(0.5, 0.5)]),
                      download=False)
    loader = DataLoader(ds, batch_size=4, shuffle=True, seed=0)
    xb, yb = next(iter(loader))
    assert isinstance(xb, tensor_cls)
    assert xb._data.shape == (4, 28, 28) and xb._data.dtype == np.float32
    assert yb._data.dtype == np.int64
    assert -1.0 <= xb._data.min() and xb._data.max() <= 1.0
    raw = DataLoader(FashionMNIST(root=tmp_path, download=False), batch_size=3,
                     collate_fn=numpy_collate)
    assert next(iter(raw))[0].dtype == np.uint8  # pixels pass through until ToFloat


def test_collate_structures_and_errors():
    batch = numpy_collate([{"x": np.zeros(2), "y": 1}, {"x": np.ones(2), "y": 2}])
    assert batch["x"].shape == (2, 2) and batch["y"].tolist() == [1, 2]
    assert numpy_collate([np.float64(1.5), np.float64(2.5)]).dtype == np.float32
    assert numpy_collate([True, False]).dtype == np.bool_
    with pytest.raises(ValueError, match=r"different shapes \[\(2,\), \(3,\)\]"):
        numpy_collate([(np.zeros(2), 0), (np.zeros(3), 1)])
    with pytest.raises(ValueError, match="different lengths"):
        numpy_collate([(1, 2), (1,)])
    with pytest.raises(ValueError, match="different keys"):
        numpy_collate([{"a": 1}, {"b": 1}])
    with pytest.raises(ValueError, match="empty list"):
        numpy_collate([])
    with pytest.raises(TypeError, match="cannot batch items of dtype <U1"):
        numpy_collate(["a", "b"])
