"""Issue 22's activations (GELU ... GLU) against PyTorch 2.13: values, gradients, second order,
the thresholds, extreme inputs, node names, module reprs and parameters, errors."""
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import chainrule as cr
from chainrule.ops.activation_more import SELU_ALPHA, SELU_SCALE
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from chainrule.testing.strategies import arrays, away_from, shapes

# name -> (fn(lib, x), kinks to keep hypothesis away from, torch has a second derivative)
ACT = {
    "gelu": (lambda lib, x: lib.nn.functional.gelu(x), (), True),
    "gelu_tanh": (lambda lib, x: lib.nn.functional.gelu(x, approximate="tanh"), (), True),
    "silu": (lambda lib, x: lib.nn.functional.silu(x), (), True),
    "elu": (lambda lib, x: lib.nn.functional.elu(x), (0.0,), True),
    "elu_alpha": (lambda lib, x: lib.nn.functional.elu(x, alpha=0.3), (0.0,), True),
    "selu": (lambda lib, x: lib.nn.functional.selu(x), (0.0,), True),
    "torch.selu": (lambda lib, x: lib.selu(x), (0.0,), True),
    "celu": (lambda lib, x: lib.nn.functional.celu(x, alpha=1.7), (0.0,), True),
    "torch.celu": (lambda lib, x: lib.celu(x, 0.6), (0.0,), True),
    "softplus": (lambda lib, x: lib.nn.functional.softplus(x), (), True),
    "softplus_beta": (lambda lib, x: lib.nn.functional.softplus(x, beta=2.0, threshold=3.0),
                      (1.5,), True),
    "mish": (lambda lib, x: lib.nn.functional.mish(x), (), True),
    "hardtanh": (lambda lib, x: lib.nn.functional.hardtanh(x), (-1.0, 1.0), True),
    "hardtanh_bounds": (lambda lib, x: lib.nn.functional.hardtanh(x, -0.5, 2.0), (-0.5, 2.0),
                        True),
    "relu6": (lambda lib, x: lib.nn.functional.relu6(x * 4), (0.0, 1.5), True),
    "hardswish": (lambda lib, x: lib.nn.functional.hardswish(x * 2), (-1.5, 1.5), True),
    "hardsigmoid": (lambda lib, x: lib.nn.functional.hardsigmoid(x * 2), (-1.5, 1.5), False),
    "logsigmoid": (lambda lib, x: lib.nn.functional.logsigmoid(x), (), True),
    "softsign": (lambda lib, x: lib.nn.functional.softsign(x), (0.0,), True),
    "tanhshrink": (lambda lib, x: lib.nn.functional.tanhshrink(x), (), True),
}


def _torch_module(cls_name, *args, **kwargs):
    return getattr(torch.nn, cls_name)(*args, **kwargs)


@pytest.mark.parametrize("name", sorted(ACT))
@settings(max_examples=8, deadline=None)
@given(data=st.data())
def test_matches_torch_on_shapes(name, data):
    fn, kinks, second = ACT[name]
    x = away_from(data.draw(arrays(data.draw(shapes()), low=-4, high=4)), (0.0,) + kinks)
    assert_parity(fn, x, second_order=second, atol=1e-8, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(ACT))
def test_float32_matches_torch_and_keeps_dtype(name):
    fn, kinks, _ = ACT[name]
    x = away_from(np.random.default_rng(1).uniform(-5, 5, (3, 7)), (0.0,) + kinks)
    assert_parity(fn, x.astype(np.float32), atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", sorted(ACT))
def test_gradcheck_and_gradgradcheck(name):
    fn, kinks, _ = ACT[name]
    a = away_from(np.random.default_rng(2).uniform(-4, 4, (2, 5)), (0.0,) + kinks, margin=0.1)
    x = cr.tensor(a, requires_grad=True)
    f = lambda t: fn(cr, t)  # noqa: E731
    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))


