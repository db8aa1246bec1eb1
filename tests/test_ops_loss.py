"""Losses against PyTorch: every reduction, weights, ignore_index, label smoothing, probability
targets, second order, stability at extreme logits, and the shape/label error paths."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.ops.loss import (CrossEntropy, binary_cross_entropy,
                                binary_cross_entropy_with_logits, cross_entropy,
                                cross_entropy_composed, l1_loss, mse_loss, nll_loss)
from chainrule.testing import assert_parity, gradcheck, gradgradcheck

REDUCTIONS = ["mean", "sum", "none"]


@pytest.fixture
def rng() -> np.random.Generator:
    cr.manual_seed(0)
    return np.random.default_rng(0)


def F(lib):
    return lib.nn.functional


# ============================================================================ regression
@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_regression_losses_match_torch(rng, name, reduction):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    t = rng.standard_normal((4, 3)).astype(np.float32)
    assert_parity(lambda lib, a, b: getattr(F(lib), name)(a, b, reduction=reduction), x, t,
                  second_order=True)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss"])
def test_regression_target_of_other_size_warns_and_broadcasts_like_torch(rng, name):
    x = rng.standard_normal((4, 1)).astype(np.float32)
    t = rng.standard_normal(4).astype(np.float32)
    with pytest.warns(UserWarning, match=r"Using a target size \(\(4,\)\) that is different "
                                         r"to the input size \(\(4, 1\)\)"):
        ours = getattr(cr.nn.functional, name)(cr.tensor(x), cr.tensor(t))
    with pytest.warns(UserWarning):
        theirs = getattr(torch.nn.functional, name)(torch.tensor(x), torch.tensor(t))
    assert ours.shape == () and np.isclose(ours.item(), theirs.item(), rtol=1e-6)


def test_regression_unbroadcastable_shapes_raise_runtime_error_like_torch():
    with pytest.raises(RuntimeError):
        torch.nn.functional.mse_loss(torch.zeros(4, 3), torch.zeros(5))
    with pytest.raises(RuntimeError, match=r"mse_loss: input of shape \(4, 3\) and target of "
                                         r"shape \(5,\) cannot be broadcast"):
        mse_loss(cr.zeros(4, 3), cr.zeros(5))


def test_mse_gradcheck_float64(rng):
    x = cr.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    t = cr.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    assert gradcheck(lambda a, b: mse_loss(a, b), (x, t))
    assert gradgradcheck(lambda a, b: mse_loss(a, b, reduction="sum"), (x, t))


def test_l1_gradcheck_float64(rng):
    x = cr.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    t = cr.tensor(rng.standard_normal((3, 2)))
    assert gradcheck(lambda a: l1_loss(a, t, reduction="none"), (x,))


# ============================================================================ binary
def _probs(rng, shape):
    return rng.uniform(0.05, 0.95, shape).astype(np.float32)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_matches_torch(rng, reduction, weighted):
    p, t = _probs(rng, (5, 3)), rng.uniform(0, 1, (5, 3)).astype(np.float32)
    w = rng.uniform(0.5, 2, (3,)).astype(np.float32)

    def fn(lib, a, b, c):
        return F(lib).binary_cross_entropy(a, b, c if weighted else None, reduction=reduction)

    assert_parity(fn, p, t, w, requires_grad=[True, False, False], second_order=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos", [False, True])
def test_bce_with_logits_matches_torch(rng, reduction, pos):
    x = (rng.standard_normal((6, 3)) * 4).astype(np.float32)
    x[0, 0] = 0.0  # the tie of max(-x, 0): the gradient must still be sigmoid(0) - t
    t = rng.uniform(0, 1, (6, 3)).astype(np.float32)
    pw = rng.uniform(0.5, 3, (3,)).astype(np.float32)
    w = rng.uniform(0.5, 2, (6, 1)).astype(np.float32)

    def fn(lib, a, b, c, d):
        return F(lib).binary_cross_entropy_with_logits(a, b, d, reduction=reduction,
                                                       pos_weight=c if pos else None)

    assert_parity(fn, x, t, pw, w, requires_grad=[True, True, False, False],
                  second_order=True, atol=1e-5)


def test_bce_with_logits_is_stable():
    out = binary_cross_entropy_with_logits(cr.tensor([50.0]), cr.tensor([0.0]))
    assert out.item() == 50.0
    x = cr.tensor([1000.0, -1000.0, 1000.0, -1000.0], requires_grad=True)
    t = cr.tensor([1.0, 0.0, 0.0, 1.0])
    loss = binary_cross_entropy_with_logits(x, t, reduction="none")
    assert loss.tolist() == [0.0, 0.0, 1000.0, 1000.0]
    loss.sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0, -1.0]


def test_bce_clamps_log_at_minus_100_with_finite_gradient():
    p = cr.tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    t = cr.tensor([1.0, 0.0, 0.0, 1.0])
    loss = binary_cross_entropy(p, t, reduction="none")
    theirs = torch.nn.functional.binary_cross_entropy(torch.tensor(p._data), torch.tensor(t._data),
                                                      reduction="none")
    assert loss.tolist() == theirs.tolist() == [100.0, 100.0, 0.0, 0.0]
    loss.sum().backward()
    assert np.isfinite(p.grad._data).all()


@pytest.mark.parametrize("create_graph", [False, True])
def test_bce_gradient_at_the_clamp_matches_torch(create_graph):
    """Regression: differentiating the clamped logs gave p = 0, t = 0.2 a gradient of +0.8
    (away from the target; torch: -2e11), p = 0, t = 1 a gradient of 0 and p = 1e-20 one of
    -1e20; torch's is (p - t) / max(p (1 - p), 1e-12), and -logit(p) for the target."""
    p = [0.0, 0.0, 1e-20, 1e-40, 1.0, 1.0, 1.0 - 1e-13, 0.3, 0.999]
    t = [0.2, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0, 0.6, 0.0]
    grads = []
    for lib in (cr, torch):
        pp = lib.tensor(p, dtype=lib.float64, requires_grad=True)
        tt = lib.tensor(t, dtype=lib.float64, requires_grad=True)
        loss = F(lib).binary_cross_entropy(pp, tt, lib.tensor([2.0] * 9, dtype=lib.float64),
                                           reduction="sum")
        grad = cr.autograd.grad if lib is cr else torch.autograd.grad
        grads.append([g.tolist() for g in grad(loss, [pp, tt], create_graph=create_graph)])
    (gp, gt), (tp, tt_) = grads
    np.testing.assert_allclose(gp, tp, rtol=1e-12)
    assert gp[0] < -1e11 and gp[4] > 1e11  # towards the target
    np.testing.assert_allclose(gt, tt_, rtol=1e-12)  # +-inf at p = 0 and 1, as torch


