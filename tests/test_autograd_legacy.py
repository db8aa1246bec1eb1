"""PyTorch's older Tensor API, against PyTorch 2.13: the legacy constructors
(``Tensor(2, 3)``, ``FloatTensor([...])``...), ``type()``, ``t_``, ``numel``, ``dim``,
``element_size``, ``Size`` and ``inference_mode``."""
from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.testing.strategies import shapes

LEGACY = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor",
          "ShortTensor", "CharTensor", "ByteTensor", "BoolTensor"]
DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def same(ours, theirs):
    """Same shape, dtype and values (uninitialized memory aside: compare shapes only then)."""
    assert ours.shape == tuple(theirs.shape)
    assert ours.dtype == theirs.numpy().dtype
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


# ------------------------------------------------------------------------ legacy constructors
@pytest.mark.parametrize("data", [[1, 2], [1.5, -2.5], [[1, 2], [3, 4]], [True, False], (1, 2),
                                  [], range(3)])
def test_tensor_of_a_sequence_is_float32_like_torch(data):
    same(cr.Tensor(data), torch.Tensor(data))


@pytest.mark.parametrize("name", LEGACY)
@pytest.mark.parametrize("data", [[1, 0, 2], [1.5, -2.5], [[1, 2]], np.array([1, 2]),
                                  np.array([1.5, 2.5]), np.array([1.0, 0.0], np.float32)])
def test_typed_constructors_of_data_like_torch(name, data):
    if name in ("ByteTensor", "CharTensor", "ShortTensor") and np.any(np.asarray(data) < 0):
        return  # out of the range of the type: C's wraparound either way
    same(getattr(cr, name)(data), getattr(torch, name)(data))


@pytest.mark.parametrize("name", LEGACY + ["Tensor"])
@pytest.mark.parametrize("sizes", [(2, 3), (0,), (4,), (2, 0, 1), ()])
def test_constructors_of_sizes_like_torch(name, sizes):
    ours, theirs = getattr(cr, name)(*sizes), getattr(torch, name)(*sizes)
    assert ours.shape == tuple(theirs.shape) and ours.dtype == theirs.numpy().dtype
    assert getattr(cr, name)(cr.Size(sizes)).shape == tuple(getattr(torch, name)(
        torch.Size(sizes)).shape)


def test_constructor_sizes_may_be_numpy_integers_like_torch():
    assert cr.FloatTensor(np.int64(3)).shape == tuple(torch.FloatTensor(np.int64(3)).shape)
    assert cr.Tensor(2, np.int32(2)).shape == (2, 2)


def test_tensor_of_a_tensor_keeps_its_dtype_and_memory_like_torch():
    for lib in (cr, torch):
        x = lib.tensor([1, 2])
        y = lib.Tensor(x)
        assert y.dtype == x.dtype
        y[0] = 7
        assert x.tolist() == [7, 2]
        z = lib.LongTensor(x)  # the constructor's own dtype: shared too
        z[1] = 8
        assert x.tolist() == [7, 8]


def test_float_tensor_of_a_float32_array_shares_memory_like_torch():
    for lib in (cr, torch):
        a = np.zeros(2, np.float32)
        lib.FloatTensor(a)[0] = 1.0
        assert a.tolist() == [1.0, 0.0]
        b = np.zeros(2, np.float64)
        lib.FloatTensor(b)[0] = 1.0  # a cast: a copy
        assert b.tolist() == [0.0, 0.0]


def test_tensor_of_an_ndarray_wraps_it():
    # the one legacy form that differs from PyTorch (documented in Tensor's docstring):
    # chainrule's ops and tests wrap arrays as Tensor(array), so the dtype and memory stay;
    # torch.Tensor(array) casts to float32. FloatTensor(array) is PyTorch's result.
    a = np.array([1, 2])
    assert cr.Tensor(a).dtype == np.int64 and torch.Tensor(a).dtype == torch.float32
    assert cr.FloatTensor(a).dtype == np.float32
    same(cr.FloatTensor(np.array([1.0, 2.0])), torch.Tensor(np.array([1.0, 2.0])))


