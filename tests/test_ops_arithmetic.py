"""Elementwise ops against PyTorch and central differences, over broadcasting shapes."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import chainrule as cr
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from chainrule.testing.strategies import arrays, away_from, broadcast_pairs, shapes

BINARY = {
    "add": lambda lib, a, b: a + b,
    "sub": lambda lib, a, b: a - b,
    "mul": lambda lib, a, b: a * b,
    "div": lambda lib, a, b: a / b,
    "pow": lambda lib, a, b: lib.pow(a.abs() + 0.5, b),
    "maximum": lambda lib, a, b: lib.maximum(a, b),
    "minimum": lambda lib, a, b: lib.minimum(a, b),
    "where": lambda lib, a, b: lib.where(a > b, a, b * 2),
}

UNARY = {
    "neg": (lambda lib, a: -a, ()),
    "exp": (lambda lib, a: lib.exp(a), ()),
    "log": (lambda lib, a: lib.log(a.abs() + 0.1), (0.0,)),
    "sqrt": (lambda lib, a: lib.sqrt(a.abs() + 0.1), (0.0,)),
    "abs": (lambda lib, a: lib.abs(a), (0.0,)),
    "sin": (lambda lib, a: lib.sin(a), ()),
    "cos": (lambda lib, a: lib.cos(a), ()),
    "pow_scalar": (lambda lib, a: a ** 3, ()),
    "pow_half": (lambda lib, a: (a.abs() + 0.1) ** 0.5, (0.0,)),
    "rpow": (lambda lib, a: 2 ** a, ()),
    "rsub": (lambda lib, a: 2 - a, ()),
    "rdiv": (lambda lib, a: 1 / (a.abs() + 0.5), (0.0,)),
    "clamp": (lambda lib, a: lib.clamp(a, -0.5, 0.7), (-0.5, 0.7)),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@given(data=st.data())
def test_binary_matches_torch_with_broadcasting(name, data):
    sa, sb = data.draw(broadcast_pairs())
    a = data.draw(arrays(sa))
    b = data.draw(arrays(sb))
    if name in ("div",):
        b = np.where(np.abs(b) < 0.3, 0.5, b)
    if name in ("maximum", "minimum", "where"):
        b = b + 0.01  # no exact ties: finite differences are undefined there
    assert_parity(BINARY[name], a, b, second_order=True, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(UNARY))
@given(data=st.data())
def test_unary_matches_torch(name, data):
    fn, kinks = UNARY[name]
    a = away_from(data.draw(arrays(data.draw(shapes()))), kinks)
    assert_parity(fn, a, second_order=True, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_gradcheck_first_and_second_order(name):
    rng = np.random.default_rng(1)
    a = cr.tensor(rng.uniform(0.5, 2, (3, 1)), requires_grad=True)
    b = cr.tensor(rng.uniform(0.5, 2, (4,)) + 0.01, requires_grad=True)
    fn = lambda x, y: BINARY[name](cr, x, y)  # noqa: E731
    assert gradcheck(fn, (a, b))
    assert gradgradcheck(fn, (a, b))


def test_maximum_ties_split_gradient_evenly_like_torch():
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([1.0, 5.0, 3.0])
    assert_parity(lambda lib, x, y: lib.maximum(x, y), a, b)
    x = cr.tensor(a, requires_grad=True)
    cr.maximum(x, cr.tensor(b)).sum().backward()
    assert x.grad.tolist() == [0.5, 0.0, 0.5]


def test_pow_at_zero_base_matches_torch():
    assert_parity(lambda lib, x, y: lib.pow(x, y), np.array([0.0, 0.0, 2.0]),
                  np.array([2.0, 0.0, 3.0]))


@pytest.mark.parametrize("other", [2.0, 2, np.float64(2.0), np.array(2.0), True])
def test_scalars_and_0d_arrays_never_upcast_float32(other):
    x = cr.ones(3)
    for y in (x * other, other * x, x + other, x - other, other - x, x / other, x ** 2):
        assert y.dtype == np.float32


def test_type_promotion_follows_torch():
    import torch

    cases = [(cr.ones(2, dtype=cr.int64), 2.5), (cr.ones(2, dtype=cr.int32), 2),
             (cr.ones(2), cr.ones(2, dtype=cr.float64)), (cr.tensor(1.0, dtype=cr.float64),
                                                          cr.ones(2)),
             (cr.ones(2, dtype=cr.int64), cr.tensor(1.5)), (cr.ones(2, dtype=cr.bool), 1)]
    for a, b in cases:
        ta = torch.from_numpy(np.array(a._data))
        tb = torch.from_numpy(np.array(b._data)) if isinstance(b, cr.Tensor) else b
        assert str((a * b).dtype) == str((ta * tb).dtype).replace("torch.", "")


def test_int_division_gives_float32():
    assert (cr.tensor([1, 2]) / 2).dtype == np.float32


def test_broadcast_failure_names_both_shapes_and_dimension():
    with pytest.raises(ValueError, match=r"size of tensor a \(3\) must match the size of "
                                         r"tensor b \(4\) at non-singleton dimension 1.*"
                                         r"\(2, 3\) and \(4,\)"):
        cr.ones(2, 3) + cr.ones(4)


def test_where_rejects_non_bool_condition():
    with pytest.raises(TypeError, match="boolean"):
        cr.where(cr.ones(2), cr.ones(2), cr.zeros(2))


def test_clamp_requires_a_bound():
    with pytest.raises(ValueError, match="clamp"):
        cr.clamp(cr.ones(2))


def test_clamp_gradient_passes_at_bounds_like_torch():
    assert_parity(lambda lib, x: lib.clamp(x, -1.0, 1.0), np.array([-1.0, 0.0, 1.0, 2.0]))


def test_comparisons_return_bool_and_are_not_differentiable():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for r in (x > 1, x >= 1, x < 1, x <= 1, x == 1, x != 1):
        assert r.dtype == np.bool_ and not r.requires_grad
    assert (x > 1).tolist() == [False, True]


def test_reflected_operators_with_numpy_arrays():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = np.array([3.0, 4.0], dtype=np.float32) * x
    assert isinstance(y, cr.Tensor) and y.tolist() == [3.0, 8.0]
    (2 - x).sum().backward()
    assert x.grad.tolist() == [-1.0, -1.0]


def test_cast_is_differentiable_between_floats():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 3
    y.sum().backward()
    assert y.dtype == np.float64 and x.grad.dtype == np.float32
    assert x.grad.tolist() == [3.0, 3.0]


def test_ops_do_not_modify_inputs():
    a = np.array([[1.0, -2.0]])
    x = cr.tensor(a, requires_grad=True)
    (cr.exp(x) * x).sum().backward()
    assert np.array_equal(x._data, a)


@pytest.mark.parametrize("name", ["mul", "exp", "sin", "cos"])
@pytest.mark.parametrize("shapes", [((), ()), ((2, 3), (3,)), ((2, 1), (1, 4)), ((3,), ())])
def test_first_order_numpy_backward_equals_the_composed_one(name, shapes):
    # untraced first-order backward computes on arrays; traced (or recorded) it builds ops:
    # both must give the same float32 gradients, broadcast undone, 0-d results as arrays
    rng = np.random.default_rng(3)
    fns = {"mul": lambda a, b: a * b, "exp": lambda a, b: cr.exp(a) * b,
           "sin": lambda a, b: cr.sin(a) + b, "cos": lambda a, b: cr.cos(a) - b}
    grads = []
    for traced in (False, True):
        a = cr.tensor(rng.standard_normal(shapes[0]).astype(np.float32), requires_grad=True)
        b = cr.tensor(rng.standard_normal(shapes[1]).astype(np.float32), requires_grad=True)
        rng = np.random.default_rng(3)  # the same values on the second pass
        if traced:
            with cr.trace() as t:
                fns[name](a, b).sum().backward()
            assert any(r.inner_ops for r in t.backward_rows)  # the composed ops ran
        else:
            fns[name](a, b).sum().backward()
        grads.append((a.grad, b.grad))
    for fast, composed in zip(*grads):
        assert fast.dtype == np.float32 and fast.shape == composed.shape
        assert isinstance(fast._data, np.ndarray)
        np.testing.assert_array_equal(fast._data, composed._data)


# ---------------------------------------------------------------- review regressions
@pytest.mark.parametrize("a_dtype,b_dtype", [(np.int64, np.float32), (np.int32, np.float16),
                                             (np.float32, np.int64), (np.uint8, np.float16)])
@pytest.mark.parametrize("op", ["add", "mul", "sub", "div", "maximum", "pow"])
def test_integer_and_float_tensors_promote_like_torch(op, a_dtype, b_dtype):
    import torch

    a, b = np.arange(1, 4).astype(a_dtype), np.full(3, 2).astype(b_dtype)
    ours = getattr(cr, op)(cr.tensor(a), cr.tensor(b))
    theirs = getattr(torch, op)(torch.tensor(a), torch.tensor(b))
    assert str(ours.dtype) == str(theirs.dtype).replace("torch.", "")  # e.g. float32, not 64
    np.testing.assert_allclose(ours._data, theirs.numpy(), rtol=1e-3)


def test_clamp_tensor_bounds_gradients_match_torch():
    # ties x == min, x == max, min > max, broadcast bounds: torch's rules, not maximum's
    x = np.array([[1.0, 2.0, 0.5, 3.0], [-1.0, 1.0, 5.0, 2.0]])
    lo = np.array([1.0, 1.0, 1.0, 4.0])
    hi = np.array([[3.0], [1.0]])
    assert_parity(lambda lib, x, lo, hi: lib.clamp(x, lo, hi), x, lo, hi)
    assert_parity(lambda lib, x, lo: lib.clamp(x, min=lo), x, lo)
    assert_parity(lambda lib, x, hi: lib.clamp(x, max=hi), x, hi)
    t = cr.tensor([1.0, 2.0], requires_grad=True)
    m = cr.tensor([1.0, 1.0], requires_grad=True)
    cr.clamp(t, m).sum().backward()
    assert t.grad.tolist() == [1.0, 1.0] and m.grad.tolist() == [0.0, 0.0]  # tie: all to x


def test_clamp_tensor_bounds_gradcheck():
    rng = np.random.default_rng(3)
    x, lo, hi = (cr.tensor(rng.normal(size=s), requires_grad=True) for s in [(3, 4), (4,),
                                                                              (3, 1)])
    f = lambda a, b, c: cr.clamp(a, b, c)  # noqa: E731
    assert gradcheck(f, (x, lo, hi)) and gradgradcheck(f, (x, lo, hi))


def test_clamp_integer_tensor_with_float_bound_is_float32_like_torch():
    assert_parity(lambda lib, x: lib.clamp(x, 2.5), np.array([1, 5]), requires_grad=[False])
    # NumPy scalars as bounds are numbers too: they never upcast the tensor (torch's rule)
    for lo in (np.float64(0.5), np.int64(1)):
        assert_parity(lambda lib, x: lib.clamp(x, lo), np.array([0.25, 3.0], np.float32))
        assert_parity(lambda lib, x: lib.clamp(x, None, lo), np.array([0.25, 3.0], np.float32))
        assert_parity(lambda lib, x: lib.clamp(x, lo), np.array([0, 5]), requires_grad=[False])
    y = cr.clamp(cr.tensor([1, 5]), 2, 4)
    assert y.dtype == np.int64 and y.tolist() == [2, 4]


def test_public_ops_accept_torch_keyword_names():
    import torch

    x, y = np.array([[0.5, -1.0], [2.0, 0.25]]), np.array([[1.5, 2.0], [0.5, -1.0]])
    for lib in (cr, torch):
        a, b = lib.tensor(x), lib.tensor(y)
        got = [lib.add(input=a, other=b), lib.mul(input=a, other=b), lib.sub(input=a, other=b),
               lib.div(input=a, other=b), lib.maximum(input=a, other=b),
               lib.pow(input=a.abs(), exponent=2), lib.exp(input=a), lib.abs(input=a),
               lib.clamp(input=a, min=0.0), lib.where(a > 0, input=a, other=b),
               lib.sigmoid(input=a), lib.tanh(input=a), lib.relu(input=a),
               lib.softmax(input=a, dim=1), lib.sum(input=a, dim=0), lib.mean(input=a),
               lib.amax(input=a, dim=1), lib.logsumexp(input=a, dim=1),
               lib.flatten(input=a), lib.transpose(input=a, dim0=0, dim1=1),
               lib.matmul(input=a, other=b), lib.gather(input=a, dim=1,
                                                        index=lib.tensor([[1], [0]]))]
        if lib is cr:
            ours = [t._data for t in got]
        else:
            np.testing.assert_allclose(np.concatenate([o.ravel() for o in ours]),
                                       np.concatenate([t.numpy().ravel() for t in got]),
                                       rtol=1e-6)


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_maximum_minimum_give_the_gradient_to_both_sides_at_nan_like_torch(op):
    nan = float("nan")
    a = np.array([nan, 1.0, 2.0, nan, 3.0, 0.5])
    b = np.array([1.0, nan, 2.0, nan, 1.0, 4.0])
    assert_parity(lambda lib, x, y: getattr(lib, op)(x, y), a, b, second_order=True)
    assert_parity(lambda lib, x, y: getattr(lib, op)(x, y), a.reshape(2, 3), b[:3])
    x, y = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    getattr(cr, op)(x, y).sum().backward()
    assert x.grad.tolist()[:4] == [1.0, 1.0, 0.5, 1.0]
    assert y.grad.tolist()[:4] == [1.0, 1.0, 0.5, 1.0]


def test_sign_is_in_the_graph_with_a_zero_gradient_like_torch():
    x = np.array([-2.0, 0.0, 3.0, 0.5])
    assert_parity(lambda lib, t: lib.sign(t) * t, x, second_order=True)
    assert_parity(lambda lib, t: t.sign(), x)
    t = cr.tensor(x, requires_grad=True)
    y = cr.sign(t)
    assert y.requires_grad and y.grad_fn is not None
    t64 = cr.tensor([-2.0, 1.5, 3.0], dtype=cr.float64, requires_grad=True)
    assert gradcheck(cr.sign, (t64,))
    assert cr.sign(t64).grad_fn.name() == "SignBackward0"  # PyTorch's node name and method
    assert_parity(lambda lib, t: lib.sign(t), np.array([True, False]))
    assert_parity(lambda lib, t: lib.sign(t), np.array([-3, 0, 2]))


def test_second_derivative_of_abs_is_zero_like_torch():
    """abs'' = 0 away from 0: a double backward through abs (e.g. l1_loss) gives zeros."""
    x = cr.tensor([-2.0, 0.5, 3.0], dtype=cr.float64, requires_grad=True)
    (dx,) = cr.autograd.grad(abs(x).sum(), x, create_graph=True)
    (ddx,) = cr.autograd.grad(dx.sum(), x)
    assert dx.tolist() == [-1.0, 1.0, 1.0] and ddx.tolist() == [0.0, 0.0, 0.0]
    torch = pytest.importorskip("torch")
    xt = torch.tensor([-2.0, 0.5, 3.0], dtype=torch.float64, requires_grad=True)
    (dxt,) = torch.autograd.grad(xt.abs().sum(), xt, create_graph=True)
    (ddxt,) = torch.autograd.grad(dxt.sum(), xt)
    assert torch.equal(ddxt, torch.zeros(3, dtype=torch.float64))  # a ZeroTensor in torch


# ----------------------------------------------------------------------------- // and %
def _off_the_steps(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """b away from 0 and a/b away from whole numbers: remainder jumps there."""
    b = np.where(np.abs(b) < 0.3, 0.7, b)
    q = a / b
    a = np.where(np.abs(q - np.round(q)) < 0.05, a + 0.1 * b, a)
    return a, b


@given(data=st.data())
def test_remainder_matches_torch_with_broadcasting(data):
    sa, sb = data.draw(broadcast_pairs())
    a, b = _off_the_steps(data.draw(arrays(sa, low=-5, high=5)), data.draw(arrays(sb)))
    assert_parity(lambda lib, x, y: lib.remainder(x, y), a, b, second_order=True,
                  atol=1e-8, rtol=1e-6)
    assert_parity(lambda lib, x, y: x % y, a, b, atol=1e-8, rtol=1e-6)


def test_remainder_gradcheck_first_and_second_order():
    rng = np.random.default_rng(0)
    a, b = _off_the_steps(rng.uniform(-5, 5, (3, 4)), rng.uniform(-2, 2, (4,)))
    x, y = cr.tensor(a, requires_grad=True), cr.tensor(b, requires_grad=True)
    assert gradcheck(cr.remainder, (x, y))
    assert gradgradcheck(cr.remainder, (x, y))


@given(data=st.data())
def test_floor_divide_matches_torch(data):
    torch = pytest.importorskip("torch")
    sa, sb = data.draw(broadcast_pairs())
    a, b = data.draw(arrays(sa, low=-5, high=5)), data.draw(arrays(sb))
    b = np.where(np.abs(b) < 0.3, 0.7, b)
    np.testing.assert_array_equal((cr.tensor(a) // cr.tensor(b))._data,
                                  (torch.tensor(a) // torch.tensor(b)).numpy())
    ai, bi = np.round(a * 3).astype(np.int64), np.where(np.round(b * 3) == 0, 2,
                                                          np.round(b * 3)).astype(np.int64)
    for ours, ref in ((cr.tensor(ai) // cr.tensor(bi), torch.tensor(ai) // torch.tensor(bi)),
                      (cr.tensor(ai) % cr.tensor(bi), torch.tensor(ai) % torch.tensor(bi))):
        assert ours.dtype == np.int64
        np.testing.assert_array_equal(ours._data, ref.numpy())


def test_floor_divide_and_remainder_scalars_dtypes_and_zeros_as_torch():
    torch = pytest.importorskip("torch")
    cases = [(lambda lib: 7 // lib.tensor([2, 3])), (lambda lib: 7 % lib.tensor([2.0, -3.0])),
             (lambda lib: lib.tensor([7, -7]) // 2.5), (lambda lib: lib.tensor([1.0, -1.0]) // 0),
             (lambda lib: lib.tensor([1.0, 0.0]) % 0),
             (lambda lib: lib.tensor([5.0]).remainder(lib.tensor([-2.0]))),
             (lambda lib: lib.tensor([5]).floor_divide(-2))]
    for case in cases:
        ours, ref = case(cr), case(torch)
        assert str(ours.dtype) == str(ref.dtype).replace("torch.", "")
        np.testing.assert_array_equal(ours._data, ref.numpy())
    for op in (lambda x: x // 0, lambda x: x % 0):
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            op(cr.tensor([1, 2]))
        with pytest.raises(RuntimeError, match="ZeroDivisionError"):
            op(torch.tensor([1, 2]))
    with pytest.raises(TypeError, match="floor_divide: not implemented for bool"):
        cr.tensor([True]) // cr.tensor([True])


def test_floor_divide_is_not_differentiable_as_in_torch():
    x = cr.tensor([3.0, 4.0], requires_grad=True)
    y = x // 2
    assert y.requires_grad  # in the graph, as torch's
    with pytest.raises(RuntimeError, match="derivative for floor_divide is not implemented"):
        y.sum().backward()


# ------------------------------------------------------- special values (NaN, inf, huge, tiny)
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e308, -1e308, 1e-308, -1e-308, 2.0,
                    -3.0])
"""The values where masked backwards and NaN rules can differ from PyTorch's."""

