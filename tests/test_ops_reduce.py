"""Reductions against PyTorch, over dims, keepdim and shapes with size-1 axes and 0-d."""
import numpy as np
import pytest
import torch
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
    assert np.allclose(t.grad._data, [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])


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
    with pytest.raises(IndexError, match="non-zero size"):
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
    assert not np.isnan(t.grad._data).any()


@pytest.mark.parametrize("correction", [0, 1, 2])
def test_var_with_correction_gradcheck(correction):
    x = cr.tensor(np.random.default_rng(3).normal(size=(3, 4)), requires_grad=True)
    for dim in (1, None, (0, 1)):
        f = lambda a: a.var(dim, correction=correction)  # noqa: E731
        assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))
        assert_parity(lambda lib, t: t.var(dim, correction=correction), x._data,
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


# ---------------------------------------------------------------- issue 20: NaN, inf, empty
def _grad_parity(fn, x, upstream):
    """``fn``'s value and its gradient for the upstream value ``upstream`` (float64) agree with
    torch's, NaN for NaN, through the fast backward and through the formula
    (``create_graph=True``)."""
    xt = torch.tensor(x, requires_grad=True)
    yt = fn(torch, xt)
    (gt,) = torch.autograd.grad(yt, xt, torch.full(yt.shape, upstream, dtype=torch.float64))
    for create_graph in (False, True):
        xo = cr.tensor(x, requires_grad=True)
        yo = fn(cr, xo)
        np.testing.assert_array_equal(yo._data, yt.detach().numpy())
        (go,) = cr.autograd.grad(yo, xo, cr.full(yo.shape, upstream, dtype=cr.float64),
                                 create_graph=create_graph)
        assert go.shape == tuple(gt.shape) and go.dtype == np.float64
        np.testing.assert_allclose(go._data, gt.numpy(), rtol=1e-12, atol=0, equal_nan=True,
                                   err_msg=f"create_graph={create_graph}")


NAN, INF = float("nan"), float("inf")
MASKED = {
    "max": lambda lib, x: x.max(), "min": lambda lib, x: x.min(),
    "max_dim": lambda lib, x: lib.max(x, 0).values, "min_dim": lambda lib, x: x.min(0)[0],
    "amax": lambda lib, x: lib.amax(x), "amin_dim": lambda lib, x: lib.amin(x, 0),
}


@pytest.mark.parametrize("name", sorted(MASKED))
@pytest.mark.parametrize("x", [[1.0, NAN, 3.0, NAN], [NAN, 2.0], [3.0, 1.0, 3.0], [INF, 1.0, INF],
                               [-INF, -INF], [2.0, -1.0, 0.5]])
@pytest.mark.parametrize("upstream", [1.0, INF, NAN])
def test_max_min_gradients_at_nan_inf_and_ties_match_torch(name, x, upstream):
    # max(x) / min(x): the gradient goes to the NaNs (shared), exactly 0 elsewhere even for an
    # inf upstream; amax keeps torch's own rule (NaN over a slice holding a NaN); max(x, dim)
    # goes to the index returned
    _grad_parity(MASKED[name], np.array(x), upstream)


def test_full_max_with_nan_sends_the_gradient_to_the_nans():
    x = cr.tensor([1.0, NAN, 3.0, NAN], requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == [0.0, 0.5, 0.0, 0.5]
    y = cr.tensor([-0.5, 4.0, 1.0], requires_grad=True)
    y.max().backward(cr.tensor(INF, dtype=cr.float32))
    assert y.grad.tolist() == [0.0, INF, 0.0]


EMPTY = {
    "max1": lambda lib, x: lib.max(x, 1).values, "max1_keep": lambda lib, x: x.max(1, True)[0],
    "max1_indices": lambda lib, x: lib.max(x, 1).indices.double(),
    "min1": lambda lib, x: x.min(-1).values, "amax1": lambda lib, x: lib.amax(x, 1),
    "amin1_keep": lambda lib, x: lib.amin(x, (1,), keepdim=True),
    "argmax1": lambda lib, x: lib.argmax(x, 1).double(),
    "argmin1_keep": lambda lib, x: lib.argmin(x, 1, keepdim=True).double(),
    "logsumexp1": lambda lib, x: lib.logsumexp(x, 1), "logsumexp0": lambda lib, x: lib.logsumexp(x, 0),
    "logsumexp01": lambda lib, x: lib.logsumexp(x, (0, 1), keepdim=True),
    "sum": lambda lib, x: x.sum(), "sum0": lambda lib, x: x.sum(0), "mean": lambda lib, x: x.mean(),
    "mean1": lambda lib, x: x.mean(1), "var0": lambda lib, x: x.var(0),
    "std1": lambda lib, x: x.std(1),
}


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch: "degrees of freedom is <= 0"
@pytest.mark.parametrize("name", sorted(EMPTY))
def test_reductions_of_an_empty_tensor_match_torch(name):
    # a (0, 3) tensor: reducing dim 1 gives an empty result, dim 0 a row of sum's identity
    # (logsumexp: -inf); gradients are empty arrays of the input's shape
    assert_parity(EMPTY[name], np.zeros((0, 3)), second_order=False)
    assert_parity(EMPTY[name], np.zeros((0, 3)), second_order=True)


@pytest.mark.parametrize("call,error,match", [
    (lambda x: x.max(), RuntimeError, r"max\(\): Expected reduction dim to be specified"),
    (lambda x: cr.min(x), RuntimeError, r"min\(\): Expected reduction dim to be specified"),
    (lambda x: cr.amax(x, ()), RuntimeError, r"amax\(\): Expected reduction dim to be"),
    (lambda x: x.max(0), IndexError, r"max\(\): Expected reduction dim 0 to have non-zero"),
    (lambda x: cr.amin(x, (0, 1)), IndexError, r"amin\(\): Expected reduction dim 0"),
    (lambda x: x.argmax(), IndexError, r"argmax\(\): Expected reduction dim to be specified"),
    (lambda x: x.argmin(0), IndexError, r"argmin\(\): Expected reduction dim 0"),
])
def test_an_extremum_of_nothing_raises_torchs_error(call, error, match):
    with pytest.raises(error, match=match + r".*\(input shape \(0, 3\)\)"):
        call(cr.zeros(0, 3))


@pytest.mark.parametrize("dtype", [np.bool_, np.uint8, np.int8, np.int16, np.uint16, np.int32,
                                   np.uint32, np.uint64, np.int64])
def test_bool_and_integer_sums_are_int64_like_torch(dtype):
    x = cr.tensor(np.array([[1, 0, 1], [1, 1, 0]], dtype=dtype))
    assert x.sum().dtype == np.int64 and x.sum().item() == 4
    assert x.sum(0).dtype == np.int64 and x.sum(1, keepdim=True).tolist() == [[2], [2]]


@pytest.mark.parametrize("x", [[1e308, 1e308], [1.0, INF, 3.0], [INF, INF], [-INF, -INF],
                               [INF, -INF], [1.0, NAN], [-1e308, 0.0], [700.0, 710.0]])
@pytest.mark.parametrize("upstream", [1.0, INF])
def test_logsumexp_gradient_is_torchs_exp_of_x_minus_result(x, upstream):
    _grad_parity(lambda lib, t: lib.logsumexp(t, 0), np.array(x), upstream)


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch: "degrees of freedom is <= 0"
@pytest.mark.parametrize("value", [0.1, 0.3, 7.7, 1e300, -2.5, INF, NAN])
@pytest.mark.parametrize("shape,dim", [((3, 2), 0), ((2, 3), 1), ((4, 3), 0), ((2, 3, 4), (0, 2)),
                                       ((3, 5), -1), ((2, 3, 4), (1, 2))])
@pytest.mark.parametrize("correction", [0, 1, 5])
def test_var_of_equal_values_over_a_dim_is_exactly_zero_like_torch(value, shape, dim,
                                                                     correction):
    # found by the fuzzer: torch reduces over a dim with Welford's sums, exact for a slice of
    # equal values, where sum / n misses 0.1 by an ulp: a variance of 3e-34 instead of 0, a
    # std of 2e-17, and a std gradient of O(1) where torch's is 0 (or, for 1e300, inf)
    x = np.full(shape, value)
    x[(0,) * (len(shape) - 1)] = 1.0  # some slices hold another value
    ours = cr.tensor(x).var(dim, correction=correction)._data
    theirs = torch.tensor(x).var(dim, correction=correction).numpy()
    np.testing.assert_array_equal(ours == 0, theirs == 0)  # exactly 0 where torch's is
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, equal_nan=True)
    if abs(value) < 1e10:  # (at 1e300 the gradients' mean rounds differently: 1e282 of 1e298)
        assert_parity(lambda lib, t: t.var(dim, correction=correction), x)
        assert_parity(lambda lib, t: t.std(dim, correction=correction) * 3.0, x,
                      second_order=True)
