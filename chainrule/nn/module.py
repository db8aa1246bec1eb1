"""``Module``: the base class of every layer and model, and the ``train``/``eval`` contexts.

A ``Module`` registers what is assigned to it in ``__setattr__``: a :class:`Parameter` goes to
``_parameters``, a sub-``Module`` to ``_modules``, a tensor already registered with
:meth:`Module.register_buffer` to ``_buffers``. All three are plain dicts, so registration
order is insertion order and names are deterministic (``conv1.weight``, ``bn1.running_mean``).

Modes: ``model.train()`` and ``model.eval()`` set ``training`` on the module and every
submodule. Layers whose forward depends on it read ``self.training``: ``Dropout`` zeroes
activations only in training mode (eval: identity), ``BatchNorm`` normalises with the batch's
statistics and updates its running averages in training mode, and uses the running averages
(updating nothing) in eval mode. :func:`eval_mode` and :func:`train_mode` are context
managers that restore every submodule's previous flag on exit.

:class:`Parameter` lives in :mod:`chainrule.nn.parameter`, the containers (``Sequential``,
``ModuleList``, ``Identity``) in :mod:`chainrule.nn.containers`.
"""
from __future__ import annotations

import contextlib
from collections import OrderedDict, namedtuple
from typing import Any, Callable, Iterator, Mapping, Optional, TypeVar

import numpy

from ..autograd.grad_mode import no_grad
from ..autograd.state_load import IncompatibleKeys, assign_state, plan_state_load
from ..autograd.tensor import RemovableHandle, Tensor
from ..backend import xp
from ..device import check_device
from ..device import device as Device
from .parameter import Parameter

M = TypeVar("M", bound="Module")


# ============================================================================ Module
def _addindent(text: str, spaces: int) -> str:
    lines = text.split("\n")
    if len(lines) == 1:
        return text
    return lines[0] + "\n" + "\n".join(" " * spaces + line for line in lines[1:])