UPSTREAM = [np.inf, -np.inf, np.nan, 2.0]
"""Upstream gradients: an inf one is what sqrt or log sends back from 0."""


def _pairs() -> tuple[np.ndarray, np.ndarray]:
    """Every pair of special values, as two flat arrays."""
    a, b = np.meshgrid(SPECIAL, SPECIAL)
    return a.ravel(), b.ravel()


def _triples() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of special values with a third special value beside each (flat arrays)."""
    a, b = _pairs()
    return a, b, np.roll(b, 5)


def _with_upstream(fn, upstream: float):
    """``fn`` times a constant: its inputs' gradients then see ``upstream`` (times
    assert_parity's random upstream gradient) coming back through ``fn``."""
    return lambda lib, *ts: fn(lib, *ts) * lib.tensor(np.full(ts[0].shape, upstream))


MASKED = {  # (fn, how many special-value inputs)
    "clamp min": (lambda lib, x: lib.clamp(x, min=0.0), 1),
    "clamp max": (lambda lib, x: lib.clamp(x, max=0.0), 1),
    "clamp both": (lambda lib, x: lib.clamp(x, -1.0, 1.0), 1),
    "clamp nan bound": (lambda lib, x: lib.clamp(x, float("nan"), 1.0), 1),
    "clamp tensor min": (lambda lib, x, lo: lib.clamp(x, min=lo), 2),
    "clamp tensor max": (lambda lib, x, hi: lib.clamp(x, max=hi), 2),
    "clamp tensor both": (lambda lib, x, lo, hi: lib.clamp(x, lo, hi), 3),
    "maximum": (lambda lib, a, b: lib.maximum(a, b), 2),
    "minimum": (lambda lib, a, b: lib.minimum(a, b), 2),
    "where": (lambda lib, a, b: lib.where(a > b, a, b), 2),
    "abs": (lambda lib, x: lib.abs(x), 1),
    "sign": (lambda lib, x: lib.sign(x), 1),
}


