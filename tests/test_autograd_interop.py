"""Tensor's bridges to NumPy and other libraries, against PyTorch 2.13: ``.data`` (shared
memory, outside the graph, assignable), ``np.array``/``np.asarray`` of a tensor, the DLPack
protocol (``__dlpack__``, ``__dlpack_device__``, ``np.from_dlpack``, ``torch.from_dlpack``,
``cr.from_dlpack``), ``as_tensor`` and the tensor queries (``is_tensor``, ``numel``,
``is_floating_point``)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.testing.strategies import shapes


def both(values, dtype=np.float32, requires_grad=False):
    """The same values as a chainrule and a torch tensor (leaves)."""
    a = np.array(values, dtype=dtype)
    return (cr.tensor(a, requires_grad=requires_grad),
            torch.tensor(a, requires_grad=requires_grad))


# ------------------------------------------------------------------------ Tensor.data
def test_data_shares_memory_and_is_outside_the_graph():
    for lib_x in both([1.0, 2.0], requires_grad=True):
        d = lib_x.data
        assert d.requires_grad is False and d.is_leaf and d.grad_fn is None
        assert d.data_ptr() == lib_x.data_ptr()
        d[0] = 5.0  # a write through .data shows in the tensor
        assert lib_x.tolist() == [5.0, 2.0]
        assert lib_x.requires_grad  # unchanged


def test_data_of_a_non_leaf_is_a_detached_leaf():
    for x in both([1.0, 2.0], requires_grad=True):
        y = x * 2
        assert y.data.requires_grad is False and y.data.grad_fn is None
        assert y.data.tolist() == [2.0, 4.0]


def test_sgd_step_through_data_updates_the_parameter_like_torch():
    results = []
    for p in both([1.0, -2.0, 3.0], requires_grad=True):
        (p * p).sum().backward()
        version = p._version
        p.data.sub_(0.1 * p.grad.data)
        results.append((p.tolist(), p.requires_grad, p.is_leaf, p._version - version))
        (p * p).sum().backward()  # the graph still works on the updated values
        results.append(p.grad.tolist())
    np.testing.assert_allclose(results[0][0], results[2][0], rtol=1e-6)
    assert results[0][1:] == results[2][1:] == (True, True, 0)  # .data has its own version
    np.testing.assert_allclose(results[1], results[3], rtol=1e-6)


def test_assigning_data_swaps_the_values_like_torch():
    for lib in (cr, torch):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        z = lib.tensor([5.0, 6.0, 7.0], dtype=lib.float64)
        x.data = z  # any shape and float dtype; the memory is z's
        assert x.shape == (3,) and x.dtype == z.dtype and x.requires_grad
        z[0] = 9.0
        assert x.tolist() == [9.0, 6.0, 7.0]
        (x * 2).sum().backward()
        assert x.grad.tolist() == [2.0, 2.0, 2.0]


@pytest.mark.parametrize("lib", [cr, torch])
def test_assigning_data_errors_like_torch(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(TypeError):
        x.data = np.zeros(2)
    with pytest.raises(RuntimeError, match="floating point"):
        x.data = lib.tensor([1, 2])
    y = lib.tensor([1.0, 2.0])
    y.data = lib.tensor([1, 2])  # no grad: any dtype
    assert y.tolist() == [1, 2] and not y.is_floating_point()


# ------------------------------------------------------------------------ NumPy arrays
@pytest.mark.parametrize("lib", [cr, torch])
def test_np_array_copy_true_is_a_real_copy(lib):
    t = lib.tensor([1.0, 2.0])
    with warnings.catch_warnings():  # torch's __array__ lacks copy=: NumPy warns
        warnings.simplefilter("ignore", DeprecationWarning)
        a = np.array(t, copy=True)
    a[0] = 9.0
    assert t.tolist() == [1.0, 2.0] and a.dtype == np.float32


@pytest.mark.parametrize("lib", [cr, torch])
def test_np_asarray_shares_memory(lib):
    t = lib.tensor([1.0, 2.0])
    a = np.asarray(t)
    a[1] = 7.0
    assert t.tolist() == [1.0, 7.0]
    assert np.shares_memory(np.asarray(t), t.numpy())
    b = np.asarray(t, dtype=np.float64)  # another dtype: a copy
    assert b.dtype == np.float64 and not np.shares_memory(b, t.numpy())


def test_np_array_copy_false():
    # chainrule implements NumPy 2's __array__(dtype, copy): copy=False shares when it can and
    # raises NumPy's ValueError when a copy is needed. PyTorch 2.13's __array__ takes no copy=
    # argument, so NumPy raises for it even when no copy is needed (a documented difference:
    # no PyTorch program can rely on copy=False).
    t = cr.tensor([1.0, 2.0])
    a = np.array(t, copy=False)
    a[0] = 3.0
    assert t.tolist() == [3.0, 2.0]
    with pytest.raises(ValueError, match="Unable to avoid copy"):
        np.array(t, dtype=np.float64, copy=False)
    with pytest.raises(ValueError, match="Unable to avoid copy"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        np.array(torch.tensor([1.0, 2.0]), copy=False)


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("convert", [np.asarray, np.array, lambda t: np.array(t, copy=True)])
@pytest.mark.parametrize("lib", [cr, torch])
def test_numpy_of_a_tensor_requiring_grad_raises_like_torch(lib, convert):
    t = lib.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"Can't call numpy\(\) on Tensor that requires grad"):
        convert(t)
    assert convert(t.detach()).tolist() == [1.0, 2.0]


@settings(max_examples=25, deadline=None)
@given(shape=shapes(0, 3), dtype=st.sampled_from([np.float32, np.float64, np.int64, np.bool_]))
def test_np_asarray_matches_torch_on_shapes_and_dtypes(shape, dtype):
    a = (np.arange(int(np.prod(shape))).reshape(shape) % 3).astype(dtype)
    ours, theirs = np.asarray(cr.tensor(a)), np.asarray(torch.tensor(a))
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
    np.testing.assert_array_equal(ours, theirs)


# ------------------------------------------------------------------------ DLPack
def test_dlpack_device_is_the_cpu_like_torch():
    assert cr.zeros(2).__dlpack_device__() == torch.zeros(2).__dlpack_device__() == (1, 0)


@pytest.mark.parametrize("lib", [cr, torch])
def test_dlpack_refuses_a_tensor_requiring_grad(lib):
    t = lib.tensor([1.0], requires_grad=True)
    for export in (lambda: t.__dlpack__(), lambda: np.from_dlpack(t)):
        with pytest.raises(BufferError, match="require gradient"):
            export()
    assert np.from_dlpack(t.detach()).tolist() == [1.0]


@settings(max_examples=20, deadline=None)
@given(shape=shapes(0, 3),
       dtype=st.sampled_from([np.float32, np.float64, np.float16, np.int64, np.int32, np.uint8,
                              np.bool_]),
       transposed=st.booleans())
def test_dlpack_exports_share_memory(shape, dtype, transposed):
    base = np.asarray(np.arange(int(np.prod(shape))).reshape(shape) % 2, dtype=dtype)
    x = cr.from_numpy(base.T.copy().T if transposed else base.copy())
    for other in (np.from_dlpack(x), torch.from_dlpack(x)):
        assert tuple(other.shape) == x.shape
        assert np.asarray(other).tolist() == x.tolist()
        if x.numel():
            assert np.asarray(other).__array_interface__["data"][0] == x.data_ptr()
    t = torch.from_dlpack(x)
    if x.numel():
        first = (0,) * x.ndim
        t[first] = True if dtype is np.bool_ else 5  # torch writes, chainrule sees it
        assert x[first].item() == (True if dtype is np.bool_ else 5)
        assert t.stride() == x.stride()


def test_from_dlpack_imports_numpy_torch_chainrule_and_capsules():
    a = np.arange(3.0)
    t = cr.from_dlpack(a)
    t[0] = 7.0
    assert a.tolist() == [7.0, 1.0, 2.0] and t.dtype == np.float64
    pt = torch.arange(4, dtype=torch.int32)
    u = cr.from_dlpack(pt)
    u[1] = 9
    assert pt.tolist() == [0, 9, 2, 3] and u.dtype == np.int32 and not u.requires_grad
    x = cr.zeros(2, 3)
    y = cr.from_dlpack(x)
    assert y is not x and y.data_ptr() == x.data_ptr() and y.shape == (2, 3)
    ours = cr.from_dlpack(x.t().__dlpack__())  # a capsule, its strides kept
    theirs = torch.from_dlpack(torch.zeros(2, 3).t().__dlpack__())
    assert ours.stride() == theirs.stride() == (1, 3) and ours.data_ptr() == x.data_ptr()


def test_from_dlpack_errors():
    with pytest.raises(RuntimeError, match="__dlpack__"):
        cr.from_dlpack([1, 2])
    with pytest.raises(RuntimeError):  # as torch's
        torch.from_dlpack([1, 2])
    capsule = cr.zeros(2).__dlpack__()
    cr.from_dlpack(capsule)
    with pytest.raises(RuntimeError, match="consumed only once"):
        cr.from_dlpack(capsule)
    with pytest.raises(BufferError, match="require gradient"):
        cr.from_dlpack(torch.zeros(2, requires_grad=True))
    with pytest.raises(TypeError, match="unsupported dtype"):
        cr.from_dlpack(np.zeros(2, np.complex64))


def test_as_tensor_shares_memory_like_torch():
    for lib in (cr, torch):
        x = lib.tensor([1.0, 2.0])
        assert lib.as_tensor(x) is x
        a = np.zeros(3)
        t = lib.as_tensor(a)
        a[0] = 4.0
        assert t.tolist() == [4.0, 0.0, 0.0] and t.dtype == lib.float64
        c = lib.as_tensor(x, dtype=lib.float64)  # another dtype: a copy
        c[0] = 9.0
        assert x.tolist() == [1.0, 2.0] and c.dtype == lib.float64


# ------------------------------------------------------------------------ tensor queries
@pytest.mark.parametrize("lib", [cr, torch])
def test_is_tensor_numel_is_floating_point(lib):
    x = lib.zeros(2, 3)
    assert lib.is_tensor(x) and lib.is_tensor(lib.nn.Parameter(x))
    assert not lib.is_tensor(np.zeros(2)) and not lib.is_tensor([1.0]) and \
        not lib.is_tensor(1.0)
    assert lib.numel(x) == 6 and lib.numel(lib.tensor(1.0)) == 1 and \
        lib.numel(lib.zeros(2, 0)) == 0
    assert [lib.is_floating_point(lib.zeros(1, dtype=d)) for d in
            (lib.float16, lib.float32, lib.float64, lib.int64, lib.uint8, lib.bool)] == \
        [True, True, True, False, False, False]
    for fn in (lib.numel, lib.is_floating_point):
        with pytest.raises(TypeError, match="must be Tensor, not numpy.ndarray|not ndarray"):
            fn(np.zeros(2))


def test_utils_data_without_importing_it():
    import subprocess
    import sys

    code = ("import sys, chainrule as torch\n"
            "assert 'chainrule.data' not in sys.modules\n"
            "from chainrule.utils.data import DataLoader as D\n"
            "assert torch.utils.data.DataLoader is D\n"
            "print(torch.utils.data.TensorDataset.__name__)\n")
    code_lazy = ("import sys, chainrule as torch\n"
                 "loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset("
                 "torch.arange(4.0)), batch_size=2)\n"
                 "print([b[0].tolist() for b in loader])\n"
                 "try:\n    torch.utils.nope\nexcept AttributeError as e:\n    print(e)\n")
    outs = [subprocess.run([sys.executable, "-c", c], capture_output=True, text=True,
                           timeout=120) for c in (code, code_lazy)]
    assert [o.returncode for o in outs] == [0, 0], [o.stderr for o in outs]
    assert outs[0].stdout.strip() == "TensorDataset"
    assert outs[1].stdout.splitlines() == [
        "[[0.0, 1.0], [2.0, 3.0]]", "module 'chainrule.utils' has no attribute 'nope'"]
