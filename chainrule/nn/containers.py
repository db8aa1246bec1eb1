"""The containers: ``Sequential`` (chain modules), ``ModuleList`` and ``ModuleDict`` (modules
in a list or a dict), ``ParameterList`` and ``ParameterDict`` (parameters in a list or a
dict), and ``Identity`` (a placeholder layer)."""
from __future__ import annotations

import operator
from collections import OrderedDict
from typing import Any, Iterable, Iterator, Mapping, Optional, TypeVar, Union, overload

from ..autograd.tensor import Tensor
from .module import Module
from .parameter import Parameter

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

    def __dir__(self) -> list[str]:
        return [k for k in super().__dir__() if not k.isdigit()]  # as torch's: no '0', '1'

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


class ModuleDict(Module):
    """An ordered dict of modules, registered as submodules under their keys (no forward).

    Args:
        modules: a mapping name -> module, or an iterable of ``(name, module)`` pairs.

    Example:
        >>> from chainrule import nn
        >>> heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "box": nn.Linear(4, 2)})
        >>> list(heads.keys()), "cls" in heads, len(heads)
        (['cls', 'box'], True, 2)
        >>> heads
        ModuleDict(
          (cls): Linear(in_features=4, out_features=3, bias=True)
          (box): Linear(in_features=4, out_features=2, bias=True)
        )
    """

    def __init__(self, modules: Optional[Any] = None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key: str) -> Module:
        return self._modules[key]  # type: ignore[return-value]

    def __setitem__(self, key: str, module: Module) -> None:
        self.add_module(key, module)

    def __delitem__(self, key: str) -> None:
        del self._modules[key]

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[str]:
        return iter(self._modules)

    def __contains__(self, key: object) -> bool:
        return key in self._modules

    def clear(self) -> None:
        """Remove every module."""
        self._modules.clear()

    def pop(self, key: str) -> Module:
        """Remove the module under ``key`` and return it."""
        module = self[key]
        del self[key]
        return module

    def keys(self) -> Iterable[str]:
        """The names."""
        return self._modules.keys()

    def items(self) -> Iterable[tuple[str, Module]]:
        """The ``(name, module)`` pairs."""
        return self._modules.items()  # type: ignore[return-value]

    def values(self) -> Iterable[Module]:
        """The modules."""
        return self._modules.values()  # type: ignore[return-value]

    def update(self, modules: Any) -> None:
        """Add (or replace) the modules of a mapping (in its order) or of an iterable of
        ``(name, module)`` pairs.

        Raises:
            TypeError: ``modules`` is not iterable, or an element is not.
            ValueError: an element is not a pair.
        """
        if isinstance(modules, (Mapping, ModuleDict)):
            for key, module in modules.items():
                self[key] = module
            return
        for key, module in _pairs("ModuleDict", modules):
            self[key] = module


# ============================================================================ parameter containers
_LEGACY_TYPE = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor",
                "int64": "LongTensor", "int32": "IntTensor", "int16": "ShortTensor",
                "int8": "CharTensor", "uint8": "ByteTensor", "bool": "BoolTensor"}


def _as_parameter(value: Any) -> Any:
    """A plain tensor becomes a Parameter (as torch's containers do); others pass."""
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


def _describe(key: Any, value: Any, legacy_dtype: bool) -> str:
    """One line of the containers' repr, in torch's words (``torch.float32`` in a list,
    ``torch.FloatTensor`` in a dict, as torch prints them)."""
    if not isinstance(value, Tensor):
        return f"  ({key}): Object of type: {type(value).__name__}"
    size = "x".join(str(s) for s in value.shape)
    dt = str(value.dtype)
    dt = f"torch.{_LEGACY_TYPE.get(dt, dt)}" if legacy_dtype else f"torch.{dt}"
    kind = "Parameter" if isinstance(value, Parameter) else "Tensor"
    return f"  ({key}): {kind} containing: [{dt} of size {size}]"


def _pairs(kind: str, pairs: Any) -> Iterator[tuple[Any, Any]]:
    """The ``(key, value)`` elements of an ``update`` argument, checked as torch's."""
    if not isinstance(pairs, Iterable):
        raise TypeError(f"{kind}.update should be called with an iterable of key/value pairs, "
                        f"but got {type(pairs).__name__}")
    for i, pair in enumerate(pairs):
        if not isinstance(pair, Iterable):
            raise TypeError(f"{kind} update sequence element #{i} should be Iterable; is "
                            f"{type(pair).__name__}")
        pair = tuple(pair)
        if len(pair) != 2:
            raise ValueError(f"{kind} update sequence element #{i} has length {len(pair)}; 2 "
                             "is required")
        yield pair


def _string_key(key: Any) -> str:
    if not isinstance(key, str):
        raise TypeError(f"Index given to ParameterDict cannot be used as a key as it is not a "
                        f"string (type is '{type(key).__name__}')")
    return key