def test_bce_gradient_through_saturated_sigmoid_is_finite_like_torch():
    """Regression (float32): sigmoid(-92) = 1e-40 gave d loss / d p = -1/p = -inf."""
    x = cr.tensor([-92.0, -50.0, 0.0], requires_grad=True)
    binary_cross_entropy(cr.sigmoid(x), cr.ones(3), reduction="sum").backward()
    p = cr.tensor([1e-40, 1e-30, 0.5], requires_grad=True)
    loss = binary_cross_entropy(p, cr.ones(3), reduction="sum")
    assert loss.dtype == np.float32
    loss.backward()
    pt = torch.tensor([1e-40, 1e-30, 0.5], requires_grad=True)
    torch.nn.functional.binary_cross_entropy(pt, torch.ones(3), reduction="sum").backward()
    assert np.isfinite(x.grad._data).all() and p.grad.dtype == np.float32
    np.testing.assert_allclose(p.grad._data, pt.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["weight", "pos_weight"])
def test_binary_weights_must_not_enlarge_the_input(name):
    """Regression: a weight of shape (4, 1) against an (4,) input silently made a (4, 4) loss;
    torch raises (the weights broadcast to the input's shape, never the input to theirs)."""
    kwargs = {name: cr.ones(4, 1)}
    with pytest.raises(RuntimeError, match=rf"binary_cross_entropy_with_logits: {name} of shape "
                                         rf"\(4, 1\) cannot be broadcast to the input shape "
                                         rf"\(4,\)"):
        binary_cross_entropy_with_logits(cr.zeros(4), cr.zeros(4), reduction="none", **kwargs)
    with pytest.raises(RuntimeError):  # torch agrees
        torch.nn.functional.binary_cross_entropy_with_logits(
            torch.zeros(4), torch.zeros(4), reduction="none", **{name: torch.ones(4, 1)})
    if name == "weight":
        with pytest.raises(RuntimeError, match=r"binary_cross_entropy: weight of shape \(2, 4\) "
                                               r"cannot be broadcast to the input shape \(4,\)"):
            binary_cross_entropy(cr.full((4,), 0.5), cr.zeros(4), cr.ones(2, 4))
    # weights that do broadcast to the input still do: (3,) and (5, 1) against (5, 3)
    x, t = cr.full((5, 3), 0.5), cr.ones(5, 3)
    for w in (cr.ones(3), cr.ones(5, 1), cr.ones(1, 1, 3)[0]):
        assert binary_cross_entropy_with_logits(x, t, reduction="none", **{name: w}).shape == \
            (5, 3)


