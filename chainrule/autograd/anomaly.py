"""Anomaly mode: find the op whose backward produced NaN or inf, and where it was called."""
from __future__ import annotations

from typing import Any

from .grad_mode import state


class detect_anomaly:
    """Check every backward output for NaN/inf and name the op and its forward call's file:line.

    While active, each recorded op remembers the file:line of the user code that called it
    (a small cost, so it is off by default); an error raised by an op's backward then carries
    a note naming the op and that call site.

    Args:
        check_nan: set False to record call sites without checking values.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([0.0], requires_grad=True)
        >>> with cr.autograd.detect_anomaly():
        ...     y = cr.sqrt(x)  # derivative 1/(2*sqrt(0)) is inf
        ...     try:
        ...         y.sum().backward()
        ...     except RuntimeError as e:
        ...         print(str(e).split(".")[0])
        Function 'SqrtBackward0' returned inf values in its 0th output
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan

    def __enter__(self) -> "detect_anomaly":
        self._prev = (state.anomaly, state.anomaly_check_nan)
        state.anomaly, state.anomaly_check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc: Any) -> None:
        state.anomaly, state.anomaly_check_nan = self._prev


def is_anomaly_enabled() -> bool:
    """True inside ``detect_anomaly`` (whatever its ``check_nan``), as torch's."""
    return state.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    """True inside ``detect_anomaly(check_nan=True)``, as torch's."""
    return state.anomaly and state.anomaly_check_nan
