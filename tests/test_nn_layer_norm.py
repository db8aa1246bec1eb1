"""LayerNorm, GroupNorm and RMSNorm (modules and functionals) against torch 2.13: values,
input and parameter gradients and second order on hypothesis shapes (batch 1, empty batch,
empty normalised shape), the fused op against its composed twin (values, both backward paths,
second order), stability with a large mean, float64 gradcheck/gradgradcheck, node names,
reprs and state_dict layouts, and torch's errors."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.ops.layer_norm import group_norm_composed, layer_norm_composed
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from helpers import module_parity

FAST = settings(max_examples=20, deadline=None)
# every test twice: LayerNorm's compiled row loops, then its NumPy formulas (the twin)
pytestmark = pytest.mark.usefixtures("kernel_mode")


def _data(seed, *shapes, scale=1.0, shift=0.0):
    r = np.random.default_rng(seed)
    return [r.standard_normal(s) * scale + shift for s in shapes]


# ============================================================================ layer_norm
@FAST
@given(batch=st.lists(st.integers(0, 3), max_size=2), norm=st.lists(st.integers(1, 4),
       min_size=1, max_size=2), affine=st.sampled_from(["none", "weight", "both"]),
       seed=st.integers(0, 2**16))
def test_layer_norm_matches_torch(batch, norm, affine, seed):
    x, w, b = _data(seed, tuple(batch + norm), tuple(norm), tuple(norm))
    ns = tuple(norm)
    if affine == "none":
        assert_parity(lambda lib, x: lib.nn.functional.layer_norm(x, ns), x, second_order=True)
    elif affine == "weight":
        assert_parity(lambda lib, x, w: lib.nn.functional.layer_norm(x, ns, w), x, w,
                      second_order=True)
    else:
        assert_parity(lambda lib, x, w, b: lib.nn.functional.layer_norm(x, ns, w, b, eps=1e-3),
                      x, w, b, second_order=True)


def test_layer_norm_float32_and_a_transposed_input():
    x, w, b = (a.astype(np.float32) for a in _data(1, (5, 6, 4), (6,), (6,)))
    xt = x.transpose(0, 2, 1)  # (5, 4, 6), not contiguous
    assert_parity(lambda lib, x, w, b: lib.nn.functional.layer_norm(x, [6], w, b), xt, w, b,
                  atol=1e-5, rtol=1e-4)


def test_layer_norm_empty_shapes():
    for xs, ns in [((0, 4), (4,)), ((2, 0), (0,)), ((0, 2, 3), (2, 3))]:
        x, w, b = _data(0, xs, ns, ns)
        assert_parity(lambda lib, x, w, b: lib.nn.functional.layer_norm(x, ns, w, b), x, w, b)


def test_layer_norm_stable_with_a_large_mean():
    """The variance of centred values: mean 1e4, std 1 in float32 is normalised to within
    float32's resolution of the input (torch: the same); E[x^2] - E[x]^2 would lose it all."""
    (x,) = _data(2, (16, 64), shift=1e4)
    x32 = x.astype(np.float32)
    exact = (x32.astype(np.float64) - x32.mean(1, keepdims=True, dtype=np.float64)) / \
        x32.astype(np.float64).std(1, keepdims=True)
    ours = F.layer_norm(cr.tensor(x32), (64,)).numpy()
    theirs = torch.nn.functional.layer_norm(torch.tensor(x32), (64,)).numpy()
    assert np.abs(ours - exact).max() < 4e-3 and np.abs(theirs - exact).max() < 4e-3
    np.testing.assert_allclose(ours, theirs, atol=4e-3)
    with np.errstate(invalid="ignore"):  # a negative "variance": NaN
        naive = (x32 - x32.mean(1, keepdims=True)) / np.sqrt(
            (x32 * x32).mean(1, keepdims=True) - x32.mean(1, keepdims=True) ** 2 + 1e-5)
    assert not (np.abs(naive - exact) < 0.1).all()  # what the stable formula avoids
    # gradients too
    assert_parity(lambda lib, x: lib.nn.functional.layer_norm(x, (64,)) ** 2, x32, atol=5e-2,
                  rtol=1e-2)