def test_bce_rejects_mismatched_target_like_torch():
    with pytest.raises(ValueError, match=r"binary_cross_entropy: Using a target size \(\(4,\)\) "
                                         r"that is different to the input size \(\(4, 1\)\) is "
                                         r"deprecated"):
        binary_cross_entropy(cr.full((4, 1), 0.5), cr.zeros(4))
    with pytest.raises(ValueError, match=r"binary_cross_entropy_with_logits: Target size "
                                         r"\(\(4,\)\) must be the same as input size \(\(4, 1\)\)"):
        binary_cross_entropy_with_logits(cr.zeros(4, 1), cr.zeros(4))
    with pytest.raises(ValueError):  # and torch agrees that this is an error
        torch.nn.functional.binary_cross_entropy(torch.full((4, 1), 0.5), torch.zeros(4))


@pytest.mark.parametrize("p,t,name", [(1.5, 1.0, "input"), (-0.5, 1.0, "input"),
                                      (float("nan"), 1.0, "input"), (0.5, float("nan"), "target"),
                                      (0.5, 2.0, "target"), (0.5, -1.0, "target"),
                                      (0.5, float("inf"), "target")])
def test_bce_rejects_values_outside_unit_interval_and_nan_like_torch(p, t, name):
    message = f"all elements of {name} should be between 0 and 1"
    with pytest.raises(RuntimeError, match=message):
        torch.nn.functional.binary_cross_entropy(torch.tensor([p]), torch.tensor([t]))
    with pytest.raises(RuntimeError, match=f"binary_cross_entropy: {message}"):
        binary_cross_entropy(cr.tensor([0.5, p]), cr.tensor([0.5, t]))


def test_binary_gradcheck_float64(rng):
    p = cr.tensor(rng.uniform(0.1, 0.9, (3, 2)), requires_grad=True)
    x = cr.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    t = cr.tensor(rng.uniform(0, 1, (3, 2)), requires_grad=True)
    pw = cr.tensor(rng.uniform(0.5, 2, (2,)))
    assert gradcheck(lambda a, b: binary_cross_entropy(a, b), (p, t))
    assert gradgradcheck(lambda a, b: binary_cross_entropy(a, b, reduction="sum"), (p, t))
    assert gradcheck(lambda a, b: binary_cross_entropy_with_logits(a, b, pos_weight=pw), (x, t))
    assert gradgradcheck(lambda a, b: binary_cross_entropy_with_logits(a, b), (x, t))


