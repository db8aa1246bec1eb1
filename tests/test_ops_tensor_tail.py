"""Tensor methods PyTorch code reaches for, composed from the primitives: gather and
index_select as methods, unflatten, fliplr/flipud, addcmul/addcdiv (and their in-place forms),
against PyTorch: values, gradients (second order), errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import chainrule as cr
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from chainrule.testing.strategies import arrays, broadcast_pairs, shapes


@given(data=st.data())
def test_index_select_matches_torch(data):
    shape = data.draw(shapes(min_dims=0))
    x = data.draw(arrays(shape))
    n_dims = max(len(shape), 1)
    dim = data.draw(st.integers(-n_dims, n_dims - 1))
    size = shape[dim] if shape else 1
    idx = np.array(data.draw(st.lists(st.integers(0, size - 1), max_size=5)) if size else [],
                   dtype=np.int64)
    if not shape:  # a 0-d input takes one index, as torch
        idx = np.zeros(1, np.int64)
    assert_parity(lambda lib, t: lib.index_select(t, dim, lib.tensor(idx)), x, second_order=True)
    assert_parity(lambda lib, t: t.index_select(dim, lib.tensor(idx)), x)


def test_index_select_0d_index_and_errors_as_torch():
    x = np.arange(6.0).reshape(2, 3)
    assert_parity(lambda lib, t: t.index_select(0, lib.tensor(1)), x)
    for lib in (torch, cr):
        with pytest.raises(RuntimeError, match="Index to scalar can have only 1 value"):
            lib.index_select(lib.tensor(5.0), 0, lib.tensor([0, 0]))
    for bad in ([3], [-1]):
        with pytest.raises(RuntimeError):
            torch.index_select(torch.tensor(x), 1, torch.tensor(bad))
        with pytest.raises(RuntimeError, match="index_select: index -?[0-9] out of range for "
                                               "dimension 1 of size 3"):
            cr.index_select(cr.tensor(x), 1, cr.tensor(bad))
    with pytest.raises(RuntimeError, match="int32 or int64"):
        cr.index_select(cr.tensor(x), 1, cr.tensor([0.0]))


def test_gather_is_a_tensor_method():
    x = np.arange(12.0).reshape(3, 4)
    idx = np.array([[0, 3], [1, 1], [2, 0]])
    assert_parity(lambda lib, t: t.gather(1, lib.tensor(idx)), x, second_order=True)


@pytest.mark.parametrize("shape, dim, sizes", [((2, 12), 1, (3, 4)), ((2, 12), -1, (3, -1)),
                                               ((6,), 0, (1, 6, 1)), ((0, 4), 1, (2, 2)),
                                               ((2, 3), 0, (-1,))])
def test_unflatten_matches_torch(shape, dim, sizes):
    x = np.arange(float(np.prod(shape))).reshape(shape)
    assert_parity(lambda lib, t: t.unflatten(dim, sizes) * 2, x)
    assert_parity(lambda lib, t: lib.unflatten(t, dim, sizes), x)


@pytest.mark.parametrize("sizes", [(5, 3), (-1, -1), (5, -1)])
def test_unflatten_refuses_sizes_that_do_not_fit(sizes):
    with pytest.raises(RuntimeError):
        torch.ones(2, 12).unflatten(1, sizes)
    with pytest.raises(RuntimeError, match="unflatten"):
        cr.ones(2, 12).unflatten(1, sizes)


@given(data=st.data())
def test_fliplr_flipud_match_torch(data):
    x = data.draw(arrays(data.draw(shapes(min_dims=2))))
    assert_parity(lambda lib, t: lib.fliplr(t), x, second_order=True)
    assert_parity(lambda lib, t: t.flipud(), x)


def test_fliplr_flipud_need_enough_dimensions_as_torch():
    for lib in (torch, cr):
        with pytest.raises(RuntimeError, match="Input must be >= 2-d"):
            lib.fliplr(lib.ones(3))
        with pytest.raises(RuntimeError, match="Input must be >= 1-d"):
            lib.flipud(lib.tensor(1.0))


@given(pair=broadcast_pairs(), value=st.sampled_from([1, 0.5, -2.0]), data=st.data())
def test_addcmul_addcdiv_match_torch(pair, value, data):
    a, b = (data.draw(arrays(s)) for s in pair)
    c = data.draw(arrays(pair[0], low=0.5, high=2.0))  # a divisor away from zero
    assert_parity(lambda lib, x, y, z: lib.addcmul(x, y, z, value=value), c, a, b,
                  second_order=True)
    assert_parity(lambda lib, x, y, z: x.addcdiv(y, z, value=value), a, b, c,
                  second_order=True, atol=1e-5)


def test_inplace_addcmul_addcdiv_as_torch():
    for lib in (cr, torch):
        x = lib.ones(3)
        assert x.addcmul_(lib.tensor([1.0, 2.0, 3.0]), lib.tensor([2.0, 2.0, 2.0]), value=0.5) is x
        x.addcdiv_(lib.ones(3), lib.tensor([2.0, 4.0, 8.0]))
        np.testing.assert_allclose(x.numpy(), [2.5, 3.25, 4.125])
    with pytest.raises(RuntimeError, match="integer division"):
        cr.addcdiv(cr.ones(2), cr.tensor([1, 2]), cr.tensor([1, 2]))
    w = cr.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError):
        w.addcmul_(cr.ones(2), cr.ones(2))


def test_gradcheck_of_the_composed_ops():
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    y = cr.tensor(rng.normal(size=(3, 4)), requires_grad=True)
    z = cr.tensor(rng.uniform(1, 2, size=(4,)), requires_grad=True)
    for fn, args in [(lambda t: t.index_select(1, cr.tensor([3, 0, 3])), (x,)),
                     (lambda t: cr.fliplr(t), (x,)),
                     (lambda a, b, c: cr.addcdiv(a, b, c, value=0.3), (x, y, z)),
                     (lambda a, b, c: cr.addcmul(a, b, c, value=-2), (x, y, z))]:
        assert gradcheck(fn, args) and gradgradcheck(fn, args)