@pytest.mark.parametrize("make", [
    lambda lib: lib.Tensor(2.5),                      # a number that is not a size
    lambda lib: lib.Tensor(np.float64(2.5)),          # not with a legacy type either
    lambda lib: lib.FloatTensor(np.float64(2.5)),
    lambda lib: lib.Tensor("ab"),
    lambda lib: lib.Tensor(2, 3.0),                   # sizes must all be ints
    lambda lib: lib.Tensor([1, 2], [3]),
    lambda lib: lib.Tensor(True),                     # a bool is not a size
    lambda lib: lib.FloatTensor(lib.tensor([1, 2])),  # a Tensor of another dtype
    lambda lib: lib.LongTensor(lib.tensor([1.0], dtype=lib.float64)),
], ids=["float", "np-float-Tensor", "np-float", "str", "float-size", "two-lists", "bool",
        "long-into-float", "double-into-long"])
def test_constructor_type_errors_like_torch(make, request):
    with pytest.raises(TypeError):
        make(torch)
    if request.node.callspec.id == "np-float-Tensor":
        # cr.Tensor wraps a NumPy scalar, as any ndarray (see above)
        assert make(cr).ndim == 0 and make(cr).dtype == np.float64
        return
    with pytest.raises(TypeError):
        make(cr)


def test_negative_size_raises_runtime_error_like_torch():
    for lib in (cr, torch):
        with pytest.raises(RuntimeError, match="negative dimension"):
            lib.Tensor(-1)
        with pytest.raises(RuntimeError, match="negative dimension"):
            lib.FloatTensor(2, -3)


def test_legacy_constructor_dtypes_and_names():
    for name, dtype in zip(LEGACY, DTYPES):
        assert getattr(cr, name)().dtype == np.dtype(dtype) == getattr(torch, name)().numpy().dtype
        assert getattr(cr, name).__name__ == name
        assert getattr(cr, name)().shape == (0,)


# ------------------------------------------------------------------------ type()
@pytest.mark.parametrize("dtype", DTYPES)
def test_type_name_like_torch(dtype):
    assert cr.zeros(1, dtype=np.dtype(dtype)).type() == \
        torch.zeros(1, dtype=getattr(torch, dtype)).type()


@pytest.mark.parametrize("target", ["torch.DoubleTensor", "torch.LongTensor", "torch.BoolTensor",
                                    "DoubleTensor", "float64", "int32", "LongTensor-class"])
def test_type_casts_like_torch(target):
    x, t = cr.tensor([1.5, 0.0, -2.0]), torch.tensor([1.5, 0.0, -2.0])
    if target == "LongTensor-class":
        ours, theirs = x.type(cr.LongTensor), t.type(torch.LongTensor)
    elif "Tensor" in target:
        ours, theirs = x.type(target), t.type(target if "." in target else "torch." + target)
    else:
        ours, theirs = x.type(getattr(cr, target)), t.type(getattr(torch, target))
    same(ours, theirs)


def test_type_returns_self_for_its_own_dtype_and_is_differentiable():
    for lib in (cr, torch):
        x = lib.zeros(2)
        assert x.type(lib.float32) is x and x.type("torch.FloatTensor") is x
        w = lib.tensor([1.0, 2.0], requires_grad=True)
        y = w.type(lib.float64)
        assert y.requires_grad and y.grad_fn is not None
        (y * y).sum().backward()
        assert w.grad.tolist() == [2.0, 4.0] and w.grad.dtype == w.dtype


def test_type_errors_like_torch():
    for lib in (cr, torch):
        with pytest.raises(ValueError, match="invalid type: 'torch.Foo'"):
            lib.zeros(1).type("torch.Foo")
        with pytest.raises(RuntimeError):  # no CUDA here
            lib.zeros(1).type("torch.cuda.FloatTensor")


# ------------------------------------------------------------------------ t_
@pytest.mark.parametrize("shape", [(2, 3), (3,), (), (1, 4), (0, 2)])
def test_t_in_place_like_torch(shape):
    n = int(np.prod(shape))
    x, t = cr.arange(float(n)).reshape(shape), torch.arange(float(n)).reshape(shape)
    vx, vt = x._version, t._version
    assert x.t_() is x and t.t_() is t
    same(x, t)
    assert x.stride() == t.stride() and x.is_contiguous() == t.is_contiguous()
    assert x._version - vx == t._version - vt == 1


