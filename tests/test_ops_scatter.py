"""scatter, scatter_add and their in-place forms against PyTorch: values, gradients (second
order), 0-d tensors, the in-place rules, errors."""
import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

import chainrule as cr
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from chainrule.testing.strategies import arrays, shapes


def _index(rng, shape, ishape, axis, distinct):
    """int64 indices of ``ishape`` into ``shape`` along ``axis``; ``distinct``: no position
    written twice (scatter's result is unspecified there), a prefix of a permutation."""
    n = shape[axis]
    if not distinct:
        return rng.integers(0, n, ishape) if n else np.zeros(ishape, np.int64)
    keys = rng.random(ishape[:axis] + (n,) + ishape[axis + 1:])
    return np.argsort(keys, axis=axis).take(range(ishape[axis]), axis=axis).astype(np.int64)


@st.composite
def cases(draw, distinct):
    """(input, dim, index, src): shapes with 0-d, size-1 and size-0 sides, an index smaller
    than the input apart from ``dim`` and than ``src``, sometimes transposed inputs."""
    shape = draw(shapes(max_dims=3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if not shape:  # a 0-d input: the index and src are 0-d or 1-d of size 1 (or empty)
        ishape = draw(st.sampled_from([(), (1,), (0,)]))
        sshape = draw(st.sampled_from([(), (1,)] if ishape != (0,) else [(0,), (1,)]))
        dim = draw(st.sampled_from([0, -1]))
        index = np.zeros(ishape, np.int64)
        return draw(arrays(shape)), dim, index, draw(arrays(sshape))
    ndim = len(shape)
    dim = draw(st.integers(-ndim, ndim - 1))
    axis = dim % ndim
    ishape = tuple(draw(st.integers(0, shape[d] if d != axis or distinct else 5))
                   for d in range(ndim))
    sshape = tuple(s + draw(st.integers(0, 1)) for s in ishape)
    index = _index(rng, shape, ishape, axis, distinct)
    return draw(arrays(shape)), dim, index, draw(arrays(sshape))


def _src_grad(index, src):
    """Differentiate ``src`` where torch can: its backward raises where src is larger than
    the index (chainrule pads the gradient; see test_src_larger_than_index_...)."""
    return [True, False, src.shape == index.shape]


@given(case=cases(distinct=True))
def test_scatter_matches_torch(case):
    x, dim, index, src = case
    assert_parity(lambda lib, t, i, s: lib.scatter(t, dim, i, s), x, index, src,
                  requires_grad=_src_grad(index, src), second_order=True)
    assert_parity(lambda lib, t, i, s: t.scatter(dim, i, src=s), x, index, src,
                  requires_grad=[True, False, False])
    assert_parity(lambda lib, t, i: lib.scatter(t, dim, i, -2.5), x, index, second_order=True)
    assert_parity(lambda lib, t, i: t.scatter(dim, i, value=3), x, index, second_order=True)
    # int32 indices, as torch 2.13 accepts, and the in-place form (out of the graph)
    assert_parity(lambda lib, t, i, s: t.clone().scatter_(dim, i, s), x, index.astype(np.int32),
                  src, requires_grad=[False] * 3)
    assert_parity(lambda lib, t, i: t.clone().scatter_(dim, i, value=1.0), x, index,
                  requires_grad=[False] * 2)


@given(case=cases(distinct=False))
def test_scatter_add_matches_torch(case):
    x, dim, index, src = case  # repeated positions: they add up
    assert_parity(lambda lib, t, i, s: lib.scatter_add(t, dim, i, s), x, index, src,
                  requires_grad=_src_grad(index, src), second_order=True)
    assert_parity(lambda lib, t, i, s: t.scatter_add(dim, i, s), x, index, src,
                  requires_grad=[True, False, False])
    assert_parity(lambda lib, t, i, s: t.clone().scatter_add_(dim, i, s), x, index, src,
                  requires_grad=[False] * 3)


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_, np.float32])
def test_other_dtypes_match_torch(dtype):
    x = np.zeros((3, 4), dtype)
    index = np.array([[2, 0, 1, 1], [0, 0, 2, 1]])
    src = np.arange(1, 9).reshape(2, 4).astype(dtype)
    assert_parity(lambda lib, t, i, s: lib.scatter_add(t, 0, i, s), x, index, src)
    assert_parity(lambda lib, t, i: lib.scatter(t, 1, i, 1), x, index[:, :2])
    assert_parity(lambda lib, t, i: t.scatter(1, i, value=-1), x, index[:, :2])  # wraps in uint8


