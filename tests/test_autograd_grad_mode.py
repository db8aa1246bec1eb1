"""no_grad / enable_grad / set_grad_enabled as context managers and decorators."""
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