# ============================================================================ classification
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_class_indices_match_torch(rng, reduction, weighted, ignore, smoothing):
    x = rng.standard_normal((6, 4)).astype(np.float32)
    y = rng.integers(0, 4, 6)
    if ignore:
        y[[1, 4]] = 2  # ignore_index = 2 below
    w = rng.uniform(0.5, 2, 4).astype(np.float32)

    def fn(lib, a, b, c):
        return F(lib).cross_entropy(a, b, c if weighted else None, reduction=reduction,
                                    ignore_index=2 if ignore else -100,
                                    label_smoothing=smoothing)

    assert_parity(fn, x, y, w, requires_grad=[True, False, False], second_order=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_spatial_matches_torch(rng, reduction):
    x = rng.standard_normal((2, 3, 4, 5)).astype(np.float32)
    y = rng.integers(0, 3, (2, 4, 5))
    y[0, 0, 0] = -100
    w = rng.uniform(0.5, 2, 3).astype(np.float32)
    assert_parity(lambda lib, a, b, c: F(lib).cross_entropy(a, b, c, reduction=reduction,
                                                            label_smoothing=0.1),
                  x, y, w, requires_grad=[True, False, False])


def test_cross_entropy_unbatched_matches_torch(rng):
    x = rng.standard_normal(5).astype(np.float32)
    assert_parity(lambda lib, a, b: F(lib).cross_entropy(a, b), x, np.array(3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_probability_targets_match_torch(rng, reduction, weighted, smoothing):
    x = rng.standard_normal((5, 4)).astype(np.float32)
    t = rng.dirichlet(np.ones(4), 5).astype(np.float32)
    w = rng.uniform(0.5, 2, 4).astype(np.float32)

    def fn(lib, a, b, c):
        return F(lib).cross_entropy(a, b, c if weighted else None, reduction=reduction,
                                    label_smoothing=smoothing)

    assert_parity(fn, x, t, w, requires_grad=[True, True, False], second_order=True)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(rng, reduction, weighted):
    x = np.log(rng.dirichlet(np.ones(3), 7)).astype(np.float32)
    y = rng.integers(0, 3, 7)
    y[2] = -100
    w = rng.uniform(0.5, 2, 3).astype(np.float32)
    assert_parity(lambda lib, a, b, c: F(lib).nll_loss(a, b, c if weighted else None,
                                                       reduction=reduction),
                  x, y, w, requires_grad=[True, False, False], second_order=True)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 5), c=st.integers(1, 6), extra=st.lists(st.integers(1, 3), max_size=2),
       seed=st.integers(0, 2 ** 16))
def test_cross_entropy_random_shapes_match_torch(n, c, extra, seed):
    r = np.random.default_rng(seed)
    x = (r.standard_normal((n, c, *extra)) * 3).astype(np.float32)
    y = r.integers(0, c, (n, *extra))
    assert_parity(lambda lib, a, b: F(lib).cross_entropy(a, b), x, y, atol=1e-5)


def test_cross_entropy_stays_float32_and_gathers(rng):
    x = cr.tensor(rng.standard_normal((8, 10)).astype(np.float32), requires_grad=True)
    loss = cross_entropy(x, cr.tensor(rng.integers(0, 10, 8)), weight=cr.ones(10),
                         label_smoothing=0.1)
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


def test_cross_entropy_is_stable_for_huge_logits():
    x = cr.tensor([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]], requires_grad=True)
    y = cr.tensor([1, 1])
    loss = cross_entropy(x, y)
    theirs = torch.nn.functional.cross_entropy(torch.tensor(x._data), torch.tensor(y._data))
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(theirs.item())
    loss.backward()
    assert np.isfinite(x.grad._data).all()
    np.testing.assert_allclose(x.grad._data, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-6)


def test_cross_entropy_all_ignored_gives_nan_and_zero_gradient_like_torch():
    x = cr.zeros(2, 3, requires_grad=True)
    loss = cross_entropy(x, cr.tensor([-100, -100]))
    xt = torch.zeros(2, 3, requires_grad=True)
    theirs = torch.nn.functional.cross_entropy(xt, torch.tensor([-100, -100]))
    assert np.isnan(loss.item()) and np.isnan(theirs.item())
    loss.backward()
    theirs.backward()
    np.testing.assert_array_equal(x.grad._data, xt.grad.numpy())
    assert not x.grad._data.any()


