"""Tensor attributes, reprs, conversions, casts and the requires_grad rules."""
import re

import numpy as np
import pytest

import chainrule as cr


def test_repr_like_torch():
    assert repr(cr.tensor([[1.0, 2.0]], requires_grad=True)) == \
        "tensor([[1., 2.]], requires_grad=True)"
    x = cr.tensor([1.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2.], grad_fn=<MulBackward0>)"
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
        assert type(t._data) is np.ndarray and t.shape == ()


torch = pytest.importorskip("torch")


def test_bitwise_operators_on_integers_like_torch():
    a, b = [6, 3, -1], [3, 5, 2]
    for op in ("__and__", "__or__", "__xor__"):
        ours = getattr(cr.tensor(a), op)(cr.tensor(b))
        theirs = getattr(torch.tensor(a), op)(torch.tensor(b))
        assert ours.dtype == np.int64 and ours.tolist() == theirs.tolist()
    assert (~cr.tensor(a)).tolist() == (~torch.tensor(a)).tolist() == [-7, -4, 0]
    assert (cr.tensor(a) & 1).tolist() == (torch.tensor(a) & 1).tolist()
    assert (6 | cr.tensor(b)).tolist() == (6 | torch.tensor(b)).tolist()


def test_bitwise_operators_on_bools_and_floats():
    m, n = cr.tensor([True, False, True]), cr.tensor([True, True, False])
    assert (m & n).tolist() == [True, False, False] and (m | n).tolist() == [True, True, True]
    assert (m ^ n).tolist() == [False, True, True] and (~m).tolist() == [False, True, False]
    assert (True & m).tolist() == [True, False, True] and (m ^ True).dtype == np.bool_
    with pytest.raises(TypeError, match="invert"):
        ~cr.tensor([1.0])
    with pytest.raises(TypeError, match="bitwise_and: only integer and bool"):
        cr.tensor([1.0]) & cr.tensor([1.0])
    with pytest.raises(ValueError, match=r"bitwise_or.*shapes \(2,\) and \(3,\)"):
        cr.tensor([1, 2]) | cr.tensor([1, 2, 3])


def test_format_of_0d_tensor_is_its_value():
    assert f"{cr.tensor(1.2345):.2f}" == f"{torch.tensor(1.2345):.2f}" == "1.23"
    assert f"{cr.tensor(3):d}" == "3" and f"{cr.tensor(1.5)}" == f"{torch.tensor(1.5)}"
    assert f"{cr.tensor([1.0])}" == "tensor([1.])"


def test_comparison_with_unsupported_operands():
    x = cr.tensor([1.0, 2.0])
    assert (x == None) is False and (x != None) is True  # noqa: E711
    assert (x == "a") is False and x not in (None, "a")
    with pytest.raises(TypeError, match="not supported"):
        x < None  # noqa: B015
    assert (x == 2).tolist() == [False, True]


def test_index_from_single_element_integer_tensor():
    assert [10, 20, 30][cr.tensor([1])] == [10, 20, 30][torch.tensor([1])] == 20
    with pytest.raises(TypeError, match="single element"):
        [1, 2][cr.tensor([1.0])]


def test_to_accepts_device_and_keywords():
    x = cr.tensor([1, 2])
    assert x.to("cpu") is x and x.to(device="cpu", dtype=cr.float64).dtype == np.float64
    assert x.to("cpu", cr.float32).dtype == np.float32 and x.to(torch.device("cpu")) is x
    assert x.to(cr.tensor([1.0])).dtype == np.float32
    c = x.to("cpu", copy=True)
    assert c is not x and c.tolist() == [1, 2]
    with pytest.raises(RuntimeError, match="only the 'cpu' device"):
        x.to("cuda")


def test_to_with_device_stays_differentiable():
    from chainrule.testing import gradcheck

    x = cr.tensor([0.5, -1.5, 2.0], dtype=cr.float64, requires_grad=True)
    assert gradcheck(lambda t: t.to("cpu", cr.float64) * t.to(dtype=cr.float64), (x,))


def test_setitem_errors_and_values():
    x = cr.zeros(3, 4)
    x[:, 1] = cr.tensor([7.0, 8.0, 9.0])  # broadcast into the column
    x[0] = cr.tensor([[1.0, 2.0, 3.0, 4.0]])  # leading 1 dropped, as torch
    t = torch.zeros(3, 4)
    t[:, 1] = torch.tensor([7.0, 8.0, 9.0])
    t[0] = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    assert x.tolist() == t.tolist()
    with pytest.raises(TypeError, match="can't assign a NoneType"):
        x[0] = None  # used to write NaN
    with pytest.raises(ValueError, match=r"value of shape \(3,\) cannot be broadcast to the "
                                         r"indexed shape \(4,\) \(tensor of shape \(3, 4\)\)"):
        x[0] = cr.ones(3)
    with pytest.raises(IndexError, match=r"invalid index 5 for a tensor of shape \(3, 4\)"):
        x[5] = 1.0


def test_inplace_write_of_a_value_requiring_grad_is_refused_not_silently_detached():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    x = cr.zeros(2, 2)
    for write in (lambda: x.__setitem__(0, w), lambda: x[0].copy_(w), lambda: x.add_(w),
                  lambda: x.fill_(w.sum())):
        with pytest.raises(RuntimeError, match="gradient would be lost"):
            write()
    with cr.no_grad():
        x[0] = w
        x.add_(w)
    x[1] = w.detach()
    assert x.tolist() == [[2.0, 4.0], [1.0, 2.0]] and not x.requires_grad