@pytest.mark.parametrize("name", sorted(ACT))
def test_empty_input(name):
    fn = ACT[name][0]
    assert_parity(fn, np.zeros((0, 3)))


# ---------------------------------------------------------------- thresholds and extremes
POINTS = [-math.inf, -1e30, -1000.0, -100.0, -20.0, -6.0, -3.0001, -3.0, -2.9999, -1.0, -1e-8,
          -0.0, 0.0, 1e-8, 1.0, 2.9999, 3.0, 3.0001, 6.0, 10.0, 20.0, 20.0001, 100.0, 1000.0,
          1e30, math.inf, math.nan]
FINITE = [p for p in POINTS if math.isfinite(p)]


@pytest.mark.parametrize("name", sorted(set(ACT) - {"gelu_tanh", "softplus_beta"}))
def test_thresholds_and_extremes_float64(name):
    """PyTorch's values and gradients at the kinks (elu at 0, hardswish at +-3, softplus's
    threshold 20, hardtanh's bounds) and at +-1e30, inf and NaN."""
    fn = ACT[name][0]
    points = FINITE if name in ("softsign", "gelu") else POINTS  # torch: NaN at +-inf there
    # torch's celu gradient takes 1/alpha in float32, its hardsigmoid gradient 1/6 in float32
    rtol = 1e-6 if "celu" in name or name == "hardsigmoid" else 1e-9
    assert_parity(fn, np.array(points), atol=1e-12, rtol=rtol)


def test_softplus_threshold_and_gelu_tanh_at_kinks():
    assert_parity(ACT["softplus_beta"][0], np.array([1.4999, 1.5, 1.5001, -1e30, 1e30]),
                  atol=1e-12, rtol=1e-9)
    assert_parity(ACT["gelu_tanh"][0], np.array(FINITE), atol=1e-12, rtol=1e-9)


