"""MaxPool2d and AvgPool2d against torch: outputs, input gradients (ties included), reprs,
float64 gradcheck, and the unsupported return_indices."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from test_nn_module import module_parity

import chainrule as cr
from chainrule import nn
from chainrule.testing import gradcheck

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


def test_return_indices_is_rejected():
    with pytest.raises(ValueError, match="return_indices=True is not supported"):
        nn.MaxPool2d(2, return_indices=True)
