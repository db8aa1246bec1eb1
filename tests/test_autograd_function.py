"""PyTorch's custom-Function form (ctx, apply, save_for_backward...) and the graph as PyTorch
shows it (name(), next_functions, AccumulateGrad), each checked against torch itself."""
from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
import torch

import chainrule as cr
from chainrule.autograd.function import Function, once_differentiable
from chainrule.testing import assert_parity

LIBS = pytest.mark.parametrize("lib", [cr, torch], ids=["chainrule", "torch"])


def _classes(lib: Any) -> Any:
    """The custom Functions of these tests, written once against ``lib``'s Function."""

    class Legendre3(lib.autograd.Function):  # PyTorch's polynomial_custom_function tutorial
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    class Scale(lib.autograd.Function):  # a number among the inputs; state on ctx
        @staticmethod
        def forward(ctx, x, k, shift=0.0):
            ctx.k = k
            ctx.seen_needs = ctx.needs_input_grad
            return x * k + shift

        @staticmethod
        def backward(ctx, gy):
            return gy * ctx.k, None, None

    class Sort(lib.autograd.Function):  # a non-differentiable output
        @staticmethod
        def forward(ctx, x):
            values, idx = lib.sort(x) if hasattr(lib, "sort") else _sort(lib, x)
            ctx.mark_non_differentiable(idx)
            ctx.save_for_backward(idx)
            return values, idx

        @staticmethod
        def backward(ctx, gv, gi):
            (idx,) = ctx.saved_tensors
            ctx.gi = gi
            out = lib.zeros_like(gv)
            out[idx] = gv
            return out

    class Split(lib.autograd.Function):  # two outputs; one left unused
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            ctx.got = (ga is None, gb is None)
            ga = 0 if ga is None else ga * 2
            gb = 0 if gb is None else gb * 3
            return ga + gb, None

    class AddOneInPlace(lib.autograd.Function):  # mark_dirty
        @staticmethod
        def forward(ctx, x):
            x.add_(1.0)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, gy):
            return gy

    class SplitForm(lib.autograd.Function):  # forward without ctx + setup_context
        @staticmethod
        def forward(x, y):
            return x * y

        @staticmethod
        def setup_context(ctx, inputs, output):
            ctx.save_for_backward(*inputs)

        @staticmethod
        def backward(ctx, gy):
            x, y = ctx.saved_tensors
            return gy * y, gy * x

    return {c.__name__: c for c in (Legendre3, Scale, Sort, Split, AddOneInPlace, SplitForm)}


def _sort(lib: Any, x: Any) -> Any:
    order = np.argsort(x.numpy(), kind="stable")
    return x[lib.tensor(order)], lib.tensor(order)


def test_legendre_tutorial_function_matches_torch_to_second_order():
    x = np.random.default_rng(0).uniform(-1, 1, 7)
    assert_parity(lambda lib, t: _classes(lib)["Legendre3"].apply(t), x, second_order=True)


def test_ctx_is_the_grad_fn_named_as_torch_names_it():
    for lib in (cr, torch):
        Legendre3 = _classes(lib)["Legendre3"]
        y = Legendre3.apply(lib.ones(2, dtype=lib.float64, requires_grad=True))
        assert type(y.grad_fn).__name__ == y.grad_fn.name() == "Legendre3Backward"
        assert re.fullmatch(r"<.*Legendre3Backward object at 0x[0-9a-f]+>", repr(y.grad_fn))
        assert isinstance(y.grad_fn, cr.autograd.function.FunctionCtx) == (lib is cr)


@LIBS
def test_number_arguments_get_no_gradient_and_needs_input_grad_names_them(lib):
    Scale = _classes(lib)["Scale"]
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = Scale.apply(x, 3.0)  # two inputs (the arguments given); a third None is allowed
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    assert y.grad_fn.seen_needs == (True, False)
    assert len(y.grad_fn.next_functions) == 1  # edges for the tensor arguments only
    assert Scale.apply(x, 2.0, shift=1.0).tolist() == [3.0, 5.0]


def _raised(fn: Any) -> tuple[type, str]:
    with pytest.raises(Exception) as info:
        fn()
    return type(info.value), str(info.value)


def _backward_returning(lib: Any, grads: Any) -> Any:
    class Bad(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, gy):
            return grads(gy)

    x = lib.ones(2, requires_grad=True)
    return lambda: Bad.apply(x, 2.0).sum().backward()


