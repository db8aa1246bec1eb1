"""``chainrule.nn.utils`` against ``torch.nn.utils``: gradient clipping by norm and by value,
and parameters as one flat vector and back."""
from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.testing import assert_parity
from chainrule.testing.strategies import arrays, shapes


def _params(lib: Any, grads: list[np.ndarray]) -> list[Any]:
    """One parameter per gradient array (zeros), with ``.grad`` set to a copy of it."""
    out = []
    for g in grads:
        p = lib.nn.Parameter(lib.tensor(np.zeros_like(g)))
        p.grad = lib.tensor(g.copy())
        out.append(p)
    return out


def _same(ours: Any, theirs: Any, rtol: float = 1e-6, atol: float = 1e-7) -> None:
    """Tensors (or lists of them) equal to torch's, with the same dtype."""
    if isinstance(ours, (list, tuple)):
        assert len(ours) == len(theirs)
        for o, t in zip(ours, theirs):
            _same(o, t, rtol, atol)
        return
    o, t = ours.detach().numpy(), theirs.detach().numpy()
    assert o.shape == t.shape and o.dtype == t.dtype, (o.shape, o.dtype, t.shape, t.dtype)
    np.testing.assert_allclose(o, t, rtol=rtol, atol=atol, equal_nan=True)


GRADS = [np.array([3.0, -4.0], np.float32),
         np.array([[1.0, 2.0], [-2.0, 0.5]], np.float32),
         np.array(-1.5, np.float32)]  # a 0-d gradient too


# ============================================================================ clip_grad_norm_
@pytest.mark.parametrize("norm_type", [2, 2.0, 1, 3.5, math.inf, -math.inf, 0, "inf"])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm):
    ours, theirs = _params(cr, GRADS), _params(torch, GRADS)
    grad_ids = [id(p.grad) for p in ours]
    total_o = nn.utils.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total_o, cr.Tensor) and total_o.ndim == 0
    _same(total_o, total_t)
    _same([p.grad for p in ours], [p.grad for p in theirs])
    assert [id(p.grad) for p in ours] == grad_ids  # scaled in place, as torch's mul_


@given(st.lists(shapes(max_side=3), min_size=1, max_size=3), st.data())
def test_clip_grad_norm_on_drawn_shapes_matches_torch(grad_shapes, data):
    grads = [data.draw(arrays(s, low=-3, high=3, transposed=False, dtype=np.float32))
             for s in grad_shapes]
    for norm_type in (2.0, 1.0, math.inf):
        ours, theirs = _params(cr, grads), _params(torch, grads)
        _same(nn.utils.clip_grad_norm_(ours, 1.0, norm_type),
              torch.nn.utils.clip_grad_norm_(theirs, 1.0, norm_type), rtol=1e-5)
        _same([p.grad for p in ours], [p.grad for p in theirs], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("foreach", [None, True, False])
def test_clip_grad_norm_accepts_foreach_and_single_tensors_and_iterators(foreach):
    for make in (list, iter, lambda ps: ps[0]):  # a list, a generator, one tensor
        ours, theirs = _params(cr, GRADS[:1]), _params(torch, GRADS[:1])
        _same(nn.utils.clip_grad_norm_(make(ours), 1.0, foreach=foreach),
              torch.nn.utils.clip_grad_norm_(make(theirs), 1.0, foreach=foreach))
        _same(ours[0].grad, theirs[0].grad)


def test_clip_grad_norm_of_a_model_after_backward():
    torch.manual_seed(0)
    theirs = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Tanh(), torch.nn.Linear(3, 2))
    ours = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 2))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    (ours(cr.tensor(x)) ** 2).sum().backward()
    (theirs(torch.tensor(x)) ** 2).sum().backward()
    _same(nn.utils.clip_grad_norm_(ours.parameters(), 0.1),
          torch.nn.utils.clip_grad_norm_(theirs.parameters(), 0.1), rtol=1e-5)
    _same([p.grad for p in ours.parameters()], [p.grad for p in theirs.parameters()],
          rtol=1e-5, atol=1e-7)
    norm = math.sqrt(sum(float((p.grad.detach().numpy().astype(np.float64) ** 2).sum())
                         for p in ours.parameters()))
    assert norm == pytest.approx(0.1, rel=1e-4)


