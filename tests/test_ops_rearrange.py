"""flip, roll, repeat, repeat_interleave, tril/triu, diag, narrow, unbind, masked_fill against
PyTorch: values, gradients (second order), errors."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import chainrule as cr
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from chainrule.testing.strategies import arrays, shapes


def _dim(data, ndim):
    n = max(ndim, 1)
    return data.draw(st.integers(-n, n - 1))


@given(data=st.data())
def test_flip_roll_narrow_unbind_match_torch(data):
    shape = data.draw(shapes(min_dims=1))
    x = data.draw(arrays(shape))
    d = _dim(data, len(shape))
    assert_parity(lambda lib, t: lib.flip(t, [d]), x, second_order=True)
    s = data.draw(st.integers(-5, 5))
    assert_parity(lambda lib, t: lib.roll(t, s, d), x, second_order=True)
    assert_parity(lambda lib, t: lib.roll(t, s), x, second_order=True)
    start = data.draw(st.integers(-shape[d], shape[d]))
    length = data.draw(st.integers(0, shape[d] - (start % (shape[d] + 1) if start >= 0
                                                   else start + shape[d])))
    assert_parity(lambda lib, t: lib.narrow(t, d, start, length), x, second_order=True)
    assert_parity(lambda lib, t: lib.unbind(t, d), x, second_order=True)


@given(data=st.data())
def test_repeat_and_repeat_interleave_match_torch(data):
    shape = data.draw(shapes(max_dims=2, max_side=3))
    x = data.draw(arrays(shape))
    extra = data.draw(st.integers(0 if shape else 1, 2))
    reps = data.draw(st.lists(st.integers(0, 3), min_size=len(shape) + extra,
                              max_size=len(shape) + extra))
    assert_parity(lambda lib, t: t.repeat(*reps), x, second_order=True)
    r = data.draw(st.integers(0, 3))
    assert_parity(lambda lib, t: lib.repeat_interleave(t, r), x, second_order=True)
    if shape:
        d = _dim(data, len(shape))
        counts = np.array(data.draw(st.lists(st.integers(0, 3), min_size=shape[d],
                                             max_size=shape[d])))
        assert_parity(lambda lib, t, c: t.repeat_interleave(c, dim=d), x, counts,
                      second_order=True)


@given(data=st.data())
def test_triangles_and_diag_match_torch(data):
    shape = data.draw(shapes(min_dims=2))
    x = data.draw(arrays(shape))
    k = data.draw(st.integers(-4, 4))
    assert_parity(lambda lib, t: lib.tril(t, k), x, second_order=True)
    assert_parity(lambda lib, t: t.triu(diagonal=k), x, second_order=True)
    assert_parity(lambda lib, t: lib.diag(t, k), x[..., 0, :, :].reshape(shape[-2:])
                  if len(shape) > 2 else x, second_order=True)
    assert_parity(lambda lib, t: lib.diag(t, k), x.reshape(-1)[:3].copy(), second_order=True)


@given(data=st.data())
def test_masked_fill_matches_torch(data):
    shapes_ = data.draw(st.tuples(shapes(), shapes()))
    x = data.draw(arrays(shapes_[0]))
    m = np.random.default_rng(1).random(shapes_[1]) < 0.5
    try:
        np.broadcast_shapes(x.shape, m.shape)
    except ValueError:
        return
    assert_parity(lambda lib, t, mask: t.masked_fill(mask, -7.5), x, m, second_order=True)
    assert_parity(lambda lib, t, mask, v: lib.masked_fill(t, mask, v), x, m, np.array(2.0),
                  second_order=True)


def test_int_forms_and_repeats_alone_as_torch():
    assert_parity(lambda lib, c: lib.repeat_interleave(c), np.array([1, 0, 2]))
    assert_parity(lambda lib, t: t.masked_fill(t > 1, 2.7), np.array([1, 2, 3]))
    assert_parity(lambda lib, t: t.repeat_interleave(lib.tensor([2]), dim=0), np.ones((2, 2)))
    assert_parity(lambda lib, t: lib.roll(t, (1, -1), (0, 1)), np.arange(6.0).reshape(2, 3))


def test_masked_fill_in_place_follows_the_inplace_rules():
    x = cr.tensor([1.0, 2.0, 3.0])
    v = x._version
    assert x.masked_fill_(cr.tensor([True, False, True]), 0.0) is x
    assert x.tolist() == [0.0, 2.0, 0.0] and x._version == v + 1
    with pytest.raises(RuntimeError, match="leaf"):
        cr.ones(2, requires_grad=True).masked_fill_(cr.tensor([True, False]), 0.0)
    with pytest.raises(RuntimeError):
        cr.ones(3).masked_fill_(cr.ones(2, 3, dtype=cr.bool), 0.0)
    with pytest.raises(RuntimeError):
        torch.ones(3).masked_fill_(torch.ones(2, 3, dtype=torch.bool), 0.0)


def test_gradcheck():
    x = cr.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    for f in (lambda a: a.repeat(2, 1, 2), lambda a: cr.repeat_interleave(a, 2, 1),
              lambda a: cr.tril(a, 1), lambda a: cr.roll(a, 2, 1), lambda a: cr.flip(a, (0, 1)),
              lambda a: cr.diag(a, -1), lambda a: cr.diag(a[0], 1)):
        assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))


ERRORS = [
    (lambda lib: lib.ones(2, 3).repeat(2), RuntimeError),
    (lambda lib: lib.ones(2).repeat(-1), RuntimeError),
    (lambda lib: lib.repeat_interleave(lib.tensor([1, 2]), lib.tensor([1, 2, 3])), RuntimeError),
    (lambda lib: lib.narrow(lib.ones(4, 3), 0, 3, 2), RuntimeError),
    (lambda lib: lib.narrow(lib.ones(4, 3), 0, 5, 0), IndexError),
    (lambda lib: lib.tril(lib.ones(3)), RuntimeError),
    (lambda lib: lib.flip(lib.ones(3), (0, 0)), RuntimeError),
    (lambda lib: lib.roll(lib.ones(2, 3), (1, 1)), RuntimeError),
    (lambda lib: lib.roll(lib.ones(2, 3), (1, 1), (0,)), RuntimeError),
    (lambda lib: lib.diag(lib.ones(2, 3, 4)), RuntimeError),
    (lambda lib: lib.unbind(lib.tensor(1.0)), IndexError),
    (lambda lib: lib.ones(3).masked_fill(lib.ones(3), 0), RuntimeError),
    (lambda lib: lib.ones(3).masked_fill(lib.ones(3, dtype=lib.bool), lib.ones(2)),
     RuntimeError),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors_match_torch_classes(case):
    f, cls = ERRORS[case]
    with pytest.raises(cls):
        f(torch)
    with pytest.raises(cls):
        f(cr)
