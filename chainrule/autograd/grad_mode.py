"""Grad modes: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode``.

Each is a context manager and a decorator, and restores the previous mode in ``finally``.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    """Process-wide autograd switches (read on every op, so kept as plain attributes)."""

    grad_enabled: bool = True
    inference: bool = False  # inside inference_mode (grad is then disabled too)
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


class inference_mode:  # noqa: N801  (torch.inference_mode's name)
    """Disable graph recording inside the block or the decorated function, as PyTorch's
    inference mode (``is_inference_mode_enabled()`` says so inside it). PyTorch also marks the
    tensors made inside as inference tensors that autograd refuses later; chainrule does not:
    here it is ``no_grad`` plus the flag.

    Usable as ``with inference_mode():``, ``@inference_mode()``, ``@inference_mode`` and
    ``inference_mode(False)``, which turns the mode off and grad mode on, as PyTorch's (its
    ``InferenceMode(false)`` sets grad mode to ``not enabled``, also inside ``no_grad``).
    The previous modes come back on exit, also after an exception.

    Args:
        mode: True to enter inference mode, False to leave it.

    Example:
        >>> import chainrule as cr
        >>> x = cr.ones(2, requires_grad=True)
        >>> with cr.inference_mode():
        ...     y = x * 2
        ...     inside = cr.is_inference_mode_enabled()
        >>> y.requires_grad, inside, cr.is_inference_mode_enabled()
        (False, True, False)
        >>> @cr.inference_mode
        ... def double(t):
        ...     return t * 2
        >>> double(x).requires_grad
        False
        >>> with cr.no_grad(), cr.inference_mode(False):
        ...     (x * 2).requires_grad
        True
    """

    def __new__(cls, mode: Any = True) -> Any:
        if not callable(mode):
            return super().__new__(cls)
        return cls()(mode)  # used as ``@inference_mode``: the decorated function

    def __init__(self, mode: bool = True) -> None:
        self.mode = mode

    def __enter__(self) -> None:
        self._prev = (state.grad_enabled, state.inference)
        state.grad_enabled, state.inference = not self.mode, bool(self.mode)

    def __exit__(self, *exc: object) -> None:
        state.grad_enabled, state.inference = self._prev

    def clone(self) -> "inference_mode":
        """A new context manager of the same mode (PyTorch's ``clone``)."""
        return type(self)(self.mode)

    def __call__(self, fn: F) -> F:
        mode = self.mode

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with inference_mode(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def is_inference_mode_enabled() -> bool:
    """Return True inside ``inference_mode()``.

    Example:
        >>> import chainrule as cr
        >>> cr.is_inference_mode_enabled()
        False
    """
    return state.inference