@pytest.mark.parametrize("grads", [
    lambda g: g,  # too few
    lambda g: (g, g),  # a gradient for the number
    lambda g: (g * 2)[:1],  # a gradient of the wrong shape
], ids=["too-few", "not-none-for-a-number", "wrong-shape"])
def test_bad_backward_results_raise_torchs_error(grads):
    ours, theirs = _raised(_backward_returning(cr, grads)), _raised(
        _backward_returning(torch, grads))
    assert issubclass(ours[0], theirs[0]) and theirs[0] is RuntimeError
    assert ours[1].replace("BadBackward", "") == theirs[1].replace("BadBackward", "")


@LIBS
def test_extra_trailing_none_gradients_are_allowed(lib):
    run = _backward_returning(lib, lambda g: (g * 2, None, None))
    run()


@LIBS
def test_saved_tensors_after_backward_freed_them(lib):
    Legendre3 = _classes(lib)["Legendre3"]
    x = lib.ones(2, requires_grad=True)
    y = Legendre3.apply(x)
    y.sum().backward(retain_graph=True)
    assert len(y.grad_fn.saved_tensors) == 1  # kept: retain_graph
    y.sum().backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.grad_fn.saved_tensors
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.sum().backward()


@LIBS
def test_a_saved_tensor_modified_in_place_raises(lib):
    Legendre3 = _classes(lib)["Legendre3"]
    a = lib.ones(2, requires_grad=True)
    x = a * 1
    y = Legendre3.apply(x)
    with lib.no_grad():
        x.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()


def test_non_differentiable_output_matches_torch():
    def run(lib):
        x = lib.tensor([3.0, 1.0, 2.0], requires_grad=True)
        values, idx = _classes(lib)["Sort"].apply(x)
        (values * lib.tensor([1.0, 10.0, 100.0])).sum().backward()
        gi = values.grad_fn.gi
        return (values.tolist(), idx.tolist(), idx.requires_grad, x.grad.tolist(),
                gi.tolist())

    assert run(cr) == run(torch)
    assert run(cr)[2] is False and run(cr)[4] == [0, 0, 0]  # zeros for the unused output


@pytest.mark.parametrize("materialize", [True, False])
def test_unused_output_gradient_zeros_or_none_as_torch(materialize):
    def run(lib):
        x = lib.tensor([1.0, 2.0], requires_grad=True)
        a, b = _classes(lib)["Split"].apply(x, materialize)
        a.sum().backward()
        return a.grad_fn.got, x.grad.tolist()

    assert run(cr) == run(torch) == ((False, not materialize), [2.0, 2.0])