def test_t_errors_like_torch():
    for lib in (cr, torch):
        with pytest.raises(RuntimeError, match=r"t_\(\) expects a tensor with <= 2 dimensions"):
            lib.zeros(2, 2, 2).t_()
        w = lib.zeros(2, 3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            w.t_()
        with lib.no_grad():
            assert w.t_().shape == (3, 2)


# ------------------------------------------------------------------------ numel, dim, element_size
@settings(max_examples=30, deadline=None)
@given(shape=shapes(0, 4), dtype=st.sampled_from(DTYPES))
def test_numel_dim_element_size_like_torch(shape, dtype):
    x, t = cr.zeros(shape, dtype=np.dtype(dtype)), torch.zeros(shape, dtype=getattr(torch, dtype))
    assert (x.numel(), x.nelement(), x.dim(), x.ndimension(), x.element_size(), x.itemsize,
            x.nbytes) == (t.numel(), t.nelement(), t.dim(), t.ndimension(), t.element_size(),
                          t.itemsize, t.nbytes)
    assert cr.numel(x) == torch.numel(t)
    assert x.size() == t.size() and type(x.size()) is cr.Size


# ------------------------------------------------------------------------ Size
def test_size_is_a_tuple_like_torch_size():
    for lib in (cr, torch):
        s = lib.Size([2, 3, 4])
        assert isinstance(s, tuple) and s == (2, 3, 4) and s != [2, 3, 4]
        assert hash(s) == hash((2, 3, 4)) and len(s) == 3 and s[0] == 2 and s[-1] == 4
        assert s.numel() == 24 and lib.Size([]).numel() == 1 and lib.Size([2, 0]).numel() == 0
        for piece in (s[1:], s[::2], s + (5,), (5,) + s, s * 2, 2 * s, s[:0]):
            assert type(piece) is lib.Size
        assert s[1:] == (3, 4) and s * 2 == (2, 3, 4, 2, 3, 4) and s[:0] == ()
        assert (s.count(2), s.index(3)) == (1, 1)
        assert lib.Size() == () and lib.Size(np.array([2, 3])) == (2, 3)
        assert lib.Size([lib.tensor(3)]) == (3,)
        assert type(pickle.loads(pickle.dumps(s))) is lib.Size
        with pytest.raises(TypeError):
            lib.Size([2.5])


def test_size_repr():
    s = cr.Size([2, 3])
    assert repr(s) == str(s) == "chainrule.Size([2, 3])"  # torch: "torch.Size([2, 3])"
    assert repr(cr.Size([])) == "chainrule.Size([])"
    assert repr(torch.Size([2, 3])).replace("torch", "chainrule") == repr(s)


# ------------------------------------------------------------------------ inference_mode
def modes(lib):
    return lib.is_inference_mode_enabled(), lib.is_grad_enabled()


@pytest.mark.parametrize("lib", [cr, torch])
def test_inference_mode_context_manager(lib):
    a = lib.ones(2, requires_grad=True)
    with lib.inference_mode():
        y = a * 2
        made = lib.ones(2, requires_grad=True)  # a factory's flag is kept, as in torch
        assert modes(lib) == (True, False)
    assert not y.requires_grad and y.grad_fn is None and made.requires_grad
    assert modes(lib) == (False, True)


@pytest.mark.parametrize("lib", [cr, torch])
def test_inference_mode_nested_and_mode_false(lib):
    a = lib.ones(2, requires_grad=True)
    with lib.inference_mode():
        with lib.inference_mode(False):
            assert modes(lib) == (False, True)  # mode=False turns grad mode on
            assert (a * 2).requires_grad
        with lib.inference_mode(mode=True):
            assert modes(lib) == (True, False)
        assert modes(lib) == (True, False)
    with lib.no_grad():
        with lib.inference_mode(mode=False):
            assert modes(lib) == (False, True)
        assert modes(lib) == (False, False)
    assert modes(lib) == (False, True)


@pytest.mark.parametrize("lib", [cr, torch])
def test_inference_mode_decorators(lib):
    a = lib.ones(2, requires_grad=True)

    @lib.inference_mode()
    def called(t):
        return t * 2, modes(lib)

    @lib.inference_mode
    def bare(t):
        return t * 2, modes(lib)

    @lib.inference_mode(False)
    def off():
        return modes(lib)

    for fn in (called, bare):
        y, inside = fn(a)
        assert not y.requires_grad and inside == (True, False)
        assert fn.__name__ in ("called", "bare")
    with lib.inference_mode():
        assert off() == (False, True)
    assert modes(lib) == (False, True)


@pytest.mark.parametrize("lib", [cr, torch])
def test_inference_mode_restored_after_an_exception(lib):
    with pytest.raises(KeyError):
        with lib.inference_mode():
            raise KeyError
    with pytest.raises(KeyError):
        lib.inference_mode()(lambda: (_ for _ in ()).throw(KeyError()))()
    assert modes(lib) == (False, True)
    assert isinstance(lib.inference_mode().clone(), lib.inference_mode)