class ParameterList(Module):
    """A list of parameters, registered under ``'0'``, ``'1'``, ... (a plain tensor added is
    wrapped in a :class:`Parameter`).

    Args:
        values: an iterable of parameters or tensors.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> ps = nn.ParameterList([nn.Parameter(cr.zeros(2, 3)), cr.ones(4)])
        >>> len(ps), [n for n, _ in ps.named_parameters()]
        (2, ['0', '1'])
        >>> ps
        ParameterList(
            (0): Parameter containing: [torch.float32 of size 2x3]
            (1): Parameter containing: [torch.float32 of size 4]
        )
    """

    def __init__(self, values: Optional[Iterable[Any]] = None) -> None:
        super().__init__()
        self._size = 0
        if values is not None:
            self.extend(values)

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, idx: Union[int, slice]) -> Any:
        if isinstance(idx, slice):
            return ParameterList([self[i] for i in range(self._size)[idx]])
        idx = operator.index(idx)
        if not -self._size <= idx < self._size:
            raise IndexError(f"index {idx} is out of range")
        return getattr(self, str(idx % self._size))

    def __setitem__(self, idx: int, param: Any) -> None:
        idx = operator.index(idx)
        if not -self._size <= idx < self._size:
            raise IndexError(f"index {idx} is out of range")
        setattr(self, str(idx % self._size), _as_parameter(param))

    def __iter__(self) -> Iterator[Any]:
        return (self[i] for i in range(self._size))

    def __dir__(self) -> list[str]:
        return [k for k in super().__dir__() if not k.isdigit()]  # as torch's: no '0', '1'

    def __iadd__(self, parameters: Iterable[Any]) -> "ParameterList":
        return self.extend(parameters)

    def append(self, value: Any) -> "ParameterList":
        """Add ``value`` at the end."""
        self._size += 1
        setattr(self, str(self._size - 1), _as_parameter(value))
        return self

    def extend(self, values: Iterable[Any]) -> "ParameterList":
        """Add each of ``values`` at the end."""
        if not isinstance(values, Iterable) or isinstance(values, Tensor):
            raise TypeError(f"ParameterList.extend should be called with an iterable, but got "
                            f"{type(values).__name__}")
        for value in values:
            self.append(value)
        return self

    def extra_repr(self) -> str:
        return "\n".join(_describe(k, p, False) for k, p in enumerate(self))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ParameterList should not be called.")


class ParameterDict(Module):
    """An ordered dict of parameters, registered under their keys (a plain tensor added is
    wrapped in a :class:`Parameter`). A plain ``dict`` given to the constructor or to
    :meth:`update` is added in sorted key order, an ``OrderedDict`` in its own, as torch's.

    Args:
        parameters: a mapping name -> parameter, or an iterable of ``(name, value)`` pairs.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> pd = nn.ParameterDict({"scale": cr.ones(3), "bias": nn.Parameter(cr.zeros(3))})
        >>> list(pd.keys()), isinstance(pd["scale"], nn.Parameter)
        (['bias', 'scale'], True)
        >>> nn.ParameterDict({"w": cr.ones(2, 2)})
        ParameterDict(  (w): Parameter containing: [torch.FloatTensor of size 2x2])
    """

    def __init__(self, parameters: Optional[Any] = None) -> None:
        super().__init__()
        self._keys: dict[str, None] = {}
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key: str) -> Any:
        if key not in self._keys:
            raise KeyError(_string_key(key))  # torch raises AttributeError here
        return getattr(self, key)

    def __setitem__(self, key: str, value: Any) -> None:
        value = _as_parameter(value)
        setattr(self, _string_key(key), value)  # first: a name Module refuses adds no key
        self._keys[key] = None

    def __delitem__(self, key: str) -> None:
        del self._keys[key]
        delattr(self, key)

    def __len__(self) -> int:
        return len(self._keys)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __reversed__(self) -> Iterator[str]:
        return reversed(list(self._keys))

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def keys(self) -> Iterable[str]:
        """The names."""
        return self._keys.keys()

    def items(self) -> Iterable[tuple[str, Any]]:
        """The ``(name, parameter)`` pairs."""
        return [(k, self[k]) for k in self._keys]

    def values(self) -> Iterable[Any]:
        """The parameters."""
        return [self[k] for k in self._keys]

    def get(self, key: str, default: Any = None) -> Any:
        """The parameter under ``key``, or ``default``."""
        return self[key] if key in self else default

    def setdefault(self, key: str, default: Any = None) -> Any:
        """The parameter under ``key``, first setting it to ``default`` if absent."""
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str) -> Any:
        """Remove the parameter under ``key`` and return it."""
        value = self[key]
        del self[key]
        return value

    def popitem(self) -> tuple[str, Any]:
        """Remove and return the last ``(name, parameter)`` pair."""
        key = list(self._keys)[-1]
        return key, self.pop(key)

    def clear(self) -> None:
        """Remove every parameter."""
        for key in list(self._keys):
            del self[key]

    def copy(self) -> "ParameterDict":
        """A new ParameterDict holding the same parameters."""
        return ParameterDict(OrderedDict(self.items()))

    def fromkeys(self, keys: Iterable[str], default: Any = None) -> "ParameterDict":
        """A new ParameterDict with ``keys``, each holding ``default``."""
        return ParameterDict((k, default) for k in keys)

    def __or__(self, other: Any) -> "ParameterDict":
        """A copy of this dict updated with ``other`` (``a | b``)."""
        copy = self.copy()
        copy.update(other)
        return copy

    def __ror__(self, other: Any) -> "ParameterDict":
        copy = other.copy()
        copy.update(self)
        return copy

    def __ior__(self, other: Any) -> "ParameterDict":
        self.update(other)
        return self

    def update(self, parameters: Any) -> None:
        """Add (or replace) the entries of a mapping or of an iterable of ``(name, value)``
        pairs (a plain dict in sorted key order, as torch's).

        Raises:
            TypeError: ``parameters`` is not iterable, or an element is not.
            ValueError: an element is not a pair.
        """
        if isinstance(parameters, (OrderedDict, ParameterDict)):
            pairs: Iterable[Any] = list(parameters.items())
        elif isinstance(parameters, Mapping):
            pairs = sorted(parameters.items())
        else:
            pairs = _pairs("ParameterDict", parameters)
        for key, value in pairs:
            self[key] = value

    def extra_repr(self) -> str:
        return "\n".join(_describe(k, p, True) for k, p in self.items())

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("ParameterDict should not be called.")
