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


def test_regression_unbroadcastable_shapes_raise():
    with pytest.raises(ValueError, match=r"mse_loss: input of shape \(4, 3\) and target of "
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
    theirs = torch.nn.functional.binary_cross_entropy(torch.tensor(p.data), torch.tensor(t.data),
                                                      reduction="none")
    assert loss.tolist() == theirs.tolist() == [100.0, 100.0, 0.0, 0.0]
    loss.sum().backward()
    assert np.isfinite(p.grad.data).all()


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
    assert np.isfinite(x.grad.data).all() and p.grad.dtype == np.float32
    np.testing.assert_allclose(p.grad.data, pt.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", ["weight", "pos_weight"])
def test_binary_weights_must_not_enlarge_the_input(name):
    """Regression: a weight of shape (4, 1) against an (4,) input silently made a (4, 4) loss;
    torch raises (the weights broadcast to the input's shape, never the input to theirs)."""
    kwargs = {name: cr.ones(4, 1)}
    with pytest.raises(ValueError, match=rf"binary_cross_entropy_with_logits: {name} of shape "
                                         rf"\(4, 1\) cannot be broadcast to the input shape "
                                         rf"\(4,\)"):
        binary_cross_entropy_with_logits(cr.zeros(4), cr.zeros(4), reduction="none", **kwargs)
    with pytest.raises(RuntimeError):  # torch agrees
        torch.nn.functional.binary_cross_entropy_with_logits(
            torch.zeros(4), torch.zeros(4), reduction="none", **{name: torch.ones(4, 1)})
    if name == "weight":
        with pytest.raises(ValueError, match=r"binary_cross_entropy: weight of shape \(2, 4\) "
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


def test_bce_rejects_values_outside_unit_interval():
    with pytest.raises(ValueError, match="binary_cross_entropy: all elements of input should "
                                         "be between 0 and 1"):
        binary_cross_entropy(cr.tensor([1.5]), cr.tensor([1.0]))


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
    theirs = torch.nn.functional.cross_entropy(torch.tensor(x.data), torch.tensor(y.data))
    assert np.isfinite(loss.item()) and loss.item() == pytest.approx(theirs.item())
    loss.backward()
    assert np.isfinite(x.grad.data).all()
    np.testing.assert_allclose(x.grad.data, [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-6)


def test_cross_entropy_all_ignored_gives_nan_and_zero_gradient_like_torch():
    x = cr.zeros(2, 3, requires_grad=True)
    loss = cross_entropy(x, cr.tensor([-100, -100]))
    xt = torch.zeros(2, 3, requires_grad=True)
    theirs = torch.nn.functional.cross_entropy(xt, torch.tensor([-100, -100]))
    assert np.isnan(loss.item()) and np.isnan(theirs.item())
    loss.backward()
    theirs.backward()
    np.testing.assert_array_equal(x.grad.data, xt.grad.numpy())
    assert not x.grad.data.any()


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
        results.append((loss.data, xt.grad.data))
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
