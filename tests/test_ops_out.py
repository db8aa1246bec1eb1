"""The ``out=`` argument of the ops, against PyTorch 2.13: the result written into ``out`` and
``out`` returned; an ``out`` of another shape resized (with PyTorch's UserWarning unless it
was empty); ``out`` keeps its dtype (a result that cannot be cast is refused); ``out=``
refused while grad mode is on when an input or ``out`` requires grad."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule.testing.strategies import broadcast_pairs

RNG = np.random.default_rng(0)
A = RNG.normal(size=(2, 3)).astype(np.float32)
B = RNG.normal(size=(3,)).astype(np.float32)
M = RNG.normal(size=(3, 4)).astype(np.float32)
POS = np.abs(A) + 0.5
I = np.array([[1, -2, 3], [4, 5, -6]], dtype=np.int64)
C = A > 0

# name, the call (lib, inputs..., out) -> result, the input arrays
CASES = {
    "add": (lambda lib, a, b, out: lib.add(a, b, out=out), (A, B)),
    "add-alpha": (lambda lib, a, b, out: lib.add(a, b, alpha=2, out=out), (A, B)),
    "sub": (lambda lib, a, b, out: lib.sub(a, b, out=out), (A, B)),
    "mul": (lambda lib, a, b, out: lib.mul(a, b, out=out), (A, B)),
    "div": (lambda lib, a, b, out: lib.div(a, b, out=out), (A, POS[0])),
    "pow": (lambda lib, a, out: lib.pow(a, 2, out=out), (A,)),
    "exp": (lambda lib, a, out: lib.exp(a, out=out), (A,)),
    "log": (lambda lib, a, out: lib.log(a, out=out), (POS,)),
    "sqrt": (lambda lib, a, out: lib.sqrt(a, out=out), (POS,)),
    "tanh": (lambda lib, a, out: lib.tanh(a, out=out), (A,)),
    "sigmoid": (lambda lib, a, out: lib.sigmoid(a, out=out), (A,)),
    "abs": (lambda lib, a, out: lib.abs(a, out=out), (A,)),
    "neg": (lambda lib, a, out: lib.neg(a, out=out), (A,)),
    "sum-dim": (lambda lib, a, out: lib.sum(a, 1, out=out), (A,)),
    "sum-keepdim": (lambda lib, a, out: lib.sum(a, 0, keepdim=True, out=out), (A,)),
    "sum-int": (lambda lib, a, out: lib.sum(a, 1, out=out), (I,)),
    "mean-dim": (lambda lib, a, out: lib.mean(a, 1, out=out), (A,)),
    "amax": (lambda lib, a, out: lib.amax(a, 0, out=out), (A,)),
    "logsumexp": (lambda lib, a, out: lib.logsumexp(a, 1, out=out), (A,)),
    "matmul": (lambda lib, a, b, out: lib.matmul(a, b, out=out), (A, M)),
    "mm": (lambda lib, a, b, out: lib.mm(a, b, out=out), (A, M)),
    "clamp": (lambda lib, a, out: lib.clamp(a, -0.5, 0.5, out=out), (A,)),
    "clamp-min": (lambda lib, a, out: lib.clamp(a, min=0.0, out=out), (A,)),
    "where": (lambda lib, c, a, b, out: lib.where(c, a, b, out=out), (C, A, B)),
    "maximum": (lambda lib, a, b, out: lib.maximum(a, b, out=out), (A, B)),
    "eq": (lambda lib, a, b, out: lib.eq(a, b, out=out), (A, A[0])),
    "gt": (lambda lib, a, b, out: lib.gt(a, b, out=out), (A, B)),
    "cat": (lambda lib, a, b, out: lib.cat([a, b], out=out), (A, A)),
    "stack": (lambda lib, a, b, out: lib.stack([a, b], out=out), (A, A)),
    "cumsum": (lambda lib, a, out: lib.cumsum(a, 1, out=out), (A,)),
    "floor": (lambda lib, a, out: lib.floor(a, out=out), (A,)),
    "int-add": (lambda lib, a, b, out: lib.add(a, b, out=out), (I, I)),
    "any": (lambda lib, a, out: lib.any(a, 1, out=out), (A,)),
}


def run(lib, name, out, inputs=None, requires_grad=False):
    """Call case ``name`` in ``lib``; (result, out, the warnings' messages) or the error."""
    fn, arrays = CASES[name]
    args = [lib.tensor(a.copy(), requires_grad=requires_grad and a.dtype.kind == "f")
            for a in (inputs or arrays)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fn(lib, *args, out)
    return result, [str(w.message) for w in caught if w.category is UserWarning]


def pair(shape, dtype="float32", fill=7, requires_grad=False):
    """The same ``out`` in chainrule and in torch."""
    return (cr.full(shape, fill, dtype=np.dtype(dtype), requires_grad=requires_grad),
            torch.full(shape, fill, dtype=getattr(torch, dtype), requires_grad=requires_grad))


def expected_shape(name):
    ours, _ = run(torch, name, None)
    return tuple(ours.shape), str(ours.dtype).replace("torch.", "")


@pytest.mark.parametrize("name", CASES)
def test_out_of_the_right_shape_is_written_and_returned(name):
    shape, dtype = expected_shape(name)
    ours_out, theirs_out = pair(shape, dtype)
    ptr = ours_out.data_ptr()
    (ours, w1), (theirs, w2) = run(cr, name, ours_out), run(torch, name, theirs_out)
    assert ours is ours_out and theirs is theirs_out and w1 == w2 == []
    assert ours.data_ptr() == ptr  # written in place
    assert ours.dtype == theirs.numpy().dtype and ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)
    assert not ours.requires_grad and ours.grad_fn is None


@pytest.mark.parametrize("name", ["add", "exp", "sum-dim", "matmul", "where", "clamp", "cat"])
@pytest.mark.parametrize("start", [(5,), (2, 3, 4), (1,)])
def test_out_of_another_shape_is_resized_with_torchs_warning(name, start):
    shape, dtype = expected_shape(name)
    if start == shape:
        return
    ours_out, theirs_out = pair(start, dtype)
    (ours, w1), (theirs, w2) = run(cr, name, ours_out), run(torch, name, theirs_out)
    assert ours is ours_out and ours.shape == tuple(theirs.shape) == shape
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)
    assert len(w1) == len(w2) == 1 and w2[0].startswith(w1[0])  # + torch's "(Triggered...)"
    assert "was resized since it had shape" in w1[0]


