"""Shape ops and indexing against PyTorch; unbroadcast; errors."""
import numpy as np
import pytest
from hypothesis import given, strategies as st
import torch

import chainrule as cr
from chainrule.ops.shape import unbroadcast
from chainrule.testing import assert_parity, gradcheck, gradgradcheck
from chainrule.testing.strategies import arrays, shapes

RNG = np.random.default_rng(7)
X234 = RNG.normal(size=(2, 3, 4))

CASES = {
    "reshape": lambda lib, x: x.reshape(4, -1) * 2,
    "view": lambda lib, x: x.view(3, 8),
    "flatten": lambda lib, x: lib.flatten(x, 1),
    "flatten_mid": lambda lib, x: x.flatten(0, 1),
    "transpose": lambda lib, x: lib.transpose(x, 0, 2),
    "permute": lambda lib, x: x.permute(2, 0, 1),
    "T": lambda lib, x: x[0].T * 1,
    "squeeze_unsqueeze": lambda lib, x: lib.squeeze(lib.unsqueeze(x, 1), 1),
    "expand": lambda lib, x: x[:, :1].expand(2, 5, 4),
    "broadcast_to": lambda lib, x: lib.broadcast_to(x[0], (3, 3, 4)),
    "cat": lambda lib, x: lib.cat([x, x * 2], dim=1),
    "stack": lambda lib, x: lib.stack([x, x * 3], dim=-1),
    "split": lambda lib, x: x.split(3, dim=2)[1] * x.split([1, 3], dim=2)[0],
    "chunk": lambda lib, x: lib.chunk(x, 2, dim=1)[1],
    "pad": lambda lib, x: (lib.nn.functional.pad if lib.__name__ == "torch" else lib.pad)(
        x, (1, 2, 0, 1)),
    "basic_index": lambda lib, x: x[1, ::2, 1:],
    "negative_index": lambda lib, x: x[-1, ..., None],
    "advanced_index": lambda lib, x: x[[0, 1, 1], :, [2, 2, 0]],
    "repeated_index": lambda lib, x: x[:, [0, 0, 2, 0]],
    "bool_mask": lambda lib, x: x[x > 0],
    "gather": lambda lib, x: lib.gather(x, 2, lib.tensor([[[0, 3], [1, 1], [2, 0]]] * 2)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_shape_ops_match_torch(name):
    assert_parity(CASES[name], X234, second_order=True)


@pytest.mark.parametrize("name", ["reshape", "permute", "cat", "split", "pad",
                                  "advanced_index", "repeated_index", "gather"])
def test_shape_ops_gradcheck(name):
    x = cr.tensor(X234, requires_grad=True)
    f = lambda t: CASES[name](cr, t)  # noqa: E731
    assert gradcheck(f, (x,)) and gradgradcheck(f, (x,))


def test_repeated_indices_accumulate():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    x[[0, 0, 2, 0]].sum().backward()
    assert x.grad.tolist() == [3.0, 0.0, 1.0]


@given(data=st.data())
def test_unbroadcast_sums_back_to_every_broadcastable_shape(data):
    shape = data.draw(shapes(max_dims=3))
    target = tuple(data.draw(st.sampled_from([1, s])) for s in shape)
    lead = data.draw(st.integers(0, len(target)))
    target = target[lead:]
    g = data.draw(arrays(shape))
    out = unbroadcast(cr.tensor(g), target)
    assert out.shape == target
    axes = tuple(range(len(shape) - len(target))) + tuple(
        len(shape) - len(target) + i for i, s in enumerate(target) if s == 1)
    assert np.allclose(out._data, g.sum(axis=axes).reshape(target))


def test_unbroadcast_example():
    assert unbroadcast(cr.ones(2, 3, 4), (3, 1)).tolist() == [[8.0]] * 3


def test_errors_name_shapes():
    with pytest.raises(ValueError, match=r"shape \[5, -1\] is invalid for input of size 24"):
        cr.ones(2, 3, 4).reshape(5, -1)
    with pytest.raises(ValueError, match=r"Sizes of tensors must match except in dimension 0"):
        cr.cat([cr.ones(2, 3), cr.ones(2, 4)])
    with pytest.raises(ValueError, match=r"\(3,\) cannot be broadcast to \(2, 4\)"):
        cr.broadcast_to(cr.ones(3), (2, 4))
    with pytest.raises(ValueError, match="split_sizes"):
        cr.ones(5).split([2, 2])
    with pytest.raises(ValueError, match="permutation"):
        cr.ones(2, 3).permute(0, 0)
    with pytest.raises(IndexError, match="out of bounds"):
        cr.ones(2)[5]
    with pytest.raises(ValueError, match="stack: expects each tensor to be equal size"):
        cr.stack([cr.ones(2), cr.ones(3)])


@given(data=st.data())
def test_shape_ops_on_drawn_shapes_match_torch(data):
    shape = data.draw(shapes(min_dims=1, max_dims=4))
    x = data.draw(arrays(shape))
    n = len(shape)
    perm = data.draw(st.permutations(range(n)))
    d0, d1 = data.draw(st.integers(-n, n - 1)), data.draw(st.integers(-n, n - 1))
    dim = data.draw(st.integers(0, n - 1))
    start = data.draw(st.integers(0, shape[dim] - 1))
    step = data.draw(st.integers(1, 2))
    pads = data.draw(st.lists(st.integers(0, 2), min_size=2, max_size=2 * min(n, 2)))
    if len(pads) % 2:
        pads = pads[:-1]
    index = (slice(None),) * dim + (slice(start, None, step),)
    pad = lambda lib: lib.nn.functional.pad if lib.__name__ == "torch" else lib.pad  # noqa
    cases = [
        lambda lib, t: t.reshape(-1) * 1.5,
        lambda lib, t: t.permute(*perm) * 1.5,
        lambda lib, t: lib.transpose(t, d0, d1) * 1.5,
        lambda lib, t: lib.squeeze(lib.unsqueeze(t, dim), dim) * t,
        lambda lib, t: lib.flatten(t, 0, dim) * 1.5,
        lambda lib, t: lib.cat([t, t * 2], dim=dim),
        lambda lib, t: lib.stack([t, t * 2], dim=dim),
        lambda lib, t: t.split(max(1, shape[dim] // 2), dim=dim)[0] * 2,
        lambda lib, t: lib.chunk(t, 2, dim=dim)[-1] * 2,
        lambda lib, t: t[index] * 2,
        lambda lib, t: pad(lib)(t, tuple(pads)) * 2,
        lambda lib, t: t[..., None].expand(*shape, 3) * 2,
    ]
    for fn in cases:
        assert_parity(fn, x, second_order=True)


# ---------------------------------------------------------------- review regressions
def test_gather_with_an_index_smaller_than_the_input_matches_torch():
    x = np.arange(12.0).reshape(3, 4)
    assert_parity(lambda lib, t: lib.gather(t, 1, lib.tensor([[1, 3], [0, 0]])), x)
    assert_parity(lambda lib, t: lib.gather(t, 0, lib.tensor([[2]])), x)
    assert_parity(lambda lib, t: lib.gather(t, 1, lib.tensor([[1]], dtype=lib.int32)), x)
    assert_parity(lambda lib, t: lib.gather(t, 0, lib.tensor(0)), np.array(2.5))
    t = cr.tensor(x, requires_grad=True)
    f = lambda a: cr.gather(a, 1, cr.tensor([[2], [1]]))  # noqa: E731
    assert f(t).shape == (2, 1)
    assert gradcheck(f, (t,)) and gradgradcheck(f, (t,))


def test_gather_rejects_an_index_larger_than_the_input():
    with pytest.raises(ValueError, match=r"gather: Size does not match at dimension 0"):
        cr.gather(cr.ones(2, 3), 1, cr.tensor([[0], [1], [1]]))


@pytest.mark.parametrize("dims", [(0, 1, 5), (0, 1, -4), (3, 0, 1)])
def test_permute_rejects_out_of_range_dims_like_torch(dims):
    # 5 % 3 == 2 used to make (0, 1, 5) a silent identity permutation
    with pytest.raises(IndexError, match=r"permute: Dimension out of range.*\[-3, 2\]"):
        cr.zeros(2, 3, 4).permute(*dims)
    assert cr.zeros(2, 3, 4).permute(-1, 0, 1).shape == (4, 2, 3)


def test_reshape_rejects_negative_sizes_other_than_minus_one():
    with pytest.raises(ValueError, match=r"reshape: invalid shape dimension -2"):
        cr.zeros(2, 3).reshape(-2, -3)


@pytest.mark.parametrize("size,shape", [((-1, 3), (2, 1)), ((4, -1, 3), (2, 1)),
                                        ((-1, -1), (2, 1)), ((3, -1), (1, 2))])
def test_broadcast_to_minus_one_keeps_a_size_like_torch(size, shape):
    x = RNG.normal(size=shape)
    assert_parity(lambda lib, t: lib.broadcast_to(t, size) * 2, x, second_order=True)
    assert_parity(lambda lib, t: t.expand(*size), x)
    t = cr.tensor(x, requires_grad=True)
    f = lambda a: cr.broadcast_to(a, size)  # noqa: E731
    assert gradcheck(f, (t,)) and gradgradcheck(f, (t,))
    with pytest.raises(ValueError, match=r"-1 .* not allowed in a leading, non-existing"):
        cr.broadcast_to(cr.tensor(x), (-1,) + shape)


KEYWORD_FORMS = {
    "reshape_method": lambda lib, x: x.reshape(shape=(4, -1)),
    "reshape_method_list": lambda lib, x: x.reshape(shape=[4, 6]),
    "reshape_fn": lambda lib, x: lib.reshape(x, shape=(4, 6)),
    "reshape_fn_all_kw": lambda lib, x: lib.reshape(input=x, shape=(6, 4)),
    "view_method": lambda lib, x: x.view(size=(3, 8)),
    "permute_method": lambda lib, x: x.permute(dims=(2, 0, 1)),
    "permute_method_list": lambda lib, x: x.permute(dims=[1, 2, 0]),
    "permute_fn": lambda lib, x: lib.permute(x, dims=(2, 0, 1)),
    "permute_fn_all_kw": lambda lib, x: lib.permute(input=x, dims=(0, 2, 1)),
    "expand_method": lambda lib, x: x[:, :1].expand(size=(5, -1, 3, 4)),
    "broadcast_to_method": lambda lib, x: x[:, :1].broadcast_to(size=(2, 2, 4)),
    "broadcast_to_method_varargs": lambda lib, x: x[:, :1].broadcast_to(2, 2, 4),
    "broadcast_to_fn": lambda lib, x: lib.broadcast_to(x[:, :1], size=(2, 2, 4)),
}


@pytest.mark.parametrize("name", sorted(KEYWORD_FORMS))
def test_shape_ops_accept_torch_keyword_forms(name):
    assert_parity(KEYWORD_FORMS[name], X234)


def test_shape_keyword_and_positional_sizes_together_are_refused():
    with pytest.raises(TypeError, match="reshape.*multiple values for argument 'shape'"):
        cr.zeros(6).reshape(2, 3, shape=(3, 2))
    with pytest.raises(TypeError, match="permute.*multiple values for argument 'dims'"):
        cr.zeros(2, 3).permute(1, 0, dims=(1, 0))


# ---------------------------------------------------------------- view needs a viewable layout
VIEW_SOURCES = {
    "transposed": lambda x: x.transpose(0, 1),
    "inner_transposed": lambda x: x.transpose(1, 2),
    "permuted": lambda x: x.permute(2, 0, 1),
    "strided": lambda x: x[:, ::2],
    "sliced": lambda x: x[:, :, 1:3],
    "leading_slice": lambda x: x[1:],
    "expanded": lambda x: x[:, :1].expand(2, 3, 4),
    "size_1_transposed": lambda x: x[:, :1].transpose(0, 1),
    "empty_transposed": lambda x: x[:, :0].transpose(0, 2),
}
VIEW_SHAPES = [(-1,), (6, 4), (4, 6), (2, 12), (3, 8), (2, 3, 4), (3, 2, 4), (4, 3, 2),
               (2, 2, 3, 2), (2, 3, 2, 2), (1, -1), (-1, 1), (2, -1), (2, 2, -1), (-1, 0)]


@pytest.mark.parametrize("source", sorted(VIEW_SOURCES))
def test_view_works_or_raises_exactly_where_torch_does(source):
    import torch

    base = np.arange(24.0).reshape(2, 3, 4)
    ours, theirs = VIEW_SOURCES[source](cr.tensor(base)), VIEW_SOURCES[source](torch.tensor(base))
    assert ours.is_contiguous() == theirs.is_contiguous()
    for shape in VIEW_SHAPES:
        try:
            expected = theirs.view(*shape).numpy()
        except RuntimeError as e:
            if "view size is not compatible" not in str(e):
                continue  # a wrong shape, not a layout
            with pytest.raises(RuntimeError, match=r"Use \.reshape\(\.\.\.\) instead"):
                ours.view(*shape)
            assert ours.reshape(*shape).tolist() == theirs.reshape(*shape).tolist()
            assert ours.contiguous().view(*shape).tolist() == \
                theirs.contiguous().view(*shape).tolist()
            continue
        got = ours.view(*shape)
        assert got.tolist() == expected.tolist()
        assert got._data.size == 0 or np.shares_memory(got._data, ours._data)  # a view, no copy


def test_view_as_and_contiguous_follow_torch():
    import torch

    x = cr.tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    t = x.T
    assert not t.is_contiguous() and t.contiguous().is_contiguous() and x.contiguous() is x
    with pytest.raises(RuntimeError, match="reshape"):
        t.view_as(cr.zeros(6))
    with pytest.raises(RuntimeError, match="reshape"):
        torch.zeros(2, 3).T.view_as(torch.zeros(6))
    (t.contiguous().view(-1) * cr.arange(6.0)).sum().backward()  # contiguous is differentiable
    assert x.grad.tolist() == [[0.0, 2.0, 4.0], [1.0, 3.0, 5.0]]


CONTIGUOUS_RESULTS = {  # ops whose torch kernel writes a fresh contiguous result
    "sum": lambda lib, x: x.sum(0), "mean": lambda lib, x: x.mean(1),
    "amax": lambda lib, x: x.amax(0), "max": lambda lib, x: x.max(0)[0],
    "var": lambda lib, x: x.var(0), "logsumexp": lambda lib, x: x.logsumexp(0),
    "softmax": lambda lib, x: lib.softmax(x, 0), "log_softmax": lambda lib, x: lib.log_softmax(x, -1),
    "cat": lambda lib, x: lib.cat([x, x], 1), "stack": lambda lib, x: lib.stack([x, x], 0),
    "softmax_0d": lambda lib, x: lib.softmax(x.sum(), 0),
}


@pytest.mark.parametrize("order", [(2, 1, 0), (1, 0, 2), (0, 2, 1)])
@pytest.mark.parametrize("name", sorted(CONTIGUOUS_RESULTS))
def test_results_torch_makes_contiguous_are_contiguous_so_view_works(name, order):
    """``x.T.sum(0).view(-1)`` works in torch: reductions, softmax, cat and stack write a
    contiguous result whatever the input's layout (NumPy would keep the input's order)."""
    a = np.random.default_rng(0).standard_normal((2, 3, 4))
    fn = CONTIGUOUS_RESULTS[name]
    ours = fn(cr, cr.tensor(a, requires_grad=True).permute(*order))
    theirs = fn(torch, torch.tensor(a, requires_grad=True).permute(*order))
    assert ours.is_contiguous() and theirs.is_contiguous() and ours.shape == tuple(theirs.shape)
    np.testing.assert_allclose(ours.view(-1)._data, theirs.view(-1).detach().numpy(), rtol=1e-12)


def test_expand_without_sizes_is_a_type_error_like_torch():
    with pytest.raises(TypeError, match="missing 1 required positional arguments"):
        cr.tensor(0.0).expand()
    with pytest.raises(TypeError):
        torch.tensor(0.0).expand()
    assert cr.tensor(0.0).expand(()).shape == tuple(torch.tensor(0.0).expand(()).shape)