@pytest.mark.parametrize("second_order", [False, True], ids=["fast path", "formula"])
@pytest.mark.parametrize("upstream", UPSTREAM)
@pytest.mark.parametrize("name", sorted(MASKED))
def test_masked_backwards_match_torch_at_special_values_and_upstreams(name, upstream,
                                                                      second_order):
    """A blocked position gets exactly 0, also for an inf or NaN upstream gradient (torch's
    ``where(mask, grad, 0)``; ``grad * mask`` gives NaN), on the fast path and the formula
    (recorded, with its own derivative)."""
    fn, arity = MASKED[name]
    arrays = {1: (SPECIAL,), 2: _pairs(), 3: _triples()}[arity]
    assert_parity(_with_upstream(fn, upstream), *arrays, second_order=second_order)


@pytest.mark.parametrize("fn", [lambda lib, x: lib.clamp(x, min=0).sqrt(),
                                lambda lib, x: lib.clamp(x, max=0).neg().sqrt(),
                                lambda lib, x: lib.maximum(x, lib.zeros_like(x)).log()],
                         ids=["clamp sqrt", "clamp max sqrt", "maximum log"])
def test_a_masked_op_before_sqrt_or_log_gives_torch_gradients(fn):
    """The issue's case: x.clamp(min=0).sqrt() at x < 0 sends an inf gradient back into
    clamp, which must block it (torch: 0), not give NaN."""
    x = np.array([-0.5, 4.0, 0.0, np.inf, -np.inf, -2.0])
    assert_parity(fn, x)
    assert_parity(fn, x, second_order=True)
    t = cr.tensor([-0.5, 4.0], requires_grad=True)
    t.clamp(min=0).sqrt().sum().backward()
    assert t.grad.tolist() == [0.0, 0.25]


