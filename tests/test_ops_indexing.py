"""Indexing (``x[index]``, its gradient and ``x[index] = value``) against PyTorch's rules.

PyTorch applies a Python int (or a 0-d integer tensor) first, as a select that removes the
dimension, so an int never counts as an advanced index: ``x[0, :, t]`` is ``x[0][:, t]``,
where NumPy would move the advanced dimension to the front. Every check here compares with
torch itself: values, gradients (repeated positions accumulate) and writes, and where torch
raises, the same exception class.
"""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import chainrule as cr
from chainrule.testing import gradcheck, gradgradcheck

LIBS = {"chainrule": cr, "torch": torch}


def _build(lib, spec):
    """The index that ``spec`` describes, for ``lib``: ("t", values, dtype) items become that
    library's tensors; lists, ints, slices, None, Ellipsis and bools stay as they are."""
    def item(s):
        if isinstance(s, list):
            return [item(i) for i in s]
        if isinstance(s, tuple) and s and s[0] == "t":
            values, dtype = s[1], s[2]
            return lib.tensor(np.asarray(values, dtype=dtype)) if lib is cr else \
                torch.from_numpy(np.asarray(values, dtype=dtype))
        return s
    is_tensor = isinstance(spec, tuple) and spec and spec[0] == "t"
    return tuple(item(s) for s in spec) if isinstance(spec, tuple) and not is_tensor \
        else item(spec)


def _run(lib, x, spec):
    """``x[index]`` for ``lib``, its gradient for the upstream ``arange``, and the tensor after
    writing ``-(1 + arange)`` at the index; or the exception class each step raised."""
    index = _build(lib, spec)
    t = (cr.tensor(x, requires_grad=True) if lib is cr else
         torch.tensor(x, requires_grad=True))
    try:
        y = t[index]
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        return type(e), None, None
    v = np.arange(y.numel(), dtype=x.dtype).reshape(tuple(y.shape))
    y.backward(lib.tensor(v) if lib is cr else torch.from_numpy(v))
    w = cr.tensor(x) if lib is cr else torch.tensor(x)
    written = np.asarray(-1 - v)
    w[index] = lib.tensor(written) if lib is cr else torch.from_numpy(written)
    grad = t.grad.numpy() if lib is torch else t.grad._data
    return np.array(y.detach().numpy()), np.array(grad), np.array(w.numpy())


def assert_index_like_torch(x, spec, write=True):
    ours, theirs = _run(cr, x, spec), _run(torch, x, spec)
    if isinstance(theirs[0], type):
        assert ours[0] is theirs[0], f"{spec}: chainrule gave {ours[0]}, torch raised {theirs[0]}"
        return
    assert not isinstance(ours[0], type), f"{spec}: chainrule raised {ours[0]}, torch did not"
    for name, a, b in zip(("value", "grad", "written"), ours, theirs):
        if name == "written" and not write:
            continue
        assert a.shape == b.shape, f"{spec}: {name} shape {a.shape} != torch's {b.shape}"
        np.testing.assert_array_equal(a, b, err_msg=f"{spec}: {name}")


# ---------------------------------------------------------------- the examples
def test_an_int_beside_an_integer_tensor_is_applied_first_as_in_torch():
    x = cr.tensor(np.arange(18.).reshape(2, 3, 3))
    assert x[0, :, cr.tensor([0, 1, 2])].tolist() == [[0, 1, 2], [3, 4, 5], [6, 7, 8]]
    assert cr.arange(24).reshape(2, 3, 4)[0, None, cr.tensor([0, 1])].shape == (1, 2, 4)