def test_zero_dim_index_makes_a_one_hot_target_as_in_torchs_transforms_tutorial():
    for y in (0, 3, 9):
        ours = cr.zeros(10, dtype=cr.float).scatter_(0, cr.tensor(y), value=1)
        theirs = torch.zeros(10, dtype=torch.float).scatter_(0, torch.tensor(y), value=1)
        assert ours.dtype == cr.float32 and ours.tolist() == theirs.tolist()
    assert_parity(lambda lib, t, i, s: lib.scatter(t, 0, i, s), np.zeros(()), np.array(0),
                  np.array(2.0), second_order=True)
    assert_parity(lambda lib, t, i, s: lib.scatter_add(t, -1, i, s), np.ones(3), np.array(1),
                  np.array(2.0), second_order=True)
    assert_parity(lambda lib, t, i, s: lib.scatter(t, 0, i, s), np.ones(3), np.array([2]),
                  np.array(5.0))  # a 0-d src under a 1-d index


def test_empty_inputs_and_indices_as_torch():
    assert_parity(lambda lib, t, i: lib.scatter(t, 0, i, 1.0), np.zeros((0, 3)),
                  np.zeros((0, 2), np.int64))
    assert_parity(lambda lib, t, i: lib.scatter(t, 1, i, 1.0), np.zeros((2, 0)),
                  np.zeros((1, 0), np.int64))
    # an empty index is not checked: any dtype, any shape
    assert_parity(lambda lib, t, i: lib.scatter(t, 0, i, 1.0), np.ones((3, 3)),
                  np.zeros((0, 5, 7), np.float32), requires_grad=[True, False])


def test_gradcheck_and_gradgradcheck():
    rng = np.random.default_rng(0)
    x = cr.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    src = cr.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    index = cr.tensor([[2, 0, 1, 1], [0, 0, 2, 1]])  # repeats in scatter_add
    distinct = cr.tensor([[2, 0, 1, 1], [0, 1, 2, 0]])
    for f in (lambda a, s: cr.scatter(a, 0, distinct, s),
              lambda a, s: cr.scatter_add(a, 0, index, s),
              lambda a, s: a.scatter(1, distinct[:, :3], value=0.5) * s.sum()):
        assert gradcheck(f, (x, src)) and gradgradcheck(f, (x, src))
    x0 = cr.tensor(1.5, dtype=cr.float64, requires_grad=True)
    s0 = cr.tensor(-0.5, dtype=cr.float64, requires_grad=True)
    assert gradcheck(lambda a, s: cr.scatter(a, 0, cr.tensor(0), s) * a, (x0, s0))
    assert gradgradcheck(lambda a, s: cr.scatter_add(a, 0, cr.tensor([0]), s) * a, (x0, s0))