def test_inplace_dtype_and_shape_errors_are_clear():
    with pytest.raises(RuntimeError, match="result type float32 can't be cast to the desired "
                                           "output type int64"):
        cr.tensor([1, 2]).add_(1.5)
    with pytest.raises(RuntimeError, match="result type float32 can't be cast"):
        cr.tensor([1, 2]).div_(2)
    with pytest.raises(ValueError, match=r"value of shape \(2, 3\) cannot be broadcast to the "
                                         r"tensor's shape \(3,\)"):
        cr.ones(3).add_(cr.ones(2, 3))
    with pytest.raises(RuntimeError, match="0-dimension"):
        cr.ones(3).fill_(cr.tensor([4.0]))
    assert cr.ones(3).fill_(cr.tensor(4.0)).tolist() == [4.0] * 3


def test_getitem_repeated_indices_accumulate_gradient():
    from chainrule.testing import gradcheck

    x = cr.tensor(np.arange(6.0).reshape(2, 3), dtype=cr.float64, requires_grad=True)
    idx = cr.tensor([0, 0, 1, 0])
    (x[:, idx] * cr.tensor([1.0, 2.0, 3.0, 4.0], dtype=cr.float64)).sum().backward()
    t = torch.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    (t[:, torch.tensor([0, 0, 1, 0])] * torch.tensor([1.0, 2.0, 3.0, 4.0],
                                                      dtype=torch.float64)).sum().backward()
    assert x.grad.tolist() == t.grad.tolist() == [[7.0, 3.0, 0.0], [7.0, 3.0, 0.0]]
    assert gradcheck(lambda a: a[:, idx], (x,))


@pytest.mark.parametrize("name", ["eq", "ne", "lt", "le", "gt", "ge"])
def test_comparison_methods_as_torch(name):
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    b = np.array([2.0, 2.0, 2.0])
    for other, t_other in ((cr.tensor(b), torch.tensor(b)), (2, 2), (2.5, 2.5)):
        ours = getattr(cr.tensor(a), name)(other)
        ref = getattr(torch.tensor(a), name)(t_other)
        assert ours.dtype == np.bool_ and ours.tolist() == ref.tolist()
    assert getattr(cr.tensor(a), name)(other=2).tolist() == \
        getattr(torch.tensor(a), name)(other=2).tolist()


# ---------------------------------------------------------------- dtypes torch has no tensor of
UNSUPPORTED = {
    "longdouble": np.ones(2, np.longdouble),
    "complex64": np.ones(2, np.complex64),
    "clongdouble": np.ones(2, np.clongdouble),
    "str": np.array(["a", "b"]),
    "object": np.array([None, 1.0], dtype=object),
    "datetime": np.ones(2, "datetime64[s]"),
}


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_arrays_of_dtypes_torch_lacks_are_refused_wherever_they_enter(name):
    a = UNSUPPORTED[name]
    for convert in (cr.tensor, cr.as_tensor, cr.from_numpy, cr.Tensor,
                    lambda a: cr.ones(2) + a, lambda a: cr.tensor([a[0], a[1]])):
        with pytest.raises(TypeError, match="unsupported (dtype|operand)"):
            convert(a)


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_casting_to_a_dtype_torch_lacks_is_refused(name):
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for convert in (x.to, x.astype, lambda dt: cr.ops.cast(x, dt)):
        with pytest.raises(TypeError, match="unsupported dtype"):
            convert(UNSUPPORTED[name].dtype)


def test_the_dtype_error_lists_the_supported_dtypes():
    with pytest.raises(TypeError, match=r"numpy\.longdouble.*float64, float32, float16"):
        cr.Tensor(np.ones(1, np.longdouble))
    for dt in (np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
               np.uint8, np.uint16, np.uint32, np.uint64, np.bool_):
        assert cr.from_numpy(np.ones(2, dt)).dtype == dt  # what torch.from_numpy accepts


# ---------------------------------------------------------------- .grad keeps shape and dtype
@pytest.mark.parametrize("value, error, message", [
    (lambda: cr.zeros(1), RuntimeError, "gradient of size '[1]' to a tensor of size '[3]'"),
    (lambda: cr.zeros(2, 3), RuntimeError, "gradient of size '[2, 3]'"),
    (lambda: cr.zeros(3, dtype=cr.float64), RuntimeError, "gradient with dtype 'float64' to a "
                                                          "tensor with dtype 'float32'"),
    (lambda: cr.zeros(3, dtype=cr.int64), RuntimeError, "gradient with dtype 'int64'"),
    (lambda: 3.0, TypeError, "assigned grad expected to be a Tensor or None but got grad of "
                             "type float"),
], ids=["smaller", "larger", "float64", "int64", "number"])
def test_assigning_a_grad_of_another_shape_or_dtype_is_refused_like_torch(value, error,
                                                                          message):
    x = cr.ones(3, requires_grad=True)
    with pytest.raises(error, match=re.escape(message)):
        x.grad = value()
    assert x.grad is None
    x.grad = cr.full((3,), 2.0)  # the right shape and dtype, or None, are kept
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0, 5.0]
    x.grad = None
    assert x.grad is None