def test_clip_grad_norm_skips_parameters_without_grad_and_returns_zero_for_none():
    _same(nn.utils.clip_grad_norm_([], 1.0), torch.nn.utils.clip_grad_norm_([], 1.0))
    no_grad_o, no_grad_t = nn.Parameter(cr.ones(2)), torch.nn.Parameter(torch.ones(2))
    _same(nn.utils.clip_grad_norm_([no_grad_o], 1.0),
          torch.nn.utils.clip_grad_norm_([no_grad_t], 1.0))
    assert no_grad_o.grad is None
    ours, theirs = _params(cr, GRADS[:1]) + [no_grad_o], _params(torch, GRADS[:1]) + [no_grad_t]
    _same(nn.utils.clip_grad_norm_(ours, 1.0), torch.nn.utils.clip_grad_norm_(theirs, 1.0))


def test_clip_grad_norm_keeps_the_dtype_and_promotes_mixed_dtypes_like_torch():
    grads = [GRADS[0].astype(np.float64), GRADS[1].astype(np.float64)]
    _same(nn.utils.clip_grad_norm_(_params(cr, grads), 1.0),
          torch.nn.utils.clip_grad_norm_(_params(torch, grads), 1.0))
    mixed = [GRADS[0], GRADS[1].astype(np.float64)]
    ours, theirs = _params(cr, mixed), _params(torch, mixed)
    _same(nn.utils.clip_grad_norm_(ours, 1.0), torch.nn.utils.clip_grad_norm_(theirs, 1.0))
    _same([p.grad for p in ours], [p.grad for p in theirs])


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_clip_grad_norm_with_a_nonfinite_gradient(bad):
    grads = [np.array([bad, 1.0], np.float32), np.array([2.0], np.float32)]
    ours, theirs = _params(cr, grads), _params(torch, grads)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no NumPy RuntimeWarning: torch gives none
        total_o = nn.utils.clip_grad_norm_(ours, 1.0)
    _same(total_o, torch.nn.utils.clip_grad_norm_(theirs, 1.0))
    _same([p.grad for p in ours], [p.grad for p in theirs])  # scaled by the non-finite norm
    ours, theirs = _params(cr, grads), _params(torch, grads)
    with pytest.raises(RuntimeError) as theirs_error:
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError) as ours_error:
        nn.utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    assert str(ours_error.value) == str(theirs_error.value)
    for p, g in zip(ours, grads):  # nothing was scaled
        np.testing.assert_array_equal(p.grad.numpy(), g)
    finite = _params(cr, GRADS)
    nn.utils.clip_grad_norm_(finite, 1.0, error_if_nonfinite=True)  # no error when finite


def test_get_total_norm_and_clip_grads_with_norm_match_torch():
    tensors = [GRADS[0], GRADS[1]]
    _same(nn.utils.get_total_norm([cr.tensor(g) for g in tensors], 3.0),
          torch.nn.utils.get_total_norm([torch.tensor(g) for g in tensors], 3.0))
    ours, theirs = _params(cr, tensors), _params(torch, tensors)
    nn.utils.clip_grads_with_norm_(ours, 2.0, cr.tensor(7.0))
    torch.nn.utils.clip_grads_with_norm_(theirs, 2.0, torch.tensor(7.0))
    _same([p.grad for p in ours], [p.grad for p in theirs])


# ============================================================================ clip_grad_value_
@pytest.mark.parametrize("clip_value", [0.0, 0.75, 2, 10.0, -1.0])
@pytest.mark.parametrize("foreach", [None, True, False])
def test_clip_grad_value_matches_torch(clip_value, foreach):
    grads = GRADS + [np.array([np.nan, np.inf, -np.inf], np.float32)]
    ours, theirs = _params(cr, grads), _params(torch, grads)
    grad_ids = [id(p.grad) for p in ours]
    assert nn.utils.clip_grad_value_(ours, clip_value, foreach=foreach) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value, foreach=foreach)
    _same([p.grad for p in ours], [p.grad for p in theirs])
    assert [id(p.grad) for p in ours] == grad_ids


