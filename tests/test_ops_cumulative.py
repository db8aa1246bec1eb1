"""cumsum, cumprod and prod against PyTorch, gradients at zeros included (float64, second
order), dtypes and errors."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import chainrule as cr
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from chainrule.testing.strategies import arrays, shapes


def _with_zeros(data, x):
    """Sometimes put zeros (one or several per slice) into ``x``."""
    if x.size and data.draw(st.booleans()):
        mask = np.random.default_rng(data.draw(st.integers(0, 99))).random(x.shape) < 0.3
        x = np.where(mask, 0.0, x)
    return x


@pytest.mark.parametrize("op", ["cumsum", "cumprod"])
@given(data=st.data())
def test_cumulative_matches_torch(op, data):
    shape = data.draw(shapes())
    x = _with_zeros(data, data.draw(arrays(shape)))
    dim = data.draw(st.integers(-max(len(shape), 1), max(len(shape), 1) - 1))
    assert_parity(lambda lib, t: getattr(lib, op)(t, dim), x, second_order=True, atol=1e-8,
                  rtol=1e-6)


@given(data=st.data())
def test_prod_matches_torch(data):
    shape = data.draw(shapes())
    x = _with_zeros(data, data.draw(arrays(shape)))
    if data.draw(st.booleans()) or not shape:
        f = lambda lib, t: lib.prod(t)  # noqa: E731
    else:
        dim = data.draw(st.integers(-len(shape), len(shape) - 1))
        keep = data.draw(st.booleans())
        f = lambda lib, t: t.prod(dim, keepdim=keep)  # noqa: E731
    assert_parity(f, x, second_order=True, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("x", [[2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 1.5, 2.0], [1.0, 2.0, 0.0],
                               [0.5, -1.5, 2.0, 3.0]])
def test_gradients_at_zeros_pass_gradcheck(x):
    t = cr.tensor(np.array(x), requires_grad=True)
    for f in (lambda a: cr.cumprod(a, 0), lambda a: cr.prod(a), lambda a: cr.cumsum(a, 0),
              lambda a: cr.prod(a.reshape(1, -1), 1)):
        assert gradcheck(f, (t,)) and gradgradcheck(f, (t,))


def test_dtypes_and_empty_as_torch():
    for arr in (np.array([1, 2, 3], np.int32), np.array([True, False]), np.zeros((2, 0))):
        assert_parity(lambda lib, t: lib.cumsum(t, -1), arr)
        assert_parity(lambda lib, t: lib.cumprod(t, -1), arr)
        assert_parity(lambda lib, t: lib.prod(t), arr)
        assert_parity(lambda lib, t: lib.prod(t, -1), arr)
    assert_parity(lambda lib, t: lib.cumsum(t, 0, dtype=lib.float64), np.ones(3, np.float32))
    assert_parity(lambda lib, t: t.prod(dtype=lib.float64), np.ones(3, np.float32))


def test_errors_match_torch_classes():
    for f, cls in [(lambda lib: lib.cumsum(lib.ones(2, 3), 2), IndexError),
                   (lambda lib: lib.cumprod(lib.ones(2), -2), IndexError),
                   (lambda lib: lib.prod(lib.ones(2), 1), IndexError),
                   (lambda lib: lib.prod(lib.ones(2, 3), (0, 1)), TypeError)]:
        with pytest.raises(cls):
            f(torch)
        with pytest.raises(cls):
            f(cr)