def test_sign_of_nan_is_zero_and_abs_gradient_there_too_like_torch():
    assert_parity(lambda lib, x: lib.sign(x), SPECIAL)
    assert cr.sign(cr.tensor([np.nan, -np.nan])).tolist() == [0.0, 0.0]
    x = cr.tensor([np.nan, -2.0], requires_grad=True)
    x.abs().sum().backward()
    assert x.grad.tolist() == [0.0, -1.0]


@pytest.mark.parametrize("upstream", UPSTREAM)
def test_div_and_pow_gradients_at_special_values_match_torch(upstream):
    """Torch's groupings: d(a/b)/db = -g * ((a / b) / b), d(a**b)/da = g * (b * a**(b-1)),
    d(a**b)/db = g * where(a == 0 and b >= 0, 0, a**b * log(a)): huge and tiny values overflow
    or underflow differently in another order.

    Second order away from zero bases and exponents: there torch's double backward is NaN
    (0 * inf from the branch its where masks), ours the limit, 0 (a documented difference).
    """
    a, b = _pairs()
    for fn in (lambda lib, x, y: x / y, lambda lib, x, y: x ** y):
        assert_parity(_with_upstream(fn, upstream), a, b)
        away = (a != 0) & (b != 0)
        assert_parity(_with_upstream(fn, upstream), a[away], b[away], second_order=True)