class Module:
    """Base class of every layer and model: subclass it, assign layers in ``__init__`` and
    write ``forward``.

    Example:
        >>> import chainrule as cr
        >>> from chainrule import nn
        >>> class Net(nn.Module):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.fc1 = nn.Linear(4, 3)
        ...         self.act = nn.ReLU()
        ...         self.fc2 = nn.Linear(3, 1)
        ...     def forward(self, x):
        ...         return self.fc2(self.act(self.fc1(x)))
        >>> net = Net()
        >>> [name for name, _ in net.named_parameters()]
        ['fc1.weight', 'fc1.bias', 'fc2.weight', 'fc2.bias']
        >>> net(cr.zeros(5, 4)).shape
        (5, 1)
    """

    training: bool
    _parameters: dict[str, Optional[Parameter]]
    _buffers: dict[str, Optional[Tensor]]
    _non_persistent_buffers: set[str]
    _modules: dict[str, Optional["Module"]]

    def __init__(self) -> None:
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_pre_hooks", [])
        object.__setattr__(self, "_forward_hooks", [])

    # ------------------------------------------------------------------ forward
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of the module: override it in every subclass."""
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        for hook in list(self._forward_pre_hooks):
            out = hook(self, args)
            if out is not None:
                args = out if isinstance(out, tuple) else (out,)
        result = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks):
            out = hook(self, args, result)
            if out is not None:
                result = out
        return result

    def register_forward_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, args)`` before ``forward``; a returned value replaces args."""
        self._forward_pre_hooks.append(hook)
        return RemovableHandle(self._forward_pre_hooks, hook)

    def register_forward_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """Call ``hook(module, args, output)`` after ``forward``; a returned value replaces
        the output."""
        self._forward_hooks.append(hook)
        return RemovableHandle(self._forward_hooks, hook)

    # ------------------------------------------------------------------ registration
    def _check_name(self, name: Any, kind: str) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"cannot assign {kind} before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if "." in name or name == "":
            raise KeyError(f'{kind} name can\'t contain "." or be empty, got {name!r}')

    def register_parameter(self, name: str, param: Optional[Parameter]) -> None:
        """Add a parameter (or ``None``, a placeholder) under ``name``."""
        self._check_name(name, "parameter")
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{type(param).__name__}' object to parameter "
                            f"'{name}' (nn.Parameter or None required)")
        if param is not None and param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                             f"parameters must be created explicitly (wrap the value in "
                             f"nn.Parameter(t.detach())).")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Optional[Tensor],
                        persistent: bool = True) -> None:
        """Add a tensor that is state but not a parameter (e.g. BatchNorm's running mean).

        Args:
            name: the attribute name.
            tensor: the buffer (or ``None``).
            persistent: whether ``state_dict`` includes it.
        """
        self._check_name(name, "buffer")
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{type(tensor).__name__}' object to buffer "
                            f"'{name}' (Tensor or None required)")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Optional["Module"]) -> None:
        """Add a submodule under ``name`` (also done by ``self.name = module``)."""
        self._check_name(name, "module")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self._modules[name] = module

    register_module = add_module

    def __setattr__(self, name: str, value: Any) -> None:
        params = self.__dict__.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            self.__dict__.pop(name, None)
            self._buffers.pop(name, None)
            self._modules.pop(name, None)
            self.register_parameter(name, value)
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as parameter "
                                f"'{name}' (nn.Parameter or None expected)")
            self.register_parameter(name, value)
        elif isinstance(value, Module):
            if params is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            self.__dict__.pop(name, None)
            params.pop(name, None)
            self._buffers.pop(name, None)
            self._modules[name] = value
        elif params is not None and name in self._modules:
            if value is not None:
                raise TypeError(f"cannot assign '{type(value).__name__}' as child module "
                                f"'{name}' (nn.Module or None expected)")
            self._modules[name] = value
        elif params is not None and name in self._buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{type(value).__name__}' as buffer '{name}' "
                                f"(Tensor or None expected)")
            self._buffers[name] = value
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # only called when normal lookup fails: look in the registries
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name: str) -> None:
        for registry in (self._parameters, self._buffers, self._modules):
            if name in registry:
                del registry[name]
                self._non_persistent_buffers.discard(name)
                return
        object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers)
                      | set(self._modules))

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo: Optional[set[int]] = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, "Module"]]:
        """This module and every submodule (depth first, each once), with dotted names."""
        if memo is None:
            memo = set()
        if remove_duplicate and id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name,
                                            remove_duplicate)

    def modules(self) -> Iterator["Module"]:
        """This module and every submodule."""
        for _, m in self.named_modules():
            yield m

    def get_submodule(self, target: str) -> "Module":
        """The submodule at the dotted path ``target`` (``""``: this module), as PyTorch's.

        Raises:
            AttributeError: a name on the path is missing, or names something that is not a
                Module.

        Example:
            >>> from chainrule import nn
            >>> net = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.ReLU()))
            >>> net.get_submodule("1.0")
            ReLU()
        """
        module = self
        for name in target.split(".") if target else ():
            if not hasattr(module, name):
                raise AttributeError(f"{type(module).__name__} has no attribute `{name}`")
            module = getattr(module, name)
            if not isinstance(module, Module):
                raise AttributeError(f"`{name}` is not an nn.Module")
        return module

    def named_children(self) -> Iterator[tuple[str, "Module"]]:
        """The direct submodules with their names."""
        seen: set[int] = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator["Module"]:
        """The direct submodules."""
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry: str, prefix: str, recurse: bool,
                       persistent_only: bool = False) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for mod_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or id(value) in seen:
                    continue
                if persistent_only and name in module._non_persistent_buffers:
                    continue
                seen.add(id(value))
                yield mod_prefix + ("." if mod_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True
                         ) -> Iterator[tuple[str, Parameter]]:
        """Every parameter with its dotted name, in registration order (shared ones once)."""
        yield from self._named_members("_parameters", prefix, recurse)  # type: ignore[misc]

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Every parameter, in registration order (pass them to an optimizer)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True
                      ) -> Iterator[tuple[str, Tensor]]:
        """Every buffer with its dotted name."""
        yield from self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    # ------------------------------------------------------------------ modes and grads
    def train(self: M, mode: bool = True) -> M:
        """Set training mode (``mode=True``) or evaluation mode on this module and its
        submodules; returns self. It changes how Dropout and BatchNorm behave.

        As in PyTorch, each child's own ``train`` is called, so a submodule that overrides
        ``train`` (e.g. to keep a BatchNorm frozen in eval mode) is obeyed.
        """
        if not isinstance(mode, bool):
            raise ValueError(f"training mode is expected to be boolean, got {mode!r}")
        object.__setattr__(self, "training", mode)
        for m in self.children():
            m.train(mode)
        return self

    def eval(self: M) -> M:
        """Set evaluation mode: ``train(False)``."""
        return self.train(False)

    def requires_grad_(self: M, requires_grad: bool = True) -> M:
        """Set ``requires_grad`` on every parameter (False freezes the module)."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's gradient: to ``None`` (default) or to zeros."""
        for p in self.parameters():
            reset_grad(p, set_to_none)

    def apply(self: M, fn: Callable[["Module"], Any]) -> M:
        """Call ``fn`` on every submodule (children first) and then on self; returns self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def _apply_to_tensors(self: M, fn: Callable[[Any], Any]) -> M:
        """Replace every parameter's and buffer's array by ``fn(array)``, and a parameter's
        gradient's likewise, keeping the objects (so an optimizer holding the parameters still
        works; as torch's ``param.grad.data = fn(param.grad)``)."""
        for m in self.modules():
            for t in list(m._parameters.values()) + list(m._buffers.values()):
                if t is None:
                    continue
                t._data = fn(t._data)
                if t.grad is not None:
                    t.grad._data = fn(t.grad._data)
        return self

    def to(self: M, *args: Any, **kwargs: Any) -> M:
        """Move and/or cast the parameters and buffers, as ``torch.nn.Module.to``.

        Accepted forms: ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``
        (its dtype and device), each with keywords ``device=``, ``dtype=``, ``non_blocking=``,
        ``copy=``, ``memory_format=`` (the last three accepted and ignored). A dtype casts the
        floating parameters and buffers only (an int64 step counter stays int64); the objects
        keep their identity, so an optimizer holding them still works.

        Args:
            *args: a device (``'cpu'``, ``cr.device('cpu')``), a floating dtype, both, or a
                tensor.
            **kwargs: ``device``, ``dtype``, ``non_blocking``, ``copy``, ``memory_format``.

        Returns:
            self.

        Raises:
            RuntimeError: a device other than the CPU (``'cuda'``: chainrule has no GPU
                backend).
            TypeError: a dtype that is not floating, or arguments of no accepted form.

        Example:
            >>> import chainrule as cr
            >>> net = cr.nn.Linear(2, 1).to("cpu", cr.float64)
            >>> net.weight.dtype
            dtype('float64')
        """
        dtype = _parse_to(args, kwargs)
        if dtype is None:
            return self
        if dtype.kind not in "fc":
            raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but "
                            f"got desired dtype={dtype}")
        return self._apply_to_tensors(lambda a: a.astype(dtype) if a.dtype.kind == "f" else a)

    def type(self: M, dst_type: Any) -> M:
        """Cast every parameter and buffer (integer ones too, as torch's) to ``dst_type``.

        Example:
            >>> import chainrule as cr
            >>> bn = cr.nn.BatchNorm1d(2).type(cr.float64)
            >>> bn.weight.dtype, bn.num_batches_tracked.dtype
            (dtype('float64'), dtype('float64'))
        """
        dtype = numpy.dtype(dst_type)
        return self._apply_to_tensors(lambda a: a.astype(dtype))

    def double(self: M) -> M:
        """Cast floating parameters and buffers to float64."""
        return self.to(numpy.float64)

    def float(self: M) -> M:
        """Cast floating parameters and buffers to float32."""
        return self.to(numpy.float32)

    def half(self: M) -> M:
        """Cast floating parameters and buffers to float16."""
        return self.to(numpy.float16)

    def cpu(self: M) -> M:
        """Return self: the parameters already live on the CPU, chainrule's only device."""
        return self

    def cuda(self: M, device: Any = None) -> M:
        """Refused with a clear RuntimeError: chainrule has no GPU backend.

        Example:
            >>> import chainrule as cr
            >>> cr.nn.Linear(2, 1).cuda()  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            RuntimeError: nn.Module.cuda: device 'cuda' is not available: ...
        """
        check_device("cuda" if device is None else device if not isinstance(device, int)
                     else f"cuda:{device}", "nn.Module.cuda")
        return self

    # ------------------------------------------------------------------ state dict
    def state_dict(self, destination: Optional[dict] = None, prefix: str = "",
                   keep_vars: bool = False) -> "OrderedDict[str, Tensor]":
        """Parameters and persistent buffers by dotted name (each module's parameters, then
        its buffers, then its children), sharing memory with the module.

        Example:
            >>> from chainrule import nn
            >>> list(nn.BatchNorm1d(3).state_dict())
            ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked']
        """
        if destination is None:
            destination = OrderedDict()
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination, prefix + name + ".", keep_vars)
        return destination  # type: ignore[return-value]

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True
                        ) -> IncompatibleKeys:
        """Copy parameters and buffers from ``state_dict`` into this module, all or nothing.

        Every entry is checked before anything is written (:func:`plan_state_load`): missing
        and unexpected keys (when ``strict``), then for each key the value's type (a Tensor or
        a NumPy array), its shape and its dtype. All the problems are listed together in one
        ``RuntimeError``, each naming its key, and the module is left untouched. Then every
        value is converted to its tensor's dtype (a copy), and only then written in place
        (:func:`assign_state`), so each parameter keeps its identity (an optimizer holding it
        still works).

        Dtypes convert as torch's ``copy_`` does within a kind or to a wider kind (float64 ->
        float32, int or bool -> float); a cast that loses information across kinds is refused
        where torch makes it: complex into a real tensor (torch drops the imaginary part with a
        warning), float into an integer buffer (torch truncates). String and object arrays are
        not numbers and are refused, as are values that are not arrays (lists, numbers: torch
        refuses non-tensors too).

        Args:
            state_dict: name -> Tensor or NumPy array (a NumPy scalar counts as 0-d), e.g.
                from :meth:`state_dict`.
            strict: require the keys to match exactly; shapes and dtypes are checked either way.

        Returns:
            ``(missing_keys, unexpected_keys)``, a named tuple as torch's (both empty when
            ``strict``).

        Raises:
            TypeError: ``state_dict`` is not a mapping.
            RuntimeError: a key, value type, shape or dtype does not fit (nothing was written).

        Example:
            >>> from chainrule import nn
            >>> a, b = nn.Linear(2, 1), nn.Linear(2, 1)
            >>> b.load_state_dict(a.state_dict())
            <All keys matched successfully>
            >>> a.weight.tolist() == b.weight.tolist()
            True
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        targets = self.state_dict(keep_vars=True)
        plan = plan_state_load(targets, state_dict, strict)
        if plan.errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:\n\t"
                               + "\n\t".join(plan.errors))
        with no_grad():
            assign_state(targets, plan.values)
        return IncompatibleKeys(plan.missing_keys, plan.unexpected_keys)

    # ------------------------------------------------------------------ repr
    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's repr (override it)."""
        return ""

    def _get_name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        for name, m in self._modules.items():
            lines.append(f"({name}): " + _addindent(repr(m), 2))
        if not self._modules and len(lines) <= 1:
            return f"{self._get_name()}({extra})"
        return self._get_name() + "(\n  " + "\n  ".join(lines) + "\n)"