def test_src_larger_than_index_gets_a_zero_padded_gradient():
    # torch 2.13 raises here ("returned an invalid gradient ... got [1, 2] but expected shape
    # compatible with [3, 3]"); the gradient of the elements never read is 0
    rng = np.random.default_rng(1)
    x = cr.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    src = cr.tensor(rng.standard_normal((3, 3)), requires_grad=True)
    index = cr.tensor([[1, 2]])
    for op in (cr.scatter, cr.scatter_add):
        def f(a, s, op=op):
            return op(a, 0, index, s)
        assert gradcheck(f, (x, src)) and gradgradcheck(f, (x, src))
        (g,) = cr.autograd.grad(f(x, src).sum(), src)
        assert g.tolist() == [[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    with pytest.raises(RuntimeError, match="invalid gradient"):
        t = torch.ones(3, 3, requires_grad=True)
        torch.zeros(3, 3).scatter(0, torch.tensor([[1, 2]]), t).sum().backward()


def test_node_names_are_torchs():
    for lib in (cr, torch):
        a = lib.zeros(3, requires_grad=True)
        s = lib.ones(1, requires_grad=True)
        i = lib.tensor([1])
        names = [lib.scatter(a, 0, i, s).grad_fn.name(), a.scatter(0, i, 2.0).grad_fn.name(),
                 lib.scatter_add(a, 0, i, s).grad_fn.name()]
        assert names == ["ScatterBackward0", "ScatterBackward1", "ScatterAddBackward0"]


def test_in_place_follows_the_inplace_rules():
    x = cr.zeros(2, 3)
    v = x._version
    assert x.scatter_(1, cr.tensor([[2], [0]]), cr.tensor([[1.0], [2.0]])) is x
    assert x.tolist() == [[0.0, 0.0, 1.0], [2.0, 0.0, 0.0]] and x._version == v + 1
    assert x.scatter_add_(0, cr.tensor([[1, 1, 1]]), cr.ones(1, 3)) is x
    assert x.tolist() == [[0.0, 0.0, 1.0], [3.0, 1.0, 1.0]] and x._version == v + 2
    for lib in (cr, torch):
        leaf = lib.zeros(3, requires_grad=True)
        with pytest.raises(RuntimeError, match="leaf"):
            leaf.scatter_(0, lib.tensor([1]), 1.0)
        with pytest.raises(RuntimeError, match="leaf"):
            leaf.scatter_add_(0, lib.tensor([1]), lib.ones(1))
        with lib.no_grad():  # as an optimizer would
            assert leaf.scatter_(0, lib.tensor([1]), value=4.0).tolist() == [0.0, 4.0, 0.0]
    with pytest.raises(RuntimeError, match="in-place writes are not recorded"):
        cr.zeros(3).scatter_(0, cr.tensor([1]), cr.ones(1, requires_grad=True))
    y = cr.zeros(3)
    with pytest.raises(RuntimeError):
        y.scatter_(0, cr.tensor([5]), 1.0)
    assert y.tolist() == [0.0, 0.0, 0.0] and y._version == 0  # untouched on error


ERRORS = [  # PyTorch's RuntimeErrors; ours are OpErrors, caught the same way
    lambda lib: lib.zeros(3, 3).scatter(0, lib.tensor([[1]], dtype=lib.int8), 1.0),
    lambda lib: lib.zeros(3, 3).scatter(0, lib.tensor([[1.0]]), lib.ones(1, 1)),
    lambda lib: lib.zeros(3, 3).scatter_add(0, lib.tensor([[1, 1, 1]]),
                                           lib.ones(1, 3, dtype=lib.float64)),
    lambda lib: lib.zeros(3, 3).scatter(0, lib.zeros((0, 2), dtype=lib.int64),
                                       lib.ones(2, 2, dtype=lib.float64)),
    lambda lib: lib.zeros(3, 3).scatter(0, lib.tensor([[3]]), 1.0),
    lambda lib: lib.zeros(3, 3).scatter(0, lib.tensor([[-1]]), 1.0),
    lambda lib: lib.zeros(2, 0).scatter(1, lib.zeros(1, 1, dtype=lib.int64), 1.0),
    lambda lib: lib.zeros(3, 3).scatter(0, lib.tensor([[1, 1, 1, 1]]), 1.0),
    lambda lib: lib.zeros(3, 3).scatter_add(0, lib.tensor([[1, 1, 1]]), lib.ones(1, 2)),
    lambda lib: lib.zeros(3).scatter(0, lib.tensor([1, 2]), lib.tensor(2.0)),
    lambda lib: lib.zeros(3, 3).scatter(0, lib.tensor([1, 1, 1]), 1.0),
    lambda lib: lib.zeros(3, 3).scatter(0, lib.tensor(1), 1.0),
    lambda lib: lib.zeros(3, 3).scatter(0, lib.tensor([[1, 1, 1]]), lib.ones(1, 3, 1)),
    lambda lib: lib.zeros(3, dtype=lib.int64).scatter(0, lib.tensor([1]), float("nan")),
    lambda lib: lib.zeros(3).scatter(0, lib.tensor([1]), 1e300),
    lambda lib: lib.zeros(3).scatter_(0, lib.tensor([4]), lib.ones(1)),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors_are_runtime_errors_as_torch(case):
    with pytest.raises(RuntimeError):
        ERRORS[case](torch)
    with pytest.raises(RuntimeError, match="scatter"):
        ERRORS[case](cr)


TYPE_AND_INDEX_ERRORS = [
    (IndexError, lambda lib: lib.zeros(3, 3).scatter(2, lib.tensor([[1]]), 1.0)),
    (IndexError, lambda lib: lib.zeros(()).scatter(1, lib.tensor(0), 1.0)),
    (IndexError, lambda lib: lib.zeros(3, 3).scatter(0, lib.tensor([[1, 1, 1]]), lib.ones(3))),
    (TypeError, lambda lib: lib.zeros(3, 3).scatter_add(0, lib.tensor([[1]]), 1.0)),
    (TypeError, lambda lib: lib.zeros(3).scatter(0, lib.tensor([1]))),
    (TypeError, lambda lib: lib.zeros(3).scatter(0, lib.tensor([1]), None)),
    (TypeError, lambda lib: lib.zeros(3).scatter(0, lib.tensor([1]), lib.ones(1), value=1.0)),
    (TypeError, lambda lib: lib.zeros(3).scatter(0, lib.tensor([1]), [2.0])),
    (TypeError, lambda lib: lib.zeros(3).scatter(0, lib.tensor([1]), value=lib.ones(1))),
    (TypeError, lambda lib: lib.zeros(3).scatter(0.0, lib.tensor([1]), 1.0)),
    (TypeError, lambda lib: lib.zeros(3).scatter(0, [1], 1.0)),
    (OverflowError, lambda lib: lib.zeros(3, dtype=lib.int64).scatter(0, lib.tensor([1]), 2**70)),
]


@pytest.mark.parametrize("case", range(len(TYPE_AND_INDEX_ERRORS)))
def test_type_and_dimension_errors_as_torch(case):
    cls, call = TYPE_AND_INDEX_ERRORS[case]
    with pytest.raises(cls):
        call(torch)
    with pytest.raises(cls):
        call(cr)
