"""Transforms: values, dtypes (float32 stays float32), batch/single shapes and errors."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainrule.data.transforms import Compose, Normalize, ToFloat


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(3)


def test_to_float_scales_uint8(rng):
    x = rng.integers(0, 256, size=(4, 28, 28), dtype=np.uint8)
    x[0, 0, 0], x[0, 0, 1] = 0, 255
    before = x.copy()
    y = ToFloat()(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert y[0, 0, 0] == 0.0 and y[0, 0, 1] == 1.0
    np.testing.assert_allclose(y, x / 255.0, rtol=1e-6)
    np.testing.assert_array_equal(x, before)  # input untouched


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_to_float_keeps_float_values(dtype):
    x = np.array([0.5, 2.0], dtype)
    y = ToFloat()(x)
    assert y.dtype == np.float32 and y.tolist() == [0.5, 2.0]


def test_to_float_bool_and_bad_ints():
    assert ToFloat()(np.array([True, False])).tolist() == [1.0, 0.0]
    with pytest.raises(TypeError, match="ToFloat: expected uint8 .* got dtype int64"):
        ToFloat()(np.array([1, 2], np.int64))


def test_normalize_scalar_keeps_float32(rng):
    x = rng.random((2, 5, 5), dtype=np.float32)
    y = Normalize(0.2860, 0.3530)(x)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, (x.astype(np.float64) - 0.2860) / 0.3530, rtol=1e-5, atol=1e-6)
    z = Normalize([0.1], [2.0])(x[0])  # one value given as a sequence works on any shape
    assert z.dtype == np.float32 and z.shape == (5, 5)


def test_normalize_float64_stays_float64():
    assert Normalize(0.5, 0.5)(np.zeros(3)).dtype == np.float64


@pytest.mark.parametrize("shape", [(3, 4, 4), (2, 3, 4, 4)])
def test_normalize_per_channel(rng, shape):
    x = rng.random(shape, dtype=np.float32)
    mean, std = [0.1, 0.2, 0.3], [1.0, 2.0, 4.0]
    y = Normalize(mean, std)(x)
    for c in range(3):
        np.testing.assert_allclose(y[..., c, :, :], (x[..., c, :, :] - mean[c]) / std[c], rtol=1e-6)
    assert y.dtype == np.float32


@pytest.mark.parametrize("kwargs, exc, msg", [
    (dict(mean=0.5, std=0.0), ValueError, "std must be > 0"),
    (dict(mean=[0.5, 0.5], std=[1.0]), ValueError, "mean has 2 values but std has 1"),
    (dict(mean=[], std=[]), ValueError, "non-empty"),
    (dict(mean=float("nan"), std=1.0), ValueError, "finite"),
])
def test_normalize_bad_args(kwargs, exc, msg):
    with pytest.raises(exc, match=msg):
        Normalize(**kwargs)


def test_normalize_bad_inputs():
    with pytest.raises(TypeError, match="Normalize: expected a floating array, got dtype uint8; "
                                        "apply ToFloat"):
        Normalize(0.5, 0.5)(np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match=r"C=3, got shape \(2, 4, 4\)"):
        Normalize([0, 0, 0], [1, 1, 1])(np.zeros((2, 4, 4), np.float32))


def test_compose_order_and_batch_safety():
    t = Compose([ToFloat(), Normalize(0.5, 0.5)])
    assert t(np.array([0, 255], np.uint8)).tolist() == [-1.0, 1.0]
    assert t.batch_safe
    assert not Compose([ToFloat(), lambda x: x]).batch_safe
    assert "ToFloat()" in repr(t) and "Normalize" in repr(t)
    with pytest.raises(TypeError, match="must be callable"):
        Compose([ToFloat(), 3])


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=4), seed=st.integers(0, 999),
       mean=st.floats(-1, 1), std=st.floats(0.05, 3))
def test_pipeline_matches_float64_reference(shape, seed, mean, std):
    x = np.random.default_rng(seed).integers(0, 256, size=shape, dtype=np.uint8)
    y = Compose([ToFloat(), Normalize(mean, std)])(x)
    assert y.dtype == np.float32 and y.shape == tuple(shape)
    ref = (x / 255.0 - mean) / std
    np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)
