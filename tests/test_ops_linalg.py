"""matmul against torch.matmul: 1-D, 2-D, batched and broadcast operands; errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import chainrule as cr
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from chainrule.testing.strategies import arrays


@st.composite
def matmul_shapes(draw):
    n, k, p = (draw(st.integers(1, 4)) for _ in range(3))
    kind = draw(st.sampled_from(["1d1d", "1d2d", "2d1d", "2d2d", "batched", "broadcast"]))
    if kind == "1d1d":
        return (k,), (k,)
    if kind == "1d2d":
        return (k,), (k, p)
    if kind == "2d1d":
        return (n, k), (k,)
    if kind == "2d2d":
        return (n, k), (k, p)
    b = draw(st.integers(1, 3))
    if kind == "batched":
        return (b, n, k), (b, k, p)
    return (b, 1, n, k), (draw(st.integers(1, 2)), k, p)


@given(data=st.data())
def test_matmul_matches_torch(data):
    sa, sb = data.draw(matmul_shapes())
    a, b = data.draw(arrays(sa)), data.draw(arrays(sb))
    assert_parity(lambda lib, x, y: lib.matmul(x, y), a, b, second_order=True,
                  atol=1e-8, rtol=1e-6)


def test_matmul_gradcheck_batched_broadcast():
    rng = np.random.default_rng(0)
    a = cr.tensor(rng.normal(size=(2, 1, 3, 4)), requires_grad=True)
    b = cr.tensor(rng.normal(size=(3, 4, 2)), requires_grad=True)
    assert gradcheck(lambda x, y: x @ y, (a, b))
    assert gradgradcheck(lambda x, y: x @ y, (a, b))


def test_matmul_shape_error_names_both_shapes():
    with pytest.raises(ValueError, match=r"mat1 and mat2 shapes cannot be multiplied "
                                         r"\(2x3 and 4x5\).*\(2, 3\) and \(4, 5\)"):
        cr.ones(2, 3) @ cr.ones(4, 5)


def test_matmul_batch_error_and_0d_error():
    with pytest.raises(ValueError, match=r"batch dimensions \(2,\) and \(3,\)"):
        cr.ones(2, 3, 4) @ cr.ones(3, 4, 5)
    with pytest.raises(ValueError, match="at least 1D"):
        cr.matmul(cr.tensor(1.0), cr.ones(2))


@pytest.mark.parametrize("shape", [(5,), (4, 5), (2, 3, 5)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_fused_linear_matches_torch_and_its_composed_twin(shape, with_bias):
    from chainrule.ops.linalg import linear, linear_composed

    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=shape), rng.normal(size=(3, 5)), rng.normal(size=(3,))
    args = (x, w, b) if with_bias else (x, w)
    assert_parity(lambda lib, *t: lib.nn.functional.linear(*t), *args, second_order=True,
                  atol=1e-8, rtol=1e-6)
    fused = [cr.tensor(a, requires_grad=True) for a in args]
    twin = [cr.tensor(a, requires_grad=True) for a in args]
    y1, y2 = linear(*fused), linear_composed(*twin)
    assert np.allclose(y1._data, y2._data)
    g = cr.tensor(rng.normal(size=y1.shape))
    (y1 * g).sum().backward()
    (y2 * g).sum().backward()
    for a, b_ in zip(fused, twin):
        assert np.allclose(a.grad._data, b_.grad._data)
    assert gradcheck(linear, tuple(fused)) and gradgradcheck(linear, tuple(fused))


# ---------------------------------------------------------------- review regressions
def test_mm_takes_matrices_only_like_torch():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    assert_parity(lambda lib, x, y: lib.mm(x, y), a, b)
    assert_parity(lambda lib, x, y: x.mm(y), a, b)
    with pytest.raises(ValueError, match=r"mm: input must be a matrix \(2-D\), got a 1-D"):
        cr.mm(cr.ones(3), cr.ones(3, 2))
    with pytest.raises(ValueError, match=r"mm: mat2 must be a matrix \(2-D\), got a 3-D"):
        cr.ones(2, 3).mm(cr.ones(1, 3, 2))


@pytest.mark.parametrize("c_shape", [(3,), (1, 3), (4, 3), ()])
@pytest.mark.parametrize("beta, alpha", [(1, 1), (0.5, -2.0), (0, 1)])
def test_fused_addmm_matches_its_composed_twin(c_shape, beta, alpha):
    from chainrule.ops.linalg import Addmm, addmm_composed

    rng = np.random.default_rng(1)
    args = rng.normal(size=c_shape), rng.normal(size=(4, 5)), rng.normal(size=(5, 3))
    fused = [cr.tensor(a, requires_grad=True) for a in args]
    twin = [cr.tensor(a, requires_grad=True) for a in args]
    y1 = Addmm(beta, alpha)(*fused)
    y2 = addmm_composed(*twin, beta=beta, alpha=alpha)
    np.testing.assert_allclose(y1._data, y2._data, rtol=1e-12)
    g = cr.tensor(rng.normal(size=y1.shape))
    (y1 * g).sum().backward()
    (y2 * g).sum().backward()
    for a, b_ in zip(fused, twin):  # beta = 0: zeros for input, as torch; the twin: none
        expected = np.zeros(a.shape) if b_.grad is None else b_.grad._data
        np.testing.assert_allclose(a.grad._data, expected, rtol=1e-12, atol=1e-14)
    assert gradcheck(lambda *t: Addmm(beta, alpha)(*t), tuple(fused))
    assert gradgradcheck(lambda *t: Addmm(beta, alpha)(*t), tuple(fused))
