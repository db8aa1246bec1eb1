"""Tensor attributes, reprs, conversions, casts and the requires_grad rules."""
import numpy as np
import pytest

import chainrule as cr


def test_repr_like_torch():
    assert repr(cr.tensor([[1.0, 2.0]], requires_grad=True)) == \
        "tensor([[1., 2.]], requires_grad=True)"
    x = cr.tensor([1.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2.], grad_fn=<MulBackward>)"
    assert repr(cr.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(cr.tensor([1.0], dtype=cr.float64)) == "tensor([1.], dtype=float64)"


def test_attributes():
    x = cr.tensor([[1.0, 2.0, 3.0]], requires_grad=True)
    assert x.shape == (1, 3) and x.ndim == 2 and x.size() == (1, 3) and x.size(1) == 3
    assert x.numel() == 3 and x.dtype == cr.float32 and x.is_leaf
    assert x.T.shape == (3, 1) and not (x * 2).is_leaf
    assert x.detach().tolist() == [[1.0, 2.0, 3.0]] and not x.detach().requires_grad
    assert x.clone().grad_fn is not None
    assert x.float().dtype == np.float32 and x.double().dtype == np.float64
    assert x.astype(cr.float64).dtype == np.float64 and x.long().dtype == np.int64
    assert cr.tensor(5.0).item() == 5.0 and isinstance(x.detach().numpy(), np.ndarray)


def test_item_on_many_elements_raises():
    with pytest.raises(ValueError, match="3 elements"):
        cr.ones(3).item()


def test_numpy_on_requires_grad_raises():
    with pytest.raises(RuntimeError, match="detach"):
        cr.ones(2, requires_grad=True).numpy()


def test_only_float_tensors_require_grad():
    with pytest.raises(RuntimeError, match="floating point"):
        cr.tensor([1, 2], requires_grad=True)


def test_requires_grad_on_non_leaf_cannot_be_cleared():
    y = cr.ones(2, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf variables"):
        y.requires_grad_(False)


def test_clone_grad_flows_and_detach_cuts():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x.clone() * 2 + x.detach()).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


def test_setitem_bumps_version_and_refuses_in_graph():
    x = cr.zeros(3)
    x[1] = 5.0
    assert x.tolist() == [0.0, 5.0, 0.0] and x._version == 1
    y = cr.ones(3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="in-place"):
        y[0] = 1.0


def test_copy_shape_error():
    with pytest.raises(ValueError, match=r"\(3,\) cannot be broadcast to the destination "
                                         r"shape \(2,\)"):
        cr.zeros(2).copy_(cr.ones(3))


def test_iteration_len_bool():
    x = cr.tensor([1.0, 2.0])
    assert [t.item() for t in x] == [1.0, 2.0] and len(x) == 2
    with pytest.raises(RuntimeError, match="ambiguous"):
        bool(x)


def test_0d_results_are_ndarrays_not_numpy_scalars():
    x = cr.tensor(2.0, requires_grad=True)
    y = (x * 3 + 1).exp().sum()
    y.backward()
    for t in (x * 3, y, x.grad, cr.relu(x)):
        assert type(t.data) is np.ndarray and t.shape == ()
