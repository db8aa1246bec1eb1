"""PyTorch-shaped names: ``chainrule.utils.data`` is ``torch.utils.data``.

``data`` is imported on first use, so ``import chainrule as torch`` stays light and
``torch.utils.data.DataLoader`` works without importing ``chainrule.utils.data`` first.

Example:
    >>> import chainrule as torch
    >>> torch.utils.data.DataLoader.__name__
    'DataLoader'
"""
from __future__ import annotations

import importlib
from typing import Any

_SUBMODULES = {"data"}


def __getattr__(name: str) -> Any:
    """Import ``chainrule.utils.data`` on first use."""
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'chainrule.utils' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _SUBMODULES)
