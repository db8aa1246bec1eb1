"""Activations against PyTorch; fused versions against their composed twins; stability."""
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

import chainrule as cr
from chainrule.ops.activation import log_softmax_composed, sigmoid_composed, softmax_composed
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from chainrule.testing.strategies import arrays, away_from, shapes

ACT = {
    "sigmoid": lambda lib, x: lib.sigmoid(x),
    "tanh": lambda lib, x: lib.tanh(x),
    "relu": lambda lib, x: lib.relu(x),
    "leaky_relu": lambda lib, x: lib.nn.functional.leaky_relu(x, 0.1) if lib.__name__ ==
    "torch" else lib.leaky_relu(x, 0.1),
    "softmax": lambda lib, x: lib.softmax(x, dim=-1),
    "log_softmax": lambda lib, x: lib.log_softmax(x, dim=-1),
}


@pytest.mark.parametrize("name", sorted(ACT))
@given(data=st.data())
def test_activations_match_torch(name, data):
    x = away_from(data.draw(arrays(data.draw(shapes(min_dims=1)), low=-5, high=5)), (0.0,))
    assert_parity(ACT[name], x, second_order=True, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(ACT))
def test_activation_gradcheck(name):
    x = cr.tensor(away_from(np.random.default_rng(3).normal(size=(2, 5)), (0.0,)),
                  requires_grad=True)
    f = lambda t: ACT[name](cr, t)  # noqa: E731
    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))


@pytest.mark.parametrize("fused,composed", [
    (lambda x: cr.sigmoid(x), sigmoid_composed),
    (lambda x: cr.softmax(x, 1), lambda x: softmax_composed(x, 1)),
    (lambda x: cr.log_softmax(x, 1), lambda x: log_softmax_composed(x, 1)),
])
def test_fused_matches_composed_twin(fused, composed):
    a = np.random.default_rng(4).normal(size=(3, 4)) * 3
    x1, x2 = cr.tensor(a, requires_grad=True), cr.tensor(a, requires_grad=True)
    y1, y2 = fused(x1), composed(x2)
    assert np.allclose(y1._data, y2._data)
    w = cr.tensor(np.random.default_rng(5).normal(size=(3, 4)))
    (y1 * w).sum().backward()
    (y2 * w).sum().backward()
    assert np.allclose(x1.grad._data, x2.grad._data)


