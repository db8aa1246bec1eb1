"""Factories: dtypes like torch, shapes, reproducible randomness."""
import numpy as np
import pytest

import chainrule as cr


def test_dtype_inference_like_torch():
    assert cr.tensor(1.5).dtype == np.float32 and cr.tensor([1, 2]).dtype == np.int64
    assert cr.tensor([True]).dtype == np.bool_
    assert cr.tensor(np.ones(2)).dtype == np.float64  # ndarrays keep their dtype
    assert cr.tensor([1, 2], dtype=cr.float64).dtype == np.float64


def test_factories():
    assert cr.zeros(2, 3).shape == (2, 3) and cr.ones((2,)).tolist() == [1.0, 1.0]
    assert cr.full((2,), 7).tolist() == [7, 7] and cr.full((1,), 0.5).dtype == np.float32
    assert cr.arange(4).tolist() == [0, 1, 2, 3] and cr.arange(4).dtype == np.int64
    assert cr.arange(0.0, 1.0, 0.25).dtype == np.float32
    assert cr.linspace(0, 1, 3).tolist() == [0.0, 0.5, 1.0]
    assert cr.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert cr.zeros_like(cr.ones(2, dtype=cr.float64)).dtype == np.float64
    assert cr.ones_like(cr.zeros(3)).tolist() == [1.0] * 3
    assert cr.empty(2, 2).shape == (2, 2)
    assert cr.randn(3, 4).dtype == np.float32 and cr.rand(2).dtype == np.float32
    r = cr.randint(0, 5, (100,))
    assert r.dtype == np.int64 and 0 <= r.data.min() and r.data.max() < 5


def test_manual_seed_reproducible():
    cr.manual_seed(42)
    a = (cr.randn(5).tolist(), cr.rand(2).tolist(), cr.randint(10, (3,)).tolist())
    cr.manual_seed(42)
    b = (cr.randn(5).tolist(), cr.rand(2).tolist(), cr.randint(10, (3,)).tolist())
    assert a == b


def test_rng_state_round_trip():
    state = cr.get_rng_state()
    a = cr.randn(3).tolist()
    cr.set_rng_state(state)
    assert cr.randn(3).tolist() == a


def test_bad_sizes_and_args():
    with pytest.raises(ValueError, match="non-negative"):
        cr.zeros(-1)
    with pytest.raises(ValueError, match="low < high"):
        cr.randint(5, 5, (2,))
    with pytest.raises(TypeError, match="seed must be an int"):
        cr.manual_seed("x")
