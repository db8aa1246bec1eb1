"""MaxPool2d and AvgPool2d against torch: outputs, input gradients (ties included), reprs,
float64 gradcheck, MaxPool2d's return_indices and AvgPool2d's divisor_override."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.testing import gradcheck
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