@pytest.mark.parametrize("name", sorted(ACT))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_inputs_finite_without_warnings(name, dtype):
    fn = ACT[name][0]
    x = cr.tensor(np.array([-1e30, -1000.0, -88.0, 0.0, 88.0, 1000.0, 1e30], dtype),
                  requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = fn(cr, x)
        (g,) = cr.autograd.grad(y.sum(), x, create_graph=True)
        (gg,) = cr.autograd.grad(g.sum(), x, allow_unused=True) if g.requires_grad else (g,)
    assert np.isfinite(y._data).all() and np.isfinite(g._data).all()
    assert gg is None or np.isfinite(gg._data).all()
    if name != "softsign":  # torch's 1e30 / (1e30 + 1) is fine in float64 only
        assert_parity(fn, np.array([-1000.0, -88.0, 88.0, 1000.0], dtype))


def test_large_threshold_softplus_does_not_overflow():
    # torch's log1p(exp(100)) is inf in float32; the stable form gives 100
    x = cr.tensor([100.0, -100.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = cr.nn.functional.softplus(x, beta=1.0, threshold=1000.0)
        y.sum().backward()
    assert y.tolist() == pytest.approx([100.0, 0.0]) and x.grad.tolist() == pytest.approx([1, 0])


def test_exact_threshold_values():
    f = cr.nn.functional
    x = cr.tensor([-3.0, 3.0, 0.0], dtype=cr.float64, requires_grad=True)
    f.hardswish(x).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.5]
    x.grad = None
    f.elu(x, alpha=0.5).sum().backward()
    assert x.grad.tolist()[2] == 0.5  # elu's gradient at 0: alpha (PyTorch's kernel)
    x.grad = None
    f.hardtanh(x, -3.0, 3.0).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]
    assert f.relu6(cr.tensor([-0.0])).numpy().tobytes() == np.array([-0.0], np.float32).tobytes()


# ---------------------------------------------------------------- fused against composed
def _composed(name, x):
    if name == "gelu":
        return x * 0.5 * (1 + cr.erf(x / math.sqrt(2)))
    if name == "gelu_tanh":
        return 0.5 * x * (1 + cr.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    if name == "silu":
        return x * cr.sigmoid(x)
    if name == "mish":
        return x * cr.tanh(cr.log1p(cr.exp(x)))
    if name == "selu":
        return SELU_SCALE * cr.where(x > 0, x, SELU_ALPHA * (cr.exp(x) - 1))
    raise KeyError(name)


@pytest.mark.parametrize("name", ["gelu", "gelu_tanh", "silu", "mish", "selu"])
def test_fused_matches_composed_twin_to_second_order(name):
    a = away_from(np.random.default_rng(4).normal(size=(3, 4)) * 2, (0.0,))
    x1, x2 = cr.tensor(a, requires_grad=True), cr.tensor(a, requires_grad=True)
    y1, y2 = ACT[name][0](cr, x1), _composed(name, x2)
    assert np.allclose(y1._data, y2._data, atol=1e-12)
    w = cr.tensor(np.random.default_rng(5).normal(size=(3, 4)))
    (g1,) = cr.autograd.grad((y1 * w).sum(), x1, create_graph=True)
    (g2,) = cr.autograd.grad((y2 * w).sum(), x2, create_graph=True)
    assert np.allclose(g1._data, g2._data, atol=1e-12)
    (h1,) = cr.autograd.grad((g1 * w).sum(), x1)
    (h2,) = cr.autograd.grad((g2 * w).sum(), x2)
    assert np.allclose(h1._data, h2._data, atol=1e-10)


@pytest.mark.parametrize("name", sorted(ACT))
def test_fast_backward_matches_recorded_backward(name):
    fn = ACT[name][0]
    a = np.random.default_rng(6).uniform(-5, 5, (4, 6)).astype(np.float32)
    x1, x2 = cr.tensor(a, requires_grad=True), cr.tensor(a, requires_grad=True)
    w = cr.tensor(np.random.default_rng(7).normal(size=(4, 6)).astype(np.float32))
    (fn(cr, x1) * w).sum().backward()  # fast_backward where the op has one
    (g2,) = cr.autograd.grad((fn(cr, x2) * w).sum(), x2, create_graph=True)  # the formula
    assert x1.grad.dtype == cr.float32 and np.allclose(x1.grad._data, g2._data, atol=1e-6)


# ---------------------------------------------------------------- node names
@pytest.mark.parametrize("call,node", [
    (lambda F, x: F.gelu(x), "GeluBackward0"),
    (lambda F, x: F.gelu(x, approximate="tanh"), "GeluBackward0"),
    (lambda F, x: F.silu(x), "SiluBackward0"),
    (lambda F, x: F.elu(x), "EluBackward0"),
    (lambda F, x: F.selu(x), "EluBackward0"),
    (lambda F, x: F.celu(x), "CeluBackward0"),
    (lambda F, x: F.softplus(x), "SoftplusBackward0"),
    (lambda F, x: F.mish(x), "MishBackward0"),
    (lambda F, x: F.hardtanh(x), "HardtanhBackward0"),
    (lambda F, x: F.relu6(x), "HardtanhBackward0"),
    (lambda F, x: F.hardswish(x), "HardswishBackward0"),
    (lambda F, x: F.hardsigmoid(x), "HardsigmoidBackward0"),
    (lambda F, x: F.logsigmoid(x), "LogSigmoidBackward0"),
    (lambda F, x: F.softsign(x), "DivBackward0"),
    (lambda F, x: F.tanhshrink(x), "SubBackward0"),
    (lambda F, x: F.glu(x), "GluBackward0"),
])
def test_node_names_as_torch(call, node):
    x = cr.ones(2, 4, requires_grad=True)
    t = torch.ones(2, 4, requires_grad=True)
    assert call(torch.nn.functional, t).grad_fn.name() == node
    assert call(cr.nn.functional, x).grad_fn.name() == node


def test_prelu_node_name():
    x = cr.ones(2, 3, requires_grad=True)
    assert cr.nn.functional.prelu(x, cr.ones(3)).grad_fn.name() == "PreluKernelBackward0"


# ---------------------------------------------------------------- modules
MODULES = [("GELU", (), {}), ("GELU", ("tanh",), {}), ("SiLU", (), {}), ("SiLU", (True,), {}),
           ("ELU", (), {}), ("ELU", (0.5, True), {}), ("SELU", (), {}), ("SELU", (True,), {}),
           ("CELU", (), {}), ("CELU", (2.0,), {}), ("Softplus", (), {}),
           ("Softplus", (2, 10), {}), ("Mish", (), {}), ("Mish", (True,), {}),
           ("Hardtanh", (), {}), ("Hardtanh", (-2, 2, True), {}), ("ReLU6", (), {}),
           ("ReLU6", (True,), {}), ("Hardswish", (), {}), ("Hardswish", (True,), {}),
           ("Hardsigmoid", (), {}), ("LogSigmoid", (), {}), ("PReLU", (), {}),
           ("PReLU", (6, 0.1), {}), ("Softsign", (), {}), ("Tanhshrink", (), {}),
           ("GLU", (), {}), ("GLU", (1,), {})]


@pytest.mark.parametrize("name,args,kwargs", MODULES)
def test_module_repr_and_forward_as_torch(name, args, kwargs):
    ours = getattr(cr.nn, name)(*args, **kwargs)
    theirs = _torch_module(name, *args, **kwargs)
    assert repr(ours) == repr(theirs)
    x = np.random.default_rng(8).uniform(-4, 4, (2, 6, 4)).astype(np.float32)
    y = ours(cr.tensor(x)).detach().numpy()
    with torch.no_grad():
        expected = theirs(torch.from_numpy(x)).numpy()
    assert y.dtype == expected.dtype and np.allclose(y, expected, atol=1e-6)


def test_module_defaults_as_torch():
    for name in ("GELU", "SiLU", "ELU", "SELU", "CELU", "Softplus", "Mish", "Hardtanh", "ReLU6",
                 "Hardswish", "Hardsigmoid", "PReLU", "GLU"):
        ours, theirs = getattr(cr.nn, name)(), _torch_module(name)
        for attr in ("approximate", "inplace", "alpha", "beta", "threshold", "min_val",
                     "max_val", "num_parameters", "init", "dim"):
            assert getattr(ours, attr, None) == getattr(theirs, attr, None), (name, attr)


def test_hardtanh_deprecated_names_and_bad_bounds():
    with pytest.warns(FutureWarning, match="min_value"):
        m = cr.nn.Hardtanh(min_value=-2.0)
    assert repr(m) == "Hardtanh(min_val=-2.0, max_val=1.0)"
    with pytest.raises(ValueError, match="max_val"):
        cr.nn.Hardtanh(1.0, 1.0)
    assert isinstance(cr.nn.ReLU6(), cr.nn.Hardtanh)


@settings(max_examples=6, deadline=None)
@given(n=st.integers(0, 3), c=st.integers(1, 3), length=st.integers(1, 3),
       per_channel=st.booleans(), data=st.data())
def test_prelu_weight_gradients_match_torch(n, c, length, per_channel, data):
    x = data.draw(arrays((n, c, length), low=-3, high=3))
    w = np.random.default_rng(9).uniform(0.05, 0.5, c if per_channel else 1)
    assert_parity(lambda lib, a, b: lib.nn.functional.prelu(a, b), x, w, second_order=True,
                  atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("shape,wshape", [((), (1,)), ((), ()), ((5,), (1,)), ((4, 3), (3,)),
                                          ((2, 3, 4, 2), (3,)), ((2, 3), ())])
def test_prelu_shapes_and_gradcheck(shape, wshape):
    rng = np.random.default_rng(10)
    x, w = away_from(rng.uniform(-2, 2, shape)), rng.uniform(0.1, 0.5, wshape)
    assert_parity(lambda lib, a, b: lib.prelu(a, b), x, w, second_order=True)
    xt, wt = cr.tensor(x, requires_grad=True), cr.tensor(w, requires_grad=True)
    f = lambda a, b: cr.nn.functional.prelu(a, b)  # noqa: E731
    assert gradcheck(f, (xt, wt)) and gradgradcheck(f, (xt, wt))


def test_prelu_module_parameter_and_state_dict_both_ways():
    ours, theirs = cr.nn.PReLU(3, init=0.1), torch.nn.PReLU(3, init=0.1)
    assert [n for n, _ in ours.named_parameters()] == ["weight"]
    assert ours.weight.shape == (3,) and ours.weight.dtype == cr.float32
    assert ours.weight.requires_grad and ours.weight.tolist() == theirs.weight.tolist()
    theirs.weight.data = torch.tensor([0.2, 0.3, 0.4])
    ours.load_state_dict({k: cr.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
    back = torch.nn.PReLU(3)
    back.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(11).normal(size=(2, 3, 5)).astype(np.float32)
    y = ours(cr.tensor(x))
    y.sum().backward()
    yt = back(torch.from_numpy(x))
    yt.sum().backward()
    assert np.allclose(y.detach().numpy(), yt.detach().numpy())
    assert np.allclose(ours.weight.grad.numpy(), back.weight.grad.numpy(), atol=1e-6)
    ours.weight._data[:] = 7.0
    ours.reset_parameters()
    assert ours.weight.tolist() == pytest.approx([0.1] * 3)
    assert cr.nn.PReLU(dtype=cr.float64).weight.dtype == cr.float64


# ---------------------------------------------------------------- glu
@settings(max_examples=8, deadline=None)
@given(shape=shapes(min_dims=1), data=st.data())
def test_glu_matches_torch(shape, data):
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    shape = list(shape)
    shape[dim] *= 2
    x = data.draw(arrays(tuple(shape), low=-3, high=3))
    assert_parity(lambda lib, a: lib.nn.functional.glu(a, dim), x, second_order=True,
                  atol=1e-10, rtol=1e-8)


def test_glu_gradcheck_and_empty():
    x = cr.tensor(np.random.default_rng(12).normal(size=(2, 4, 3)), requires_grad=True)
    f = lambda t: cr.nn.functional.glu(t, 1)  # noqa: E731
    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))
    assert_parity(lambda lib, a: lib.nn.functional.glu(a), np.zeros((0, 4)))
    assert_parity(lambda lib, a: lib.nn.functional.glu(a, 0), np.zeros((4, 0)))


# ---------------------------------------------------------------- dtypes and flags
def test_integer_inputs_as_torch():
    F = cr.nn.functional
    for call in (lambda lib, x: lib.nn.functional.hardtanh(x, 0, 3),
                 lambda lib, x: lib.nn.functional.relu6(x),
                 lambda lib, x: lib.nn.functional.softsign(x),
                 lambda lib, x: lib.nn.functional.tanhshrink(x)):
        assert_parity(call, np.array([-2, 1, 5, 9], np.int64))
    for fn in (F.gelu, F.silu, F.elu, F.selu, F.celu, F.softplus, F.mish, F.hardswish,
               F.hardsigmoid, F.glu):
        with pytest.raises(RuntimeError, match="floating point"):
            fn(cr.tensor([1, 2]))
        with pytest.raises(RuntimeError):
            getattr(torch.nn.functional, fn.__name__)(torch.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="Bool inputs not supported for hardtanh"):
        F.relu6(cr.tensor([True]))


def test_inplace_flag_is_accepted_and_returns_a_new_tensor():
    F = cr.nn.functional
    x = cr.tensor([-1.0, 2.0])
    for fn in (F.silu, F.elu, F.selu, F.celu, F.mish, F.hardtanh, F.relu6, F.hardswish,
               F.hardsigmoid):
        y = fn(x, inplace=True)
        assert y is not x and x.tolist() == [-1.0, 2.0]


def test_float16_keeps_dtype():
    x = cr.tensor([-1.0, 0.5, 2.0], dtype=cr.float16)
    for fn in (cr.nn.functional.gelu, cr.nn.functional.silu, cr.nn.functional.elu,
               cr.nn.functional.softplus, cr.nn.functional.hardswish):
        assert fn(x).dtype == cr.float16


# ---------------------------------------------------------------- errors
@pytest.mark.parametrize("call,match", [
    (lambda lib: lib.nn.functional.gelu(lib.ones(2), approximate="foo"),
     "approximate argument must be either none or tanh"),
    (lambda lib: lib.nn.functional.glu(lib.ones(2, 3)),
     "Halving dimension must be even, but dimension 1 is size 3"),
    (lambda lib: lib.nn.functional.glu(lib.tensor(1.0)),
     "glu does not support scalars because halving size must be even"),
    (lambda lib: lib.nn.functional.prelu(lib.ones(2, 3), lib.ones(2)),
     "Mismatch of parameter numbers and input channel size. Found parameter numbers = 2 and "
     "channel size = 3"),
    (lambda lib: lib.nn.functional.prelu(lib.ones(3), lib.ones(3)),
     "channel size = 1"),
    (lambda lib: lib.nn.functional.prelu(lib.tensor(1.0), lib.ones(2)),
     "Not allow zero-dim input tensor"),
    (lambda lib: lib.nn.functional.prelu(lib.ones(2, 3), lib.ones(3, 1)),
     "Expected `weight` to be a scalar or 1D tensor, but got: ndim = 2"),
    (lambda lib: lib.nn.functional.prelu(lib.ones(2, 3), lib.ones(3, dtype=lib.float64)),
     "Type promoting not supported"),
    (lambda lib: lib.nn.functional.celu(lib.ones(2), alpha=0.0),
     "alpha cannot be 0 for CELU"),
])
def test_errors_as_torch(call, match):
    with pytest.raises(RuntimeError, match=match):
        call(torch)
    with pytest.raises(RuntimeError, match=match) as info:
        call(cr)
    assert isinstance(info.value, ValueError)  # OpError: catchable both ways


def test_errors_name_op_and_shapes():
    with pytest.raises(RuntimeError, match=r"glu.*shape \(2, 3\)"):
        cr.nn.functional.glu(cr.ones(2, 3))
    with pytest.raises(RuntimeError, match=r"prelu.*\(2, 3\).*\(2,\)"):
        cr.nn.functional.prelu(cr.ones(2, 3), cr.ones(2))
    with pytest.raises(IndexError, match="Dimension out of range"):
        cr.nn.functional.glu(cr.ones(2, 4), dim=2)
    with pytest.raises(IndexError):
        torch.nn.functional.glu(torch.ones(2, 4), dim=2)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        cr.nn.functional.hardtanh(cr.ones(2), 2.0, 1.0)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        torch.nn.functional.hardtanh(torch.ones(2), 2.0, 1.0)


def test_float32_normal_cdf_fit_within_float32_rounding():
    from chainrule.ops.activation_more import _normal_cdf_array
    x = np.linspace(-16, 16, 20001).astype(np.float32)
    ref = np.array([0.5 * math.erfc(-float(v) / math.sqrt(2)) for v in x])
    y = _normal_cdf_array(x)
    assert y.dtype == np.float32 and np.abs(y - ref).max() < 2.5e-7
    assert _normal_cdf_array(np.array([-np.inf, -0.0, np.inf], np.float32)).tolist() == \
        [0.0, 0.5, 1.0]
    assert np.isnan(_normal_cdf_array(np.array([np.nan], np.float32))).all()
