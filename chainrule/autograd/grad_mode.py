"""Grad modes: ``no_grad``, ``enable_grad``, ``set_grad_enabled``.

Each is a context manager and a decorator, and restores the previous mode in ``finally``.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    """Process-wide autograd switches (read on every op, so kept as plain attributes)."""

    grad_enabled: bool = True
    anomaly: bool = False  # inside detect_anomaly: ops record their call sites
    anomaly_check_nan: bool = True  # ... and backward outputs are checked for NaN/inf
    tracer: Any = None  # a chainrule.viz.trace.Trace while one is recording, else None
    clock: int = 0  # counts in-place modifications; nodes compare it to detect stale inputs


state = _State()


def is_grad_enabled() -> bool:
    """Return True when operations record a graph for backward."""
    return state.grad_enabled


class _GradMode:
    _target: bool = True

    def __enter__(self) -> None:
        self._prev = state.grad_enabled
        state.grad_enabled = self._target

    def __exit__(self, *exc: object) -> None:
        state.grad_enabled = self._prev

    def __call__(self, fn: F) -> F:
        target = self._target

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            prev = state.grad_enabled
            state.grad_enabled = target
            try:
                return fn(*args, **kwargs)
            finally:
                state.grad_enabled = prev

        return wrapper  # type: ignore[return-value]


class _NoParamGradMode(_GradMode):
    """A grad mode that is also a decorator without parentheses (``@no_grad``), as torch."""

    def __new__(cls, orig_func: Any = None) -> Any:
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)  # used as ``@no_grad``: the decorated function


class no_grad(_NoParamGradMode):
    """Disable graph recording inside the block (or the decorated function).

    Usable as ``with no_grad():``, ``@no_grad()`` or ``@no_grad``.

    Example:
        >>> import chainrule as cr
        >>> x = cr.ones(2, requires_grad=True)
        >>> with cr.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
        >>> @cr.no_grad
        ... def double(t):
        ...     return t * 2
        >>> double(x).requires_grad
        False
    """

    _target = False


class enable_grad(_NoParamGradMode):
    """Enable graph recording inside the block, even within ``no_grad``.

    Usable as ``with enable_grad():``, ``@enable_grad()`` or ``@enable_grad``.
    """

    _target = True


class set_grad_enabled(_GradMode):
    """Set grad mode to ``mode``; usable as a context manager, decorator or plain call.

    Args:
        mode: True to record graphs, False not to.
    """

    def __init__(self, mode: bool) -> None:
        self._target = bool(mode)
        self._prev = state.grad_enabled
        state.grad_enabled = self._target  # takes effect when called as a function, like torch

    def __call__(self, fn: F) -> F:
        state.grad_enabled = self._prev  # used as a decorator: undo the eager switch
        return super().__call__(fn)

    def __enter__(self) -> None:
        state.grad_enabled = self._target
