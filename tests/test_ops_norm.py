"""batch_norm (fused) and batch_norm_composed against torch.nn.functional.batch_norm.

Outputs, gradients (input, weight, bias) and running statistics in training and evaluation,
on (N, C), (N, C, L) and (N, C, H, W) inputs; the fused op against its composed twin; second
derivatives; the error paths.
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from chainrule.autograd import grad
from chainrule.ops.norm import batch_norm, batch_norm_composed
from chainrule.testing import gradcheck, gradgradcheck

# every test runs twice: with the compiled kernels (Numba) and with the NumPy formulas
pytestmark = pytest.mark.usefixtures("kernel_mode")

torch = pytest.importorskip("torch")
F = torch.nn.functional

SHAPES = [(5, 3), (4, 3, 7), (4, 3, 5, 6)]


def _case(shape: tuple, affine: bool, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    C = shape[1]
    return dict(x=rng.standard_normal(shape) * 3 + 1,
                weight=rng.standard_normal(C) if affine else None,
                bias=rng.standard_normal(C) if affine else None,
                running_mean=rng.standard_normal(C), running_var=rng.random(C) + 0.5,
                gy=rng.standard_normal(shape))


def _run(lib: Any, fn: Any, case: dict, training: bool, track: bool, **kw: Any) -> tuple:
    """(output, grads of input/weight/bias, running_mean, running_var) as NumPy arrays."""
    make = (lambda a, rg: torch.tensor(a, requires_grad=rg)) if lib is torch else \
        (lambda a, rg: cr.Tensor(a.copy(), requires_grad=rg))
    x = make(case["x"], True)
    w = None if case["weight"] is None else make(case["weight"], True)
    b = None if case["bias"] is None else make(case["bias"], True)
    rm = make(case["running_mean"], False) if track else None
    rv = make(case["running_var"], False) if track else None
    y = fn(x, rm, rv, w, b, training, **kw)
    ins = [t for t in (x, w, b) if t is not None]
    if lib is torch:
        gs = [g.numpy() for g in torch.autograd.grad(y, ins, torch.tensor(case["gy"]))]
        return (y.detach().numpy(), gs, None if rm is None else rm.numpy(),
                None if rv is None else rv.numpy())
    gs = [g._data for g in grad(y, ins, cr.Tensor(case["gy"]))]
    return y._data, gs, None if rm is None else rm._data, None if rv is None else rv._data


def _assert_same(ours: tuple, theirs: tuple, tol: float = 1e-10) -> None:
    np.testing.assert_allclose(ours[0], theirs[0], rtol=tol, atol=tol)
    assert len(ours[1]) == len(theirs[1])
    for a, r in zip(ours[1], theirs[1]):
        np.testing.assert_allclose(a, r, rtol=tol, atol=tol)
    for a, r in zip(ours[2:], theirs[2:]):
        if r is None:
            assert a is None
        else:
            np.testing.assert_allclose(a, r, rtol=tol, atol=tol)


@pytest.mark.parametrize("fn", [batch_norm, batch_norm_composed])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_matches_torch(fn: Any, shape: tuple, training: bool, affine: bool) -> None:
    case = _case(shape, affine)
    kw = dict(momentum=0.3, eps=1e-4)
    _assert_same(_run(cr, fn, case, training, True, **kw),
                 _run(torch, F.batch_norm, case, training, True, **kw))


@pytest.mark.parametrize("shape", SHAPES)
def test_training_without_running_stats(shape: tuple) -> None:
    case = _case(shape, True)
    _assert_same(_run(cr, batch_norm, case, True, False),
                 _run(torch, F.batch_norm, case, True, False))


@given(n=st.integers(2, 4), c=st.integers(1, 4), spatial=st.lists(st.integers(1, 4), max_size=2),
       training=st.booleans(), affine=st.booleans(),
       momentum=st.floats(0.0, 1.0), eps=st.sampled_from([1e-5, 1e-3, 0.5]))
def test_fused_matches_composed_and_torch(n: int, c: int, spatial: list, training: bool,
                                          affine: bool, momentum: float, eps: float) -> None:
    case = _case((n, c, *spatial), affine, seed=n * 10 + c)
    kw = dict(momentum=momentum, eps=eps)
    fused = _run(cr, batch_norm, case, training, True, **kw)
    _assert_same(fused, _run(cr, batch_norm_composed, case, training, True, **kw), 1e-9)
    _assert_same(fused, _run(torch, F.batch_norm, case, training, True, **kw), 1e-9)


@pytest.mark.parametrize("training", [True, False])
def test_strided_input_and_gradient(training: bool, seeded: np.random.Generator) -> None:
    """Transposed (non-contiguous) x and gy: the per-channel rows are built on copies."""
    x = seeded.standard_normal((5, 4, 3, 2)).transpose(3, 1, 2, 0) * 2 + 3  # (2, 4, 3, 5)
    gy = seeded.standard_normal((5, 3, 4, 2)).transpose(3, 2, 1, 0)
    w, b = seeded.standard_normal(4), seeded.standard_normal(4)
    rm, rv = seeded.standard_normal(4), seeded.random(4) + 0.5
    xc, wc, bc = (cr.Tensor(a, requires_grad=True) for a in (x, w, b))
    assert not xc._data.flags.c_contiguous and not gy.flags.c_contiguous
    y = batch_norm(xc, cr.Tensor(rm.copy()), cr.Tensor(rv.copy()), wc, bc, training)
    ours = [g._data for g in grad(y, [xc, wc, bc], cr.Tensor(gy))]
    xt, wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, w, b))
    yt = F.batch_norm(xt, torch.tensor(rm), torch.tensor(rv), wt, bt, training)
    ref = torch.autograd.grad(yt, [xt, wt, bt], torch.tensor(gy))
    np.testing.assert_allclose(y._data, yt.detach().numpy(), rtol=1e-10, atol=1e-10)
    for a, r in zip(ours, ref):
        np.testing.assert_allclose(a, r.numpy(), rtol=1e-10, atol=1e-10)


def test_running_stats_updated_in_place_over_steps(seeded: np.random.Generator) -> None:
    rm, rv = cr.zeros(4, dtype=cr.float64), cr.ones(4, dtype=cr.float64)
    rm_data, version = rm._data, rm._version
    rmt, rvt = torch.zeros(4, dtype=torch.float64), torch.ones(4, dtype=torch.float64)
    for _ in range(3):
        x = seeded.standard_normal((8, 4, 3, 3))
        batch_norm(cr.Tensor(x), rm, rv, training=True)
        F.batch_norm(torch.tensor(x), rmt, rvt, training=True)
    assert rm._data is rm_data and rm._version > version  # same buffer, marked modified
    np.testing.assert_allclose(rm._data, rmt.numpy(), atol=1e-12)
    np.testing.assert_allclose(rv._data, rvt.numpy(), atol=1e-12)
    # evaluation reads them and leaves them alone
    x = seeded.standard_normal((2, 4, 3, 3))
    y = batch_norm(cr.Tensor(x), rm, rv, training=False)
    np.testing.assert_allclose(y._data, F.batch_norm(torch.tensor(x), rmt, rvt).numpy(),
                               atol=1e-12)
    np.testing.assert_allclose(rm._data, rmt.numpy(), atol=1e-12)


def test_eval_backward_uses_stats_of_the_forward_call(seeded: np.random.Generator) -> None:
    # the running buffers change after the eval forward: backward must not see the change
    rm, rv = cr.zeros(2, dtype=cr.float64), cr.ones(2, dtype=cr.float64)
    x = cr.Tensor(seeded.standard_normal((3, 2)), requires_grad=True)
    w = cr.Tensor(np.array([1.5, -2.0]), requires_grad=True)
    y = batch_norm(x, rm, rv, w, training=False)
    expected = ((x._data - 0) / np.sqrt(1 + 1e-5)).sum(0)
    batch_norm(cr.Tensor(seeded.standard_normal((3, 2)) + 5), rm, rv, training=True)
    (gw,) = grad(y.sum(), [w])
    np.testing.assert_allclose(gw._data, expected, atol=1e-12)


def test_float32_stays_float32(seeded: np.random.Generator) -> None:
    x = cr.Tensor(seeded.standard_normal((8, 3, 4, 4)).astype(np.float32), requires_grad=True)
    w = cr.Tensor(np.ones(3, np.float32), requires_grad=True)
    b = cr.Tensor(np.zeros(3, np.float32), requires_grad=True)
    rm, rv = cr.zeros(3), cr.ones(3)
    y = batch_norm(x, rm, rv, w, b, training=True)
    assert y.dtype == np.float32 and rm.dtype == np.float32 and rv.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grad(y.sum(), (x, w, b)))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 2), (3, 2, 3), (2, 2, 2, 3)])
def test_gradcheck_and_gradgradcheck(training: bool, shape: tuple,
                                     seeded: np.random.Generator) -> None:
    x = cr.Tensor(seeded.standard_normal(shape), requires_grad=True)
    w = cr.Tensor(seeded.standard_normal(2), requires_grad=True)
    b = cr.Tensor(seeded.standard_normal(2), requires_grad=True)
    rm, rv = cr.Tensor(seeded.standard_normal(2)), cr.Tensor(seeded.random(2) + 0.5)

    def f(x: cr.Tensor, w: cr.Tensor, b: cr.Tensor) -> cr.Tensor:
        return batch_norm(x, rm, rv, w, b, training, momentum=0.0)  # stats stay put

    assert gradcheck(f, (x, w, b))
    assert gradgradcheck(f, (x, w, b))


def test_second_derivatives_match_composed(seeded: np.random.Generator) -> None:
    x0 = seeded.standard_normal((4, 3, 2))
    out = []
    for fn in (batch_norm, batch_norm_composed):
        x = cr.Tensor(x0.copy(), requires_grad=True)
        w = cr.Tensor(np.array([0.5, 2.0, -1.0]), requires_grad=True)
        y = fn(x, None, None, w, None, True)
        (gx,) = grad((y * y * y).sum(), [x], create_graph=True)
        out.append([g._data for g in grad((gx * gx).sum(), [x, w])])
    for a, b in zip(*out):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("args,kw,pattern", [
    (((4, 3), (2,), (2,)), {}, r"expected running_mean of shape \(3,\).*got running_mean of "
                               r"shape \(2,\)"),
    (((4, 3), (3,), (3,)), dict(weight=(4,)), r"expected weight of shape \(3,\)"),
    (((1, 3), (3,), (3,)), dict(training=True), r"Expected more than 1 value per channel when "
                                                r"training, got input size \(1, 3\)"),
    (((1, 3, 1, 1), None, None), dict(training=True), r"more than 1 value per channel"),
    (((4, 3), None, None), {}, r"must be defined in evaluation mode"),
    (((4, 3), (3,), None), dict(training=True), r"must both be given or both be None"),
    (((4,), (4,), (4,)), {}, r"expected input of shape \(N, C\).*got input of shape \(4,\)"),
    (((4, 3), (3,), (3,)), dict(eps=0.0), r"eps must be positive"),
])
def test_value_errors(args: tuple, kw: dict, pattern: str) -> None:
    x_shape, rm_shape, rv_shape = args
    t = {k: cr.zeros(*v) for k, v in kw.items() if isinstance(v, tuple)}
    kw = {**kw, **t}
    for fn in (batch_norm, batch_norm_composed):
        with pytest.raises(ValueError, match=pattern):
            fn(cr.zeros(*x_shape), None if rm_shape is None else cr.zeros(*rm_shape),
               None if rv_shape is None else cr.ones(*rv_shape), **kw)


def test_type_errors() -> None:
    with pytest.raises(TypeError, match="floating point input"):
        batch_norm(cr.Tensor(np.zeros((4, 3), np.int64)), None, None, training=True)
    with pytest.raises(TypeError, match=r"input dtype \(float32\) and weight dtype \(float64\)"):
        batch_norm(cr.zeros(4, 3), None, None, cr.ones(3, dtype=cr.float64), training=True)


# ----------------------------------------------------------------------------- issue 20
EMPTY = [(0, 3), (0, 3, 4), (2, 3, 0), (0, 3, 2, 2), (3, 3, 2, 0)]


@pytest.mark.parametrize("fn", [batch_norm, batch_norm_composed])
@pytest.mark.parametrize("shape", EMPTY)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_an_empty_batch_matches_torch(fn: Any, shape: tuple, training: bool,
                                      affine: bool) -> None:
    # regression: eval mode raised NumPy's reshape error (-1 with N = 0), training refused
    # N = 0; torch returns an empty output, leaves the running statistics untouched and gives
    # zero weight and bias gradients
    case = _case(shape, affine)
    _assert_same(_run(cr, fn, case, training, True), _run(torch, F.batch_norm, case, training,
                                                          True))
    x, w, b = (cr.tensor(case[k], requires_grad=True) for k in ("x", "weight", "bias")) \
        if affine else (cr.tensor(case["x"], requires_grad=True), None, None)
    rm, rv = cr.tensor(case["running_mean"]), cr.tensor(case["running_var"])
    y = fn(x, rm, rv, w, b, training)
    ins = [t for t in (x, w, b) if t is not None]
    grads = grad(y.sum(), ins, create_graph=True)  # the differentiable formula
    assert grads[0].shape == shape and all(not g._data.any() for g in grads[1:])
    np.testing.assert_array_equal(rm._data, case["running_mean"])
    np.testing.assert_array_equal(rv._data, case["running_var"])


@pytest.mark.parametrize("shape", [(1, 3), (1, 3, 1), (1, 3, 1, 1)])
def test_one_value_per_channel_in_training_raises_torchs_value_error(shape: tuple) -> None:
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training, "
                                         "got input size"):
        F.batch_norm(torch.zeros(shape), None, None, training=True)
    for fn in (batch_norm, batch_norm_composed):
        with pytest.raises(ValueError, match=r"batch_norm: Expected more than 1 value per channel "
                                             r"when training, got input size "
                                             + re.escape(str(shape))):
            fn(cr.zeros(*shape), None, None, training=True)
        assert fn(cr.zeros(*shape), cr.zeros(3), cr.ones(3)).shape == shape  # eval: fine
