"""einsum, bmm, addmm, baddbmm, outer against PyTorch: values, gradients (second order),
broadcasting and errors."""
import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.testing import assert_parity, gradcheck, gradgradcheck

R = np.random.default_rng(0)


def _r(*shape):
    return R.standard_normal(shape)


EINSUMS = [
    ("ij,jk->ik", (2, 3), (3, 4)),
    ("ij,jk", (2, 3), (3, 4)),
    ("bij,bjk->bik", (2, 2, 3), (2, 3, 4)),
    ("ii->i", (3, 3)),
    ("ii", (3, 3)),
    ("ij->", (2, 3)),
    ("ij->j", (2, 3)),
    ("ij->ji", (2, 3)),
    ("i,j->ij", (2,), (3,)),
    ("i,i->", (4,), (4,)),
    ("...ij,...jk->...ik", (2, 1, 2, 3), (4, 3, 2)),
    ("...j,j", (2, 3), (3,)),
    ("ij,ij->ij", (1, 3), (2, 3)),
    ("iij,jk->ik", (2, 2, 3), (3, 1)),
    ("ij,jk,kl->il", (2, 3), (3, 4), (4, 2)),
    ("b i j, b j -> b i", (2, 3, 4), (2, 4)),
    ("ij,kl->ijkl", (2, 1), (1, 3)),
    ("i->", (0,)),
]


@pytest.mark.parametrize("case", EINSUMS, ids=[c[0] for c in EINSUMS])
def test_einsum_matches_torch(case):
    eq, *shapes = case
    arrays = [_r(*s) for s in shapes]
    assert_parity(lambda lib, *ts: lib.einsum(eq, *ts), *arrays, second_order=True, atol=1e-8)
    ts = [cr.tensor(a, requires_grad=True) for a in arrays]
    f = lambda *xs: cr.einsum(eq, *xs)  # noqa: E731
    assert gradcheck(f, ts) and gradgradcheck(f, ts)


def test_einsum_list_form_and_dtypes():
    assert_parity(lambda lib, a, b: lib.einsum("ij,jk->ik", [a, b]), _r(2, 3), _r(3, 2))
    assert_parity(lambda lib, a, b: lib.einsum("i,i", a, b), np.arange(3), np.arange(3))


@pytest.mark.parametrize("f,shapes", [
    (lambda lib, a, b: lib.bmm(a, b), [(3, 2, 4), (3, 4, 5)]),
    (lambda lib, c, a, b: lib.addmm(c, a, b), [(3,), (2, 4), (4, 3)]),
    (lambda lib, c, a, b: lib.addmm(c, a, b, beta=0.5, alpha=-2), [(2, 3), (2, 4), (4, 3)]),
    (lambda lib, c, a, b: c.addmm(a, b, beta=0), [(1, 3), (2, 4), (4, 3)]),
    (lambda lib, c, a, b: lib.baddbmm(c, a, b, alpha=3), [(1, 2, 5), (3, 2, 4), (3, 4, 5)]),
    (lambda lib, c, a, b: lib.baddbmm(c, a, b, beta=2), [(3, 2, 5), (3, 2, 4), (3, 4, 5)]),
    (lambda lib, a, b: lib.outer(a, b), [(3,), (4,)]),
    (lambda lib, a, b: a.outer(b), [(0,), (4,)]),
])
def test_products_match_torch(f, shapes):
    arrays = [_r(*s) for s in shapes]
    assert_parity(f, *arrays, second_order=True, atol=1e-8)
    ts = [cr.tensor(a, requires_grad=True) for a in arrays]
    g = lambda *xs: f(cr, *xs)  # noqa: E731
    assert gradcheck(g, ts) and gradgradcheck(g, ts)


def test_addmm_beta_zero_ignores_nan_as_torch():
    assert_parity(lambda lib, c, a, b: lib.addmm(c, a, b, beta=0),
                  np.full((2, 3), np.nan), _r(2, 4), _r(4, 3))


ERRORS = [
    lambda lib: lib.einsum("ii->i", lib.ones(2, 3)),
    lambda lib: lib.einsum("ij,jk", lib.ones(2, 3), lib.ones(4, 3)),
    lambda lib: lib.einsum("ij,jk", lib.ones(2, 3)),
    lambda lib: lib.einsum("ij", lib.ones(2, 3), lib.ones(2, 3)),
    lambda lib: lib.einsum("ijk", lib.ones(2, 3)),
    lambda lib: lib.einsum("ij->k", lib.ones(2, 3)),
    lambda lib: lib.bmm(lib.ones(2, 2, 3), lib.ones(3, 3, 4)),
    lambda lib: lib.bmm(lib.ones(2, 3), lib.ones(3, 4)),
    lambda lib: lib.addmm(lib.ones(2, 2, 3), lib.ones(2, 3), lib.ones(3, 3)),
    lambda lib: lib.outer(lib.ones(2, 1), lib.ones(3)),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors_are_runtime_errors_as_torch(case):
    with pytest.raises(RuntimeError):
        ERRORS[case](torch)
    with pytest.raises(RuntimeError):
        ERRORS[case](cr)