@pytest.mark.parametrize("name", ["sigmoid", "softmax", "log_softmax", "tanh"])
def test_extreme_logits_are_finite_without_warnings(name):
    x = cr.tensor([[-1000.0, 0.0, 1000.0]], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = ACT[name](cr, x)
        (y * cr.tensor([[1.0, 2.0, 3.0]])).sum().backward()
    assert np.isfinite(y._data).all() and np.isfinite(x.grad._data).all()
    assert_parity(ACT[name], np.array([[-1000.0, 0.0, 1000.0]]))


def test_sigmoid_extremes():
    x = cr.tensor([-1000.0, 1000.0], requires_grad=True)
    y = cr.sigmoid(x)
    y.sum().backward()
    assert y.tolist() == [0.0, 1.0] and x.grad.tolist() == [0.0, 0.0]


def test_relu_gradient_at_zero_is_zero():
    x = cr.tensor([0.0], requires_grad=True)
    cr.relu(x).sum().backward()
    assert x.grad.item() == 0.0


def test_softmax_needs_dim():
    with pytest.raises(TypeError, match="dim"):
        cr.softmax(cr.ones(3), None)


@pytest.mark.parametrize("name", sorted(ACT))
def test_activations_on_0d_tensors(name):
    if name in ("softmax", "log_softmax"):
        assert_parity(lambda lib, x: ACT[name](lib, x.reshape(1)), np.array(0.3))
        return
    assert_parity(ACT[name], np.array(0.3), second_order=True)
    x = cr.tensor(0.3, requires_grad=True)
    ACT[name](cr, x).backward()
    assert isinstance(x.grad._data, np.ndarray) and x.grad.shape == ()


@pytest.mark.parametrize("name", ["sigmoid", "tanh", "relu", "leaky_relu"])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_first_order_backward_keeps_dtype_and_matches_torch(name, dtype):
    # the NumPy backward formulas use a float32 constant one: it must neither upcast a
    # float16 gradient nor downcast a float64 one
    torch = pytest.importorskip("torch")
    a = np.linspace(-3, 3, 13).astype(dtype)
    gy = np.linspace(0.5, 1.5, 13).astype(dtype)
    x = cr.tensor(a, requires_grad=True)
    ACT[name](cr, x).backward(cr.tensor(gy))
    t = torch.tensor(a, requires_grad=True)
    ACT[name](torch, t).backward(torch.tensor(gy))
    assert x.grad.dtype == dtype
    tol = {np.float16: 2e-3, np.float32: 1e-6, np.float64: 1e-12}[dtype]
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("layout", ["contiguous", "strided gy"])
def test_tanh_backward_on_large_tensors_matches_torch(dtype, layout, kernel_mode):
    # from JIT_MIN_SIZE values on, the first-order backward is one compiled pass (when Numba
    # is installed); a strided upstream gradient is made contiguous first
    from chainrule.ops.activation import JIT_MIN_SIZE

    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(7)
    shape = (4, 6, 28, 28)
    assert np.prod(shape) >= JIT_MIN_SIZE
    a = rng.normal(size=shape).astype(dtype) * 2
    gy = rng.normal(size=shape[::-1]).astype(dtype).T if layout == "strided gy" else \
        rng.normal(size=shape).astype(dtype)
    a[0, 0, 0, :3] = [np.inf, -np.inf, np.nan]
    x = cr.tensor(a, requires_grad=True)
    cr.tanh(x).backward(cr.tensor(gy))
    t = torch.tensor(a, requires_grad=True)
    torch.tanh(t).backward(torch.tensor(np.ascontiguousarray(gy)))
    assert x.grad.dtype == dtype
    tol = {np.float32: 1e-6, np.float64: 1e-12}[dtype]
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


def test_relu_and_leaky_relu_refuse_what_torch_refuses():
    """torch: relu of a bool tensor and leaky_relu of an integer tensor are errors."""
    with pytest.raises(TypeError, match="relu: Boolean inputs not supported"):
        cr.relu(cr.tensor([True, False]))
    with pytest.raises(TypeError, match="leaky_relu: expected a floating point input, got "
                                        "dtype int64"):
        cr.nn.functional.leaky_relu(cr.tensor([1, -2]))
    assert cr.relu(cr.tensor([1, -2])).tolist() == [1, 0]  # integers are fine for relu
    torch = pytest.importorskip("torch")
    with pytest.raises(RuntimeError):
        torch.relu(torch.tensor([True]))
    with pytest.raises(NotImplementedError):
        torch.nn.functional.leaky_relu(torch.tensor([1, -2]))


# ------------------------------------------------------- special values (NaN, inf, huge, tiny)
SPECIAL = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e308, -1e308, 1e-308, -1e-308, 2.0,
                    -3.0])
"""The values where masked backwards and NaN rules can differ from PyTorch's."""


def _with_upstream(fn, upstream: float):
    """``fn`` times a constant: its input's gradient then sees ``upstream`` (times
    assert_parity's random upstream gradient) coming back through ``fn``."""
    return lambda lib, x: fn(lib, x) * lib.tensor(np.full(x.shape, upstream))


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "numpy"])
@pytest.mark.parametrize("second_order", [False, True], ids=["fast path", "formula"])
@pytest.mark.parametrize("upstream", [np.inf, -np.inf, np.nan, 2.0])
@pytest.mark.parametrize("name", ["relu", "leaky_relu"])
def test_relu_backward_matches_torch_at_special_values_and_upstreams(name, upstream,
                                                                     second_order, compiled):
    """relu passes the gradient where x > 0 or x is NaN (torch's threshold_backward blocks
    x <= 0) and gives exactly 0 elsewhere, also for an inf or NaN upstream gradient;
    leaky_relu multiplies (torch: inf * slope at x < 0). Fast path (compiled and NumPy) and
    formula alike."""
    from chainrule.backend import use_compiled

    x = np.concatenate([SPECIAL, np.linspace(-2, 2, 20000)])  # past any compiled-size bar
    with use_compiled(compiled):
        assert_parity(_with_upstream(ACT[name], upstream), x, second_order=second_order)


