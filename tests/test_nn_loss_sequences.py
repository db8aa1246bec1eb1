"""Losses over sequences against PyTorch 2.13: cross_entropy / nll_loss on (N, C, d1, d2, ...)
with every option, smooth_l1 / huber / kl_div / cosine_embedding / margin_ranking losses and
cosine_similarity (values, gradients, second order, node names, warnings and errors), their
modules and reprs."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from chainrule.testing.strategies import away_from, broadcast_pairs

REDUCTIONS = ["mean", "sum", "none"]


def F(lib):
    return lib.nn.functional


def _quiet(fn):
    """``fn`` with PyTorch's and our UserWarnings silenced (tests of warnings are separate)."""
    def run(*args):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return fn(*args)
    return run


# ============================================================================ class losses
@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 3), c=st.integers(1, 4), extra=st.lists(st.integers(0, 3), max_size=3),
       reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(), ignore=st.booleans(),
       smoothing=st.sampled_from([0.0, 0.25]), seed=st.integers(0, 2 ** 16))
def test_cross_entropy_over_sequences_matches_torch(n, c, extra, reduction, weighted, ignore,
                                                    smoothing, seed):
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, c, *extra)) * 2
    y = r.integers(0, c, (n, *extra))
    if ignore and y.size:
        y.reshape(-1)[:: 2] = c - 1  # ignore_index = c - 1 below: some, maybe all, ignored
    w = r.uniform(0.5, 2, c)

    def fn(lib, a, b, cw):
        return F(lib).cross_entropy(a, b, cw if weighted else None, reduction=reduction,
                                    ignore_index=c - 1 if ignore else -100,
                                    label_smoothing=smoothing)

    assert_parity(fn, x, y, w, requires_grad=[True, False, False], second_order=True,
                  atol=1e-10, rtol=1e-8)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(0, 3), c=st.integers(1, 4), extra=st.lists(st.integers(0, 3), max_size=3),
       reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(), ignore=st.booleans(),
       seed=st.integers(0, 2 ** 16))
def test_nll_loss_over_sequences_matches_torch(n, c, extra, reduction, weighted, ignore, seed):
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, c, *extra))
    y = r.integers(0, c, (n, *extra))
    if ignore and y.size:
        y.reshape(-1)[1:: 2] = 0  # ignore_index = 0 below
    w = r.uniform(0.5, 2, c)

    def fn(lib, a, b, cw):
        return F(lib).nll_loss(a, b, cw if weighted else None, reduction=reduction,
                               ignore_index=0 if ignore else -100)

    assert_parity(fn, x, y, w, requires_grad=[True, False, False], second_order=True,
                  atol=1e-10, rtol=1e-8)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(0, 3), c=st.integers(1, 4), extra=st.lists(st.integers(0, 3), max_size=2),
       reduction=st.sampled_from(REDUCTIONS), weighted=st.booleans(),
       smoothing=st.sampled_from([0.0, 0.3]), seed=st.integers(0, 2 ** 16))
