"""The backward engine: accumulation, retain_graph, long chains, freeing, hooks, autograd.grad."""
import gc
import re
import weakref

import numpy as np
import pytest

import chainrule as cr


def test_node_used_twice_accumulates():
    a = cr.tensor(1.0, requires_grad=True)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad.item() == 4.0


def test_diamond_and_square():
    a = cr.tensor(3.0, requires_grad=True)
    b = a * 2
    c = b * b  # dc/da = 2b * 2 = 24
    c.backward()
    assert a.grad.item() == 24.0
    x = cr.tensor(2.0, requires_grad=True)
    left, right = x * 3, x ** 2
    (left * right).backward()  # d(3x^3)/dx = 9x^2 = 36
    assert x.grad.item() == 36.0


def test_leaf_grads_accumulate_across_backward_calls():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]


def test_second_backward_through_freed_graph_says_retain_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_shared_subgraph_freed_by_first_backward_raises():
    x = cr.tensor(1.0, requires_grad=True)
    h = x.exp()
    (h * 2).backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        (h * 3).backward()


def test_chain_of_100000_ops_backprops_without_recursion():
    x = cr.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()
    assert x.grad.item() == 1.0


def test_del_loss_frees_intermediates_without_gc():
    gc.disable()
    try:
        x = cr.tensor(np.ones(10), requires_grad=True)
        h = x.exp()
        ref = weakref.ref(h)
        data_ref = weakref.ref(h.grad_fn)
        loss = (h * 2).sum()
        del h
        assert ref() is not None  # held by the graph
        loss.backward()
        del loss
        assert ref() is None and data_ref() is None
    finally:
        gc.enable()


def test_dropping_a_graph_without_backward_frees_it():
    gc.disable()
    try:
        x = cr.tensor(np.ones(10), requires_grad=True)
        loss = (x.exp() * 2).sum()
        node = weakref.ref(loss.grad_fn)
        del loss
        assert node() is None
    finally:
        gc.enable()


def test_backward_frees_saved_intermediates_even_while_loss_is_alive():
    x = cr.tensor(np.ones(10), requires_grad=True)
    h = x * 2
    ref = weakref.ref(h)
    loss = h.sum()
    del h
    loss.backward()
    assert ref() is None  # the graph kept metadata only


def test_inplace_modification_of_saved_tensor_is_detected():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    w = cr.tensor([3.0, 4.0])
    y = (x * w).sum()
    w.mul_(10)  # modifies an input Mul saved for backward
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_inplace_on_leaf_requiring_grad_is_refused():
    x = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with cr.no_grad():
        x.add_(1)
    assert x.tolist() == [2.0]


def test_hooks_on_leaf_and_non_leaf_and_retain_grad():
    x = cr.tensor(2.0, requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.item()))
    h = x * 3
    h.retain_grad()
    h.register_hook(lambda g: g * 10)
    (h * h).backward()  # d/dh = 2h = 12, hooked to 120; dx = 360
    assert h.grad.item() == 120.0
    assert seen == [360.0] and x.grad.item() == 360.0


def test_hook_handle_remove():
    x = cr.tensor(1.0, requires_grad=True)
    handle = x.register_hook(lambda g: g * 0)
    handle.remove()
    (x * 2).backward()
    assert x.grad.item() == 2.0


def test_autograd_grad_does_not_touch_dot_grad_and_supports_higher_order():
    x = cr.tensor(2.0, requires_grad=True)
    y = x ** 4
    (g1,) = cr.autograd.grad(y, x, create_graph=True)
    (g2,) = cr.autograd.grad(g1, x, create_graph=True)
    (g3,) = cr.autograd.grad(g2, x)
    assert (g1.item(), g2.item(), g3.item()) == (32.0, 48.0, 48.0)
    assert x.grad is None


def test_autograd_grad_non_leaf_input_and_allow_unused():
    x = cr.tensor(1.0, requires_grad=True)
    z = cr.tensor(1.0, requires_grad=True)
    h = x * 3
    y = h * h
    gh, gz = cr.autograd.grad(y, [h, z], allow_unused=True)
    assert gh.item() == 6.0 and gz is None
    with pytest.raises(RuntimeError, match="allow_unused=True"):
        cr.autograd.grad((x * 2), [z])


