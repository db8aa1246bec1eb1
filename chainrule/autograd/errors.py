"""The errors of bad op input: :class:`OpError` and :class:`OpIndexError`.

They live on the lowest floor that raises them (Tensor's own methods, e.g. ``item()`` and
``copy_()``), so the ops, the factories and the layers above all raise the same classes.
"""
from __future__ import annotations


def freed_graph_message(node: str) -> str:
    """PyTorch's message for a backward through a freed graph, naming the node.

    Example:
        >>> freed_graph_message("MulBackward0")[:50]
        'Trying to backward through the graph a second time'
    """
    return (f"Trying to backward through the graph a second time (or directly access saved "
            f"tensors after they have already been freed) at {node}. Saved intermediate "
            f"values of the graph are freed when you call .backward() or autograd.grad(). "
            f"Specify retain_graph=True if you need to backward through the graph a second "
            f"time or if you need to access saved tensors after calling backward.")


class OpError(ValueError, RuntimeError):
    """An op's input breaks one of its rules (shapes that do not broadcast or multiply, a size
    that does not fit, a value out of its domain); the message names the op, the shapes and
    the rule.

    It is both a ``ValueError`` and a ``RuntimeError``: PyTorch raises ``RuntimeError`` for
    these, so code written for PyTorch (``except RuntimeError``) catches ours, while code
    written for earlier chainrule releases, which raised ``ValueError``, still does too.

    Example:
        >>> import chainrule as cr
        >>> try:
        ...     cr.ones(2, 3) @ cr.ones(4, 5)
        ... except RuntimeError as e:
        ...     print(type(e).__name__, isinstance(e, ValueError))
        OpError True
    """


class OpIndexError(OpError, IndexError):
    """An index in an op's input is out of range (a class label in ``cross_entropy`` and
    ``nll_loss``, an index in ``gather``): also an ``IndexError``, as PyTorch raises for a
    label (``"Target 5 is out of bounds."``) and as chainrule raised for ``gather``'s index
    (PyTorch's ``RuntimeError`` there is caught through :class:`OpError`).

    Example:
        >>> import chainrule as cr
        >>> try:
        ...     cr.nn.functional.cross_entropy(cr.ones(2, 3), cr.tensor([0, 5]))
        ... except IndexError as e:
        ...     print(str(e)[:45])
        cross_entropy: target label 5 is out of range
    """