@pytest.mark.parametrize("fn", [lambda lib, x: lib.relu(x).sqrt(),
                                lambda lib, x: lib.relu(x).log(),
                                lambda lib, x: 1 / lib.relu(x)],
                         ids=["relu sqrt", "relu log", "1/relu"])
def test_relu_before_sqrt_log_or_reciprocal_gives_torch_gradients(fn, kernel_mode):
    """The issue's case: relu(x).sqrt() at x <= 0 sends an inf gradient back into relu,
    which must block it (torch: 0), not give NaN; relu(-0.0) is -0.0, as torch's."""
    x = np.array([-0.5, 4.0, 0.0, -0.0, np.inf, -np.inf, np.nan, 1e-308])
    assert_parity(fn, x)
    assert_parity(fn, x, second_order=True)
    t = cr.tensor([-0.5, 4.0], requires_grad=True)
    cr.relu(t).sqrt().sum().backward()
    assert t.grad.tolist() == [0.0, 0.25]


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_of_a_row_holding_inf_is_nan_like_torch(name):
    """torch subtracts the row's maximum: a row holding +inf gives inf - inf, so NaN
    throughout (values and gradients); a row of -inf is NaN too."""
    rows = np.array([[np.inf, 1.0, 2.0], [-np.inf, 1.0, 2.0], [np.inf, np.inf, 0.0],
                     [-np.inf, -np.inf, -np.inf], [np.inf, -np.inf, 0.0],
                     [1e308, -1e308, 0.0], [1e308, 1e308, 1e-308], [np.nan, 1.0, 0.0]])
    for dim, x in ((1, rows), (0, rows.T.copy())):
        assert_parity(lambda lib, t: ACT[name](lib, t) if dim == 1 else
                      getattr(lib, name)(t, dim=0), x, second_order=True)
    y = ACT[name](cr, cr.tensor(rows[:1]))
    assert np.isnan(y._data).all()


@pytest.mark.parametrize("shape", [(0, 3), (3, 0), (0, 0), (2, 0, 3)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_over_any_dim_of_a_zero_size_tensor_is_empty_like_torch(name, shape):
    """softmax(dim=0) of a (0, 3) tensor: an empty result as torch, not NumPy's
    'zero-size array to reduction operation maximum' error, and no warning."""
    x = np.zeros(shape)
    for dim in range(len(shape)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            assert_parity(lambda lib, t: getattr(lib, name)(t, dim=dim), x, second_order=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_compiled_backward_equals_its_numpy_twin(dtype):
    """The compiled relu_grad kernel against the NumPy formula beside its call, with NaN and
    inf in x and in the gradient, and a strided gradient."""
    from chainrule.kernels import compiled
    from chainrule.ops.activation import _relu_passes
    from chainrule.ops.arithmetic import keep_where_array

    kernels = compiled()
    if kernels is None:
        pytest.skip("Numba is not installed: no compiled kernels")
    rng = np.random.default_rng(2)
    x = rng.standard_normal((5, 7)).astype(dtype)
    g = rng.standard_normal((7, 5)).astype(dtype).T  # strided
    x[0, :4] = [np.nan, np.inf, -np.inf, -0.0]
    g[1, :3] = [np.inf, np.nan, -np.inf]
    out = np.empty(x.shape, dtype)
    kernels.relu_grad(x.reshape(-1), np.ascontiguousarray(g).reshape(-1), out.reshape(-1))
    np.testing.assert_array_equal(out, keep_where_array(_relu_passes(x), g))
    np.testing.assert_array_equal(keep_where_array(_relu_passes(x), g),
                                  np.where(_relu_passes(x), g, 0))


def test_logsigmoid_matches_torch_at_special_values_to_second_order():
    """log(sigmoid(x)) without overflow: -1000 at -1000, -inf only at -inf; finite
    derivatives everywhere (sigmoid(-x))."""
    x = np.array([-np.inf, -1000.0, -30.0, -1.0, -0.0, 0.0, 2.0, 40.0, 1000.0, np.inf, np.nan])
    assert_parity(lambda lib, t: lib.nn.functional.logsigmoid(t), x, second_order=True)