def _is_dtype(value: Any) -> bool:
    return isinstance(value, numpy.dtype) or (isinstance(value, type)
                                              and issubclass(value, numpy.generic))


def _parse_to(args: tuple, kwargs: dict[str, Any]) -> Optional[numpy.dtype]:
    """The dtype of a ``Module.to`` call (None: keep), after checking its device."""
    kwargs = dict(kwargs)
    device, dtype = kwargs.pop("device", None), kwargs.pop("dtype", None)
    for ignored in ("non_blocking", "copy", "memory_format"):
        kwargs.pop(ignored, None)
    if kwargs:
        raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
    rest = list(args)
    if rest and isinstance(rest[0], Tensor):
        device, dtype = "cpu", rest.pop(0).dtype
    elif rest and (isinstance(rest[0], (str, Device)) or type(rest[0]) is int):
        device = rest.pop(0)
    if rest and _is_dtype(rest[0]):
        dtype = rest.pop(0)
    if len(rest) > 2 or not all(isinstance(a, bool) for a in rest):
        raise TypeError(f"to() received an invalid combination of arguments: {args!r}; "
                        f"expected (device, dtype), (dtype) or (tensor)")
    check_device(device, "nn.Module.to")
    return None if dtype is None else numpy.dtype(dtype)


def factory_dtype(device: Any, dtype: Any, layer: str) -> numpy.dtype:
    """The parameter dtype of a layer (float32 by default); only the CPU device exists."""
    check_device(device, layer)
    dt = numpy.dtype(dtype or numpy.float32)
    if dt.kind != "f":
        raise TypeError(f"{layer}: parameters must have a floating dtype, got {dt}")
    return dt


