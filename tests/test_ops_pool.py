"""max_pool2d / avg_pool2d (naive and fast) against torch.nn.functional in float64.

Ties (integer-valued inputs), overlapping windows, padding, dilation and ceil_mode are drawn
by hypothesis; NaN/-inf windows and inf gradients are checked by hand.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import chainrule as cr
import chainrule.ops.pool as pool_mod
from chainrule.autograd import grad
from chainrule.ops.pool import avg_pool2d, max_pool2d, pool_impl, pool_output_size
from chainrule.testing import assert_parity, gradcheck, gradgradcheck

# every test runs twice: with the compiled kernels (Numba) and with the NumPy formulas
pytestmark = pytest.mark.usefixtures("kernel_mode")

torch = pytest.importorskip("torch")
F = torch.nn.functional


@st.composite
def pool_cases(draw: Any, dilation: bool = True) -> dict:
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dh, dw = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) if dilation else (1, 1)
    ph, pw = draw(st.integers(0, kh // 2)), draw(st.integers(0, kw // 2))
    stride = draw(st.one_of(st.none(), st.tuples(st.integers(1, 3), st.integers(1, 3))))
    h = max(1, dh * (kh - 1) + 1 - 2 * ph) + draw(st.integers(0, 6))
    w = max(1, dw * (kw - 1) + 1 - 2 * pw) + draw(st.integers(0, 6))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 3)), h, w)
    return dict(shape=shape, kernel_size=(kh, kw), stride=stride, padding=(ph, pw),
                dilation=(dh, dw), ceil_mode=draw(st.booleans()),
                ties=draw(st.booleans()))


def _input(case: dict, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if case["ties"]:  # few distinct values: many windows hold several maxima
        return rng.integers(-2, 2, case["shape"]).astype(np.float64)
    return rng.standard_normal(case["shape"])


def _torch_pool(fn: Any, x: np.ndarray, gy_seed: int, **kw: Any) -> tuple:
    xt = torch.tensor(x, requires_grad=True)
    y = fn(xt, **kw)
    gy = np.random.default_rng(gy_seed).standard_normal(tuple(y.shape))
    (gx,) = torch.autograd.grad(y, xt, torch.tensor(gy))
    return y.detach().numpy(), gy, gx.numpy()


def _ours(fn: Any, x: np.ndarray, gy: np.ndarray, **kw: Any) -> tuple:
    xc = cr.Tensor(x.copy(), requires_grad=True)
    y = fn(xc, **kw)
    (gx,) = grad(y, xc, cr.Tensor(gy))
    return y._data, gx._data


# ----------------------------------------------------------------------------- max
@pytest.mark.parametrize("impl", ["fast", "naive"])
@given(case=pool_cases())
def test_max_pool_matches_torch(impl: str, case: dict) -> None:
    x = _input(case)
    kw = {k: case[k] for k in ("kernel_size", "stride", "padding", "dilation", "ceil_mode")}
    # a window whose dilated taps all fall in the padding outputs -inf; torch's backward then
    # writes its gradient past the end of the plane (heap corruption for the last channel):
    # keep such cases away from torch (our behaviour is tested below)
    assume(np.isfinite(max_pool2d(cr.Tensor(x), **kw)._data).all())
    y_ref, gy, gx_ref = _torch_pool(F.max_pool2d, x, 1, **kw)
    y, gx = _ours(max_pool2d, x, gy, impl=impl, **kw)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-12, atol=1e-12)  # incl. the tie rule


def test_window_entirely_in_padding_outputs_minus_inf_and_no_gradient() -> None:
    x = cr.Tensor(np.array([[[[1.0]], [[2.0]]]]), requires_grad=True)  # (1, 2, 1, 1)
    for impl in ("fast", "naive"):
        y = max_pool2d(x, (2, 1), padding=(1, 0), dilation=(2, 1), impl=impl)
        assert y.tolist() == [[[[-np.inf]], [[-np.inf]]]]
        (gx,) = grad(y, x, cr.ones_like(y))
        assert gx.tolist() == [[[[0.0]], [[0.0]]]]


def test_max_pool_ties_go_to_the_first_maximum_in_row_major_order() -> None:
    # every window is constant: torch's CPU kernel picks its top-left value
    x = np.ones((1, 1, 4, 4))
    for impl in ("fast", "naive"):
        _, gx = _ours(max_pool2d, x, np.ones((1, 1, 2, 2)), kernel_size=2, impl=impl)
        np.testing.assert_array_equal(gx[0, 0], [[1, 0, 1, 0], [0, 0, 0, 0]] * 2)
    # the two maxima sit at (0, 1) and (1, 0): (0, 1) comes first in row-major order
    x = np.array([[[[0.0, 5.0], [5.0, 0.0]]]])
    _, gy, gx_ref = _torch_pool(F.max_pool2d, x, 0, kernel_size=2)
    for impl in ("fast", "naive"):
        _, gx = _ours(max_pool2d, x, gy, kernel_size=2, impl=impl)
        np.testing.assert_array_equal(gx, gx_ref)
        assert gx[0, 0, 0, 1] != 0 and gx[0, 0, 1, 0] == 0


def test_overlapping_windows_accumulate() -> None:
    x = np.array([[[[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]]])
    for impl in ("fast", "naive"):
        y, gx = _ours(max_pool2d, x, np.ones((1, 1, 2, 2)), kernel_size=2, stride=1, impl=impl)
        assert y.tolist() == [[[[9.0, 9.0], [9.0, 9.0]]]]
        assert gx[0, 0, 1, 1] == 4 and gx.sum() == 4


@pytest.mark.parametrize("impl", ["fast", "naive"])
def test_max_pool_nan_and_minus_inf_windows_follow_torch(impl: str) -> None:
    x = np.full((1, 1, 4, 4), -np.inf)
    x[0, 0, 0, 1] = np.nan
    x[0, 0, 2, 3] = np.nan
    x[0, 0, 3, 3] = np.nan  # two NaNs in one window: the last is the arg-max
    y_ref, gy, gx_ref = _torch_pool(F.max_pool2d, x, 0, kernel_size=2, stride=2, padding=1)
    y, gx = _ours(max_pool2d, x, gy, kernel_size=2, stride=2, padding=1, impl=impl)
    np.testing.assert_array_equal(y, y_ref)
    np.testing.assert_array_equal(gx, gx_ref)


def test_tiling_windows_take_the_contiguous_taps_path(monkeypatch: pytest.MonkeyPatch,
                                                       kernel_mode: bool) -> None:
    """kernel = stride, no padding: the taps are copied once (or, for 2x2, the compiled
    kernel runs); ties, NaN and -inf as torch."""
    from chainrule.kernels import pool_schedules

    taken: list[bool] = []
    real = pool_schedules._taps
    monkeypatch.setattr(pool_schedules, "_taps", lambda *a: taken.append(real(*a) is not None)
                        or real(*a))
    rng = np.random.default_rng(3)
    x = rng.integers(-2, 2, (2, 3, 6, 9)).astype(np.float64)  # ties in most windows
    x[0, 0, :2, :3] = -np.inf
    x[0, 1, 0, 1] = x[0, 1, 1, 2] = np.nan  # two NaNs in one window: the last is the arg-max
    for kw in (dict(kernel_size=2), dict(kernel_size=(2, 3)), dict(kernel_size=3, stride=2)):
        y_ref, gy, gx_ref = _torch_pool(F.max_pool2d, x, 0, **kw)
        y, gx = _ours(max_pool2d, x, gy, **kw)
        np.testing.assert_array_equal(y, y_ref)
        np.testing.assert_array_equal(gx, gx_ref)
    # 2x2 on 6x9 tiles all but the last column (compiled: no taps); 2x3 tiles 6x9; 3x3
    # stride 2 overlaps
    assert taken == ([True, False] if kernel_mode else [True, True, False])


def test_max_pool_inf_gradient_does_not_leak_nan() -> None:
    x = cr.Tensor(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    (gx,) = grad(max_pool2d(x, 2), x, cr.Tensor(np.full((1, 1, 2, 2), np.inf)))
    assert not np.isnan(gx._data).any()
    assert np.isinf(gx._data).sum() == 4


@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=1),
                                dict(kernel_size=(2, 3), dilation=(2, 1), ceil_mode=True)])
def test_max_pool_gradcheck_and_gradgradcheck(kw: dict, seeded: np.random.Generator) -> None:
    # distinct values: the max is differentiable (no tie within eps)
    x = cr.Tensor(seeded.permutation(50).reshape(1, 2, 5, 5) / 7.0, requires_grad=True)
    assert gradcheck(lambda t: max_pool2d(t, **kw), (x,))
    assert gradgradcheck(lambda t: max_pool2d(t, **kw), (x,))


def test_max_pool_float32_and_unbatched(seeded: np.random.Generator) -> None:
    x = seeded.standard_normal((3, 6, 6)).astype(np.float32)
    xc = cr.Tensor(x, requires_grad=True)
    y = max_pool2d(xc, 2)
    assert y.shape == (3, 3, 3) and y.dtype == np.float32
    np.testing.assert_array_equal(y._data, F.max_pool2d(torch.tensor(x), 2).numpy())
    y.sum().backward()
    assert xc.grad.dtype == np.float32 and xc.grad.shape == (3, 6, 6)


# ----------------------------------------------------------------------------- avg
@pytest.mark.parametrize("impl", ["fast", "naive"])
@given(case=pool_cases(dilation=False), count_include_pad=st.booleans(),
       divisor_override=st.sampled_from([None, 3]))
def test_avg_pool_matches_torch(impl: str, case: dict, count_include_pad: bool,
                                divisor_override: Any) -> None:
    x = _input(case)
    kw = {k: case[k] for k in ("kernel_size", "stride", "padding", "ceil_mode")}
    kw.update(count_include_pad=count_include_pad, divisor_override=divisor_override)
    y_ref, gy, gx_ref = _torch_pool(F.avg_pool2d, x, 1, **kw)
    y, gx = _ours(avg_pool2d, x, gy, impl=impl, **kw)
    np.testing.assert_allclose(y, y_ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gx, gx_ref, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kw", [dict(kernel_size=3, stride=2, padding=1),
                                dict(kernel_size=2, stride=1, count_include_pad=False),
                                dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                     count_include_pad=False)])
def test_avg_pool_gradcheck_and_gradgradcheck(kw: dict, seeded: np.random.Generator) -> None:
    x = cr.Tensor(seeded.standard_normal((1, 2, 5, 6)), requires_grad=True)
    assert gradcheck(lambda t: avg_pool2d(t, **kw), (x,))
    assert gradgradcheck(lambda t: avg_pool2d(t, **kw), (x,))


def test_naive_pool_backward_is_first_order_only() -> None:
    x = cr.randn(1, 1, 4, 4, dtype=cr.float64, requires_grad=True)
    for fn in (max_pool2d, avg_pool2d):
        with pytest.raises(RuntimeError, match="first-order backward only"):
            grad(fn(x, 2, impl="naive").sum(), x, create_graph=True)


# ----------------------------------------------------------------------------- misc
def test_pool_impl_context_manager_restores() -> None:
    x = cr.randn(1, 1, 4, 4, requires_grad=True)
    with pool_impl("naive"):
        assert isinstance(max_pool2d(x, 2).grad_fn, pool_mod.MaxPool2dNaive)
        with pytest.raises(ZeroDivisionError):
            with pool_impl("fast"):
                1 / 0
        assert isinstance(avg_pool2d(x, 2).grad_fn, pool_mod.AvgPool2dNaive)
    assert isinstance(max_pool2d(x, 2).grad_fn, pool_mod.MaxPool2d)
    with pytest.raises(ValueError, match="unknown impl 'cuda'"):
        max_pool2d(x, 2, impl="cuda")


def test_output_size() -> None:
    assert pool_output_size(28, 2, 2, 0, 1, False) == 14
    assert pool_output_size(5, 2, 2, 0, 1, True) == 3
    assert pool_output_size(5, 2, 2, 1, 1, True) == 3  # a window starting in the padding is dropped


@pytest.mark.parametrize("fn,args,kw,pattern", [
    (max_pool2d, (2,), dict(padding=2), r"pad should be smaller than or equal to half of "
                                        r"kernel size, but got padding=2 and kernel_size=2"),
    (avg_pool2d, (3,), dict(padding=2), r"pad should be smaller than or equal to half"),
    (max_pool2d, (5,), {}, r"calculated output size \(0 x 0\) is too small"),
    (max_pool2d, (0,), {}, r"kernel_size must be positive"),
    (max_pool2d, (2,), dict(stride=0), r"stride must be positive"),
    (max_pool2d, (2,), dict(dilation=0), r"dilation must be positive"),
    (avg_pool2d, (2,), dict(divisor_override=0), r"divisor_override must be a non-zero int"),
])
def test_value_errors(fn: Any, args: tuple, kw: dict, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern):
        fn(cr.zeros(1, 1, 4, 4), *args, **kw)


def test_rank_and_type_errors() -> None:
    with pytest.raises(ValueError, match=r"expected 3-D \(unbatched C, H, W\) or 4-D .*got "
                                         r"input of shape \(4, 4\)"):
        max_pool2d(cr.zeros(4, 4), 2)
    with pytest.raises(TypeError, match="floating point input"):
        avg_pool2d(cr.Tensor(np.zeros((1, 1, 4, 4), np.int64)), 2)
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        max_pool2d(cr.zeros(1, 1, 4, 4), 2.0)


# ---------------------------------------------------------------- review regressions
@pytest.mark.parametrize("impl", ["fast", "naive"])
@pytest.mark.parametrize("shape,kw", [
    ((2, 3, 8, 8), dict(kernel_size=2)),
    ((1, 2, 7, 7), dict(kernel_size=3, stride=2, padding=1)),
    ((1, 1, 7, 7), dict(kernel_size=2, stride=2, ceil_mode=True)),
    ((1, 1, 9, 9), dict(kernel_size=3, stride=1, dilation=2)),
    ((2, 6, 6), dict(kernel_size=2)),
    ((1, 1, 5, 6), dict(kernel_size=(2, 3), stride=(1, 2), padding=(1, 1))),
])
def test_max_pool2d_return_indices_match_torch(impl, shape, kw):
    import torch
    import torch.nn.functional as TF

    x = np.random.default_rng(5).normal(size=shape).round(0)  # integer values: ties
    y, idx = cr.nn.functional.max_pool2d(cr.tensor(x), return_indices=True, impl=impl, **kw)
    y_t, idx_t = TF.max_pool2d(torch.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(y._data, y_t.numpy())
    assert idx.dtype == np.int64
    np.testing.assert_array_equal(idx._data, idx_t.numpy())


# ------------------------------------------------- special values and inf/NaN upstream gradients
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e308, -1e308, 1e-308, -1e-308])
POOLS = {  # every fast kernel: the compiled 2x2, tiling taps, overlapping and padded windows
    "2x2": dict(kernel_size=2), "2x3 tiles": dict(kernel_size=(2, 3)),
    "3x3 stride 2 pad 1": dict(kernel_size=3, stride=2, padding=1),
    "2x2 stride 1": dict(kernel_size=2, stride=1),
}


@pytest.mark.parametrize("upstream", [np.inf, -np.inf, np.nan, 2.0])
@pytest.mark.parametrize("path", ["fast", "fast formula", "naive"])
@pytest.mark.parametrize("pool", sorted(POOLS))
def test_max_pool_at_special_values_and_upstreams_matches_torch(pool: str, path: str,
                                                                upstream: float) -> None:
    """Windows holding NaN, +-inf, huge and tiny values; an inf or NaN upstream gradient
    reaches each window's arg-max only (every other position gets exactly 0, not NaN), on
    the compiled and NumPy kernels, the naive loops and the recorded formula."""
    x = np.random.default_rng(5).standard_normal((2, 2, 6, 6))
    flat = x.reshape(-1)
    flat[np.random.default_rng(6).permutation(flat.size)[:40]] = np.resize(SPECIAL, 40)
    impl = "naive" if path == "naive" else "fast"

    def fn(lib: Any, t: Any) -> Any:
        y = lib.nn.functional.max_pool2d(t, **POOLS[pool]) if lib is torch else \
            max_pool2d(t, impl=impl, **POOLS[pool])
        return y * lib.tensor(np.full(tuple(y.shape), upstream))

    assert_parity(fn, x, second_order=path == "fast formula")


@pytest.mark.parametrize("impl", ["fast", "naive"])
@pytest.mark.parametrize("shape", [(0, 2, 4, 4), (0, 1, 1, 1)])
def test_pools_of_an_empty_batch_are_empty_like_torch(impl: str, shape: tuple) -> None:
    """N = 0: empty outputs and gradients, as torch; a zero channel or spatial size is an
    error in both (checked by test_value_errors)."""
    for pool in (lambda lib, t: lib.nn.functional.max_pool2d(t, 1), lambda lib, t:
                 lib.nn.functional.avg_pool2d(t, 1), lambda lib, t:
                 lib.nn.functional.max_pool2d(t, 3, 1, 1)):
        with pool_impl(impl):
            assert_parity(pool, np.zeros(shape))
