"""norm, linalg.vector_norm, linalg.matrix_norm, linalg.norm against PyTorch: values,
gradients at zero norms, second order, errors."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import chainrule as cr
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from chainrule.testing.strategies import arrays, away_from, shapes

ORDS = [2, 1, math.inf, -math.inf, 3, 1.5, 0.5, 0]


@pytest.mark.parametrize("p", ORDS)
@given(data=st.data())
def test_vector_norm_matches_torch(p, data):
    shape = data.draw(shapes())
    x = away_from(data.draw(arrays(shape)), (0.0,), 0.02)
    if data.draw(st.booleans()) and x.size:
        x = np.where(np.random.default_rng(0).random(shape) < 0.3, 0.0, x)  # some zeros
    dim = None if not shape or data.draw(st.booleans()) else \
        data.draw(st.integers(-len(shape), len(shape) - 1))
    keep = data.draw(st.booleans())
    assert_parity(lambda lib, t: lib.linalg.vector_norm(t, p, dim, keep), x,
                  second_order=p not in (0.5,), atol=1e-8, rtol=1e-6)


def test_zero_norm_gradient_is_zero_as_torch():
    for p in ORDS:
        assert_parity(lambda lib, t: lib.linalg.vector_norm(t, p, 1), np.zeros((2, 3)))
    assert_parity(lambda lib, t: lib.norm(t, dim=1), np.array([[3.0, 4.0], [0.0, 0.0]]))


@pytest.mark.parametrize("p", [2, 1, math.inf, 3])
def test_gradcheck(p):
    x = cr.tensor(away_from(np.random.default_rng(3).standard_normal((3, 4))),
                  requires_grad=True)
    f = lambda a: cr.linalg.vector_norm(a, p, 1)  # noqa: E731
    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))


@pytest.mark.parametrize("call", [
    lambda lib, t: lib.norm(t),
    lambda lib, t: t.norm(p=1, dim=(0, 1), keepdim=True),
    lambda lib, t: lib.norm(t, "fro", dim=(1, 2)),
    lambda lib, t: lib.norm(t, float("inf"), dim=0),
    lambda lib, t: lib.linalg.norm(t),
    lambda lib, t: lib.linalg.norm(t, dim=(0, 2)),
    lambda lib, t: lib.linalg.norm(t[0], ord=1),
    lambda lib, t: lib.linalg.norm(t[0], ord=-1),
    lambda lib, t: lib.linalg.norm(t[0], ord=float("inf")),
    lambda lib, t: lib.linalg.norm(t[0, 0], ord=3),
    lambda lib, t: lib.linalg.matrix_norm(t, ord=float("-inf"), keepdim=True),
    lambda lib, t: lib.linalg.matrix_norm(t, dim=(2, 0)),
    lambda lib, t: lib.linalg.vector_norm(t, dtype=lib.float64),
])
def test_norm_forms_match_torch(call):
    x = np.random.default_rng(4).standard_normal((2, 3, 4))
    assert_parity(call, x, second_order=True, atol=1e-8)
    assert_parity(call, x.astype(np.float32), atol=1e-5)


ERRORS = [
    lambda lib: lib.norm(lib.tensor([1, 2])),
    lambda lib: lib.linalg.vector_norm(lib.zeros(0), float("inf")),
    lambda lib: lib.linalg.norm(lib.ones(2, 2, 2), ord=1),
    lambda lib: lib.linalg.matrix_norm(lib.ones(3)),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors_are_runtime_errors_as_torch(case):
    with pytest.raises(RuntimeError):
        ERRORS[case](torch)
    with pytest.raises(RuntimeError):
        ERRORS[case](cr)
