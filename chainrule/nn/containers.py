"""The containers: ``Sequential`` (chain modules), ``ModuleList`` (a list of modules) and
``Identity`` (a placeholder layer)."""
from __future__ import annotations

import operator
from collections import OrderedDict
from typing import Any, Iterable, Iterator, Optional, TypeVar, Union, overload

from ..autograd.tensor import Tensor
from .module import Module

_N = TypeVar("_N", bound="_Numbered")


def _position(container: Module, idx: int) -> int:
    """The position ``idx`` (negative counts from the end) among the container's submodules."""
    n = len(container._modules)
    idx = operator.index(idx)  # TypeError for a str or float index, as PyTorch
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range for {type(container).__name__} of "
                         f"length {n}")
    return idx % n


class Identity(Module):
    """Return the input unchanged (a placeholder layer); constructor arguments are ignored.

    Shape:
        Input ``(*)``; output ``(*)``, the same tensor.

    Example:
        >>> import chainrule as cr
        >>> x = cr.ones(2)
        >>> cr.nn.Identity(54, unused="x")(x) is x
        True
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__()

    def forward(self, input: Tensor) -> Tensor:
        return input


class _Numbered(Module):
    """What Sequential and ModuleList share: submodules numbered ``'0'``, ``'1'``, ..."""

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())  # type: ignore[arg-type]

    def __delitem__(self, idx: Union[int, slice]) -> None:
        items = list(self._modules.values())
        del items[idx if isinstance(idx, slice) else _position(self, idx)]
        # renumber '0', '1', ... as PyTorch does, so append() cannot overwrite a module
        self._modules.clear()
        for i, m in enumerate(items):
            self._modules[str(i)] = m

    def append(self: _N, module: Module) -> _N:
        """Add ``module`` at the end."""
        self.add_module(str(len(self)), module)
        return self


class Sequential(_Numbered):
    """Chain modules: the output of each is the input of the next.

    Args:
        *args: modules (named ``'0'``, ``'1'``, ...), or one ``OrderedDict`` name -> module.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
        >>> net(cr.zeros(5, 4)).shape
        (5, 2)
        >>> net
        Sequential(
          (0): Linear(in_features=4, out_features=3, bias=True)
          (1): ReLU()
          (2): Linear(in_features=3, out_features=2, bias=True)
        )
    """

    def __init__(self, *args: Any) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, m in args[0].items():
                self.add_module(name, m)
        else:
            for i, m in enumerate(args):
                self.add_module(str(i), m)

    def _index(self, idx: int) -> str:
        return list(self._modules)[_position(self, idx)]

    @overload
    def __getitem__(self, idx: int) -> Module: ...

    @overload
    def __getitem__(self, idx: slice) -> "Sequential": ...

    def __getitem__(self, idx: Union[int, slice]) -> Any:
        if isinstance(idx, slice):
            return type(self)(OrderedDict(list(self._modules.items())[idx]))
        return self._modules[self._index(idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        setattr(self, self._index(idx), module)

    def forward(self, input: Any) -> Any:
        for m in self._modules.values():
            input = m(input)  # type: ignore[misc]
        return input


class ModuleList(_Numbered):
    """A list of modules, registered as submodules ``'0'``, ``'1'``, ... (no forward).

    Args:
        modules: an iterable of modules.

    Example:
        >>> from chainrule import nn
        >>> layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
        >>> len(layers), len(list(layers.parameters()))
        (3, 6)
    """

    def __init__(self, modules: Optional[Iterable[Module]] = None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def _key(self, idx: int) -> str:
        return str(_position(self, idx))

    def __getitem__(self, idx: Union[int, slice]) -> Any:
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])  # type: ignore[arg-type]
        return self._modules[self._key(idx)]

    def __setitem__(self, idx: int, module: Module) -> None:
        self.add_module(self._key(idx), module)

    def extend(self, modules: Iterable[Module]) -> "ModuleList":
        """Add each of ``modules`` at the end."""
        for m in modules:
            self.append(m)
        return self

    def insert(self, index: int, module: Module) -> None:
        """Insert ``module`` before position ``index``."""
        items = list(self._modules.values())
        items.insert(index, module)
        self._modules.clear()
        self.extend(items)  # type: ignore[arg-type]