T01, T012 = ("t", [0, 1], np.int64), ("t", [0, 1, 2], np.int64)
ALL = slice(None)
CASES = {
    "int_slice_tensor": (0, ALL, T012),
    "int_none_tensor": (0, None, T01),
    "tensor_slice_int": (T01, ALL, 0),
    "int_tensor_tensor": (0, T01, T01),
    "tensor_int_tensor": (T01, 0, T01),
    "tensors_split_by_slice": (T01, ALL, T01),
    "tensors_split_by_none": (T01, None, T01),
    "int_ellipsis_tensor": (0, Ellipsis, T01),
    "zero_d_tensor_is_an_int": (("t", 1, np.int64), ALL, T01),
    "zero_d_int32_tensor": (ALL, ("t", -1, np.int32)),
    "list_beside_int": (0, ALL, [0, 2]),
    "nested_list": (0, [[0], [2]]),
    "mask_beside_int": (0, ALL, ("t", [True, False, True, True], np.bool_)),
    "mask_2d": (("t", [[True, False, True], [False, True, True]], np.bool_),),
    "mask_2d_then_tensor": (("t", [[True, False, True], [False, True, True]], np.bool_), T01),
    "uint8_tensor_is_a_mask": (("t", [1, 0], np.uint8),),
    "zero_d_bool_tensor": (0, ("t", True, np.bool_), T01),
    "python_true": (T01, True),
    "python_false": (0, False, ALL),
    "true_between": (0, True, T012),
    "repeated_with_int": (1, [2, 2, 0], ALL),
    "negative_ints_and_tensor": (-1, ALL, ("t", [-1, -4, 3], np.int64)),
    "broadcast_tensors": (("t", [[0], [1]], np.int64), ALL, T012),
    "empty_list": ([],),
    "empty_tensor_beside_int": (0, ("t", np.zeros(0), np.int64)),
    "size_0_result": (ALL, ("t", np.zeros((2, 0)), np.int64), 0),
    "list_of_zero_d_tensors": ([("t", 1, np.int64), ("t", 0, np.int64)],),
    "two_ellipses": (Ellipsis, 0, Ellipsis),
    "slice_steps": (slice(None, None, 2), None, slice(1, None), T01),
    # errors: the class torch raises
    "int_out_of_range": (2, ALL, T01),
    "tensor_out_of_range": (0, ALL, ("t", [0, 4], np.int64)),
    "negative_out_of_range": (0, ("t", [-4], np.int64)),
    "too_many_indices": (0, 0, 0, 0),
    "mask_of_the_wrong_size": (("t", [True, False, True], np.bool_),),
    "float_tensor": (("t", [0.0], np.float64),),
    "int8_tensor": (("t", [0], np.int8),),
    "shapes_do_not_broadcast": (T01, T012),
    "negative_step": (slice(None, None, -1),),
    "zero_step": (slice(None, None, 0),),
    "float": (0.5,),
    "numpy_bool": (np.bool_(True),),
}


@pytest.mark.filterwarnings("ignore:indexing with dtype torch.uint8:UserWarning")
@pytest.mark.parametrize("name", sorted(CASES))
def test_index_matches_torch(name):
    x = np.arange(24.0).reshape(2, 3, 4)
    assert_index_like_torch(x, CASES[name], write=name != "repeated_with_int")


def test_a_list_of_sequences_is_read_as_a_tuple_with_torch_s_warning():
    x = np.arange(24.0).reshape(2, 3, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert_index_like_torch(x, [[0, 1], [1, 2]])
        assert_index_like_torch(x, [0, ALL, [1, 2]])
    with pytest.warns(UserWarning, match="non-tuple sequence"):
        cr.zeros(2, 3)[[0, ALL]]


def test_index_errors_say_what_was_wrong():
    x = cr.zeros(2, 3)
    with pytest.raises(IndexError, match=r"\(2, 3\).*out of bounds"):
        x[0, cr.tensor([3])]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="long, int, byte or bool"):
        x[cr.tensor([0.0])]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1]
    with pytest.raises(ValueError, match="step must be greater than zero"):
        x[::-1] = 1.0
    with pytest.raises(ValueError, match=r"value of shape \(4,\) cannot be broadcast to the "
                                         r"indexed shape \(2,\)"):
        x[0, [0, 1]] = cr.ones(4)
    with pytest.raises(IndexError, match="out of bounds"):
        x[0, 5] = 1.0
    with pytest.raises(TypeError, match="str"):
        x["a"]


def test_repeated_indices_beside_an_int_accumulate_like_torch():
    x = np.arange(24.0).reshape(2, 3, 4)
    for lib in LIBS.values():
        t = lib.tensor(x, requires_grad=True)
        t[1, ALL, [3, 3, 0]].sum().backward()
        if lib is torch:
            expected = t.grad.numpy()
        else:
            got = t.grad._data
    np.testing.assert_array_equal(got, expected)
    assert got[1, 0, 3] == 2.0