def test_clip_grad_value_on_one_tensor_a_generator_and_float64():
    g = GRADS[1].astype(np.float64)
    (o,), (t,) = _params(cr, [g]), _params(torch, [g])
    nn.utils.clip_grad_value_(o, 1.0)
    torch.nn.utils.clip_grad_value_(t, 1.0)
    _same(o.grad, t.grad)
    ours, theirs = _params(cr, GRADS) + [nn.Parameter(cr.ones(2))], _params(torch, GRADS)
    nn.utils.clip_grad_value_((p for p in ours), 1.0)  # one without grad is skipped
    torch.nn.utils.clip_grad_value_((p for p in theirs), 1.0)
    _same([p.grad for p in ours[:-1]], [p.grad for p in theirs])
    assert ours[-1].grad is None


# ============================================================================ flat vectors
def test_parameters_to_vector_is_differentiable_and_matches_torch():
    a = np.random.default_rng(1).standard_normal((2, 3))
    b = np.random.default_rng(2).standard_normal(4)
    c = np.array(0.5)  # a 0-d parameter

    def fn(lib, x, y, z):
        return lib.nn.utils.parameters_to_vector([x, y, z]) * 2.0

    assert_parity(fn, a, b, c, second_order=True)
    model = nn.Linear(3, 2)
    vec = nn.utils.parameters_to_vector(model.parameters())
    assert vec.shape == (8,) and vec.requires_grad
    np.testing.assert_array_equal(vec.detach().numpy()[:6], model.weight.detach().numpy().ravel())


def test_vector_to_parameters_matches_torch_and_shares_memory():
    torch.manual_seed(0)
    theirs = torch.nn.Linear(3, 2)
    ours = nn.Linear(3, 2)
    values = np.arange(8, dtype=np.float32)
    vec_o, vec_t = cr.tensor(values.copy()), torch.tensor(values.copy())
    ids = [id(p) for p in ours.parameters()]
    assert nn.utils.vector_to_parameters(vec_o, ours.parameters()) is None
    torch.nn.utils.vector_to_parameters(vec_t, theirs.parameters())
    _same(list(ours.parameters()), list(theirs.parameters()))
    assert [id(p) for p in ours.parameters()] == ids  # the same Parameter objects
    assert all(p.requires_grad and isinstance(p, nn.Parameter) for p in ours.parameters())
    with cr.no_grad():
        vec_o[0] = 100.0  # as in torch, the parameters view vec
    vec_t[0] = 100.0
    _same(list(ours.parameters()), list(theirs.parameters()))
    round_trip = nn.utils.parameters_to_vector(ours.parameters())
    np.testing.assert_array_equal(round_trip.detach().numpy(), vec_o.numpy())
    longer = cr.tensor(np.arange(10, dtype=np.float32))  # the rest is ignored, as torch's
    nn.utils.vector_to_parameters(longer, ours.parameters())
    np.testing.assert_array_equal(ours.bias.detach().numpy(), [6.0, 7.0])


def test_vector_to_parameters_errors_and_changes_nothing():
    ours = nn.Linear(3, 2)
    before = [p.detach().numpy().copy() for p in ours.parameters()]
    with pytest.raises(TypeError, match="expected torch.Tensor, but got: ndarray"):
        nn.utils.vector_to_parameters(np.ones(8), ours.parameters())
    with pytest.raises(RuntimeError):  # torch: "shape '[2]' is invalid for input of size 1"
        torch.nn.utils.vector_to_parameters(torch.ones(7), torch.nn.Linear(3, 2).parameters())
    for bad in (cr.ones(7), cr.ones(2, 3)):
        with pytest.raises(ValueError, match=r"vector_to_parameters: vec of shape .* does not "
                                             r"fit the parameters \[\(2, 3\), \(2,\)\]"):
            nn.utils.vector_to_parameters(bad, ours.parameters())
        with pytest.raises(RuntimeError):  # an OpError is both, as torch raises RuntimeError
            nn.utils.vector_to_parameters(bad, ours.parameters())
    for p, b in zip(ours.parameters(), before):  # the weight was not replaced before the error
        np.testing.assert_array_equal(p.detach().numpy(), b)
    with pytest.raises(ValueError, match="expected a non-empty list of Tensors"):
        nn.utils.parameters_to_vector([])