@pytest.mark.parametrize("ns,affine", [((4,), False), ((3, 4), True)])
def test_fused_layer_norm_equals_its_composed_twin(ns, affine):
    x, w, b = _data(3, (2, 3, 4), ns, ns)
    xs = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    args = xs if affine else xs[:1]
    v = cr.tensor(_data(4, (2, 3, 4))[0])
    outs = []
    for fn in (F.layer_norm, layer_norm_composed):
        y = fn(args[0], ns, *args[1:])
        fast = cr.autograd.grad(y, args, v)  # first order: the fast path
        formula = cr.autograd.grad(fn(args[0], ns, *args[1:]), args, v, create_graph=True)
        second = cr.autograd.grad(sum((g * g).sum() for g in formula), args, allow_unused=True)
        outs.append((y, fast, formula, second))
    (y0, f0, g0, s0), (y1, f1, g1, s1) = outs
    np.testing.assert_allclose(y0.detach().numpy(), y1.detach().numpy(), atol=1e-12)
    for a, b_, c in zip(f0, g0, g1):
        np.testing.assert_allclose(a.detach().numpy(), c.detach().numpy(), atol=1e-12)
        np.testing.assert_allclose(b_.detach().numpy(), c.detach().numpy(), atol=1e-12)
    for a, c in zip(s0, s1):  # None where one twin's graph does not reach an input (bias)
        a, c = (np.zeros(1) if t is None else t.detach().numpy() for t in (a, c))
        np.testing.assert_allclose(a, c, atol=1e-10)


def test_layer_norm_gradcheck_and_gradgradcheck_float64():
    x, w, b = (cr.tensor(a, requires_grad=True) for a in _data(5, (2, 3, 4), (3, 4), (3, 4)))
    fn = lambda x, w, b: F.layer_norm(x, (3, 4), w, b, eps=1e-3)  # noqa: E731
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


# ============================================================================ group_norm
@FAST
@given(n=st.integers(0, 3), groups=st.integers(1, 3), per=st.integers(1, 3),
       spatial=st.lists(st.integers(1, 3), max_size=2), affine=st.booleans(),
       seed=st.integers(0, 2**16))
def test_group_norm_matches_torch(n, groups, per, spatial, affine, seed):
    C = groups * per
    if n * per * int(np.prod(spatial)) == 1:
        return  # one value per group: torch's ValueError (tested below)
    x, w, b = _data(seed, (n, C, *spatial), (C,), (C,))
    if affine:
        assert_parity(lambda lib, x, w, b: lib.nn.functional.group_norm(x, groups, w, b), x, w,
                      b, second_order=n > 0)
    else:
        assert_parity(lambda lib, x: lib.nn.functional.group_norm(x, groups, eps=1e-3), x,
                      second_order=n > 0)


def test_group_norm_empty_spatial_and_float32():
    x, w, b = _data(0, (2, 4, 0), (4,), (4,))
    assert_parity(lambda lib, x, w, b: lib.nn.functional.group_norm(x, 2, w, b), x, w, b,
                  requires_grad=[True, False, False])
    # torch's weight gradient here is NaN (its kernel multiplies by the NaN mean of no
    # values); a sum over no values is 0
    ws = [cr.tensor(a, requires_grad=True) for a in (x, w, b)]
    grads = cr.autograd.grad(F.group_norm(ws[0], 2, ws[1], ws[2]).sum(), ws)
    assert [g.shape for g in grads] == [(2, 4, 0), (4,), (4,)]
    assert not grads[1].numpy().any() and not grads[2].numpy().any()
    x, w, b = (a.astype(np.float32) for a in _data(1, (3, 6, 5, 5), (6,), (6,)))
    assert_parity(lambda lib, x, w, b: lib.nn.functional.group_norm(x, 3, w, b), x, w, b,
                  atol=1e-5, rtol=1e-4)


def test_fused_group_norm_equals_its_composed_twin():
    x, w, b = (cr.tensor(a, requires_grad=True) for a in _data(6, (3, 6, 2, 2), (6,), (6,)))
    v = cr.tensor(_data(7, (3, 6, 2, 2))[0])
    y0, y1 = F.group_norm(x, 3, w, b), group_norm_composed(x, 3, w, b)
    np.testing.assert_allclose(y0.detach().numpy(), y1.detach().numpy(), atol=1e-12)
    for g0, g1 in zip(cr.autograd.grad(y0, (x, w, b), v), cr.autograd.grad(y1, (x, w, b), v)):
        np.testing.assert_allclose(g0.detach().numpy(), g1.detach().numpy(), atol=1e-12)


def test_group_norm_gradcheck_and_gradgradcheck_float64():
    x, w, b = (cr.tensor(a, requires_grad=True) for a in _data(8, (2, 4, 3), (4,), (4,)))
    fn = lambda x, w, b: F.group_norm(x, 2, w, b)  # noqa: E731
    assert gradcheck(fn, (x, w, b))
    assert gradgradcheck(fn, (x, w, b))


# ============================================================================ rms_norm
@FAST
@given(batch=st.lists(st.integers(0, 3), max_size=2), norm=st.lists(st.integers(1, 4),
       min_size=1, max_size=2), weight=st.booleans(),
       eps=st.sampled_from([None, 1e-3]), seed=st.integers(0, 2**16))
