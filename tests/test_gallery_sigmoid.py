"""Sigmoid from four primitives: 0.5 and 0.25 at 0, equal to the fused one, stable fused."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.gallery import sigmoid
from chainrule.testing import gradcheck, gradgradcheck


def test_value_and_derivative_at_zero():
    result = sigmoid.run()
    assert result["value"] == 0.5 and result["derivative"] == 0.25


def test_matches_fused_where_it_does_not_overflow():
    result = sigmoid.run()
    assert result["max_gap"] < 1e-12
    z = cr.tensor(np.linspace(-30, 30, 61), requires_grad=True)
    z2 = cr.tensor(np.linspace(-30, 30, 61), requires_grad=True)
    sigmoid.sigmoid_from_primitives(z).sum().backward()
    cr.sigmoid(z2).sum().backward()
    assert np.allclose(z.grad._data, z2.grad._data, atol=1e-15)


def test_primitives_have_correct_first_and_second_derivatives():
    z = cr.tensor(np.array([-2.0, 0.0, 1.5]), requires_grad=True)
    assert gradcheck(sigmoid.sigmoid_from_primitives, (z,))
    assert gradgradcheck(sigmoid.sigmoid_from_primitives, (z,))


def test_fused_is_stable_at_extremes():
    result = sigmoid.run()
    assert result["fused_extremes"] == [0.0, 1.0]
    assert result["fused_extreme_grads"] == [0.0, 0.0]


@pytest.mark.parametrize("z", [-3.0, 0.0, 2.5])
def test_each_primitive_local_derivative(z):
    t = cr.tensor(z, dtype=cr.float64, requires_grad=True)
    for fn, derivative in [(sigmoid.Negate(), -1.0), (sigmoid.Exp(), np.exp(z)),
                           (sigmoid.AddOne(), 1.0), (sigmoid.Reciprocal(), -1 / z ** 2
                                                      if z else None)]:
        if derivative is None:
            continue
        (g,) = cr.autograd.grad(fn(t), t)
        assert g.item() == pytest.approx(derivative)
