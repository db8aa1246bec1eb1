"""Linear against torch with copied weights (2-D and 3-D inputs, with and without bias),
second order, gradcheck in float64, and the feature-count error."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from helpers import module_parity


@pytest.fixture
def rng() -> np.random.Generator:
    cr.manual_seed(0)
    torch.manual_seed(0)
    return np.random.default_rng(0)


@pytest.mark.parametrize("shape", [(5, 4), (2, 3, 4), (4,)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(rng, shape, bias):
    module_parity(nn.Linear(4, 3, bias=bias), torch.nn.Linear(4, 3, bias=bias),
                  rng.standard_normal(shape).astype(np.float32))


def test_functional_linear_second_order_matches_torch(rng):
    x = rng.standard_normal((5, 4)).astype(np.float32)
    w = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal(3).astype(np.float32)
    assert_parity(lambda lib, a, c, d: lib.nn.functional.linear(a, c, d).tanh(), x, w, b,
                  second_order=True)


def test_linear_gradcheck_float64(rng):
    layer = nn.Linear(3, 2).double()
    x = cr.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    params = (x, layer.weight, layer.bias)
    assert gradcheck(lambda a, w, b: nn.functional.linear(a, w, b), params)
    assert gradgradcheck(lambda a, w, b: nn.functional.linear(a, w, b).sigmoid(), params)


def test_linear_feature_mismatch_names_both_counts_and_shapes():
    with pytest.raises(ValueError, match=r"linear: input of shape \(32, 100\) has 100 features "
                                         r"in its last dimension, but weight of shape "
                                         r"\(10, 784\) expects in_features=784"):
        nn.Linear(784, 10)(cr.zeros(32, 100))
    with pytest.raises(ValueError, match=r"bias of shape \(4,\) does not match weight"):
        nn.functional.linear(cr.zeros(2, 3), cr.zeros(5, 3), cr.zeros(4))


def test_linear_attributes_repr_and_argument_errors():
    fc = nn.Linear(784, 10, bias=False)
    assert fc.weight.shape == (10, 784) and fc.bias is None
    assert list(fc.state_dict()) == ["weight"]
    assert repr(fc) == repr(torch.nn.Linear(784, 10, bias=False))
    assert nn.Linear(2, 2, dtype=cr.float64).weight.dtype == np.float64
    with pytest.raises(ValueError, match="Linear: in_features must be a non-negative int"):
        nn.Linear(-1, 3)
    with pytest.raises(RuntimeError, match="Linear: device 'cuda' is not available"):
        nn.Linear(2, 2, device="cuda")