def test_cross_entropy_minus_inf_logit_like_torch():
    x = np.array([[0.0, -np.inf, 1.0]], dtype=np.float32)
    assert_parity(lambda lib, a, b: F(lib).cross_entropy(a, b), x, np.array([0]))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 5), extra=st.lists(st.integers(1, 3), max_size=2),
       reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(), ignore=st.booleans(),
       unbatched=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_fused_cross_entropy_matches_composed_twin(n, c, extra, reduction, weighted, ignore,
                                                  unbatched, seed):
    r = np.random.default_rng(seed)
    shape = (c,) if unbatched else (n, c, *extra)
    x = r.standard_normal(shape) * 3  # float64
    y = r.integers(0, c, () if unbatched else (n, *extra))
    if ignore and y.ndim:
        y.reshape(-1)[0] = -100
    w = cr.tensor(r.uniform(0.5, 2, c)) if weighted else None
    gy = r.standard_normal(y.shape) if reduction == "none" else r.standard_normal(())
    results = []
    for loss_fn in (cross_entropy, cross_entropy_composed):
        xt = cr.tensor(x, requires_grad=True)
        loss = loss_fn(xt, cr.tensor(y), w, reduction=reduction)
        loss.backward(cr.tensor(gy))
        results.append((loss._data, xt.grad._data))
    assert isinstance(cross_entropy(cr.tensor(x, requires_grad=True), cr.tensor(y), w,
                                    reduction=reduction).grad_fn, CrossEntropy)
    (l1, g1), (l2, g2) = results
    np.testing.assert_allclose(l1, l2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g1, g2, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 2, 2)])
def test_fused_cross_entropy_gradcheck_first_and_second_order(rng, reduction, shape):
    x = cr.tensor(rng.standard_normal(shape), requires_grad=True)
    y = rng.integers(0, shape[0] if len(shape) == 1 else shape[1],
                     () if len(shape) == 1 else (shape[0], *shape[2:]))
    if y.ndim:
        y.reshape(-1)[-1] = 1  # ignore_index below
    w = cr.tensor(rng.uniform(0.5, 2, shape[0] if len(shape) == 1 else shape[1]))

    def fn(a):
        return cross_entropy(a, cr.tensor(y), w, ignore_index=1 if y.ndim else -100,
                             reduction=reduction)

    assert isinstance(fn(x).grad_fn, CrossEntropy)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


@pytest.mark.parametrize("label", [3, 7, -1])
def test_cross_entropy_label_out_of_range(label):
    with pytest.raises(ValueError, match=rf"cross_entropy: target label {label} is out of "
                                         rf"range for 3 classes"):
        cross_entropy(cr.zeros(2, 3), cr.tensor([0, label]))


def test_nll_label_out_of_range_names_label_and_classes():
    with pytest.raises(ValueError, match=r"nll_loss: target label 10 is out of range for 10 "
                                         r"classes \(labels must be in \[0, 9\]"):
        nll_loss(cr.zeros(4, 10), cr.tensor([0, 10, 1, 2]))


def test_cross_entropy_target_shape_errors():
    with pytest.raises(ValueError, match=r"cross_entropy: expected target of shape \(N,\) = "
                                         r"\(4,\) for input of shape \(4, 3\), got target of "
                                         r"shape \(4, 1\)"):
        cross_entropy(cr.zeros(4, 3), cr.zeros(4, 1, dtype=cr.int64))
    with pytest.raises(ValueError, match=r"class probabilities must have the input's shape "
                                         r"\(4, 3\), got \(4, 2\)"):
        cross_entropy(cr.zeros(4, 3), cr.zeros(4, 2))
    with pytest.raises(TypeError, match="nll_loss: expected a target of class indices"):
        nll_loss(cr.zeros(4, 3), cr.zeros(4))


def test_loss_argument_errors():
    with pytest.raises(ValueError, match="weight tensor should be defined either for all 3 "
                                         "classes"):
        cross_entropy(cr.zeros(2, 3), cr.tensor([0, 1]), weight=cr.ones(4))
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        mse_loss(cr.zeros(2), cr.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match="label_smoothing must be between 0.0 and 1.0"):
        cross_entropy(cr.zeros(2, 3), cr.tensor([0, 1]), label_smoothing=1.5)
    with pytest.raises(TypeError, match="mse_loss: input must be a Tensor"):
        mse_loss([1.0], cr.zeros(1))


def test_legacy_size_average_maps_to_reduction():
    x, t = cr.tensor([1.0, 3.0]), cr.tensor([0.0, 0.0])
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert mse_loss(x, t, size_average=False).item() == 10.0