@pytest.mark.parametrize("upstream", UPSTREAM)
@pytest.mark.parametrize("c", [0, 0.5, -0.5, 1, 1.5, 2, 3, -1, -2, -1.5, 2.5])
def test_pow_scalar_at_special_values_matches_torch(c, upstream):
    """x ** c: torch computes c = 0.5, -0.5, 2, 3, -1, -2 by sqrt, rsqrt, products and
    reciprocals (rsqrt(-0.0) = -inf, rsqrt(-inf) = NaN), and the gradient of x ** 0 is 0."""
    assert_parity(_with_upstream(lambda lib, x: x ** c, upstream), SPECIAL)
    assert_parity(_with_upstream(lambda lib, x: x ** c, upstream), SPECIAL, second_order=True)


@pytest.mark.parametrize("bounds", [(0.0, None), (None, 0.0), (-0.0, None), (None, -0.0),
                                    (0.0, -0.0), (-0.0, 0.0)])
def test_clamp_keeps_x_at_ties_so_signed_zeros_follow_torch(bounds):
    """torch.clamp keeps x at a tie with a number bound: clamp(-0.0, min=0) is -0.0; 1 / y
    shows the sign of a zero (-inf or inf). (With tensor bounds, and in maximum and minimum,
    torch's own signed zero at ties depends on where the element falls in its vector loop.)"""
    assert_parity(lambda lib, x: 1 / lib.clamp(x, *bounds), SPECIAL)


@pytest.mark.parametrize("upstream", UPSTREAM)
@pytest.mark.parametrize("c", [0.5, 2.0, 0.0, -3.0])
def test_number_divided_by_a_tensor_is_reciprocal_times_the_number_like_torch(c, upstream):
    """``c / x`` is ``reciprocal(x) * c`` in torch (Tensor.__rtruediv__): at tiny x (5e-309)
    1 / x overflows to inf first, where c / x alone would not."""
    tiny = np.array([5e-309, -5e-309, 1e-308, 0.0, -0.0])
    xs = np.concatenate([SPECIAL, tiny])
    assert_parity(_with_upstream(lambda lib, x: c / x, upstream), xs)
    assert_parity(_with_upstream(lambda lib, x: lib.reciprocal(x), upstream), xs,
                  second_order=True)
