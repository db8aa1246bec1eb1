"""The gallery: small worked examples of backpropagation, each runnable and drawable.

Every example is a module with ``main()`` (prints a walkthrough) and
``run(verbose: bool = False) -> dict`` returning its numbers plus, under ``"graph"``, the
output Tensor(s) whose graph to draw (kept with ``retain_graph=True``) and optionally under
``"params"`` a dict ``name -> Tensor``. ``chainrule explain EXAMPLE`` runs one inside a trace
and draws its graph. Modules are imported only when used.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

EXAMPLES: dict[str, str] = {
    "shop": "chainrule.gallery.shop",
    "gate": "chainrule.gallery.gate",
    "linear": "chainrule.gallery.linear",
    "sigmoid": "chainrule.gallery.sigmoid",
    "neuron": "chainrule.gallery.neuron",
    "blobs": "chainrule.gallery.blobs",
    "cnn": "chainrule.gallery.cnn_step",
    "shallow_cnn": "chainrule.gallery.shallow_cnn",
    "lstm": "chainrule.gallery.lstm",
    "attention": "chainrule.gallery.attention",
}
"""Example name -> module path, in the order they are best read."""


def names() -> list[str]:
    """The example names, in reading order.

    Returns:
        The keys of :data:`EXAMPLES`.

    Example:
        >>> names()[:2]
        ['shop', 'gate']
    """
    return list(EXAMPLES)


def _check(name: str, fn_name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(f"{fn_name}: the example name must be a str, got {type(name).__name__}")
    if name not in EXAMPLES:
        raise ValueError(f"{fn_name}: unknown example {name!r}; choose from "
                         f"{', '.join(EXAMPLES)}")
    return EXAMPLES[name]


def load(name: str) -> ModuleType:
    """Import the module of example ``name``.

    Args:
        name: a key of :data:`EXAMPLES`.

    Returns:
        The module (with ``main`` and ``run``).

    Raises:
        ValueError: for an unknown name (the message lists the valid ones).

    Example:
        >>> load("shop").__name__
        'chainrule.gallery.shop'
    """
    module = importlib.import_module(_check(name, "load"))
    for attr in ("run", "main"):
        if not callable(getattr(module, attr, None)):
            raise TypeError(f"load: gallery module {module.__name__} has no {attr}() function; "
                            f"every example needs main() and run(verbose=False) -> dict")
    return module


def describe(name: str) -> str:
    """The one-line description of example ``name`` (its module docstring's first line).

    Args:
        name: a key of :data:`EXAMPLES`.

    Returns:
        The description, or a line saying why the module cannot be imported.

    Example:
        >>> describe("shop").startswith("The shop graph")
        True
    """
    path = _check(name, "describe")
    try:
        module = importlib.import_module(path)
    except ImportError as e:
        return f"(not available: {e})"
    doc = (module.__doc__ or "").strip()
    return doc.splitlines()[0].strip() if doc else "(no description)"


def run(name: str, verbose: bool = False) -> dict[str, Any]:
    """Run example ``name`` and return its result dict.

    Args:
        name: a key of :data:`EXAMPLES`.
        verbose: print the walkthrough while running.

    Returns:
        The example's numbers, with ``"graph"`` (Tensor or Tensors) and maybe ``"params"``.

    Raises:
        TypeError: when the module's ``run`` returns something without a ``"graph"``.

    Example:
        >>> run("gate")["dx"]
        15.0
    """
    result = load(name).run(verbose=verbose)
    if not isinstance(result, dict) or "graph" not in result:
        raise TypeError(f"run: {EXAMPLES[name]}.run() must return a dict with a 'graph' key "
                        f"(the output tensor(s) to draw), got {type(result).__name__}")
    return result
