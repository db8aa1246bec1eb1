"""Activation layers against torch: outputs, gradients, second order, reprs, extreme inputs
and the legacy implicit softmax dimension."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.testing import assert_parity, gradcheck, gradgradcheck

LAYERS = [
    ("ReLU", (), False),
    ("LeakyReLU", (0.2,), False),
    ("Sigmoid", (), True),
    ("Tanh", (), True),
    ("Softmax", (1,), True),
    ("LogSoftmax", (1,), True),
]


@pytest.fixture
def x() -> np.ndarray:
    r = np.random.default_rng(0)
    v = r.standard_normal((4, 5)).astype(np.float32)
    v[0, :2] = (1000.0, -1000.0)  # saturated inputs must stay finite
    return v


@pytest.mark.parametrize("name, args, smooth", LAYERS, ids=[n for n, _, _ in LAYERS])
def test_activation_layers_match_torch(x, name, args, smooth):
    assert repr(getattr(nn, name)(*args)) == repr(getattr(torch.nn, name)(*args))
    assert_parity(lambda lib, a: getattr(lib.nn, name)(*args)(a), x, second_order=smooth,
                  atol=1e-5)


@pytest.mark.parametrize("name, args, smooth", LAYERS, ids=[n for n, _, _ in LAYERS])
def test_activation_gradcheck_float64(name, args, smooth):
    r = np.random.default_rng(1)
    x = cr.tensor(r.standard_normal((3, 4)) + 0.05, requires_grad=True)  # away from kinks
    layer = getattr(nn, name)(*args)
    assert gradcheck(layer, (x,))
    if smooth:
        assert gradgradcheck(layer, (x,))


def test_inplace_flag_is_accepted_and_shown_like_torch():
    assert repr(nn.ReLU(inplace=True)) == repr(torch.nn.ReLU(inplace=True))
    assert repr(nn.LeakyReLU(0.1, True)) == repr(torch.nn.LeakyReLU(0.1, True))
    x = cr.tensor([-1.0, 1.0])
    assert nn.ReLU(inplace=True)(x).tolist() == [0.0, 1.0] and x.tolist() == [-1.0, 1.0]


@pytest.mark.parametrize("shape, dim", [((5,), 0), ((2, 5), 1), ((2, 3, 4), 0),
                                        ((2, 3, 4, 5), 1)])
def test_softmax_without_dim_uses_torchs_legacy_choice(shape, dim):
    x = np.random.default_rng(2).standard_normal(shape).astype(np.float32)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        ours = nn.Softmax()(cr.tensor(x))
    np.testing.assert_allclose(ours._data, torch.softmax(torch.tensor(x), dim).numpy(),
                               atol=1e-6)
