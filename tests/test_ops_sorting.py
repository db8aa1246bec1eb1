"""sort, argsort, topk against PyTorch: values, indices, gradients, NaN and stability."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import chainrule as cr
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from chainrule.testing.strategies import shapes


def _distinct(data, shape):
    """Distinct values (so the indices are unique), sometimes transposed."""
    n = int(np.prod(shape)) if shape else 1
    perm = np.random.default_rng(data.draw(st.integers(0, 999))).permutation(n)
    return (perm.astype(np.float64) / 3 - 1).reshape(shape)


@given(data=st.data())
def test_sort_argsort_topk_match_torch(data):
    shape = data.draw(shapes())
    x = _distinct(data, shape)
    n = max(len(shape), 1)
    dim = data.draw(st.integers(-n, n - 1))
    desc = data.draw(st.booleans())
    assert_parity(lambda lib, t: tuple(lib.sort(t, dim, descending=desc)), x,
                  second_order=True)
    assert_parity(lambda lib, t: t.argsort(dim, descending=desc), x)
    k = data.draw(st.integers(0, shape[dim] if shape else 1))
    assert_parity(lambda lib, t: tuple(t.topk(k, dim, largest=desc)), x, second_order=True)


def test_stable_sort_and_nan_as_torch():
    x = np.array([2.0, 1.0, np.nan, 2.0, 1.0, -np.inf, 2.0])
    for desc in (False, True):
        assert_parity(lambda lib, t: tuple(lib.sort(t, descending=desc, stable=True)), x)
    r = cr.sort(cr.tensor([[3, 1], [0, 2]]), dim=0)
    assert r.values.tolist() == [[0, 1], [3, 2]] and r.indices.tolist() == [[1, 0], [0, 1]]
    assert type(r).__name__ == "sort" and type(cr.topk(cr.ones(2), 1)).__name__ == "topk"


def test_gradcheck():
    x = cr.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    for f in (lambda a: cr.sort(a, 1).values, lambda a: cr.topk(a, 2, 0).values):
        assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))


def test_errors_match_torch_classes():
    for f, cls in [(lambda lib: lib.topk(lib.ones(3), 4), RuntimeError),
                   (lambda lib: lib.topk(lib.ones(3), 2, dim=2), IndexError),
                   (lambda lib: lib.sort(lib.ones(3), 1), IndexError)]:
        with pytest.raises(cls):
            f(torch)
        with pytest.raises(cls):
            f(cr)