def test_rms_norm_matches_torch(batch, norm, weight, eps, seed):
    x, w = _data(seed, tuple(batch + norm), tuple(norm))
    ns = tuple(norm)
    if weight:
        assert_parity(lambda lib, x, w: lib.nn.functional.rms_norm(x, ns, w, eps), x, w,
                      second_order=True)
    else:
        assert_parity(lambda lib, x: lib.nn.functional.rms_norm(x, ns, eps=eps), x,
                      second_order=True)


@pytest.mark.filterwarnings("ignore:Mismatch dtype between input and weight")
def test_rms_norm_float32_default_eps_and_dtype_promotion():
    x, w = (a.astype(np.float32) for a in _data(9, (4, 5), (5,)))
    x[0] = 0  # a zero row: eps (float32's machine epsilon) keeps it finite
    assert_parity(lambda lib, x, w: lib.nn.functional.rms_norm(x, [5], w), x, w, atol=1e-5,
                  rtol=1e-4)
    assert_parity(lambda lib, x, w: lib.nn.functional.rms_norm(x, [5], w),
                  x.astype(np.float64), w)  # float64 input, float32 weight: float64


def test_rms_norm_gradcheck_and_gradgradcheck_float64():
    x, w = (cr.tensor(a, requires_grad=True) for a in _data(10, (3, 4), (4,)))
    assert gradcheck(lambda x, w: F.rms_norm(x, (4,), w), (x, w))
    assert gradgradcheck(lambda x, w: F.rms_norm(x, (4,), w), (x, w))


# ============================================================================ node names
def test_node_names_match_torch():
    names = []
    for lib in (cr, torch):
        x = lib.ones(2, 4, 3, requires_grad=True)
        names.append([lib.nn.functional.layer_norm(x, [3]).grad_fn.name(),
                      lib.nn.functional.group_norm(x, 2).grad_fn.name(),
                      lib.nn.functional.rms_norm(x, [3]).grad_fn.name(),
                      lib.nn.functional.rms_norm(x, [3], lib.ones(3)).grad_fn.name()])
    assert names[0] == names[1] == ["NativeLayerNormBackward0", "NativeGroupNormBackward0",
                                    "MulBackward0", "MulBackward0"]


# ============================================================================ modules
MODULES = [
    ("LayerNorm", (4,), dict(), (3, 5, 4)),
    ("LayerNorm", ([5, 4],), dict(eps=1e-3), (3, 5, 4)),
    ("LayerNorm", (4,), dict(bias=False), (1, 4)),
    ("LayerNorm", (4,), dict(elementwise_affine=False), (2, 4)),
    ("GroupNorm", (2, 6), dict(), (3, 6, 4, 4)),
    ("GroupNorm", (3, 6), dict(affine=False, eps=1e-3), (2, 6, 5)),
    ("GroupNorm", (1, 4), dict(bias=False), (2, 4)),
    ("GroupNorm", (2, 4), dict(), (0, 4, 3)),
    ("RMSNorm", (4,), dict(), (3, 5, 4)),
    ("RMSNorm", ([5, 4],), dict(eps=1e-3), (2, 5, 4)),
    ("RMSNorm", (4,), dict(elementwise_affine=False), (2, 4)),
]


@pytest.mark.parametrize("name,args,kw,shape", MODULES,
                         ids=[f"{m[0]}-{m[1]}-{m[2]}-{m[3]}" for m in MODULES])
def test_modules_match_torch(name, args, kw, shape):
    ours, theirs = getattr(nn, name)(*args, **kw), getattr(torch.nn, name)(*args, **kw)
    assert repr(ours) == repr(theirs)
    assert [(k, tuple(v.shape)) for k, v in ours.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    for p, q in zip(ours.parameters(), theirs.parameters()):  # torch's init: ones and zeros
        np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())
        assert p.dtype == np.float32
    with torch.no_grad():  # non-trivial affine parameters
        for q in theirs.parameters():
            q.uniform_(0.5, 1.5)
    x = np.random.default_rng(11).standard_normal(shape).astype(np.float32) * 3 + 1
    for train in (True, False):  # the same in both modes
        module_parity(ours, theirs, x, train=train)


def test_module_attributes_and_dtype():
    ln = nn.LayerNorm([3, 4], dtype=cr.float64)
    assert ln.normalized_shape == (3, 4) and ln.weight.dtype == np.float64
    gn = nn.GroupNorm(2, 4)
    assert (gn.num_groups, gn.num_channels, gn.eps, gn.affine) == (2, 4, 1e-5, True)
    rms = nn.RMSNorm(5)
    assert (rms.normalized_shape, rms.eps, rms.elementwise_affine) == ((5,), None, True)
    assert nn.LayerNorm(0).normalized_shape == (0,)


