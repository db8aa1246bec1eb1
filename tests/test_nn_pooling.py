"""MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and AdaptiveMaxPool2d against torch: outputs, input
gradients (ties included), reprs, float64 gradcheck, the return_indices of the max pools,
AvgPool2d's divisor_override, and the adaptive pools' output sizes (ints, pairs, None) and
errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from helpers import module_parity

# every test runs twice: with the compiled kernels (Numba) and with the NumPy formulas
pytestmark = pytest.mark.usefixtures("kernel_mode")

MAX_CONFIGS = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
               dict(kernel_size=(2, 3), stride=1, dilation=2),
               dict(kernel_size=3, stride=2, ceil_mode=True)]
AVG_CONFIGS = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
               dict(kernel_size=3, stride=2, padding=1, count_include_pad=False),
               dict(kernel_size=(2, 3), stride=(1, 2), ceil_mode=True)]


def _ids(k: dict) -> str:
    return ",".join(f"{a}={b}" for a, b in k.items())


@pytest.fixture
def x() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((2, 3, 7, 8)).astype(np.float32)


@pytest.mark.parametrize("kwargs", MAX_CONFIGS, ids=_ids)
def test_max_pool_matches_torch(x, kwargs):
    assert repr(nn.MaxPool2d(**kwargs)) == repr(torch.nn.MaxPool2d(**kwargs))
    module_parity(nn.MaxPool2d(**kwargs), torch.nn.MaxPool2d(**kwargs), x)


def test_max_pool_ties_follow_torch():
    x = np.zeros((1, 1, 4, 4), np.float32)  # every window is a tie
    module_parity(nn.MaxPool2d(2), torch.nn.MaxPool2d(2), x)
    module_parity(nn.MaxPool2d(3, stride=1), torch.nn.MaxPool2d(3, stride=1), x)


@pytest.mark.parametrize("kwargs", AVG_CONFIGS, ids=_ids)
def test_avg_pool_matches_torch(x, kwargs):
    assert repr(nn.AvgPool2d(**kwargs)) == repr(torch.nn.AvgPool2d(**kwargs))
    module_parity(nn.AvgPool2d(**kwargs), torch.nn.AvgPool2d(**kwargs), x)


def test_pooling_gradcheck_float64():
    r = np.random.default_rng(1)
    x = cr.tensor(r.standard_normal((1, 2, 5, 5)), requires_grad=True)
    assert gradcheck(nn.MaxPool2d(3, stride=2, padding=1), (x,))
    assert gradcheck(nn.AvgPool2d(2, stride=1), (x,))


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=(2, 3), stride=1, dilation=2,
                                         ceil_mode=True)], ids=_ids)
def test_max_pool_return_indices_matches_torch(x, kwargs):
    """Regression: MaxPool2d(return_indices=True) raised ValueError; torch returns (out, idx)."""
    x[0, 0, :2, :2] = 1.0  # a tie: the first maximum's index, as torch
    ours = nn.MaxPool2d(**kwargs, return_indices=True)
    theirs = torch.nn.MaxPool2d(**kwargs, return_indices=True)
    assert ours.return_indices is True and repr(ours) == repr(theirs)
    xo, xt = cr.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    (yo, io), (yt, it) = ours(xo), theirs(xt)
    np.testing.assert_array_equal(yo._data, yt.detach().numpy())
    assert io.dtype == np.int64 and io.shape == yo.shape
    np.testing.assert_array_equal(io._data, it.numpy())
    np.testing.assert_array_equal(ours(cr.tensor(x[0]))[1]._data, theirs(torch.tensor(x[0]))[1])
    yo.sum().backward(), yt.sum().backward()
    np.testing.assert_array_equal(xo.grad._data, xt.grad.numpy())


@pytest.mark.parametrize("kwargs", [dict(kernel_size=2, divisor_override=3),
                                    dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                         count_include_pad=False, divisor_override=2)], ids=_ids)
def test_avg_pool_divisor_override_matches_torch(x, kwargs):
    """Regression: AvgPool2d had no divisor_override argument (torch's has, default None)."""
    ours = nn.AvgPool2d(**kwargs)
    assert ours.divisor_override == kwargs["divisor_override"]
    assert nn.AvgPool2d(2).divisor_override is None
    assert repr(ours) == repr(torch.nn.AvgPool2d(**kwargs))
    module_parity(ours, torch.nn.AvgPool2d(**kwargs), x)


# ============================================================================ adaptive pooling
ADAPTIVE_SIZES = [1, 3, (2, 4), [2, 3], (None, 3), (3, None), (7, 5), (10, 9), (5, 1), 0, (0, 2)]


@pytest.mark.parametrize("output_size", ADAPTIVE_SIZES, ids=str)
def test_adaptive_avg_pool_matches_torch(x, output_size):
    ours, theirs = nn.AdaptiveAvgPool2d(output_size), torch.nn.AdaptiveAvgPool2d(output_size)
    assert repr(ours) == repr(theirs)
    if 0 in (output_size if isinstance(output_size, (tuple, list)) else (output_size,)):
        y = ours(cr.tensor(x))  # an empty output, as torch's
        assert y.shape == tuple(theirs(torch.tensor(x)).shape)
        return
    module_parity(ours, theirs, x)
    module_parity(ours, theirs, x[0])  # (C, H, W): no batch


@pytest.mark.parametrize("output_size", ADAPTIVE_SIZES, ids=str)
def test_adaptive_max_pool_matches_torch(x, output_size):
    ours, theirs = nn.AdaptiveMaxPool2d(output_size), torch.nn.AdaptiveMaxPool2d(output_size)
    assert repr(ours) == repr(theirs)
    if 0 in (output_size if isinstance(output_size, (tuple, list)) else (output_size,)):
        assert ours(cr.tensor(x)).shape == tuple(theirs(torch.tensor(x)).shape)
        return
    module_parity(ours, theirs, x)
    module_parity(ours, theirs, x[0])


@pytest.mark.parametrize("output_size", [1, 3, (2, 4), (None, 3), (7, 5), (10, 9)], ids=str)
def test_adaptive_max_pool_return_indices_matches_torch(x, output_size):
    x = x.copy()
    x[0, 0, :3, :3] = 2.0  # ties: the first maximum's index, as torch
    x[1, 1, 2, 2] = np.nan  # NaN is the maximum of its windows, as torch
    ours = nn.AdaptiveMaxPool2d(output_size, return_indices=True)
    theirs = torch.nn.AdaptiveMaxPool2d(output_size, return_indices=True)
    assert ours.return_indices and repr(ours) == repr(theirs)  # torch's repr omits the flag
    for data in (x, x[1]):  # batched and not
        xo, xt = cr.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
        (yo, io), (yt, it) = ours(xo), theirs(xt)
        np.testing.assert_array_equal(yo.detach().numpy(), yt.detach().numpy())
        assert io.dtype == np.int64 and not io.requires_grad
        np.testing.assert_array_equal(io.numpy(), it.numpy())
        v = np.random.default_rng(1).standard_normal(yo.shape).astype(np.float32)
        yo.backward(cr.tensor(v)), yt.backward(torch.tensor(v))
        np.testing.assert_allclose(xo.grad.numpy(), xt.grad.numpy(), rtol=1e-6, atol=1e-6)


def test_adaptive_pooling_of_all_ties_routes_gradients_like_torch():
    z = np.zeros((1, 2, 5, 5), np.float32)
    for size in (3, 2, (5, 1)):
        module_parity(nn.AdaptiveMaxPool2d(size), torch.nn.AdaptiveMaxPool2d(size), z)
        module_parity(nn.AdaptiveAvgPool2d(size), torch.nn.AdaptiveAvgPool2d(size), z)


@given(h=st.integers(1, 9), w=st.integers(1, 9), oh=st.one_of(st.none(), st.integers(1, 10)),
       ow=st.one_of(st.none(), st.integers(1, 10)), batched=st.booleans(), seed=st.integers(0, 99))
def test_adaptive_pooling_on_drawn_sizes_matches_torch(h, w, oh, ow, batched, seed):
    shape = (2, 3, h, w) if batched else (3, h, w)
    a = np.random.default_rng(seed).standard_normal(shape)
    for cls in ("AdaptiveAvgPool2d", "AdaptiveMaxPool2d"):
        assert_parity(lambda lib, t: getattr(lib.nn, cls)((oh, ow))(t), a, second_order=True)


def test_adaptive_pooling_gradcheck_float64():
    r = np.random.default_rng(2)
    x = cr.tensor(r.standard_normal((1, 2, 5, 7)), requires_grad=True)
    for size in ((2, 3), (5, 7), (3, None), 4):
        assert gradcheck(nn.AdaptiveAvgPool2d(size), (x,))
        assert gradcheck(nn.AdaptiveMaxPool2d(size), (x,))
        assert gradgradcheck(nn.AdaptiveAvgPool2d(size), (x,))
        assert gradgradcheck(nn.AdaptiveMaxPool2d(size), (x,))


def test_adaptive_pooling_output_size_none_keeps_the_input_size():
    # torch's modules refuse output_size=None as a whole (TypeError: no len()); here it means
    # (None, None), the input size, as each None inside a pair does in both
    x = np.random.default_rng(3).standard_normal((1, 2, 4, 3)).astype(np.float32)
    with pytest.raises(TypeError):
        torch.nn.AdaptiveAvgPool2d(None)(torch.tensor(x))
    np.testing.assert_array_equal(nn.AdaptiveAvgPool2d(None)(cr.tensor(x)).numpy(), x)
    np.testing.assert_array_equal(nn.AdaptiveMaxPool2d(None)(cr.tensor(x)).numpy(), x)


@pytest.mark.parametrize("cls", ["AdaptiveAvgPool2d", "AdaptiveMaxPool2d"])
def test_adaptive_pooling_errors_like_torch(cls):
    x = np.random.default_rng(4).standard_normal((2, 3, 7, 5)).astype(np.float32)
    for size, data, match in [
            (2, x[0, 0], "Expected 3D or 4D tensor"),
            (2, x[None], "Expected 3D or 4D tensor"),
            (-1, x, "elements of output_size must be greater than or equal to 0"),
            ((2, 2, 2), x, "output_size must be 2"),
            (2, x[:, :, :0], "Expected input to have non-zero size for non-batch dimensions")]:
        with pytest.raises(RuntimeError):
            getattr(torch.nn, cls)(size)(torch.tensor(data))
        with pytest.raises(RuntimeError, match=match):  # an OpError: also a ValueError
            getattr(nn, cls)(size)(cr.tensor(data))


@pytest.mark.parametrize("cls", ["AdaptiveAvgPool2d", "AdaptiveMaxPool2d"])
def test_adaptive_pooling_of_an_empty_batch_like_torch(cls):
    x = np.zeros((0, 3, 7, 5), np.float32)
    want = getattr(torch.nn, cls)(2)(torch.tensor(x))
    assert getattr(nn, cls)(2)(cr.tensor(x)).shape == tuple(want.shape)
