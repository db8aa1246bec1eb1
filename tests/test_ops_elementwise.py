"""The elementwise ops of chainrule/ops/elementwise.py against PyTorch: values, gradients,
second derivatives (float64), dtypes and errors."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import chainrule as cr
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from chainrule.testing.strategies import arrays, away_from, shapes

# name -> (fn(lib, x), values low, high, kinks to keep finite differences away from)
UNARY = {
    "log1p": (lambda lib, x: lib.log1p(x), -0.9, 3.0, ()),
    "expm1": (lambda lib, x: lib.expm1(x), -2.0, 2.0, ()),
    "erf": (lambda lib, x: lib.erf(x), -2.5, 2.5, ()),
    "log2": (lambda lib, x: lib.log2(x), 0.1, 4.0, ()),
    "log10": (lambda lib, x: x.log10(), 0.1, 4.0, ()),
    "square": (lambda lib, x: lib.square(x), -2.0, 2.0, ()),
    "rsqrt": (lambda lib, x: lib.rsqrt(x), 0.2, 4.0, ()),
    "frac": (lambda lib, x: lib.frac(x), -3.0, 3.0, (-2.0, -1.0, 0.0, 1.0, 2.0)),
    "floor": (lambda lib, x: lib.floor(x), -3.0, 3.0, (-2.0, -1.0, 0.0, 1.0, 2.0)),
    "ceil": (lambda lib, x: x.ceil(), -3.0, 3.0, (-2.0, -1.0, 0.0, 1.0, 2.0)),
    "trunc": (lambda lib, x: lib.trunc(x), -3.0, 3.0, (-2.0, -1.0, 0.0, 1.0, 2.0)),
    "round": (lambda lib, x: lib.round(x), -3.0, 3.0, (-1.5, -0.5, 0.5, 1.5)),
    "round decimals": (lambda lib, x: lib.round(x, decimals=1), -3.0, 3.0, ()),
    "clamp_min": (lambda lib, x: lib.clamp_min(x, 0.1), -2.0, 2.0, (0.1,)),
    "clamp_max": (lambda lib, x: x.clamp_max(0.1), -2.0, 2.0, (0.1,)),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_matches_torch(name, data):
    fn, lo, hi, kinks = UNARY[name]
    x = data.draw(arrays(data.draw(shapes()), lo, hi))
    if kinks:
        x = away_from(x, kinks, 0.01)
    assert_parity(fn, x, second_order=True, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float32_and_gradcheck(name):
    fn, lo, hi, kinks = UNARY[name]
    x = np.random.default_rng(0).uniform(lo, hi, (3, 4))
    x = away_from(x, kinks, 0.05) if kinks else x
    assert_parity(fn, x.astype(np.float32), atol=1e-5)
    t = cr.tensor(x, requires_grad=True)
    assert gradcheck(lambda a: fn(cr, a), (t,)) and gradgradcheck(lambda a: fn(cr, a), (t,))


def test_integer_and_special_values_as_torch():
    ints = np.array([-3, 0, 5])
    for f in ("floor", "ceil", "trunc", "round", "square"):
        assert_parity(lambda lib, x: getattr(lib, f)(x), ints)
    assert_parity(lambda lib, x: lib.square(x), np.array([True, False]))
    for f in ("log1p", "expm1", "erf", "log2", "log10", "rsqrt"):  # integers give float32
        assert_parity(lambda lib, x: getattr(lib, f)(x), np.array([1, 4]), atol=1e-6)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -1.0, 2.5, -2.5, 0.5])
    for f in ("log1p", "expm1", "erf", "log2", "log10", "rsqrt", "floor", "ceil", "trunc",
              "round", "frac", "isnan", "isinf", "square"):
        assert_parity(lambda lib, x: getattr(lib, f)(x), special, requires_grad=[False])
    assert_parity(lambda lib, x: lib.round(x, decimals=-2), np.array([1250.0, 1350.0, -150.0]))
    assert_parity(lambda lib, x: lib.round(x, decimals=3), np.array([0.12345, 2.0005]))
    assert_parity(lambda lib, x: lib.isnan(x), np.array([1, 2]))


def test_lerp_matches_torch_for_number_and_tensor_weights():
    r = np.random.default_rng(1)
    a, b, w = r.standard_normal((2, 3)), r.standard_normal((3,)), r.uniform(-0.5, 1.5, (2, 1))
    assert_parity(lambda lib, x, y: lib.lerp(x, y, 0.75), a, b, second_order=True)
    assert_parity(lambda lib, x, y, z: lib.lerp(x, y, z), a, b, w, second_order=True)
    ta, tb, tw = (cr.tensor(v, requires_grad=True) for v in (a, b, w))
    assert gradcheck(cr.lerp, (ta, tb, tw)) and gradgradcheck(cr.lerp, (ta, tb, tw))


def test_errors_match_torch_classes():
    cases = [
        (lambda lib: lib.frac(lib.tensor([1, 2])), NotImplementedError),
        (lambda lib: lib.round(lib.tensor([1, 2]), decimals=1), NotImplementedError),
        (lambda lib: lib.lerp(lib.ones(2), lib.ones(2, dtype=lib.float64), 0.5), RuntimeError),
        (lambda lib: lib.lerp(lib.ones(2), lib.ones(3), 0.5), RuntimeError),
    ]
    for f, cls in cases:
        with pytest.raises(cls):
            f(torch)
        with pytest.raises(cls):
            f(cr)


def test_rounding_has_zero_gradient_as_torch():
    x = cr.tensor([1.5, -2.5], requires_grad=True)
    (cr.floor(x) + cr.round(x) + cr.ceil(x) + cr.trunc(x)).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0]