def test_backward_with_inputs_accumulates_only_there():
    a = cr.tensor(1.0, requires_grad=True)
    b = cr.tensor(2.0, requires_grad=True)
    (a * b).backward(inputs=[a])
    assert a.grad.item() == 2.0 and b.grad is None


def test_non_scalar_backward_needs_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar outputs"):
        (x * 2).backward()
    (x * 2).backward(cr.tensor([1.0, 0.5]))
    assert x.grad.tolist() == [2.0, 1.0]


def test_backward_on_tensor_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.ones(1).sum().backward()


def test_multi_output_op_with_unused_output():
    x = cr.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    a, b = x.split(2)
    (a * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 0.0, 0.0]


def test_create_graph_keeps_grad_differentiable():
    x = cr.tensor(3.0, requires_grad=True)
    y = x ** 3
    y.backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.item() == 27.0
    (gg,) = cr.autograd.grad(x.grad, x)
    assert gg.item() == 18.0


class _ReshapedGrad(cr.autograd.Function):
    """Identity whose backward returns a reshape (a view) of a fresh array, or of a kept one."""

    def __init__(self, keep: bool, kept: list) -> None:
        self.keep, self.kept = keep, kept  # (backward's saved state is released afterwards)

    def forward(self, x):
        return x.copy()

    def backward(self, gy):
        fresh = (gy._data * 1.0).reshape(-1)  # (size,) temporary
        if self.keep:
            self.kept.append(fresh)  # another reference to the temporary: it must not be taken
        return cr.Tensor(fresh.reshape(gy.shape))  # a view of the temporary


@pytest.mark.parametrize("keep", [False, True])
def test_leaf_takes_a_view_of_a_temporary_only_when_nothing_else_sees_it(keep):
    x = cr.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    kept: list = []
    _ReshapedGrad(keep, kept)(x).sum().backward()
    np.testing.assert_array_equal(x.grad._data, np.ones((2, 2)))
    if keep:  # copied: writing into the kept array leaves .grad alone
        assert not np.shares_memory(x.grad._data, kept[0])
    else:  # taken without a copy: .grad is the backward's own array (no extra pass)
        assert x.grad._data.base is not None and x.grad._data.base.base is None


def test_leaf_grads_never_alias_each_other_or_the_root_gradient():
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = cr.tensor([3.0, 4.0], requires_grad=True)
    c = cr.tensor([[5.0, 6.0]], requires_grad=True)
    h = a + b + c.reshape(2)
    h.retain_grad()
    root = cr.tensor([1.0, 1.0])
    h.backward(root)
    arrays = [a.grad._data, b.grad._data, c.grad._data, h.grad._data, root._data]
    for i, x in enumerate(arrays):
        for y in arrays[i + 1:]:
            assert not np.shares_memory(x, y)
    a.grad._data *= 0  # an in-place change to one gradient leaves the others alone
    assert b.grad.tolist() == [1.0, 1.0] and h.grad.tolist() == [1.0, 1.0]


# ---------------------------------------------------------------- review regressions
def test_autograd_backward_accepts_a_single_tensor_like_torch():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    cr.autograd.backward((x * 3).sum())
    assert x.grad.tolist() == [3.0, 3.0]
    cr.autograd.backward(x * 2, cr.tensor([1.0, -1.0]), inputs=x)
    assert x.grad.tolist() == [5.0, 1.0]


def test_later_backward_accumulates_into_a_new_grad_tensor():
    """A later pass adds to .grad out of place (PyTorch adds in place): the sum is right and
    a reference taken before keeps the old value; no version stamp lands mid-backward."""
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    g = x.grad
    clock = cr.autograd.grad_mode.state.clock
    (x * 3).sum().backward()
    assert x.grad.tolist() == [5.0, 7.0] and g.tolist() == [2.0, 4.0]
    assert cr.autograd.grad_mode.state.clock == clock  # nothing was modified in place
    # within one pass, a stolen gradient shared with pending gradients is never mutated
    y = cr.tensor([1.0, 2.0], requires_grad=True)
    w, v = cr.tensor([3.0, 4.0]), cr.tensor([5.0, 6.0])
    ((y + y * 2) * w + y * v).sum().backward()
    assert y.grad.tolist() == [14.0, 18.0]
    # create_graph keeps accumulating out of place (the grad carries a graph)
    z = cr.tensor(2.0, requires_grad=True)
    (z ** 3).backward(create_graph=True)
    first = z.grad
    (z ** 2).backward(create_graph=True)
    assert first.item() == 12.0 and z.grad.item() == 16.0 and z.grad.grad_fn is not None