def test_classification_gradcheck_float64(rng):
    x = cr.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    y = cr.tensor(np.array([0, 2, 1, 2]))
    w = cr.tensor(rng.uniform(0.5, 2, 3))
    probs = cr.tensor(rng.dirichlet(np.ones(3), 4), requires_grad=True)
    assert gradcheck(lambda a: cross_entropy(a, y, w, label_smoothing=0.1), (x,))
    assert gradgradcheck(lambda a: cross_entropy(a, y, w, ignore_index=1), (x,))
    assert gradcheck(lambda a, b: cross_entropy(a, b), (x, probs))
    assert gradgradcheck(lambda a: nll_loss(a, y, reduction="none"), (x,))


# ============================================================================ issue 20
INF, NAN = float("inf"), float("nan")


def _both_paths(fn, *arrays, requires_grad=None, **kw):
    """PyTorch parity of values and gradients through the fast backward, then through the
    formulas (create_graph=True, with second derivatives)."""
    assert_parity(fn, *arrays, requires_grad=requires_grad, **kw)
    assert_parity(fn, *arrays, requires_grad=requires_grad, second_order=True, **kw)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # inf - inf in the reference formulas
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("pos", [False, True])
def test_bce_with_logits_at_infinite_and_huge_logits_matches_torch(reduction, pos):
    # the gradient at x = -inf is sigmoid(-inf) - t = -t (torch: -0.5 for t = 0.5), at +inf
    # 1 - t, though the loss itself is NaN there; with pos_weight, -t pos_weight and 1 - t
    x = np.array([-INF, INF, -INF, INF, -INF, INF, 0.0, 1e308, -1e308, 40.0, -40.0, NAN])
    t = np.array([0.0, 0.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.0, 1.0, 0.2, 0.7, 1.0])

    def fn(lib, a, b, c):
        return F(lib).binary_cross_entropy_with_logits(a, b, reduction=reduction,
                                                       pos_weight=c if pos else None)

    _both_paths(fn, x, t, np.array(2.5), requires_grad=[True, True, False])


@pytest.mark.parametrize("shape", [(0,), (0, 3), (2, 0)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_of_an_empty_input_matches_torch(shape, reduction):
    # regression: the loss was a logsumexp over a stacked (*, 2) array, whose empty amax
    # raised an error naming that internal shape, (0, 2)
    x, t = np.zeros(shape), np.full(shape, 0.5)
    pw = np.ones(shape[-1:])
    _both_paths(lambda lib, a, b: F(lib).binary_cross_entropy_with_logits(
        a, b, reduction=reduction), x, t)
    _both_paths(lambda lib, a, b, c: F(lib).binary_cross_entropy_with_logits(
        a, b, reduction=reduction, pos_weight=c), x, t, pw, requires_grad=[True, True, False])


def test_bce_with_logits_errors_name_the_users_shapes():
    with pytest.raises(RuntimeError, match=r"pos_weight of shape \(3,\) cannot be broadcast to "
                                           r"the input shape \(0,\)"):
        binary_cross_entropy_with_logits(cr.zeros(0), cr.zeros(0), pos_weight=cr.ones(3))
    with pytest.raises(RuntimeError):  # torch agrees
        torch.nn.functional.binary_cross_entropy_with_logits(torch.zeros(0), torch.zeros(0),
                                                             pos_weight=torch.ones(3))


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "binary_cross_entropy_with_logits"])
@pytest.mark.parametrize("dtypes", [(np.float32, np.float64), (np.float16, np.float32)])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_compute_in_the_promoted_dtype_like_torch(name, dtypes, reduction):
    # regression: mse_loss(float32, float64) was float32; each gradient keeps its input's dtype
    x = np.array([0.25, -1.5, 2.0], dtype=dtypes[0])
    t = np.array([0.5, 0.125, 0.75], dtype=dtypes[1])
    fn = lambda lib, a, b: getattr(F(lib), name)(a, b, reduction=reduction)  # noqa: E731
    _both_paths(fn, x, t, atol=1e-3, rtol=1e-3)
    if name != "binary_cross_entropy_with_logits":  # torch: the target's dtype, see docstring
        _both_paths(lambda lib, a, b: fn(lib, b, a), x, t, atol=1e-3, rtol=1e-3)