@pytest.mark.parametrize("name", ["add", "sum-dim", "matmul", "where"])
def test_an_empty_out_is_resized_silently(name):
    ours_out, theirs_out = pair((0,))
    (ours, w1), (theirs, w2) = run(cr, name, ours_out), run(torch, name, theirs_out)
    assert w1 == w2 == [] and ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-6, atol=1e-6)


OUT_DTYPES = ["float32", "float64", "float16", "int64", "int32", "bool", "uint8"]
# cumsum refuses an integer out that PyTorch's cumsum accepts (it sums in out's dtype)
KNOWN = {("cumsum", dtype): "PyTorch's cumsum sums in an integer out's dtype; chainrule "
         "refuses" for dtype in ("int64", "int32", "uint8")}


def dtype_cases():
    for name in ["add", "exp", "sum-dim", "sum-int", "mean-dim", "matmul", "mm", "eq", "where",
                 "int-add", "clamp", "floor", "gt", "amax", "logsumexp", "cumsum", "cat",
                 "maximum", "any"]:
        for dtype in OUT_DTYPES:
            reason = KNOWN.get((name, dtype))
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(name, dtype, marks=marks, id=f"{name}-{dtype}")


@pytest.mark.parametrize("name, dtype", list(dtype_cases()))
def test_out_keeps_its_dtype_or_refuses_like_torch(name, dtype):
    shape, _ = expected_shape(name)
    ours_out, theirs_out = pair(shape, dtype, fill=0)
    try:
        theirs, _ = run(torch, name, theirs_out)
    except (RuntimeError, TypeError) as e:  # torch.cat's refusal is a TypeError
        with pytest.raises((RuntimeError, TypeError)) as ours:
            run(cr, name, ours_out)
        if "can't be cast to the desired output type" in str(e):  # PyTorch's TensorIterator
            assert "can't be cast to the desired output type" in str(ours.value)
        return
    ours, _ = run(cr, name, ours_out)
    assert ours is ours_out and ours.dtype == np.dtype(dtype)
    np.testing.assert_allclose(ours.numpy().astype(float), theirs.numpy().astype(float),
                               rtol=1e-3, atol=1e-3)