def test_index_gradients_are_differentiable_twice():
    x = cr.tensor(np.random.default_rng(0).normal(size=(2, 3, 4)), requires_grad=True)
    f = lambda t: t[0, :, cr.tensor([[0, 3], [3, 1]])] * t[1, :, :2, None]  # noqa: E731
    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))


def test_advanced_results_are_contiguous_like_torch():
    x = np.arange(60.0).reshape(3, 4, 5)
    for spec in [(ALL, [0, 2]), (ALL, [0, 2], [1, 1]), (ALL, ALL, [0, 2])]:
        assert cr.tensor(x)[spec]._data.flags.c_contiguous
        assert torch.tensor(x)[spec].is_contiguous()


# ---------------------------------------------------------------- drawn indices
@st.composite
def index_specs(draw, shape):
    """An index for ``shape``: each indexed dimension gets an int, a slice, an integer tensor
    (shapes that broadcast), a list, a 0-d tensor or a bool mask, with an optional ``...`` and
    ``None``/``True``/``False`` inserted anywhere; mostly in range, sometimes not."""
    n = len(shape)
    m = draw(st.integers(0, n))
    ellipsis_at = draw(st.one_of(st.none(), st.integers(0, m)))
    broadcast = draw(st.sampled_from([(1,), (2,), (3,), (0,), (2, 1), (1, 3), (2, 3)]))
    out_of_range = draw(st.integers(0, 9)) == 0

    def value(size):
        lo, hi = (-size, size - 1) if size else (0, 0)
        v = draw(st.integers(lo, hi))
        return v + size + 1 if out_of_range or not size else v

    def items_for(sizes):
        items, k = [], 0
        while k < len(sizes):
            size = sizes[k]
            kind = draw(st.sampled_from(["int", "slice", "tensor", "tensor", "list", "zero_d",
                                         "mask", "mask2"]))
            if kind == "int":
                items.append(value(size))
            elif kind == "slice":
                start = draw(st.one_of(st.none(), st.integers(-4, 4)))
                stop = draw(st.one_of(st.none(), st.integers(-4, 4)))
                step = draw(st.one_of(st.none(), st.integers(1, 3)))
                items.append(slice(start, stop, step))
            elif kind in ("tensor", "list"):
                tshape = draw(st.sampled_from([broadcast, broadcast[-1:],
                                               (1,) * len(broadcast)]))
                vals = np.array([value(size) for _ in range(int(np.prod(tshape)))],
                                dtype=np.int64).reshape(tshape)
                items.append(("t", vals, np.int64) if kind == "tensor" else vals.tolist())
            elif kind == "zero_d":
                items.append(("t", value(size), np.int64))
            else:
                mshape = tuple(sizes[k:k + (2 if kind == "mask2" else 1)])
                bits = draw(st.lists(st.booleans(), min_size=int(np.prod(mshape)),
                                     max_size=int(np.prod(mshape))))
                items.append(("t", np.array(bits, dtype=bool).reshape(mshape), np.bool_))
                k += len(mshape) - 1
            k += 1
        return items

    if ellipsis_at is None:
        items = items_for(shape[:m])
    else:
        items = items_for(shape[:ellipsis_at]) + [Ellipsis] + \
            items_for(shape[n - (m - ellipsis_at):])
    for _ in range(draw(st.integers(0, 2))):
        extra = draw(st.sampled_from([None, None, True, False]))
        items.insert(draw(st.integers(0, len(items))), extra)
    if len(items) == 1 and draw(st.booleans()):
        return items[0]
    return tuple(items)


@given(data=st.data())
def test_drawn_indices_read_differentiate_and_write_like_torch(data):
    shape = data.draw(st.lists(st.integers(0, 3), min_size=1, max_size=4).map(tuple))
    x = np.arange(float(np.prod(shape))).reshape(shape)  # distinct values: layouts show
    spec = data.draw(index_specs(shape))
    with warnings.catch_warnings():  # a list holding lists is read as a tuple, with a warning
        warnings.simplefilter("ignore", UserWarning)
        y = _run(torch, x, spec)[0]
        # a write is defined only where no position repeats (then torch keeps any one value)
        unique = isinstance(y, type) or np.unique(y).size == y.size
        assert_index_like_torch(x, spec, write=unique)
