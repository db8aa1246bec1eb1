"""The compiled kernels (chainrule.kernels.numba_loops) against their NumPy formulas, float32
and float64.

The ops that call them are tested against PyTorch in both modes (the ``kernel_mode`` fixture);
here each kernel meets the formula it replaces directly, on hypothesis shapes with size-1
axes, and on the inputs that break naive code: a mean far from zero, NaN and infinities.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

pytest.importorskip("numba")

from chainrule.backend import use_compiled  # noqa: E402
from chainrule.kernels import numba_loops as loops  # noqa: E402
from chainrule.kernels import pool_schedules  # noqa: E402

DTYPES = [np.float32, np.float64]
TOL = {np.float32: 2e-5, np.float64: 1e-12}

ncs = st.tuples(st.integers(1, 4), st.integers(1, 5), st.integers(1, 40))


def _data(rng, shape, dtype, offset=0.0):
    return (rng.normal(size=shape) * 3 + offset).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=ncs, seed=st.integers(0, 2**16))
def test_channel_stats_are_the_float64_mean_and_biased_variance(dtype, shape, seed):
    x = _data(np.random.default_rng(seed), shape, dtype, offset=5.0)
    mean, var = loops.channel_stats(x)
    ref = x.astype(np.float64)
    assert mean.dtype == var.dtype == np.float64
    np.testing.assert_allclose(mean, ref.mean(axis=(0, 2)), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(var, ref.var(axis=(0, 2)), rtol=1e-10, atol=1e-12)


def test_channel_stats_do_not_cancel_far_from_zero():
    # float32 values 1e4 +- 1: E[x^2] - E[x]^2 in float32 would lose every digit of the
    # variance; the shifted float64 sums keep it
    x = (1e4 + np.random.default_rng(1).normal(size=(64, 3, 100))).astype(np.float32)
    _, var = loops.channel_stats(x)
    np.testing.assert_allclose(var, x.astype(np.float64).var(axis=(0, 2)), rtol=1e-9)


def test_channel_stats_propagate_nan_and_inf_as_numpy():
    x = np.ones((2, 3, 4), np.float32)
    x[0, 0, 0] = np.inf  # the shift falls back to 0 for a non-finite first value
    x[1, 1, 2] = np.nan
    mean, var = loops.channel_stats(x)
    ref = x.astype(np.float64)
    with np.errstate(invalid="ignore"):
        np.testing.assert_array_equal(mean, ref.mean(axis=(0, 2)))
        np.testing.assert_array_equal(np.isnan(var), np.isnan(ref.var(axis=(0, 2))))
    assert var[2] == 0.0


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=ncs, seed=st.integers(0, 2**16))
def test_scale_shift_and_batch_norm_grad_match_their_formulas(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    x, g = _data(rng, shape, dtype), _data(rng, shape, dtype)
    C = shape[1]
    m, a, b, k, d = (rng.normal(size=C).astype(dtype) for _ in range(5))
    out = np.empty(shape, dtype)
    loops.scale_shift(x, m, a, b, out)
    col = lambda v: v.reshape(1, C, 1)  # noqa: E731  (C,) -> (1, C, 1)
    np.testing.assert_allclose(out, (x - col(m)) * col(a) + col(b), rtol=TOL[dtype],
                               atol=TOL[dtype] * 10)
    loops.batch_norm_grad(g, x, m, a, k, d, out)
    np.testing.assert_allclose(out, col(a) * g - col(k) * (x - col(m)) + col(d),
                               rtol=TOL[dtype], atol=TOL[dtype] * 100)


@pytest.mark.parametrize("dtype", DTYPES)
@given(shape=ncs, seed=st.integers(0, 2**16))
def test_grad_sums_are_float64_channel_sums(dtype, shape, seed):
    rng = np.random.default_rng(seed)
    x, g = _data(rng, shape, dtype, offset=2.0), _data(rng, shape, dtype)
    mean = rng.normal(size=shape[1]).astype(dtype)
    sum_g, sum_gxc = loops.grad_sums(g, x, mean)
    g64, xc64 = g.astype(np.float64), x.astype(np.float64) - mean.astype(np.float64)[:, None]
    np.testing.assert_allclose(sum_g, g64.sum(axis=(0, 2)), rtol=1e-12, atol=1e-9)
    np.testing.assert_allclose(sum_gxc, (g64 * xc64).sum(axis=(0, 2)), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("dtype", DTYPES)
def test_tanh_grad_matches_its_formula(dtype):
    rng = np.random.default_rng(2)
    y = np.tanh(rng.normal(size=1000)).astype(dtype)
    g = rng.normal(size=1000).astype(dtype)
    y[:3], g[3] = [1.0, -1.0, np.nan], np.inf
    out = np.empty_like(y)
    loops.tanh_grad(y, g, out)
    with np.errstate(invalid="ignore"):
        np.testing.assert_allclose(out, g * (1 - y * y), rtol=TOL[dtype], atol=TOL[dtype])


def test_float32_erf_is_within_its_bound_of_the_c_library():
    """The rational erf over a dense grid of [-6, 6] and the special values: within 3.4e-7 of
    the C library's erf (rounded from float64), NaN kept, +-inf to +-1, odd."""
    import math
    x = np.concatenate([np.linspace(-6, 6, 200_001), [0.0, -0.0, 1e-30, 3.9, 4.0, 50.0]])
    x = x.astype(np.float32)
    out = np.empty_like(x)
    loops.erf_f32(x, out)
    ref = np.array([math.erf(float(v)) for v in x])
    assert np.abs(out - ref).max() <= 3.4e-7
    np.testing.assert_array_equal(out, -_erf32(-x))
    special = _erf32(np.array([np.nan, np.inf, -np.inf], np.float32))
    assert np.isnan(special[0]) and special[1:].tolist() == [1.0, -1.0]


def _erf32(x):
    out = np.empty_like(x)
    loops.erf_f32(x, out)
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(2, 9), w=st.integers(2, 9),
       seed=st.integers(0, 2**16))
def test_max_pool_2x2_matches_the_numpy_kernel(dtype, n, c, h, w, seed):
    # integer values: ties in most windows; plus NaNs and -inf windows
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 2, (n, c, h, w)).astype(dtype)
    x.reshape(-1)[rng.integers(0, x.size, 2)] = np.nan
    x[0, 0, :2, :2] = -np.inf
    g = pool_schedules.PoolGeometry((2, 2), (2, 2), (0, 0), (1, 1), (h // 2, w // 2))
    gy = rng.normal(size=(n, c, h // 2, w // 2)).astype(dtype)
    with use_compiled(False):
        y_ref, idx_ref = pool_schedules.max_forward(x, g)
        gx_ref = pool_schedules.max_scatter(gy, idx_ref, x.shape, g)
    y, idx = np.empty_like(y_ref), np.empty_like(idx_ref)
    loops.max_pool_2x2(x, y, idx)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(idx, idx_ref)
    gx = np.full(x.shape, 7.0, dtype)  # the kernel writes the covered rows and columns
    loops.max_unpool_2x2(gy, idx, gx)
    oh, ow = 2 * (h // 2), 2 * (w // 2)
    np.testing.assert_array_equal(gx[:, :, :oh, :ow], gx_ref[:, :, :oh, :ow])