# ============================================================================ errors
X = np.zeros((2, 3, 4), np.float32)
ERRORS = [  # (call, torch's exception class, our message)
    (lambda lib, x: lib.nn.functional.layer_norm(x, (3,)), RuntimeError,
     r"layer_norm: Given normalized_shape=\[3\], expected input with shape \[\*, 3\], but got "
     r"input of size\[2, 3, 4\]"),
    (lambda lib, x: lib.nn.functional.layer_norm(x, (1, 2, 3, 4)), RuntimeError,
     r"Given normalized_shape=\[1, 2, 3, 4\]"),
    (lambda lib, x: lib.nn.functional.layer_norm(x, ()), RuntimeError,
     "Expected normalized_shape to be at least 1-dimensional"),
    (lambda lib, x: lib.nn.functional.layer_norm(x, 4), TypeError,
     "must be tuple of ints, not int"),
    (lambda lib, x: lib.nn.functional.layer_norm(x, (4,), lib.ones(3)), RuntimeError,
     r"layer_norm: Expected weight to be of same shape as normalized_shape = \[4\], but got "
     r"weight of shape \[3\]"),
    (lambda lib, x: lib.nn.functional.layer_norm(x, (4,), None, lib.ones(3)), RuntimeError,
     "Expected bias to be of same shape"),
    (lambda lib, x: lib.nn.functional.layer_norm(x, (4,), lib.ones(4, dtype=lib.float64)),
     RuntimeError, "mixed dtype"),
    (lambda lib, x: lib.nn.functional.layer_norm(lib.ones(2, 4, dtype=lib.int64), (4,)),
     RuntimeError, "floating point input, got dtype int64"),
    (lambda lib, x: lib.nn.LayerNorm(5)(x), RuntimeError, r"normalized_shape=\[5\]"),
    (lambda lib, x: lib.nn.LayerNorm(-1), RuntimeError, "non-negative ints"),
    (lambda lib, x: lib.nn.functional.group_norm(x[0, 0], 2), RuntimeError,
     r"group_norm: Expected at least 2 dimensions for input tensor but received 1"),
    (lambda lib, x: lib.nn.functional.group_norm(x, 2), RuntimeError,
     r"Expected number of channels in input to be divisible by num_groups, but got input of "
     r"shape \[2, 3, 4\] and num_groups=2"),
    (lambda lib, x: lib.nn.functional.group_norm(lib.ones(1, 4), 4), ValueError,
     "Expected more than 1 value per channel when training"),
    (lambda lib, x: lib.nn.functional.group_norm(x, 3, lib.ones(4)), RuntimeError,
     r"Expected weight to be a vector of size equal to the number of channels in input, but "
     r"got weight of shape \[4\] and input of shape \[2, 3, 4\]"),
    (lambda lib, x: lib.nn.GroupNorm(2, 3), ValueError,
     r"num_channels \(3\) must be divisible by num_groups \(2\)"),
    (lambda lib, x: lib.nn.GroupNorm(1, 4)(x), RuntimeError,
     r"GroupNorm\(1, 4\): expected input with 4 channels in dimension 1, got 3"),
    (lambda lib, x: lib.nn.functional.rms_norm(x, (3,)), RuntimeError,
     r"rms_norm: Given normalized_shape=\[3\], expected input with shape \[\*3\]"),
    (lambda lib, x: lib.nn.functional.rms_norm(x, (4,), lib.ones(3)), RuntimeError,
     r"Expected weight to be of same shape as normalized_shape, but got weight of shape \[3\]"),
    (lambda lib, x: lib.nn.functional.rms_norm(lib.ones(2, 4, dtype=lib.int64), (4,)),
     RuntimeError, "floating point input"),
]


@pytest.mark.parametrize("call,cls,pattern", ERRORS, ids=[e[2][:40] for e in ERRORS])
def test_errors_as_torch(call, cls, pattern):
    with pytest.raises(cls):
        call(torch, torch.from_numpy(X))
    with pytest.raises(cls, match=pattern):
        call(cr, cr.tensor(X))


def test_rows_split_over_threads_match_torch(monkeypatch, kernel_mode):
    """Large layer norms run their compiled rows on worker threads (here every call, in 3
    uneven runs); the weight and bias gradients of the runs are added up."""
    from chainrule.kernels import threads
    from chainrule.ops import layer_norm

    monkeypatch.setattr(layer_norm, "_SPLIT_ELEMS", 0)
    monkeypatch.setattr(threads, "get_num_threads", lambda: 3)
    x = np.random.default_rng(5).standard_normal((7, 5, 16))
    assert_parity(lambda lib, t, w, b: lib.nn.functional.layer_norm(t, (16,), w, b), x,
                  np.random.default_rng(6).standard_normal(16),
                  np.random.default_rng(7).standard_normal(16), atol=1e-9, rtol=1e-7)