# ---------------------------------------------------------------- gradients keep the dtype
@pytest.mark.parametrize("gdtype", [np.int64, np.float64, np.bool_, np.float16])
def test_a_root_gradient_of_another_dtype_is_cast_to_the_output_s_like_torch(gdtype):
    import torch

    g = np.array([1, 0, 1]).astype(gdtype)
    x = cr.ones(3, requires_grad=True)
    (x * 2).backward(cr.tensor(g))
    t = torch.ones(3, requires_grad=True)
    (t * 2).backward(torch.from_numpy(g))
    assert x.grad.dtype == np.float32 == t.grad.numpy().dtype
    assert x.grad.tolist() == t.grad.tolist()
    leaf = cr.ones(3, requires_grad=True)  # the root is the leaf itself
    leaf.backward(cr.tensor(g))
    assert leaf.grad.dtype == np.float32
    (dx,) = cr.autograd.grad(x * 3, x, cr.tensor(g))
    assert dx.dtype == np.float32


def test_a_root_gradient_of_another_dtype_stays_differentiable():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    v = cr.tensor([1.0, 1.0], dtype=cr.float64, requires_grad=True)
    (g,) = cr.autograd.grad(x * x, x, v, create_graph=True)
    assert g.dtype == np.float32
    g.sum().backward()
    assert v.grad.dtype == np.float64 and v.grad.tolist() == [2.0, 4.0]


# ---------------------------------------------------------------- hooks keep shape and dtype
BAD_HOOKS = {
    "reduced": (lambda g: g.sum(), RuntimeError, "hook '<lambda>' has changed the size of value"),
    "sliced": (lambda g: g[:1], RuntimeError, "has changed the size of value"),
    "grown": (lambda g: g[None], RuntimeError, "has changed the size of value"),
    "float64": (lambda g: g.double(), RuntimeError,
                "hook '<lambda>' has changed the type of value"),
    "int64": (lambda g: g.long(), RuntimeError, "has changed the type of value"),
    "number": (lambda g: 2.0, TypeError, "expected Tensor, but hook returned 'float'"),
}


def _hooked(where, hook):
    """Register ``hook`` on a leaf, a non-leaf, the root, a retained non-leaf, or a leaf
    differentiated by autograd.grad; then run the backward."""
    x = cr.ones(3, requires_grad=True)
    y = x * 2
    if where == "leaf":
        x.register_hook(hook)
        (y * 3).sum().backward()
    elif where in ("non_leaf", "retained"):
        if where == "retained":
            y.retain_grad()
        y.register_hook(hook)
        (y * 3).sum().backward()
    elif where == "root":
        y.register_hook(hook)
        y.backward(cr.ones(3))
    else:
        x.register_hook(hook)
        cr.autograd.grad((y * 3).sum(), x)


@pytest.mark.parametrize("where", ["leaf", "non_leaf", "retained", "root", "grad"])
@pytest.mark.parametrize("name", sorted(BAD_HOOKS))
def test_a_hook_that_changes_shape_or_dtype_is_refused_like_torch(name, where):
    hook, error, message = BAD_HOOKS[name]
    with pytest.raises(error, match=re.escape(message)):
        _hooked(where, hook)


def test_a_hook_may_return_a_new_tensor_of_the_same_shape_and_dtype():
    x = cr.ones(3, requires_grad=True)
    x.register_hook(lambda g: g * 0 + cr.tensor([1.0, 2.0, 3.0]))
    (x * 2).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0, 3.0] and x.grad.dtype == np.float32
