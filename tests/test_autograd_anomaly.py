"""Anomaly mode names the op and the forward call's file:line on NaN/inf in backward."""
import pytest

import chainrule as cr


def test_detect_anomaly_names_op_and_call_site():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with cr.autograd.detect_anomaly():
        y = cr.sqrt(x)  # the line to be named
        line = y_line = __import__("inspect").currentframe().f_lineno - 1
        with pytest.raises(RuntimeError, match=r"SqrtBackward.*inf") as err:
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
