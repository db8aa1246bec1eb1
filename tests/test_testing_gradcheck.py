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
        return cr.Tensor(gy._data * 2 * self.inputs[0]._data)


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


def test_no_input_requiring_grad_is_refused_like_torch():
    # torch.autograd.gradcheck raises ValueError here; a vacuous True would hide a forgotten
    # requires_grad=True in a test
    x = cr.tensor(np.arange(3.0))
    with pytest.raises(ValueError, match="at least one input Tensor with requires_grad"):
        gradcheck(lambda t: t * 2, (x,))
    with pytest.raises(ValueError, match="gradgradcheck expects at least one input"):
        gradgradcheck(lambda t: t ** 3, (x,))


def test_empty_inputs_are_checked_not_called_non_contiguous():
    x = cr.tensor(np.zeros(0), requires_grad=True)
    assert gradcheck(lambda t: t * 2, (x,))
    assert gradgradcheck(lambda t: t ** 3, (x,))


def test_gradgradcheck_raise_exception_false_returns_false():
    class WrongSecondOrder(Function):  # right first derivative 3x^2, wrong second (10x)
        def forward(self, x):
            return x * x * x

        def backward(self, gy):
            return gy * WrongSquare5()(self.inputs[0]) * 3

    class WrongSquare5(Function):
        def forward(self, x):
            return x * x

        def backward(self, gy):
            return gy * self.inputs[0] * 5  # should be 2

    x = _x()
    assert gradcheck(lambda t: WrongSecondOrder()(t), (x,))
    with pytest.raises(GradcheckError, match="Jacobian mismatch"):
        gradgradcheck(lambda t: WrongSecondOrder()(t), (x,))
    assert gradgradcheck(lambda t: WrongSecondOrder()(t), (x,), raise_exception=False) is False
    assert gradgradcheck(lambda t: t ** 3, (x,), raise_exception=False) is True


def test_gradgradcheck_accepts_one_tensor_as_grad_outputs():
    x = _x()
    go = cr.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    assert gradgradcheck(lambda t: t ** 3, (x,), grad_outputs=go)
    assert gradgradcheck(lambda t: t ** 3, (x,), grad_outputs=[go])
