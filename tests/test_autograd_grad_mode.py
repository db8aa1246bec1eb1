"""no_grad / enable_grad / set_grad_enabled as context managers and decorators."""
import numpy as np
import pytest

import chainrule as cr


def test_no_grad_context_and_restore_on_error():
    x = cr.ones(2, requires_grad=True)
    with pytest.raises(ZeroDivisionError):
        with cr.no_grad():
            assert not (x * 2).requires_grad
            1 / 0
    assert cr.is_grad_enabled() and (x * 2).requires_grad


def test_enable_grad_inside_no_grad():
    x = cr.ones(2, requires_grad=True)
    with cr.no_grad():
        with cr.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad


def test_decorators():
    x = cr.ones(2, requires_grad=True)

    @cr.no_grad()
    def f(t):
        return t * 2

    @cr.set_grad_enabled(False)
    def g(t):
        return t * 2

    assert not f(x).requires_grad and not g(x).requires_grad and cr.is_grad_enabled()


def test_set_grad_enabled_as_function_and_context():
    cr.set_grad_enabled(False)
    try:
        assert not cr.is_grad_enabled()
    finally:
        cr.set_grad_enabled(True)
    with cr.set_grad_enabled(False):
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()


def test_traced_fused_backward_lists_its_inner_ops():
    x = cr.tensor([[-1.0, 2.0]], requires_grad=True)
    with cr.trace() as t:
        h = cr.relu(x)
        y = cr.tanh(h)
        y.sum().backward()
    inner = {r.op: [e["op"] for e in r.inner_ops] for r in t.backward_rows}
    assert inner[y.grad_fn.name()] and inner[h.grad_fn.name()]
    # the same gradient as the untraced first-order backward
    y = cr.tensor([[-1.0, 2.0]], requires_grad=True)
    cr.tanh(cr.relu(y)).sum().backward()
    np.testing.assert_allclose(x.grad._data, y.grad._data, rtol=1e-6)


# ---------------------------------------------------------------- review regressions
def test_no_grad_and_enable_grad_work_as_bare_decorators_like_torch():
    x = cr.ones(2, requires_grad=True)

    @cr.no_grad
    def off(t):
        return t * 2

    @cr.enable_grad
    def on(t):
        return t * 2

    assert off.__name__ == "off" and not off(x).requires_grad
    with cr.no_grad():
        assert on(x).requires_grad
    assert cr.is_grad_enabled()
