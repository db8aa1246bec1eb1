"""Anomaly mode names the op and the forward call's file:line on NaN/inf in backward."""
import pytest

import chainrule as cr


def test_detect_anomaly_names_op_and_call_site():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with cr.autograd.detect_anomaly():
        y = cr.sqrt(x)  # the line to be named
        line = y_line = __import__("inspect").currentframe().f_lineno - 1
        with pytest.raises(RuntimeError, match=r"SqrtBackward0.*inf") as err:
            y.sum().backward()
    assert f"test_autograd_anomaly.py:{y_line}" in str(err.value)
    assert line == y_line


def test_nan_reported():
    x = cr.tensor([-1.0], requires_grad=True)
    with cr.autograd.detect_anomaly():
        y = cr.sqrt(x)
        with pytest.raises(RuntimeError, match="returned nan values"):
            y.sum().backward()


def test_without_anomaly_mode_no_error():
    x = cr.tensor([0.0], requires_grad=True)
    cr.sqrt(x).sum().backward()
    assert x.grad.item() == float("inf")
    assert not cr.autograd.is_anomaly_enabled()


def test_check_nan_false_records_call_sites_without_checking_values():
    """As torch: the mode is on (call sites recorded, is_anomaly_enabled) but NaN passes."""
    import inspect

    x = cr.tensor([0.0], requires_grad=True)
    with cr.autograd.detect_anomaly(check_nan=False):
        assert cr.autograd.is_anomaly_enabled()
        assert not cr.autograd.is_anomaly_check_nan_enabled()
        y = cr.sqrt(x)
        line = inspect.currentframe().f_lineno - 1
        assert y.grad_fn._site.endswith(f"test_autograd_anomaly.py:{line}")
        y.sum().backward()  # inf, not checked
    assert x.grad.item() == float("inf")
    assert not cr.autograd.is_anomaly_enabled()


@pytest.mark.skipif(__import__("sys").version_info < (3, 11), reason="notes need Python 3.11")
def test_an_error_in_backward_names_the_forward_call_site_under_anomaly_mode():
    import inspect

    class Broken(cr.autograd.Function):
        def forward(self, x):
            return x * 1

        def backward(self, gy):
            raise ValueError("broken backward")

    x = cr.tensor([1.0], requires_grad=True)
    with cr.autograd.detect_anomaly(check_nan=False):
        y = Broken()(x)
        line = inspect.currentframe().f_lineno - 1
        with pytest.raises(ValueError, match="broken backward") as err:
            y.sum().backward()
    notes = "\n".join(getattr(err.value, "__notes__", []))
    assert "BrokenBackward" in notes and f"test_autograd_anomaly.py:{line}" in notes