def test_cross_entropy_with_probabilities_of_a_wider_dtype_promotes_like_torch():
    x = np.array([[0.5, -1.0, 2.0], [0.0, 0.25, -0.5]], dtype=np.float32)
    p = np.array([[0.2, 0.3, 0.5], [1.0, 0.0, 0.0]])
    assert_parity(lambda lib, a, b: F(lib).cross_entropy(a, b), x, p, atol=1e-6)


def test_bce_refuses_a_target_of_another_dtype_like_torch():
    with pytest.raises(RuntimeError, match="expected Float"):
        torch.nn.functional.binary_cross_entropy(torch.full((2,), 0.5),
                                                 torch.zeros(2, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="binary_cross_entropy: expected a target of the "
                                           "input's dtype float32, got float64"):
        binary_cross_entropy(cr.full((2,), 0.5), cr.zeros(2, dtype=cr.float64))
    assert binary_cross_entropy(cr.full((2,), 0.5), [1.0, 0.0]).dtype == np.float32


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("row", [[INF, 1.0, 2.0], [INF, INF, 1.0], [-INF, -INF, -INF],
                                 [NAN, 1.0, 2.0]])
@pytest.mark.parametrize("label", [0, 1])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_of_a_row_holding_inf_is_nan_like_torch(row, label, smoothing, reduction):
    # torch: every logit of the row minus its +inf maximum is NaN, so the row's loss and all
    # its gradients are NaN (not 0 or inf); the other rows are unaffected
    x = np.array([row, [0.5, 1.0, 2.0]])

    def fn(lib, a, b):
        return F(lib).cross_entropy(a, b, reduction=reduction, label_smoothing=smoothing)

    _both_paths(fn, x, np.array([label, 2]))
    probs = np.array([[1.0, 0.0, 0.0], [0.25, 0.25, 0.5]])
    _both_paths(lambda lib, a, b: F(lib).cross_entropy(a, b, reduction=reduction), x, probs)


@pytest.mark.parametrize("shapes", [((0, 3), (0,)), ((2, 3, 0), (2, 0)), ((0, 3, 2), (0, 2))])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_class_losses_of_empty_batches_match_torch(shapes, reduction, smoothing):
    # regression: the fused cross-entropy's flat index reshaped (N, S) with -1, which fails
    # for an empty spatial size
    x_shape, t_shape = shapes
    x, t = np.zeros(x_shape), np.zeros(t_shape, dtype=np.int64)
    _both_paths(lambda lib, a, b: F(lib).cross_entropy(a, b, reduction=reduction,
                                                       label_smoothing=smoothing), x, t)
    _both_paths(lambda lib, a, b: F(lib).nll_loss(a, b, reduction=reduction), x, t)


def _upstream_parity(fn, x, t, upstream):
    """fn's value and input gradient for the upstream ``upstream`` (an array broadcast to the
    output) agree with torch's, NaN for NaN, through both backward paths."""
    xt = torch.tensor(x, requires_grad=True)
    yt = fn(torch, xt, torch.tensor(t))
    up = np.broadcast_to(upstream, tuple(yt.shape)).copy()
    (gt,) = torch.autograd.grad(yt, xt, torch.tensor(up))
    for create_graph in (False, True):
        xo = cr.tensor(x, requires_grad=True)
        yo = fn(cr, xo, cr.tensor(t))
        np.testing.assert_array_equal(yo._data, yt.detach().numpy())
        (go,) = cr.autograd.grad(yo, xo, cr.tensor(up), create_graph=create_graph)
        np.testing.assert_allclose(go._data, gt.numpy(), rtol=1e-12, equal_nan=True,
                                   err_msg=f"create_graph={create_graph}")


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", ["cross_entropy", "smoothed", "nll_loss"])
@pytest.mark.parametrize("upstream", [[INF, 1.0], [NAN, 1.0], [1.0, INF], [-INF, NAN]])
@pytest.mark.parametrize("first_row", [[0.5, 1.0, 2.0], [INF, 1.0, 2.0]])
def test_ignored_entries_take_no_gradient_even_from_inf_like_torch(name, upstream, first_row):
    # regression: an ignored entry's gradient was upstream * weight 0 = NaN for an inf or NaN
    # upstream; torch selects 0 there (and its loss is +0, not -0); an inf upstream of a kept
    # entry gives inf - inf = NaN at its target only, in both backward paths
    fns = {"cross_entropy": lambda lib, a, b: F(lib).cross_entropy(a, b, reduction="none"),
           "smoothed": lambda lib, a, b: F(lib).cross_entropy(a, b, reduction="none",
                                                              label_smoothing=0.1),
           "nll_loss": lambda lib, a, b: F(lib).nll_loss(a, b, reduction="none")}
    x = np.array([first_row, [1.0, -1.0, 0.0]])
    _upstream_parity(fns[name], x, np.array([-100, 1]), np.array(upstream))
    _upstream_parity(fns[name], x, np.array([2, 1]), np.array(upstream))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("tv", [-5e-324, 1e-320, 0.0, 1.0, INF, NAN, 1e300])
@pytest.mark.parametrize("upstream", [INF, -INF, 1.0])
def test_mse_gradient_is_torchs_formula_in_its_order(reduction, tv, upstream):
    # regression (found by the fuzzer): for 'mean', torch computes (2/n * (x - t)) * gy, so
    # a difference of 5e-324 underflows to 0 before an inf upstream meets it (NaN); composing
    # mean(diff * diff) gave (gy / n) * diff = inf
    x = np.zeros((1, 2, 2))
    t = np.full((1, 2, 2), tv)
    _upstream_parity(lambda lib, a, b: F(lib).mse_loss(a, b, reduction=reduction), x, t,
                     np.array(upstream))
    assert_parity(lambda lib, a, b: F(lib).mse_loss(a, b, reduction=reduction), x + 0.5, t,
                  second_order=True)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", ["binary_cross_entropy", "binary_cross_entropy_with_logits"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("upstream", [1e308, -1e308, 5e-324, INF, 1.0])
@pytest.mark.parametrize("weighted", [False, True])
def test_binary_losses_scale_the_gradient_in_torchs_order(name, reduction, upstream, weighted):
    # found by the fuzzer: torch multiplies the elementwise derivative by the upstream, then
    # by the weight, then divides by n ('mean'); dividing first (a composed mean) kept
    # 1e308 * 0.5 / 0.25 / 2 finite where torch's overflows to inf
    p, t = np.array([0.5, 0.5, 0.25]), np.array([0.0, 1.0, 0.5])
    w = np.array([3.0, 0.5, 1.0])

    def fn(lib, a, b):
        kw = dict(reduction=reduction, weight=lib.tensor(w) if weighted else None)
        return getattr(F(lib), name)(a, b, **kw)

    _upstream_parity(fn, p, t, np.array(upstream))


def test_binary_loss_weights_are_constants_like_torch():
    for name in ("weight", "pos_weight"):
        with pytest.raises(RuntimeError, match=f"not differentiable with respect to argument "
                                               f"'{name}'"):
            torch.nn.functional.binary_cross_entropy_with_logits(
                torch.zeros(2), torch.zeros(2), **{name: torch.ones(2, requires_grad=True)})
        with pytest.raises(RuntimeError, match=f"binary_cross_entropy_with_logits: the loss is "
                                               f"not differentiable with respect to {name}"):
            binary_cross_entropy_with_logits(cr.zeros(2), cr.zeros(2),
                                             **{name: cr.ones(2, requires_grad=True)})
    with pytest.raises(RuntimeError, match="binary_cross_entropy: the loss is not "
                                           "differentiable with respect to weight"):
        binary_cross_entropy(cr.full((2,), 0.5), cr.zeros(2), cr.ones(2, requires_grad=True))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_of_a_transposed_input_matches_torch(reduction, smoothing):
    # found by the fuzzer: the fused op subtracted the target's coefficient in place through
    # reshape(-1) of its saved softmax, a copy when the input (so the softmax) is F-ordered
    x = np.arange(12.0).reshape(4, 3).T / 7  # (3, 4), not C-contiguous
    t = np.array([0, 3, 1])
    _both_paths(lambda lib, a, b: F(lib).cross_entropy(a, b, reduction=reduction,
                                                       label_smoothing=smoothing), x, t)
    _both_paths(lambda lib, a, b: F(lib).cross_entropy(a.transpose(0, 1), b,
                                                       reduction=reduction),
                np.zeros((2, 2)), np.array([1, 0]))
