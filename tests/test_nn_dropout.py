"""Dropout: inverted scaling, the drop rate, eval is the identity, the mask comes from the
global generator and routes the gradient, p validated like torch."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule import nn


@pytest.fixture(autouse=True)
def seed() -> None:
    cr.manual_seed(0)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_training_drops_at_rate_p_and_scales_survivors(p):
    y = nn.Dropout(p)(cr.ones(100_000))._data
    kept = y != 0
    assert abs(1 - kept.mean() - p) < 0.01
    np.testing.assert_allclose(y[kept], 1 / (1 - p), rtol=1e-6)
    assert y.dtype == np.float32
    assert abs(y.mean() - 1) < 0.02  # inverted dropout keeps the expectation


def test_eval_mode_is_identity_and_train_mode_is_not():
    drop = nn.Dropout(0.5)
    x = cr.randn(3, 4)
    assert drop.eval()(x) is x
    with nn.train_mode(drop):
        assert not np.array_equal(drop(x)._data, x._data)
    assert not drop.training


def test_mask_is_reproducible_from_the_global_seed():
    cr.manual_seed(3)
    a = nn.Dropout(0.5)(cr.ones(50))._data
    cr.manual_seed(3)
    b = nn.Dropout(0.5)(cr.ones(50))._data
    c = nn.Dropout(0.5)(cr.ones(50))._data
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)


def test_gradient_flows_through_kept_units_only():
    x = cr.ones(1000, requires_grad=True)
    y = nn.functional.dropout(x, 0.25)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad._data, y._data)  # d(sum)/dx = mask / (1 - p)


def test_edge_probabilities():
    x = cr.ones(10)
    assert nn.functional.dropout(x, 0.0) is x
    assert nn.functional.dropout(x, 1.0).tolist() == [0.0] * 10
    assert torch.nn.functional.dropout(torch.ones(10), 1.0).tolist() == [0.0] * 10


@pytest.mark.parametrize("p", [-0.1, 1.5, "0.5"])
def test_invalid_p(p):
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but "
                                         "got"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1"):
        nn.functional.dropout(cr.ones(2), p)


def test_repr_matches_torch():
    assert repr(nn.Dropout(0.3)) == repr(torch.nn.Dropout(0.3))