def test_mark_dirty_returns_the_input_rebased_as_torch():
    def run(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        x = a * 2
        y = _classes(lib)["AddOneInPlace"].apply(x)
        (y * y).sum().backward()
        return y is x, y.grad_fn.name(), y.tolist(), a.grad.tolist()

    assert run(cr) == run(torch) == (True, "AddOneInPlaceBackward", [3.0, 5.0], [12.0, 20.0])


@LIBS
def test_mark_dirty_on_a_leaf_that_requires_grad_raises(lib):
    leaf = lib.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        _classes(lib)["AddOneInPlace"].apply(leaf)


def test_setup_context_form_matches_torch():
    x, y = np.random.default_rng(1).standard_normal((2, 3))
    assert_parity(lambda lib, a, b: _classes(lib)["SplitForm"].apply(a, b), x, y)


@LIBS
def test_apply_under_no_grad_records_nothing(lib):
    x = lib.ones(2, requires_grad=True)
    with lib.no_grad():
        y = _classes(lib)["Legendre3"].apply(x)
    assert not y.requires_grad and y.grad_fn is None


@LIBS
def test_an_input_returned_unchanged_keeps_its_place(lib):
    class Identity(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, gy):
            return gy * 5

    x = lib.ones(2, requires_grad=True)
    y = Identity.apply(x)
    y.sum().backward()
    assert y is not x and x.is_leaf and x.grad.tolist() == [5.0, 5.0]


def _once(lib: Any) -> Any:
    Base = lib.autograd.Function
    once = (once_differentiable if lib is cr
            else torch.autograd.function.once_differentiable)

    class Double(Base):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        @once
        def backward(ctx, gy):
            return gy * 2

    return Double


@LIBS
def test_once_differentiable_first_order_works_and_second_order_raises(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    v = lib.ones(2, requires_grad=True)  # an upstream gradient that requires grad
    (g,) = lib.autograd.grad(_once(lib).apply(x), x, v, create_graph=True)
    assert g.tolist() == [2.0, 2.0] and g.requires_grad
    with pytest.raises(RuntimeError, match="differentiate twice a function that was marked "
                                           "with @once_differentiable"):
        g.sum().backward()


def test_chainrule_form_ops_have_apply_too():
    from chainrule.ops.arithmetic import Mul

    a, b = cr.tensor([2.0], requires_grad=True), cr.tensor([3.0])
    y = Mul.apply(a, b)
    y.backward(cr.ones(1))
    assert y.grad_fn.name() == "MulBackward0" and a.grad.tolist() == [3.0]
    with pytest.raises(TypeError, match="positional inputs only"):
        Mul.apply(a, other=b)


def test_a_trace_shows_a_custom_function_as_one_node():
    Legendre3 = _classes(cr)["Legendre3"]
    x = cr.tensor([0.5], requires_grad=True)
    with cr.trace() as t:
        Legendre3.apply(x).sum().backward()
    assert [r.op for r in t.backward_rows] == ["SumBackward0", "Legendre3Backward"]
    assert [r.op for r in t.forward_rows] == ["Legendre3Backward", "Sum"]


# ---------------------------------------------------------------------- the graph view
def _walk(fn: Any, leaves: dict[int, str], seen: Any = None) -> Any:
    """A graph as nested (name, index, children) from next_functions; leaves by label."""
    if fn is None:
        return None
    if type(fn).__name__ == "AccumulateGrad":
        return ("leaf", leaves[id(fn.variable)])
    return (fn.name(), tuple((_walk(f, leaves), i) for f, i in fn.next_functions))


def test_next_functions_match_torchs_graph():
    def run(lib):
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)
        c = lib.tensor([0.5, 0.5])  # a constant: (None, 0)
        y = ((a * b + c.exp() * a) / 2 - b.sigmoid().tanh()).sum()
        return _walk(y.grad_fn, {id(a): "a", id(b): "b"})

    assert run(cr) == run(torch)


@LIBS
def test_accumulate_grad_is_one_object_per_leaf_with_its_variable(lib):
    w = lib.ones(2, requires_grad=True)
    fn = (w * w).grad_fn
    (n0, i0), (n1, i1) = fn.next_functions
    assert n0 is n1 and n0.variable is w and (i0, i1) == (0, 0)
    assert n0.name() == "torch::autograd::AccumulateGrad" and n0.next_functions == ()
    assert re.fullmatch(r"<AccumulateGrad object at 0x[0-9a-f]+>", repr(n0))


@pytest.mark.parametrize("make", [
    lambda lib, x: x * 2, lambda lib, x: x + x, lambda lib, x: x - 1, lambda lib, x: x / 2,
    lambda lib, x: x.sum(), lambda lib, x: x.exp(), lambda lib, x: x.sigmoid(),
    lambda lib, x: x.tanh(), lambda lib, x: -x, lambda lib, x: x.T,
    lambda lib, x: x.log_softmax(1), lambda lib, x: x.softmax(1),
    lambda lib, x: x.clone(), lambda lib, x: x.sqrt(), lambda lib, x: x.abs(),
    lambda lib, x: lib.cat([x, x]), lambda lib, x: lib.where(x > 0, x, x),
    lambda lib, x: lib.maximum(x, x),
])
def test_node_names_are_torchs(make):
    def name(lib):
        x = lib.ones(2, 3, requires_grad=True)
        return make(lib, x).grad_fn.name()

    assert name(cr) == name(torch)


def test_repr_of_nodes_and_tensors_as_torch():
    x = cr.ones(1, requires_grad=True)
    y = x * 2
    assert re.fullmatch(r"<MulBackward0 object at 0x[0-9a-f]+>", repr(y.grad_fn))
    assert repr(y) == repr(torch.ones(1, requires_grad=True) * 2) == \
        "tensor([2.], grad_fn=<MulBackward0>)"


def test_next_functions_survive_a_freed_graph():
    w = cr.ones(2, requires_grad=True)
    h = w * 2
    y = h.exp().sum()
    y.backward()  # frees what each node saved; the graph's shape stays
    exp = y.grad_fn.next_functions[0][0]
    assert exp.name() == "ExpBackward0"
    (mul, _), = exp.next_functions
    assert mul is h.grad_fn and mul.next_functions[0][0].variable is w


def test_function_subclass_without_ctx_form_is_unchanged():
    class Twice(Function):
        def forward(self, x):
            return x * 2

        def backward(self, gy):
            return gy * 2

    assert Twice._ctx_node is None
    y = Twice()(cr.ones(2, requires_grad=True))
    assert y.grad_fn.name() == "TwiceBackward0" and isinstance(y.grad_fn, Twice)