def test_sum_into_out_sums_in_outs_dtype_like_torch():
    x = np.array([[0.6, 0.6], [1.5, -0.7]], np.float32)
    big = np.array([[1e8, 1.0, -1e8]], np.float32)
    for lib in (cr, torch):
        o = lib.zeros(2, dtype=lib.int64)
        assert lib.sum(lib.tensor(x), 1, out=o).tolist() == [0, 1]  # cast, then sum
        o = lib.zeros(1, dtype=lib.float64)
        assert lib.sum(lib.tensor(big), 1, out=o).tolist() == [1.0]  # summed in float64
        o = lib.zeros(2, dtype=lib.bool)
        assert lib.sum(lib.tensor(x), 1, out=o).tolist() == [True, True]
        with pytest.raises(RuntimeError, match="dtype"):
            lib.sum(lib.tensor(x), 1, dtype=lib.float32, out=lib.zeros(2, dtype=lib.int64))


@pytest.mark.parametrize("name", ["add", "exp", "sum-dim", "matmul", "where", "clamp"])
def test_out_refused_when_an_input_requires_grad(name):
    shape, _ = expected_shape(name)
    for lib, out in zip((cr, torch), pair(shape)):
        with pytest.raises(RuntimeError, match="functions with out=... arguments don't support "
                                               "automatic differentiation"):
            run(lib, name, out, requires_grad=True)
        with lib.no_grad():  # allowed without grad mode, and nothing is recorded
            result, _ = run(lib, name, out, requires_grad=True)
        assert result is out and not out.requires_grad and out.grad_fn is None


@pytest.mark.parametrize("name", ["add", "exp", "sum-dim", "matmul"])
def test_out_that_requires_grad_is_refused(name):
    shape, _ = expected_shape(name)
    for lib, out in zip((cr, torch), pair(shape, requires_grad=True)):
        with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
            run(lib, name, out)


def test_out_may_alias_an_input_like_torch():
    for lib in (cr, torch):
        x = lib.tensor([1.0, 2.0])
        assert lib.add(x, 1, out=x) is x and x.tolist() == [2.0, 3.0]
        assert lib.mul(x, x, out=x) is x and x.tolist() == [4.0, 9.0]
        v = x._version
        lib.exp(lib.zeros(2), out=x)
        assert x.tolist() == [1.0, 1.0] and x._version > v


def test_out_must_be_a_tensor():
    for lib in (cr, torch):
        with pytest.raises(TypeError, match="must be Tensor"):
            lib.add(lib.ones(2), 1, out=np.zeros(2))


@settings(max_examples=30, deadline=None)
@given(shapes=broadcast_pairs(), op=st.sampled_from(["add", "mul", "maximum", "sub"]),
       out_empty=st.booleans())
def test_out_on_broadcast_shapes_matches_torch(shapes, op, out_empty):
    rng = np.random.default_rng(1)
    a, b = (rng.normal(size=s).astype(np.float32) for s in shapes)
    results = []
    for lib in (cr, torch):
        out = lib.zeros(0 if out_empty else np.broadcast_shapes(*shapes))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # right shape or empty: no warning
            r = getattr(lib, op)(lib.tensor(a), lib.tensor(b), out=out)
        assert r is out
        results.append(np.asarray(r))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-6)
    assert results[0].shape == results[1].shape