def test_cross_entropy_probability_targets_over_sequences_match_torch(n, c, extra, reduction,
                                                                     weighted, smoothing, seed):
    r = np.random.default_rng(seed)
    x = r.standard_normal((n, c, *extra)) * 2
    t = np.moveaxis(r.dirichlet(np.ones(c), (n, *extra)), -1, 1)  # (N, d..., C) -> (N, C, d...)
    w = r.uniform(0.5, 2, c)

    def fn(lib, a, b, cw):
        return F(lib).cross_entropy(a, b, cw if weighted else None, reduction=reduction,
                                    label_smoothing=smoothing)

    assert_parity(fn, x, t, w, requires_grad=[True, True, False], second_order=True,
                  atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sequence_cross_entropy_float32_modules_match_torch(reduction):
    # a language model's loss: logits (N, C, T) against tokens (N, T) with padding ignored
    r = np.random.default_rng(1)
    x = r.standard_normal((2, 5, 7)).astype(np.float32)
    y = r.integers(0, 5, (2, 7))
    y[1, 4:] = -100
    w = r.uniform(0.5, 2, 5).astype(np.float32)
    assert_parity(lambda lib, a, b, cw: lib.nn.CrossEntropyLoss(
        cw, reduction=reduction, label_smoothing=0.1)(a, b), x, y, w,
        requires_grad=[True, False, False], atol=1e-6)
    assert_parity(lambda lib, a, b, cw: lib.nn.NLLLoss(cw, reduction=reduction)(
        lib.log_softmax(a, 1), b), x, y, w, requires_grad=[True, False, False], atol=1e-6)


def test_class_losses_over_sequences_gradcheck():
    r = np.random.default_rng(2)
    x = cr.tensor(r.standard_normal((2, 3, 2, 2)), requires_grad=True)
    y = cr.tensor(r.integers(0, 3, (2, 2, 2)))
    y._data[0, 0, 0] = -100
    w = cr.tensor(r.uniform(0.5, 2, 3))
    for kw in ({}, {"label_smoothing": 0.2}, {"reduction": "none"}):
        assert gradcheck(lambda a: F(cr).cross_entropy(a, y, w, **kw), (x,))
        assert gradgradcheck(lambda a: F(cr).cross_entropy(a, y, w, **kw), (x,))
    assert gradgradcheck(lambda a: F(cr).nll_loss(a, y, w), (x,))


def test_class_loss_sequence_shape_errors_like_torch():
    x = cr.zeros(2, 3, 4)
    for bad in (cr.zeros(2, 5, dtype=cr.int64), cr.zeros(2, dtype=cr.int64),
                cr.zeros(3, 4, dtype=cr.int64)):
        with pytest.raises((RuntimeError, ValueError)):  # torch: either, by the shape
            torch.nn.functional.cross_entropy(torch.zeros(2, 3, 4), torch.from_numpy(bad._data))
        with pytest.raises(RuntimeError, match=r"input of\s+shape \(2, 3, 4\), got target of "
                                               r"shape " + repr(bad.shape).replace("(", r"\(")
                           .replace(")", r"\)")):
            F(cr).cross_entropy(x, bad)
    with pytest.raises(RuntimeError):  # ignore_index with probabilities
        torch.nn.functional.cross_entropy(torch.zeros(2, 3, 4), torch.zeros(2, 3, 4),
                                          ignore_index=1)
    with pytest.raises(RuntimeError, match="ignore_index is not supported"):
        F(cr).cross_entropy(x, cr.zeros(2, 3, 4), ignore_index=1)


# ============================================================================ smooth L1, Huber
ROBUST = [("smooth_l1_loss", "beta", [1.0, 0.5, 2.0, 0.0]),
          ("huber_loss", "delta", [1.0, 0.5, 2.0])]


def _robust(name, k_name, k, reduction):
    return lambda lib, a, b: getattr(F(lib), name)(a, b, reduction=reduction, **{k_name: k})


@pytest.mark.parametrize("name,k_name,ks", ROBUST)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_robust_losses_match_torch(name, k_name, ks, reduction):
    r = np.random.default_rng(3)
    x = (r.standard_normal((4, 5)) * 2).astype(np.float32)
    t = (r.standard_normal((4, 5)) * 2).astype(np.float32)
    x[0, :3] = t[0, :3] + np.array([0.5, -0.5, 0.0], np.float32)  # on the kinks (k=0.5), tie
    for k in ks:
        assert_parity(_robust(name, k_name, k, reduction), x, t, second_order=True, atol=1e-6)


@settings(max_examples=25, deadline=None)
@given(shapes=broadcast_pairs(max_dims=3), reduction=st.sampled_from(REDUCTIONS),
       k=st.sampled_from([0.3, 1.0, 2.5]), name=st.sampled_from(["smooth_l1_loss", "huber_loss"]),
       seed=st.integers(0, 2 ** 16))
def test_robust_losses_broadcast_like_torch(shapes, reduction, k, name, seed):
    r = np.random.default_rng(seed)
    x, t = r.standard_normal(shapes[0]) * 2, r.standard_normal(shapes[1]) * 2
    k_name = "beta" if name == "smooth_l1_loss" else "delta"
    assert_parity(_quiet(_robust(name, k_name, k, reduction)), x, t, second_order=True,
                  atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("name,k_name", [("smooth_l1_loss", "beta"), ("huber_loss", "delta")])
def test_robust_losses_at_the_kink_take_torchs_side(name, k_name):
    # |d| == k exactly: the linear piece's gradient (+-slope) and a second derivative of 0
    x = np.array([1.5, -0.5, 0.25, 3.0, 0.0])
    t = np.array([1.0, 0.0, 0.25, 0.0, 0.5])
    for reduction in REDUCTIONS:
        assert_parity(_robust(name, k_name, 0.5, reduction), x, t, second_order=True,
                      atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("name,k_name", [("smooth_l1_loss", "beta"), ("huber_loss", "delta")])
def test_robust_losses_gradcheck(name, k_name):
    r = np.random.default_rng(4)
    x = cr.tensor(away_from(r.standard_normal((3, 4)), (-0.7, 0.7)), requires_grad=True)
    t = cr.tensor(np.zeros((3, 4)), requires_grad=True)
    fn = getattr(F(cr), name)
    assert gradcheck(lambda a, b: fn(a, b, **{k_name: 0.7}), (x, t))
    assert gradgradcheck(lambda a, b: fn(a, b, reduction="sum", **{k_name: 0.7}), (x, t))


def test_robust_losses_node_names_and_empty_inputs_like_torch():
    for name in ("smooth_l1_loss", "huber_loss"):
        for reduction in REDUCTIONS:
            xs = [lib.zeros(2, 3, requires_grad=True) for lib in (cr, torch)]
            ours, theirs = (getattr(F(lib), name)(x, x.detach() + 1, reduction=reduction)
                            for lib, x in zip((cr, torch), xs))
            assert ours.grad_fn.name() == theirs.grad_fn.name()
            assert_parity(_robust(name, "beta" if "l1" in name else "delta", 1.0, reduction),
                          np.zeros((0, 3)), np.zeros((0, 3)))


@pytest.mark.parametrize("name", ["smooth_l1_loss", "huber_loss"])
def test_robust_losses_warn_and_refuse_sizes_like_torch(name):
    with pytest.warns(UserWarning, match=r"Using a target size \(\(4,\)\) that is different "
                                         r"to the input size \(\(4, 1\)\)"):
        ours = getattr(F(cr), name)(cr.zeros(4, 1), cr.ones(4))
    with pytest.warns(UserWarning, match=r"Using a target size"):
        theirs = getattr(F(torch), name)(torch.zeros(4, 1), torch.ones(4))
    assert ours.item() == theirs.item()
    with pytest.raises(RuntimeError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        getattr(F(torch), name)(torch.zeros(4, 3), torch.zeros(5))
    with pytest.raises(RuntimeError, match=rf"{name}: The size of tensor a \(3\) must match "
                                           r"the size of tensor b \(5\)"):
        getattr(F(cr), name)(cr.zeros(4, 3), cr.zeros(5))


def test_robust_loss_parameter_errors_like_torch():
    with pytest.raises(RuntimeError, match="negative values for beta"):
        F(torch).smooth_l1_loss(torch.zeros(2), torch.zeros(2), beta=-1.0)
    with pytest.raises(RuntimeError, match="smooth_l1_loss does not support negative values "
                                           r"for beta \(got beta=-1.0\)"):
        F(cr).smooth_l1_loss(cr.zeros(2), cr.zeros(2), beta=-1.0)
    for delta in (0.0, -1.0):
        with pytest.raises(RuntimeError, match="non-positive values for delta"):
            F(torch).huber_loss(torch.zeros(2), torch.zeros(2), delta=delta)
        with pytest.raises(RuntimeError, match="huber_loss does not support non-positive"):
            F(cr).huber_loss(cr.zeros(2), cr.zeros(2), delta=delta)
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        F(cr).smooth_l1_loss(cr.zeros(2), cr.zeros(2), reduction="avg")
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        F(torch).huber_loss(torch.zeros(2, 3), torch.zeros(2, 3), weight=torch.ones(3))
    with pytest.raises(ValueError, match=r"Weights and input must have the same size \(weight "
                                         r"of shape \(3,\), input of shape \(2, 3\)\)"):
        F(cr).huber_loss(cr.zeros(2, 3), cr.zeros(2, 3), weight=cr.ones(3))


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_weighted_huber_loss_matches_torch(reduction):
    r = np.random.default_rng(5)
    x, t, w = r.standard_normal((3, 4)) * 2, r.standard_normal((3, 4)), r.uniform(0, 2, (3, 4))
    assert_parity(lambda lib, a, b, c: F(lib).huber_loss(a, b, reduction, 1.5, c), x, t, w,
                  second_order=True, atol=1e-10)


def test_smooth_l1_legacy_flags_and_float32_promotion_like_torch():
    r = np.random.default_rng(6)
    x, t = r.standard_normal(5).astype(np.float32), r.standard_normal(5)
    assert_parity(lambda lib, a, b: F(lib).smooth_l1_loss(a, b), x, t)  # float64 result
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        loss = F(cr).smooth_l1_loss(cr.tensor(x), cr.tensor(x + 3), size_average=False)
    assert loss.item() == pytest.approx(5 * 2.5)


# ============================================================================ KL divergence
@pytest.mark.parametrize("reduction", ["batchmean", "sum", "none", "mean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_matches_torch(reduction, log_target):
    r = np.random.default_rng(7)
    logp = np.log(r.dirichlet(np.ones(5), (3, 4)))  # (N, T, C): a sequence of distributions
    q = r.dirichlet(np.ones(5), (3, 4))
    q[0, 0, :2] = 0.0  # zero target probabilities: t log t = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # log(0) for the log target
        t = np.log(q) if log_target else q
        requires = [True, log_target]  # d/dt at t = 0 is NaN without log_target, as torch
        assert_parity(_quiet(lambda lib, a, b: F(lib).kl_div(a, b, reduction=reduction,
                                                             log_target=log_target)),
                      logp, t, requires_grad=requires, second_order=True, atol=1e-10)


@settings(max_examples=20, deadline=None)
@given(shapes=broadcast_pairs(max_dims=3), reduction=st.sampled_from(["batchmean", "sum", "none"]),
       log_target=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_kl_div_shapes_match_torch(shapes, reduction, log_target, seed):
    r = np.random.default_rng(seed)
    x, t = r.standard_normal(shapes[0]), r.uniform(0.05, 1, shapes[1])
    assert_parity(lambda lib, a, b: F(lib).kl_div(a, b, reduction=reduction,
                                                  log_target=log_target),
                  x, np.log(t) if log_target else t, second_order=True, atol=1e-10)


def test_kl_div_warnings_errors_and_gradcheck():
    x, t = cr.zeros(2, 3), cr.full((2, 3), 1 / 3)
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F(cr).kl_div(x, t)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F(cr).kl_div(x, t, reduction="batchmean")
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        F(cr).kl_div(x, t, reduction="avg")
    with pytest.raises(ValueError, match="'avg' is not a valid value for reduction"):
        nn.KLDivLoss(reduction="avg")
    r = np.random.default_rng(8)
    a = cr.tensor(r.standard_normal((2, 3)), requires_grad=True)
    b = cr.tensor(r.uniform(0.1, 1, (2, 3)), requires_grad=True)
    for log_target in (False, True):
        fn = lambda u, v: F(cr).kl_div(u, v, reduction="batchmean", log_target=log_target)
        assert gradcheck(fn, (a, b)) and gradgradcheck(fn, (a, b))


def test_kl_div_of_empty_and_0d_inputs_like_torch():
    for shape in [(0, 3), ()]:
        x, t = np.zeros(shape), np.full(shape, 0.5)
        for reduction in ("batchmean", "sum", "none"):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # 0 / 0 for batchmean
                assert_parity(lambda lib, a, b: F(lib).kl_div(a, b, reduction=reduction), x, t)


# ============================================================================ cosine
@settings(max_examples=25, deadline=None)
@given(shapes=broadcast_pairs(max_dims=3), seed=st.integers(0, 2 ** 16),
       eps=st.sampled_from([1e-8, 0.5]), data=st.data())
def test_cosine_similarity_matches_torch(shapes, seed, eps, data):
    ndim = max(len(shapes[0]), len(shapes[1]))
    dim = data.draw(st.integers(-max(ndim, 1), max(ndim, 1) - 1))
    r = np.random.default_rng(seed)
    x1, x2 = r.standard_normal(shapes[0]), r.standard_normal(shapes[1])
    assert_parity(lambda lib, a, b: F(lib).cosine_similarity(a, b, dim, eps), x1, x2,
                  second_order=True, atol=1e-9, rtol=1e-7)


def test_cosine_similarity_of_tiny_and_zero_vectors_like_torch():
    # each norm clamped at eps for the value only: PyTorch 2.13's gradient, not the
    # clamped norm's
    x1 = np.array([[1e-9, 0.0, 0.0], [0.0, 0.0, 0.0], [1e-9, 2e-9, 0.0], [1.0, 2.0, 3.0]])
    x2 = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0], [1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    assert_parity(lambda lib, a, b: F(lib).cosine_similarity(a, b), x1, x2, rtol=1e-10)
    x = cr.tensor([[1.0, 2.0]], requires_grad=True)
    y = F(cr).cosine_similarity(x, cr.tensor([[2.0, 1.0]]))
    assert y.grad_fn.name() == "SumBackward1"


def test_cosine_similarity_dtypes_and_errors_like_torch():
    ints = np.ones((3, 4), np.int64)
    assert_parity(lambda lib, a, b: F(lib).cosine_similarity(a, b), ints,
                  np.ones((3, 4), np.float32), requires_grad=[False, True])
    with pytest.raises(RuntimeError, match="expected common dtype to be floating point"):
        F(torch).cosine_similarity(torch.ones(2, 2, dtype=torch.long), torch.ones(2, 2,
                                                                                  dtype=torch.long))
    with pytest.raises(RuntimeError, match="expected common dtype to be floating point, yet "
                                           "common dtype is int64"):
        F(cr).cosine_similarity(cr.tensor(ints), cr.tensor(ints))
    with pytest.raises(RuntimeError, match=r"cosine_similarity: The size of tensor a \(3\) "
                                           r"must match the size of tensor b \(2\)"):
        F(cr).cosine_similarity(cr.zeros(3, 4), cr.zeros(2, 4))
    with pytest.raises(IndexError):
        F(torch).cosine_similarity(torch.zeros(3, 4), torch.zeros(3, 4), dim=2)
    with pytest.raises(IndexError):
        F(cr).cosine_similarity(cr.zeros(3, 4), cr.zeros(3, 4), dim=2)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [0.0, 0.3, -0.5])
def test_cosine_embedding_loss_matches_torch(reduction, margin):
    r = np.random.default_rng(9)
    a, b = r.standard_normal((6, 4)), r.standard_normal((6, 4))
    a[0] = 0.0  # a zero vector: cosine 0
    y = np.array([1, -1, 1, -1, 0, -1])  # 0: no loss
    fn = lambda lib, u, v, t: F(lib).cosine_embedding_loss(u, v, t, margin, reduction=reduction)
    assert_parity(fn, a, b, y, second_order=True, atol=1e-10)
    assert_parity(fn, a.astype(np.float32), b.astype(np.float32), y.astype(np.float32),
                  requires_grad=[True, True, False], atol=1e-6)
    assert_parity(fn, a[1], b[1], np.array(-1), second_order=True, atol=1e-10)  # unbatched
    assert_parity(fn, a[:0], b[:0], y[:0])  # empty batch


def test_cosine_embedding_loss_errors_and_gradcheck():
    for t, x, msg in [(cr.ones(2, 2), cr.zeros(2, 3), "0D or 1D target tensor expected"),
                      (cr.ones(2), cr.zeros(2, 3, 1), r"1D target tensor expects 2D input "
                                                      r"tensors, but found inputs with sizes "
                                                      r"\(2, 3, 1\) and \(2, 3, 1\)"),
                      (cr.ones(()), cr.zeros(2, 3), "0D target tensor expects 1D input")]:
        with pytest.raises(RuntimeError, match=msg.split(",")[0]):
            F(torch).cosine_embedding_loss(torch.zeros(x.shape), torch.zeros(x.shape),
                                           torch.ones(t.shape))
        with pytest.raises(RuntimeError, match=msg):
            F(cr).cosine_embedding_loss(x, x, t)
    r = np.random.default_rng(10)
    a = cr.tensor(r.standard_normal((3, 4)), requires_grad=True)
    b = cr.tensor(r.standard_normal((3, 4)), requires_grad=True)
    y = cr.tensor([1, -1, 1])
    fn = lambda u, v: F(cr).cosine_embedding_loss(u, v, y, -0.9)  # margin below every cosine
    assert gradcheck(fn, (a, b)) and gradgradcheck(fn, (a, b))


# ============================================================================ ranking
@settings(max_examples=20, deadline=None)
@given(shapes=broadcast_pairs(max_dims=2), reduction=st.sampled_from(REDUCTIONS),
       margin=st.sampled_from([0.0, 0.5]), seed=st.integers(0, 2 ** 16))
def test_margin_ranking_loss_matches_torch(shapes, reduction, margin, seed):
    r = np.random.default_rng(seed)
    nd = max(len(s) for s in shapes)
    s1, s2 = ((1,) * (nd - len(s)) + tuple(s) for s in shapes)  # the same ndim, broadcasting
    x1, x2 = r.standard_normal(s1), r.standard_normal(s2)
    y = r.choice([-1.0, 1.0], s2)
    assert_parity(lambda lib, a, b, t: F(lib).margin_ranking_loss(a, b, t, margin,
                                                                  reduction=reduction),
                  x1, x2, y, second_order=True, atol=1e-10)


def test_margin_ranking_loss_errors_ties_and_gradcheck():
    # a tie at the hinge (-y (x1 - x2) + margin == 0): torch's clamp_min passes the gradient
    x1, x2, y = np.array([1.0, 0.0, 2.0]), np.array([0.5, 0.0, 1.0]), np.array([1, -1, 1])
    assert_parity(lambda lib, a, b, t: F(lib).margin_ranking_loss(a, b, t, 0.5), x1, x2, y)
    with pytest.raises(RuntimeError, match="All input tensors should have same dimension"):
        F(torch).margin_ranking_loss(torch.zeros(3), torch.zeros(3, 1), torch.ones(3))
    with pytest.raises(RuntimeError, match=r"margin_ranking_loss: All input tensors should have "
                                           r"same dimension but got sizes: input1: \(3,\), "
                                           r"input2: \(3, 1\), target: \(3,\)"):
        F(cr).margin_ranking_loss(cr.zeros(3), cr.zeros(3, 1), cr.ones(3))
    a = cr.tensor([0.3, -1.2, 2.0], dtype=cr.float64, requires_grad=True)
    b = cr.tensor([1.0, 0.4, -0.5], dtype=cr.float64, requires_grad=True)
    y = cr.tensor([1.0, -1.0, -1.0], dtype=cr.float64)
    fn = lambda u, v: F(cr).margin_ranking_loss(u, v, y, 0.2)
    assert gradcheck(fn, (a, b))


# ============================================================================ modules
MODULES = [("SmoothL1Loss", {}, 2), ("SmoothL1Loss", {"beta": 0.5}, 2),
           ("HuberLoss", {"delta": 2.0}, 2), ("KLDivLoss", {"reduction": "batchmean"}, 2),
           ("KLDivLoss", {"log_target": True, "reduction": "sum"}, 2),
           ("CosineEmbeddingLoss", {"margin": 0.2}, 3), ("MarginRankingLoss", {"margin": 1.0}, 3)]


@pytest.mark.parametrize("name,kwargs,arity", MODULES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_modules_match_torch(name, kwargs, arity, reduction):
    kwargs = {"reduction": reduction, **kwargs}
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    assert repr(ours) == repr(theirs)
    assert {k: getattr(ours, k) for k in kwargs} == {k: getattr(theirs, k) for k in kwargs}
    r = np.random.default_rng(11)
    if name == "CosineEmbeddingLoss":
        arrays = (r.standard_normal((4, 3)), r.standard_normal((4, 3)), np.array([1, -1, -1, 1]))
    elif name == "MarginRankingLoss":
        arrays = (r.standard_normal(4), r.standard_normal(4), np.array([1.0, -1.0, 1.0, 1.0]))
    elif name == "KLDivLoss":
        arrays = (np.log(r.dirichlet(np.ones(3), 4)), r.dirichlet(np.ones(3), 4))
        if kwargs.get("log_target"):
            arrays = (arrays[0], np.log(arrays[1]))
    else:
        arrays = (r.standard_normal((4, 3)), r.standard_normal((4, 3)))
    rg = [True, True] + [False] * (arity - 2)
    assert_parity(_quiet(lambda lib, *a: getattr(lib.nn, name)(**kwargs)(*a)), *arrays,
                  requires_grad=rg, atol=1e-10)


def test_loss_module_defaults_like_torch():
    for name in ("SmoothL1Loss", "HuberLoss", "KLDivLoss", "CosineEmbeddingLoss",
                 "MarginRankingLoss"):
        ours, theirs = getattr(nn, name)(), getattr(torch.nn, name)()
        assert repr(ours) == repr(theirs)
        public = {k: v for k, v in vars(theirs).items() if not k.startswith("_")}
        assert {k: getattr(ours, k) for k in public} == public
        assert list(ours.state_dict()) == []


# ============================================================================ CTC
def _ctc_case(r, T, N, C, S, repeats=False):
    lp = np.log(r.dirichlet(np.ones(C), (T, N)))  # (T, N, C) log-probabilities
    t = r.integers(1, C, (N, max(S, 1)))
    if repeats:
        t[:] = 1  # repeated labels need a blank between them: some entries infeasible
    return lp, t, r.integers(0, T + 1, N), r.integers(0, S + 1, N)


def _ctc_parity(lp, t, il, tl, **kw):
    """Values and gradients of ctc_loss equal torch's (NaN where torch's are), first order."""
    a, b = torch.tensor(lp, requires_grad=True), cr.tensor(lp, requires_grad=True)
    theirs = F(torch).ctc_loss(a, torch.tensor(t), torch.tensor(il), torch.tensor(tl), **kw)
    ours = F(cr).ctc_loss(b, cr.tensor(t), cr.tensor(il), cr.tensor(tl), **kw)
    tol = 1e-5 if lp.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ours._data, theirs.detach().numpy(), rtol=tol, atol=tol)
    assert ours.dtype == theirs.detach().numpy().dtype
    g = np.random.default_rng(0).standard_normal(tuple(theirs.shape)).astype(lp.dtype)
    (gt,) = torch.autograd.grad(theirs, a, torch.tensor(g))
    (go,) = cr.autograd.grad(ours, b, cr.tensor(g))
    np.testing.assert_allclose(go._data, gt.numpy(), rtol=tol, atol=tol)
    if kw.get("reduction") == "none" and not kw.get("zero_infinity") and lp.ndim == 3:
        assert ours.grad_fn.name() == theirs.grad_fn.name() == "CtcLossBackward0"


@settings(max_examples=30, deadline=None)
@given(T=st.integers(1, 6), N=st.integers(1, 3), C=st.integers(2, 4), S=st.integers(0, 3),
       repeats=st.booleans(), reduction=st.sampled_from(REDUCTIONS),
       zero_infinity=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_ctc_loss_matches_torch(T, N, C, S, repeats, reduction, zero_infinity, seed):
    lp, t, il, tl = _ctc_case(np.random.default_rng(seed), T, N, C, S, repeats)
    _ctc_parity(lp, t, il, tl, reduction=reduction, zero_infinity=zero_infinity)


def test_ctc_loss_blank_concatenated_targets_float32_and_unbatched_like_torch():
    r = np.random.default_rng(12)
    lp = np.log(r.dirichlet(np.ones(5), (8, 3)))
    t = np.array([[0, 1, 0], [3, 3, 1], [4, 0, 0]])  # blank=2 below; labels 0, 1, 3, 4
    il, tl = np.array([8, 7, 5]), np.array([3, 3, 1])
    for reduction in REDUCTIONS:
        _ctc_parity(lp, t, il, tl, blank=2, reduction=reduction)
        _ctc_parity(lp.astype(np.float32), t, il, tl, blank=2, reduction=reduction)
    flat = np.concatenate([t[b, :tl[b]] for b in range(3)])  # (sum(target_lengths),)
    _ctc_parity(lp, flat, il, tl, blank=2, reduction="none")
    for reduction in REDUCTIONS:  # unbatched (T, C), lengths as 0-d tensors
        _ctc_parity(lp[:, 0], t[0], np.array(8), np.array(3), blank=2, reduction=reduction)


def test_ctc_loss_module_and_first_order_only():
    ours, theirs = nn.CTCLoss(blank=1, zero_infinity=True), torch.nn.CTCLoss(blank=1,
                                                                               zero_infinity=True)
    assert repr(ours) == repr(theirs)
    assert (ours.blank, ours.reduction, ours.zero_infinity) == (1, "mean", True)
    lp = cr.tensor(np.log(np.full((3, 1, 3), 1 / 3)), requires_grad=True)
    loss = ours(lp, cr.tensor([[2]]), [3], [1])
    assert loss.item() == pytest.approx(theirs(torch.tensor(lp._data), torch.tensor([[2]]),
                                               [3], [1]).item())
    with pytest.raises(RuntimeError, match="CtcLossBackward0: CTCLoss has a first-order "
                                           "backward only"):  # torch has none either
        cr.autograd.grad(loss, lp, create_graph=True)


def test_ctc_loss_gradient_through_log_softmax_gradchecks():
    # PyTorch's gradient is right for log-probabilities from a log_softmax (as used)
    r = np.random.default_rng(13)
    x = cr.tensor(r.standard_normal((5, 2, 4)), requires_grad=True)
    t = cr.tensor([[1, 2, 2], [3, 1, 0]])
    fn = lambda a: F(cr).ctc_loss(a.log_softmax(2), t, [5, 4], [3, 2], reduction="sum")
    assert gradcheck(fn, (x,))


def test_ctc_loss_errors_like_torch():
    lp = np.log(np.full((5, 2, 4), 0.25))
    t = np.array([[1, 1, 0], [2, 3, 0]])
    cases = [([6, 3], [2, 2], {}, "Expected input_lengths to have value at most 5"),
             ([5, 3], [4, 2], {}, "Expected targets of shape"),
             ([5, 3, 1], [2, 2], {}, "input_lengths must be of size batch_size"),
             ([5, 3], [2, 2], {"blank": 4}, "blank must be in label range"),
             ([5, 3], [-1, 2], {}, "Expected target_lengths to have value at least 0")]
    for il, tl, kw, msg in cases:
        with pytest.raises(RuntimeError):
            F(torch).ctc_loss(torch.tensor(lp), torch.tensor(t), il, tl, **kw)
        with pytest.raises(RuntimeError, match=msg):
            F(cr).ctc_loss(cr.tensor(lp), cr.tensor(t), il, tl, **kw)
    with pytest.raises(RuntimeError, match="Expected targets to have size 4"):
        F(cr).ctc_loss(cr.tensor(lp), cr.tensor([1, 2, 3]), [5, 3], [2, 2])