def reset_grad(p: Tensor, set_to_none: bool = True) -> None:
    """Reset ``p.grad``: to None, or to zeros (``zero_grad``'s per-tensor step, shared by
    ``Module.zero_grad`` and ``Optimizer.zero_grad``).

    Zeroing is in place, as PyTorch's ``grad.zero_()``: the gradient tensor keeps its identity,
    so a reference to ``p.grad`` taken before sees the zeros. A gradient that carries a graph
    (``create_graph=True``) or a read-only array is replaced by a fresh zero tensor instead,
    since its array may be shared with the graph.
    """
    grad = p.grad
    if grad is None:
        return
    if set_to_none:
        p.grad = None
    elif grad.grad_fn is None and grad._data.flags.writeable:
        grad.requires_grad_(False)
        grad.zero_()
    else:
        p.grad = Tensor(xp.zeros_like(grad._data))


# ============================================================================ mode contexts
@contextlib.contextmanager
def _mode(module: Module, training: bool) -> Iterator[Module]:
    previous = [(m, m.training) for m in module.modules()]
    module.train(training)
    try:
        yield module
    finally:
        for m, flag in previous:
            object.__setattr__(m, "training", flag)


def eval_mode(module: Module) -> contextlib.AbstractContextManager:
    """Put ``module`` in evaluation mode inside a ``with`` block, then restore every
    submodule's previous mode (even on error).

    Example:
        >>> from chainrule import nn
        >>> net = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
        >>> with nn.eval_mode(net):
        ...     net[1].training
        False
        >>> net[1].training
        True
    """
    return _mode(module, False)


def train_mode(module: Module) -> contextlib.AbstractContextManager:
    """Put ``module`` in training mode inside a ``with`` block, then restore each submodule's
    previous mode."""
    return _mode(module, True)
