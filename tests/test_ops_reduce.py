"""Reductions against PyTorch, over dims, keepdim and shapes with size-1 axes and 0-d."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import chainrule as cr
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from chainrule.testing.strategies import arrays, shapes


def _dims(draw, ndim):
    if ndim == 0:
        return None
    return draw(st.one_of(st.none(), st.integers(-ndim, ndim - 1),
                          st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim,
                                   unique=True).map(tuple)))


REDUCE = {
    "sum": lambda lib, x, d, k: x.sum(dim=d, keepdim=k) if d is not None else x.sum(),
    "mean": lambda lib, x, d, k: x.mean(dim=d, keepdim=k) if d is not None else x.mean(),
    "var": lambda lib, x, d, k: x.var(dim=d, keepdim=k) if d is not None else x.var(),
    "std": lambda lib, x, d, k: x.std(dim=d, keepdim=k) if d is not None else x.std(),
    "amax": lambda lib, x, d, k: lib.amax(x, dim=d, keepdim=k) if d is not None
    else lib.amax(x),
    "amin": lambda lib, x, d, k: lib.amin(x, dim=d, keepdim=k) if d is not None
    else lib.amin(x),
    "logsumexp": lambda lib, x, d, k: lib.logsumexp(x, dim=d if d is not None else 0,
                                                    keepdim=k),
}


@pytest.mark.parametrize("name", sorted(REDUCE))
@given(data=st.data())
def test_reductions_match_torch(name, data):
    shape = data.draw(shapes(min_dims=1 if name == "logsumexp" else 0))
    x = data.draw(arrays(shape))
    d = _dims(data.draw, len(shape))
    if name == "logsumexp" and isinstance(d, tuple):
        d = d[0]
    keep = data.draw(st.booleans())
    n = x.size if d is None else int(np.prod([shape[i] for i in
                                              ((d,) if isinstance(d, int) else d)]))
    if name in ("var", "std") and n < 2:
        return  # torch returns nan with a warning for one sample; covered separately
    assert_parity(lambda lib, t: REDUCE[name](lib, t, d, keep), x, second_order=True,
                  atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(REDUCE))
def test_reductions_gradcheck(name):
    x = cr.tensor(np.random.default_rng(2).normal(size=(3, 4)), requires_grad=True)
    f = lambda t: REDUCE[name](cr, t, 1, False)  # noqa: E731
    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))


def test_amax_ties_share_gradient_like_torch():
    x = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
    assert_parity(lambda lib, t: lib.amax(t, dim=1), x)
    t = cr.tensor(x, requires_grad=True)
    cr.amax(t, 1).sum().backward()
    assert np.allclose(t.grad.data, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


def test_max_with_dim_returns_values_and_indices_and_routes_to_first_max():
    x = np.array([[1.0, 3.0, 3.0], [4.0, 0.0, 4.0]])
    assert_parity(lambda lib, t: lib.max(t, dim=1)[0], x)
    values, indices = cr.max(cr.tensor(x), dim=1)
    assert values.tolist() == [3.0, 4.0] and indices.tolist() == [1, 0]
    assert_parity(lambda lib, t: lib.min(t, dim=0, keepdim=True)[0], x)


def test_full_max_min_match_torch():
    x = np.array([[1.0, 3.0], [3.0, 0.0]])
    assert_parity(lambda lib, t: lib.max(t), x)
    assert_parity(lambda lib, t: lib.min(t), x)


def test_argmax_argmin_are_int64_and_not_differentiable():
    x = cr.tensor([[1.0, 5.0, 5.0], [7.0, 0.0, 1.0]], requires_grad=True)
    assert x.argmax(dim=1).tolist() == [1, 0] and x.argmax(dim=1).dtype == np.int64
    assert x.argmin().item() == 4 and not x.argmax().requires_grad


def test_logsumexp_is_stable_for_large_logits():
    assert_parity(lambda lib, t: lib.logsumexp(t, dim=1), np.array([[1000.0, -1000.0, 999.0]]))


def test_reduction_dim_errors():
    with pytest.raises(IndexError, match="Dimension out of range"):
        cr.ones(2, 3).sum(dim=2)
    with pytest.raises(ValueError, match="non-zero size"):
        cr.amax(cr.ones(0, 3), dim=0)


def test_sum_of_bool_is_int64():
    assert cr.tensor([True, True, False]).sum().item() == 2


# ---------------------------------------------------------------- review regressions
ZERO_D = {
    "sum": lambda lib, x: x.sum(0), "sum_keep": lambda lib, x: x.sum(-1, keepdim=True),
    "sum_tuple": lambda lib, x: x.sum((0,)), "mean": lambda lib, x: x.mean(0),
    "std": lambda lib, x: x.std(0, unbiased=False), "amax": lambda lib, x: lib.amax(x, 0),
    "amin": lambda lib, x: lib.amin(x, -1, keepdim=True),
    "max": lambda lib, x: lib.max(x, 0).values, "min": lambda lib, x: x.min(dim=-1)[0],
    "logsumexp": lambda lib, x: lib.logsumexp(x, 0), "softmax": lambda lib, x: lib.softmax(x, 0),
    "log_softmax": lambda lib, x: lib.log_softmax(x, -1),
}


@pytest.mark.parametrize("name", sorted(ZERO_D))
def test_reductions_of_a_0d_tensor_over_dim_0_match_torch(name):
    assert_parity(ZERO_D[name], np.array(1.5))


EMPTY_DIM = {
    "sum": lambda lib, x: x.sum(dim=()), "mean": lambda lib, x: x.mean(dim=[]),
    "amax": lambda lib, x: lib.amax(x, dim=()), "amin": lambda lib, x: lib.amin(x, dim=[]),
    "var_value": lambda lib, x: x.var(dim=[]).detach(),
}


@pytest.mark.parametrize("name", sorted(EMPTY_DIM))
def test_an_empty_dim_list_reduces_every_dimension_like_torch(name):
    x = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 7.0]])
    assert_parity(EMPTY_DIM[name], x, requires_grad=[name != "var_value"])


def test_std_gradient_is_zero_where_std_is_zero_like_torch():
    x = np.array([[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]])
    assert_parity(lambda lib, t: t.std(1), x, second_order=True)
    t = cr.tensor(x, requires_grad=True)
    t.std(1).sum().backward()
    assert t.grad.tolist()[0] == [0.0, 0.0, 0.0]  # not nan
    y = cr.tensor(np.random.default_rng(4).normal(size=(3, 4)), requires_grad=True)
    f = lambda a: a.std(1, keepdim=True)  # noqa: E731
    assert gradcheck(f, (y,)) and gradgradcheck(f, (y,))


@pytest.mark.parametrize("op", ["mean", "var", "std"])
def test_mean_var_std_reject_integer_tensors_like_torch(op):
    with pytest.raises(TypeError, match=f"{op}: input dtype should be floating point.*int64"):
        getattr(cr.arange(4), op)()
    assert getattr(cr.arange(4).float(), op)().dtype == np.float32


def test_max_min_with_a_tensor_other_are_elementwise_like_torch():
    a, b = np.array([[1.0, 5.0], [4.0, 2.0]]), np.array([3.0, 2.0])
    assert_parity(lambda lib, x, y: lib.max(x, y), a, b)
    assert_parity(lambda lib, x, y: lib.min(x, y), a, b)
    assert_parity(lambda lib, x, y: x.max(y), a, b)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch: "degrees of freedom is <= 0"
@pytest.mark.parametrize("dim,correction", [(1, 3), (1, 5), (0, 2), (0, 3), (None, 6),
                                            (None, 7), ((0, 1), 9)])
def test_var_with_correction_at_least_n_gives_torchs_gradient(dim, correction):
    # n - correction <= 0: torch's var_backward scales by 2 / (n - correction), not nan
    x = np.array([[1.0, 2.0, 4.0], [3.0, 5.0, 0.5]])
    assert_parity(lambda lib, t: t.var(dim, correction=correction), x)
    assert_parity(lambda lib, t: t.std(dim, correction=correction), x)
    t = cr.tensor(x, requires_grad=True)
    t.var(dim, correction=correction).sum().backward()
    assert not np.isnan(t.grad.data).any()


@pytest.mark.parametrize("correction", [0, 1, 2])
def test_var_with_correction_gradcheck(correction):
    x = cr.tensor(np.random.default_rng(3).normal(size=(3, 4)), requires_grad=True)
    for dim in (1, None, (0, 1)):
        f = lambda a: a.var(dim, correction=correction)  # noqa: E731
        assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))
        assert_parity(lambda lib, t: t.var(dim, correction=correction), x.data,
                      second_order=True)


def test_argmax_argmin_refuse_bool_like_torch_but_max_min_take_it():
    b = cr.tensor([[True, False], [False, True]])
    for op in ("argmax", "argmin"):
        with pytest.raises(TypeError, match=f"{op}\\(\\): does not support bool input"):
            getattr(cr, op)(b)
        with pytest.raises(TypeError, match=f"{op}\\(\\): does not support bool input"):
            getattr(b, op)(dim=1)
    values, indices = cr.max(b, 1)  # torch.max(bool, dim) is allowed
    assert values.tolist() == [True, True] and indices.tolist() == [0, 1]
    assert cr.min(b, 0).indices.tolist() == [1, 0]
