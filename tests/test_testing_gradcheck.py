"""gradcheck and gradgradcheck catch wrong gradients, not only confirm right ones."""
import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function
from chainrule.testing import GradcheckError, gradcheck, gradgradcheck


class WrongSquare(Function):
    def forward(self, x):
        return x * x

    def backward(self, gy):
        return gy * self.inputs[0] * 3  # should be 2


class FirstOrderOnlySquare(Function):
    def forward(self, x):
        return x * x

    def backward(self, gy):  # right value but built from constants: no second order
        return cr.Tensor(gy.data * 2 * self.inputs[0].data)


def _x():
    return cr.tensor(np.random.default_rng(0).normal(size=(3,)), requires_grad=True)


def test_gradcheck_detects_wrong_gradient():
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradcheck(lambda t: WrongSquare()(t), (_x(),))
    assert not gradcheck(lambda t: WrongSquare()(t), (_x(),), raise_exception=False)


def test_gradgradcheck_detects_missing_second_order():
    x = _x()
    assert gradcheck(lambda t: FirstOrderOnlySquare()(t), (x,))
    with pytest.raises(GradcheckError):
        gradgradcheck(lambda t: FirstOrderOnlySquare()(t), (x,))


def test_gradcheck_requires_float64():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(lambda t: t * 2, (cr.ones(2, requires_grad=True),))


def test_gradcheck_multiple_outputs():
    x = _x()
    assert gradcheck(lambda t: (t.exp(), (t * t).sum()), (x,))
