"""nn.Embedding, F.embedding and F.one_hot against torch 2.13: lookups of any index shape (0-d,
empty, int32/int64), weight gradients (an index-add; padding_idx rows get none,
scale_grad_by_freq divides by counts), second order, max_norm renormalisation in place,
from_pretrained, init, reprs and state_dict, float64 gradcheck/gradgradcheck, and the errors
torch raises (with its exception classes)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.testing import assert_parity, gradcheck, gradgradcheck

FAST = settings(max_examples=25, deadline=None)
# every test twice: the weight gradient's compiled row loop, then NumPy's add.at (the twin)
pytestmark = pytest.mark.usefixtures("kernel_mode")


def _emb(**kw):
    return lambda lib, idx, w: lib.nn.functional.embedding(idx, w, **kw)


def _emb_sq(**kw):  # not linear in the weight: a second derivative through it
    return lambda lib, idx, w: lib.nn.functional.embedding(idx, w, **kw) ** 2


# ============================================================================ F.embedding
@FAST
@given(idx_shape=st.lists(st.integers(0, 3), max_size=3), V=st.integers(1, 6),
       D=st.integers(1, 4), pad=st.one_of(st.none(), st.integers(-6, 5)),
       scale=st.booleans(), seed=st.integers(0, 2**16))
def test_embedding_matches_torch(idx_shape, V, D, pad, scale, seed):
    r = np.random.default_rng(seed)
    idx = r.integers(0, V, tuple(idx_shape))  # 0-d, empty and size-1 shapes included
    w = r.standard_normal((V, D))
    if pad is not None and not -V <= pad < V:
        pad = None
    assert_parity(_emb(padding_idx=pad, scale_grad_by_freq=scale), idx, w, second_order=True)
    # torch's double backward fails on empty indices (a reshape to (0, -1)): first order there
    assert_parity(_emb_sq(padding_idx=pad, scale_grad_by_freq=scale), idx, w,
                  second_order=idx.size > 0)


@pytest.mark.parametrize("dtype", [np.int32, np.int64])
def test_embedding_float32_and_int32_indices(dtype):
    r = np.random.default_rng(0)
    idx = r.integers(0, 7, (4, 5)).astype(dtype)
    w = r.standard_normal((7, 3)).astype(np.float32)
    assert_parity(_emb(padding_idx=2), idx, w)


def test_embedding_backward_is_an_index_add():
    r = np.random.default_rng(1)
    idx = r.integers(0, 50, (16, 40))
    w = cr.tensor(r.standard_normal((50, 8)), requires_grad=True)
    g = r.standard_normal((16, 40, 8))
    F.embedding(cr.tensor(idx), w).backward(cr.tensor(g))
    expected = np.zeros((50, 8))
    np.add.at(expected, idx.reshape(-1), g.reshape(-1, 8))
    np.testing.assert_allclose(w.grad.numpy(), expected, rtol=1e-12, atol=1e-12)


def test_padding_row_gets_no_gradient_even_from_an_inf_upstream():
    w = cr.tensor(np.ones((4, 2)), requires_grad=True)
    y = F.embedding(cr.tensor([0, 1, 0, 3]), w, padding_idx=0, scale_grad_by_freq=True)
    y.backward(cr.tensor([[np.inf, 1.0], [2.0, 2.0], [np.inf, 3.0], [4.0, 4.0]]))
    assert w.grad.tolist() == [[0.0, 0.0], [2.0, 2.0], [0.0, 0.0], [4.0, 4.0]]


def test_embedding_gradcheck_and_gradgradcheck_float64():
    r = np.random.default_rng(2)
    idx = cr.tensor(r.integers(0, 5, (3, 4)))
    w = cr.tensor(r.standard_normal((5, 3)), requires_grad=True)
    assert gradcheck(lambda w: F.embedding(idx, w), (w,))
    # the padding_idx gradient is no Jacobian (by design, as torch's), but its derivative is
    # exact; scale_grad_by_freq's is checked against torch's (test_embedding_matches_torch)
    for kw in (dict(), dict(padding_idx=1), dict(padding_idx=-1)):
        assert gradgradcheck(lambda w: F.embedding(idx, w, **kw) ** 2, (w,))
        assert gradgradcheck(lambda w: F.embedding(idx, w, **kw), (w,))


def test_node_names_match_torch():
    idx = [[1, 1], [0, 2]]
    names = []
    for lib in (cr, torch):
        w = lib.ones(3, 2, requires_grad=True)
        w = w.double() * 1 if lib is torch else w * 1  # a non-leaf weight
        y = lib.nn.functional.embedding(lib.tensor(idx), w)
        (g,) = lib.autograd.grad((y ** 2).sum(), w, create_graph=True)
        names.append((y.grad_fn.name(), g.grad_fn.name()))
    assert names[0] == names[1] == ("EmbeddingBackward0", "EmbeddingDenseBackwardBackward0")


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_max_norm_renormalises_the_picked_rows_in_place_as_torch(norm_type):
    r = np.random.default_rng(3)
    w0 = (r.standard_normal((6, 4)) * 2).astype(np.float32)
    idx = np.array([[0, 2, 2], [5, 1, 0]])
    wo, wt = cr.tensor(w0.copy(), requires_grad=True), torch.tensor(w0.copy(), requires_grad=True)
    yo = F.embedding(cr.tensor(idx), wo, max_norm=1.5, norm_type=norm_type)
    yt = torch.nn.functional.embedding(torch.tensor(idx), wt, max_norm=1.5, norm_type=norm_type)
    np.testing.assert_allclose(wo.detach().numpy(), wt.detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(wo.detach().numpy()[[3, 4]], w0[[3, 4]])  # rows not picked
    assert wo._version == 1 and not wo.grad_fn
    yo.sum().backward(), yt.sum().backward()
    np.testing.assert_allclose(wo.grad.numpy(), wt.grad.numpy())


def test_max_norm_twice_then_backward_is_no_version_error():
    """A second lookup renormalises the weight the first one used; the gradient never reads
    the weight's values, so backward works, as torch's."""
    emb = nn.Embedding(5, 3, max_norm=0.5)
    a = emb(cr.tensor([0, 1]))
    b = emb(cr.tensor([1, 2]))
    (a.sum() + b.sum()).backward()
    assert emb.weight.grad.tolist()[1] == [2.0, 2.0, 2.0]


def test_max_norm_rows_within_the_norm_are_untouched():
    w = cr.tensor([[0.3, 0.4], [3.0, 4.0]])
    F.embedding(cr.tensor([0]), w, max_norm=1.0)
    assert w._version == 0 and w.tolist()[1] == [3.0, 4.0]


# ============================================================================ nn.Embedding
@pytest.mark.parametrize("kw", [dict(), dict(padding_idx=0), dict(padding_idx=-2),
                                dict(scale_grad_by_freq=True), dict(max_norm=1.0),
                                dict(max_norm=2.0, norm_type=1.0)])
def test_module_matches_torch(kw):
    ours, theirs = nn.Embedding(7, 4, **kw), torch.nn.Embedding(7, 4, **kw)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict()) == ["weight"]
    idx = np.random.default_rng(4).integers(0, 7, (3, 5))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    xo, xt = cr.tensor(idx), torch.tensor(idx)
    for _ in range(2):  # max_norm changes the weight in the first step
        yo, yt = ours(xo), theirs(xt)
        np.testing.assert_allclose(yo.detach().numpy(), yt.detach().numpy(), atol=1e-6)
        ours.zero_grad(), theirs.zero_grad()
        v = np.random.default_rng(5).standard_normal(yo.shape).astype(np.float32)
        yo.backward(cr.tensor(v)), yt.backward(torch.tensor(v))
        np.testing.assert_allclose(ours.weight.grad.numpy(), theirs.weight.grad.numpy(),
                                   atol=1e-6)
        np.testing.assert_allclose(ours.weight.detach().numpy(),
                                   theirs.weight.detach().numpy(), atol=1e-6)


def test_reprs_match_torch():
    for args, kw in [((5, 3), dict(padding_idx=-1, max_norm=1.0, norm_type=1.0,
                                   scale_grad_by_freq=True)),
                     ((5, 3), dict(norm_type=2)), ((0, 3), dict())]:
        assert repr(nn.Embedding(*args, **kw)) == repr(torch.nn.Embedding(*args, **kw))


def test_init_is_standard_normal_with_the_padding_row_zeroed():
    emb = nn.Embedding(2000, 50, padding_idx=3)
    w = emb.weight.detach().numpy()
    assert w.dtype == np.float32 and emb.weight.requires_grad
    assert not w[3].any()
    rest = np.delete(w, 3, axis=0)
    assert abs(rest.mean()) < 0.01 and abs(rest.std() - 1) < 0.01
    assert nn.Embedding(3, 2, dtype=cr.float64).weight.dtype == np.float64


def test_embedding_in_a_model_trains():
    cr.manual_seed(0)
    model = nn.Sequential(nn.Embedding(10, 4, padding_idx=0), nn.Flatten(), nn.Linear(12, 2))
    opt = cr.optim.SGD(model.parameters(), lr=0.5)
    x, y = cr.tensor([[1, 2, 0], [3, 4, 0]]), cr.tensor([0, 1])
    losses = []
    for _ in range(20):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad(), loss.backward(), opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.1 * losses[0]
    assert not model[0].weight.detach().numpy()[0].any()  # the padding row stays zero


def test_from_pretrained_shares_freezes_and_keeps_the_padding_row():
    w = cr.ones(4, 3)
    emb = nn.Embedding.from_pretrained(w, padding_idx=1)
    t = torch.nn.Embedding.from_pretrained(torch.ones(4, 3), padding_idx=1)
    assert repr(emb) == repr(t) == "Embedding(4, 3, padding_idx=1)"
    assert not emb.weight.requires_grad and emb.weight.tolist()[1] == [1.0, 1.0, 1.0]
    w._data[0, 0] = 7.0  # shared, not copied (as torch's)
    assert emb.weight.tolist()[0][0] == 7.0
    assert nn.Embedding.from_pretrained(w, freeze=False).weight.requires_grad
    emb = nn.Embedding.from_pretrained(cr.tensor(np.arange(6.0).reshape(3, 2)), max_norm=1.0)
    assert emb.max_norm == 1.0 and emb(cr.tensor([0])).shape == (1, 2)


# ============================================================================ errors
def test_errors_match_torchs_classes():
    w = cr.randn(5, 3)
    cases = [  # (call, torch's exception class, our message)
        (lambda lib, w: lib.nn.functional.embedding(lib.tensor([1.0]), w), RuntimeError,
         "Expected tensor for argument #1 'indices' to have one of the following scalar types: "
         "Long, Int"),
        (lambda lib, w: lib.nn.functional.embedding(lib.tensor([5]), w), IndexError,
         r"embedding: index out of range in self: index 5 of input shape \(1,\) is not in "
         r"\[0, 5\) for weight of shape \(5, 3\)"),
        (lambda lib, w: lib.nn.functional.embedding(lib.tensor([-1]), w), IndexError,
         "index out of range in self"),
        (lambda lib, w: lib.nn.functional.embedding(lib.tensor([1]), w[0]), RuntimeError,
         r"'weight' must be 2-D \(num_embeddings, embedding_dim\), got weight of shape \(3,\)"),
        (lambda lib, w: lib.nn.functional.embedding(lib.tensor([1]), w, padding_idx=5),
         AssertionError, r"Padding_idx must be within num_embeddings \(padding_idx=5"),
        (lambda lib, w: lib.nn.functional.embedding(lib.tensor([1]), w, padding_idx=-6),
         AssertionError, "Padding_idx must be within num_embeddings"),
        (lambda lib, w: lib.nn.Embedding(5, 3, padding_idx=5), AssertionError,
         "Embedding: Padding_idx must be within num_embeddings"),
        (lambda lib, w: lib.nn.Embedding(5, 3, _weight=lib.zeros(4, 3)), AssertionError,
         r"Shape of weight does not match num_embeddings and embedding_dim: weight of shape "
         r"\(4, 3\), expected \(5, 3\)"),
        (lambda lib, w: lib.nn.Embedding.from_pretrained(lib.zeros(4)), AssertionError,
         "Embeddings parameter is expected to be 2-dimensional"),
        (lambda lib, w: lib.nn.Embedding(-1, 3), RuntimeError, "num_embeddings must be"),
    ]
    for call, cls, pattern in cases:
        with pytest.raises(cls):
            call(torch, torch.randn(5, 3))
        with pytest.raises(cls, match=pattern):
            call(cr, w)
    with pytest.raises(ValueError):  # and catchable as ValueError, as every op error
        F.embedding(cr.tensor([1]), w, padding_idx=9)


def test_sparse_gradients_are_refused_clearly():
    with pytest.raises(RuntimeError, match=r"Embedding: sparse=True .* is not supported.*use "
                                           r"sparse=False"):
        nn.Embedding(5, 3, sparse=True)
    with pytest.raises(RuntimeError, match="embedding: sparse=True"):
        F.embedding(cr.tensor([1]), cr.randn(5, 3), sparse=True)


# ============================================================================ one_hot
@FAST
@given(shape=st.lists(st.integers(0, 3), max_size=3), C=st.integers(1, 5),
       explicit=st.booleans(), seed=st.integers(0, 2**16))
def test_one_hot_matches_torch(shape, C, explicit, seed):
    a = np.random.default_rng(seed).integers(0, C, tuple(shape))
    if a.size == 0 and not explicit:
        return  # an error in both (tested below)
    nc = C if explicit else -1
    ours, theirs = F.one_hot(cr.tensor(a), nc), torch.nn.functional.one_hot(torch.tensor(a), nc)
    assert ours.dtype == np.int64 and not ours.requires_grad
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("values,nc,pattern", [
    (np.array([0, 2], np.int32), -1, "only applicable to index tensor of type LongTensor"),
    (np.array([0.0]), -1, "only applicable to index tensor of type LongTensor"),
    (np.array([-1, 2]), -1, "Class values must be non-negative"),
    (np.array([3, 2]), 3, r"Class values must be smaller than num_classes \(3\)"),
    (np.array([0]), 0, "Class values must be smaller than num_classes"),
    (np.array([0]), -2, "Class values must be smaller than num_classes"),
    (np.zeros(0, np.int64), -1, "Can not infer total number of classes from empty tensor"),
    (np.zeros(0, np.int64), 0, "Can not infer total number of classes from empty tensor"),
])
def test_one_hot_errors_as_torch(values, nc, pattern):
    with pytest.raises(RuntimeError):
        torch.nn.functional.one_hot(torch.from_numpy(values), nc)
    with pytest.raises(RuntimeError, match=pattern):
        F.one_hot(cr.tensor(values), nc)
