"""``Tensor``: an ndarray plus what autograd needs (``requires_grad``, ``grad``, ``grad_fn``).

Methods mirror PyTorch's and delegate to the ops in :mod:`chainrule.ops`, where each op's
forward and backward live side by side. This floor does not import the ops (they import it):
``chainrule.ops`` hands itself over once, at its import, through :func:`bind_ops`, and binds
the binary operators (``a + b``, ``a == b``, ...) to its functions.
"""
from __future__ import annotations

from operator import attrgetter
from typing import Any, Callable, Optional, Sequence, Union

import numpy

from ..backend import xp
from .errors import OpError
from .grad_mode import state

Shape = tuple[int, ...]
_ndarray = xp.ndarray  # read on every op's output
ArrayLike = Any

_FLOAT_KINDS = ("f",)
_DEVICES = ("cpu", "cuda", "mps", "xpu", "meta")  # names ``Tensor.to`` reads as a device
_ops: Any = None  # the chainrule.ops namespace, handed over by bind_ops when ops is imported


def bind_ops(namespace: Any) -> None:
    """Give Tensor's methods the ops they delegate to (called once by ``chainrule.ops``)."""
    global _ops
    _ops = namespace


def _is_float(dtype: Any) -> bool:
    return numpy.dtype(dtype).kind in _FLOAT_KINDS


_DTYPE_NAMES = ("float64", "float32", "float16", "int64", "int32", "int16", "int8", "uint64",
                "uint32", "uint16", "uint8", "bool")
SUPPORTED_DTYPES = frozenset(numpy.dtype(t) for t in _DTYPE_NAMES)
"""The dtypes a Tensor holds: PyTorch's real ones that NumPy has (no float128, no complex)."""


def check_dtype(dtype: Any) -> None:
    """Refuse a dtype no Tensor holds (float128, complex, strings, objects, dates), with
    PyTorch's TypeError; a supported dtype in the other byte order is accepted.

    Example:
        >>> import numpy as np
        >>> check_dtype(np.float32)
        >>> check_dtype(np.longdouble)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        TypeError: can't convert np.ndarray of type numpy.longdouble: unsupported dtype. The ...
    """
    dtype = numpy.dtype(dtype)
    if dtype.newbyteorder("=") not in SUPPORTED_DTYPES:
        raise TypeError(f"can't convert np.ndarray of type numpy.{dtype.type.__name__}: "
                        f"unsupported dtype. The only supported types are: "
                        f"{', '.join(_DTYPE_NAMES[:-1])}, and {_DTYPE_NAMES[-1]}.")


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


class Tensor:
    """A multi-dimensional array that can record the operations applied to it.

    Args:
        data: the ndarray to wrap (not copied; use :func:`chainrule.tensor` to copy and infer
            dtypes like ``torch.tensor``).
        requires_grad: whether ``backward`` should compute a gradient for this tensor.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4.])
    """

    __slots__ = ("_data", "_grad", "_requires_grad", "grad_fn", "_out_idx", "_ver", "_mtime",
                 "_hooks", "_retains_grad", "name", "__weakref__")
    __array_priority__ = 1000  # so ndarray * Tensor calls Tensor.__rmul__

    def __init__(self, data: ArrayLike, requires_grad: bool = False) -> None:
        if not isinstance(data, xp.ndarray):
            data = xp.asarray(data)
        if data.dtype not in SUPPORTED_DTYPES:
            check_dtype(data.dtype)
        self._data = data
        self._grad: Optional[Tensor] = None
        self.grad_fn: Any = None
        self._out_idx = 0
        self._ver = 0
        self._mtime = 0
        self._hooks: Optional[list] = None
        self._retains_grad = False
        self.name: Optional[str] = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _new(cls, data: Any, grad_fn: Any, index: int, requires_grad: bool) -> "Tensor":
        """Build a tensor without ``__init__``'s checks (the hot path of every op)."""
        t = cls.__new__(cls)
        # NumPy returns scalars, not 0-d arrays, from operations on 0-d arrays: keep ndarrays
        t._data = data if type(data) is _ndarray else xp.asarray(data)
        t._grad = None
        t.grad_fn = grad_fn
        t._out_idx = index
        t._ver = 0
        t._mtime = 0
        t._hooks = None
        t._retains_grad = False
        t.name = None
        t._requires_grad = requires_grad
        return t

    @classmethod
    def _from_op(cls, data: Any, grad_fn: Any, index: int) -> "Tensor":
        """Output ``index`` of the node ``grad_fn`` (recorded in the graph)."""
        return cls._new(data, grad_fn, index, True)

    @classmethod
    def _const(cls, data: Any) -> "Tensor":
        """An op's result that is not recorded (no grad needed)."""
        return cls._new(data, None, 0, False)

    @property
    def _version(self) -> int:
        """How many times this tensor was modified in place (as PyTorch's ``_version``)."""
        return self._ver

    @_version.setter
    def _version(self, value: int) -> None:
        # every in-place change also stamps the global clock, which nodes compare against
        self._ver = value
        state.clock += 1
        self._mtime = state.clock

    # ------------------------------------------------------------------ autograd state
    @property
    def requires_grad(self) -> bool:
        """Whether gradients flow to this tensor."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool) -> None:
        if self.grad_fn is not None and not flag:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use "
                "a computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        if flag and not _is_float(self._data.dtype):
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients (got {self.dtype})")
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Set ``requires_grad`` in place and return self."""
        self.requires_grad = requires_grad
        return self

    def _set_grad(self, grad: Optional["Tensor"]) -> None:
        if grad is not None:
            if not isinstance(grad, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(grad).__name__}")
            if grad._data.shape != self._data.shape:
                raise RuntimeError(f"attempting to assign a gradient of size "
                                   f"'{list(grad.shape)}' to a tensor of size "
                                   f"'{list(self.shape)}'. Please ensure that the gradient and "
                                   f"the tensor are the same size")
            if grad._data.dtype != self._data.dtype:
                raise RuntimeError(f"attempting to assign a gradient with dtype "
                                   f"'{grad.dtype}' to a tensor with dtype '{self.dtype}'. The "
                                   f"gradient must match the tensor's dtype")
        self._grad = grad

    # a C-level getter: optimizers and the engine read it often
    grad: Optional["Tensor"] = property(  # type: ignore[assignment]
        attrgetter("_grad"), _set_grad,
        doc="The gradient accumulated by backward (None before); an assigned one must have "
            "this tensor's shape and dtype, as in PyTorch.")

    @property
    def is_leaf(self) -> bool:
        """True for tensors created by the user rather than by a recorded op."""
        return self.grad_fn is None

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if self.grad_fn is None:
            return
        self._retains_grad = True

    def register_hook(self, hook: Callable[["Tensor"], Optional["Tensor"]]) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor
        replaces the gradient.

        Example:
            >>> import chainrule as cr
            >>> x = cr.tensor(3.0, requires_grad=True)
            >>> h = x.register_hook(lambda g: g * 2)
            >>> (x * x).backward()
            >>> x.grad.item()
            12.0
        """
        if not self._requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = []
            self._hooks.append(hook)
            return RemovableHandle(self._hooks, hook)
        self.grad_fn.register_hook(self._out_idx, hook)
        return RemovableHandle(self.grad_fn._hooks[self._out_idx], hook)

    def backward(self, gradient: Optional["Tensor"] = None, retain_graph: Optional[bool] = None,
                 create_graph: bool = False, inputs: Optional[Sequence["Tensor"]] = None) -> None:
        """Accumulate the gradient of this tensor into the ``.grad`` of the graph's leaves.

        Args:
            gradient: the gradient of some scalar with respect to this tensor; may be omitted
                for a one-element tensor (it is then 1).
            retain_graph: keep the graph for another backward (default: ``create_graph``).
            create_graph: record the backward pass itself, for higher derivatives.
            inputs: accumulate only into these leaves.
        """
        # the engine is built on Tensor (engine.py imports this module), so it is looked up
        # when called, within this floor, as torch.Tensor.backward calls torch.autograd
        from .engine import backward

        backward([self], None if gradient is None else [gradient], retain_graph, create_graph,
                 inputs=inputs)

    def detach(self) -> "Tensor":
        """A tensor sharing this one's data, cut from the graph."""
        return Tensor(self._data)

    def detach_(self) -> "Tensor":
        """Cut this tensor from the graph in place, making it a leaf."""
        self.grad_fn = None
        self._requires_grad = False
        return self

    # ------------------------------------------------------------------ array facts
    # C-level getters (no Python frame): backward reads shapes on every edge
    shape: Shape = property(attrgetter("_data.shape"),  # type: ignore[assignment]
                            doc="The size of each dimension, a tuple.")
    ndim: int = property(attrgetter("_data.ndim"),  # type: ignore[assignment]
                         doc="The number of dimensions.")
    dtype: numpy.dtype = property(attrgetter("_data.dtype"),  # type: ignore[assignment]
                                  doc="The element type, a NumPy dtype.")

    @property
    def data(self) -> "Tensor":
        """The same values as a tensor that is not part of any graph: it shares this tensor's
        memory, does not require grad and has its own version counter, as PyTorch's ``.data``
        (so ``p.data.sub_(lr * p.grad.data)`` updates ``p`` unrecorded). ``.numpy()`` gives the
        ndarray. Assigning ``x.data = t`` makes ``x`` hold ``t``'s values (any shape).

        Example:
            >>> import chainrule as cr
            >>> w = cr.tensor([1.0, 2.0], requires_grad=True)
            >>> d = w.data
            >>> d.requires_grad, d.sub_(1.0).tolist(), w.tolist()
            (False, [0.0, 1.0], [0.0, 1.0])
        """
        return Tensor._new(self._data, None, 0, False)

    @data.setter
    def data(self, value: Any) -> None:
        if not isinstance(value, Tensor):
            raise TypeError(f"data: expected a Tensor, got {type(value).__name__}")
        check_dtype(value._data.dtype)
        self._data = value._data

    @property
    def device(self) -> str:
        return "cpu"

    def dim(self) -> int:
        return self._data.ndim

    def size(self, dim: Optional[int] = None) -> Union[Shape, int]:
        """The shape, or the size of dimension ``dim``."""
        return self._data.shape if dim is None else self._data.shape[dim]

    def numel(self) -> int:
        return int(self._data.size)

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def item(self) -> Union[float, int, bool]:
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise OpError(
                f"item(): a Tensor with {self._data.size} elements (shape {self.shape}) cannot "
                f"be converted to Scalar")
        return self._data.item()

    def numpy(self) -> Any:
        """The underlying ndarray (shared, not copied)."""
        if self._requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead.")
        return self._data

    def tolist(self) -> Any:
        return self._data.tolist()

    def __array__(self, dtype: Any = None, copy: Any = None) -> Any:
        return self._data if dtype is None else self._data.astype(dtype)

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with {self._data.size} values is ambiguous")
        return bool(self._data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.size != 1 or self._data.dtype.kind not in "iu":
            raise TypeError("only integer tensors of a single element can be converted to an "
                            "index")
        return int(self._data.reshape(-1)[0])

    def __hash__(self) -> int:
        return id(self)

    def __iter__(self) -> Any:
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._data.shape[0]))

    def __format__(self, format_spec: str) -> str:
        """A 0-d tensor formats as its value (``f"{loss:.3f}"``); others as their repr."""
        if self._data.ndim == 0:
            return self._data.item().__format__(format_spec)
        return object.__format__(self, format_spec)

    def __repr__(self) -> str:
        extras = []
        if self._data.dtype not in (numpy.float32, numpy.int64, numpy.bool_):
            extras.append(f"dtype={self._data.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name}>")
        elif self._requires_grad:
            extras.append("requires_grad=True")
        opts: dict[str, Any] = {}
        data = self._data
        if data.dtype.kind == "f" and data.size:
            finite = data[numpy.isfinite(data)]
            if finite.size and not numpy.all(finite == numpy.round(finite)):
                opts = {"precision": 4, "floatmode": "fixed"}  # 4 decimals, as torch prints
        body = numpy.array2string(data, separator=", ", prefix="tensor(", threshold=1000,
                                  edgeitems=3, **opts)
        return "tensor(" + ", ".join([body] + extras) + ")"

    # ------------------------------------------------------------------ dtype casts
    def to(self, *args: Any, dtype: Any = None, device: Any = None, **kwargs: Any) -> "Tensor":
        """Cast to a dtype (differentiable between float dtypes); devices other than the CPU
        are not supported.

        Accepts ``to(dtype)``, ``to(other)`` (other's dtype), ``to('cpu')``,
        ``to('cpu', dtype)`` and the keywords ``dtype=``, ``device=``, ``copy=``,
        ``non_blocking=``, as PyTorch's ``Tensor.to``.

        Example:
            >>> import chainrule as cr
            >>> x = cr.tensor([1, 2])
            >>> x.to(cr.float64).dtype, x.to("cpu") is x, x.to("cpu", cr.float32).dtype
            (dtype('float64'), True, dtype('float32'))
        """
        unknown = set(kwargs) - {"copy", "non_blocking", "memory_format"}
        if unknown:
            raise TypeError(f"to() got an unexpected keyword argument {sorted(unknown)[0]!r}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a._data.dtype
            elif (isinstance(a, str) and a.split(":")[0] in _DEVICES) or \
                    type(a).__name__ == "device":
                device = a
            elif dtype is None:
                dtype = a
            else:
                raise TypeError(f"to() got an unexpected argument {a!r}")
        if device is not None and str(device).split(":")[0] != "cpu":
            raise RuntimeError(f"to(): only the 'cpu' device is supported, got {device!r}")
        out = self if dtype is None else _ops.cast(self, dtype)
        return out.clone() if kwargs.get("copy") and out is self else out

    def type(self, dtype: Any) -> "Tensor":
        return _ops.cast(self, dtype)

    def astype(self, dtype: Any) -> "Tensor":
        return _ops.cast(self, dtype)

    def float(self) -> "Tensor":
        return _ops.cast(self, numpy.float32)

    def double(self) -> "Tensor":
        return _ops.cast(self, numpy.float64)

    def long(self) -> "Tensor":
        return _ops.cast(self, numpy.int64)

    def int(self) -> "Tensor":
        return _ops.cast(self, numpy.int32)

    def bool(self) -> "Tensor":
        return _ops.cast(self, numpy.bool_)

    def clone(self) -> "Tensor":
        """A copy of the data that stays in the graph (gradient flows through)."""
        return _ops.clone(self)

    def is_contiguous(self) -> bool:
        """Whether the elements lie in memory in row-major order with no gaps (as PyTorch:
        the strides of size-1 dimensions do not matter, and an empty tensor is contiguous).

        Example:
            >>> import chainrule as cr
            >>> x = cr.zeros(2, 3)
            >>> x.is_contiguous(), x.T.is_contiguous(), x.T.contiguous().is_contiguous()
            (True, False, True)
        """
        return bool(self._data.flags.c_contiguous)

    def contiguous(self) -> "Tensor":
        """This tensor if it is contiguous, else a contiguous copy that stays in the graph
        (so that :meth:`view` can reshape it)."""
        return self if self._data.flags.c_contiguous else _ops.clone(self)

    def cpu(self) -> "Tensor":
        return self

    # ------------------------------------------------------------------ in-place updates
    def _check_inplace(self, op: str) -> None:
        if state.grad_enabled and (self._requires_grad or self.grad_fn is not None):
            if self.grad_fn is None:
                raise RuntimeError(
                    f"{op}: a leaf Variable that requires grad is being used in an in-place "
                    f"operation. Wrap it in `with chainrule.no_grad():` (e.g. in an optimizer).")
            raise RuntimeError(
                f"{op}: in-place operations on a tensor that is part of a recorded graph are "
                f"not supported; use the out-of-place op (e.g. `x = x + y`).")

    @staticmethod
    def _inplace_value(op: str, value: Any) -> Any:
        """The array to write from ``value``; a value that requires grad is refused while
        grad mode is on, since in-place writes are not recorded (its gradient would be lost)."""
        if isinstance(value, Tensor):
            if value._requires_grad and state.grad_enabled:
                raise RuntimeError(
                    f"{op}: the value requires grad, but in-place writes are not recorded in "
                    f"the graph, so its gradient would be lost. Use an out-of-place op (e.g. "
                    f"`x = x + y`, chainrule.where or chainrule.cat), or write value.detach().")
            return value._data
        if value is None or isinstance(value, (str, bytes)):
            raise TypeError(f"{op}: can't assign a {type(value).__name__} to a Tensor")
        return value

    def _inplace(self, op: str, value: Any) -> "Tensor":
        self._check_inplace(op)
        value = self._inplace_value(op, value)
        try:
            getattr(self._data, op)(value)  # e.g. ndarray.__iadd__
        except TypeError:  # NumPy's casting error: e.g. an int tensor += a float
            result = getattr(self._data, "__" + op[3:])(value)  # the out-of-place op: its dtype
            raise RuntimeError(f"{op}: result type {result.dtype} can't be cast to the desired "
                               f"output type {self.dtype}") from None
        except ValueError:
            raise OpError(f"{op}: a value of shape {xp.shape(value)} cannot be broadcast to "
                          f"the tensor's shape {self.shape}") from None
        self._version += 1
        return self

    def add_(self, other: Any, alpha: float = 1) -> "Tensor":
        return self._inplace("__iadd__", other if alpha == 1 else
                             (other._data if isinstance(other, Tensor) else other) * alpha)

    def sub_(self, other: Any, alpha: float = 1) -> "Tensor":
        return self._inplace("__isub__", other if alpha == 1 else
                             (other._data if isinstance(other, Tensor) else other) * alpha)

    def mul_(self, other: Any) -> "Tensor":
        return self._inplace("__imul__", other)

    def div_(self, other: Any) -> "Tensor":
        return self._inplace("__itruediv__", other)

    def copy_(self, src: Any) -> "Tensor":
        self._check_inplace("copy_")
        src = xp.asarray(self._inplace_value("copy_", src))
        try:
            fits = xp.broadcast_shapes(src.shape, self.shape) == self.shape
        except ValueError:
            fits = False
        if not fits:
            raise OpError(f"copy_: source of shape {src.shape} cannot be broadcast to the "
                          f"destination shape {self.shape}")
        self._data[...] = src
        self._version += 1
        return self

    def fill_(self, value: float) -> "Tensor":
        self._check_inplace("fill_")
        value = self._inplace_value("fill_", value)
        if xp.ndim(value) != 0:
            raise RuntimeError(f"fill_ only supports a 0-dimension value, got one of shape "
                               f"{xp.shape(value)}")
        self._data.fill(value)
        self._version += 1
        return self

    def zero_(self) -> "Tensor":
        return self.fill_(0)

    def __setitem__(self, index: Any, value: Any) -> None:
        """``x[index] = value`` in place, reading ``index`` by PyTorch's rule, as ``x[index]``
        does (:func:`chainrule.ops.indexing.torch_index`)."""
        self._check_inplace("__setitem__")
        value = self._inplace_value("__setitem__", value)
        _ops.index_assign(self._data, index, value)
        self._version += 1

    # ------------------------------------------------------------------ operators
    # the binary operators (a + b, b + a, a // b, a == b, a & b...) are bound by
    # chainrule.ops.operators to the op functions themselves
    def __pow__(self, other: Any) -> "Tensor":
        return _ops.pow(self, other)

    def __neg__(self) -> "Tensor":
        return _ops.neg(self)

    def __pos__(self) -> "Tensor":
        return self

    def __abs__(self) -> "Tensor":
        return _ops.abs(self)

    def __matmul__(self, other: Any) -> "Tensor":
        return _ops.matmul(self, other)

    def __rmatmul__(self, other: Any) -> "Tensor":
        return _ops.matmul(other, self)

    def __iadd__(self, other: Any) -> "Tensor":
        return self._inplace("__iadd__", other)

    def __isub__(self, other: Any) -> "Tensor":
        return self._inplace("__isub__", other)

    def __imul__(self, other: Any) -> "Tensor":
        return self._inplace("__imul__", other)

    def __itruediv__(self, other: Any) -> "Tensor":
        return self._inplace("__itruediv__", other)

    def __getitem__(self, index: Any) -> "Tensor":
        return _ops.getitem(self, index)

    def __invert__(self) -> "Tensor":
        """``~x``: logical not of a bool tensor, bitwise not of an integer one."""
        if self._data.dtype.kind not in "biu":
            raise TypeError(f"~ (operator.invert) is only implemented on integer and bool "
                            f"tensors, got {self.dtype}")
        return Tensor(xp.invert(self._data))

    # ------------------------------------------------------------------ methods
    def add(self, other: Any) -> "Tensor":
        return _ops.add(self, other)

    def sub(self, other: Any) -> "Tensor":
        return _ops.sub(self, other)

    def mul(self, other: Any) -> "Tensor":
        return _ops.mul(self, other)

    def div(self, other: Any) -> "Tensor":
        return _ops.div(self, other)

    def pow(self, exponent: Any) -> "Tensor":
        return _ops.pow(self, exponent)

    def neg(self) -> "Tensor":
        return _ops.neg(self)

    def matmul(self, other: Any) -> "Tensor":
        return _ops.matmul(self, other)

    def mm(self, mat2: Any) -> "Tensor":
        return _ops.mm(self, mat2)

    def exp(self) -> "Tensor":
        return _ops.exp(self)

    def log(self) -> "Tensor":
        return _ops.log(self)

    def sqrt(self) -> "Tensor":
        return _ops.sqrt(self)

    def abs(self) -> "Tensor":
        return _ops.abs(self)

    def sign(self) -> "Tensor":
        return _ops.sign(self)

    def sin(self) -> "Tensor":
        return _ops.sin(self)

    def cos(self) -> "Tensor":
        return _ops.cos(self)

    def tanh(self) -> "Tensor":
        return _ops.tanh(self)

    def sigmoid(self) -> "Tensor":
        return _ops.sigmoid(self)

    def relu(self) -> "Tensor":
        return _ops.relu(self)

    def clamp(self, min: Any = None, max: Any = None) -> "Tensor":
        return _ops.clamp(self, min, max)

    clip = clamp

    def maximum(self, other: Any) -> "Tensor":
        return _ops.maximum(self, other)

    def minimum(self, other: Any) -> "Tensor":
        return _ops.minimum(self, other)

    def sum(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        return _ops.sum(self, dim, keepdim)

    def mean(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        return _ops.mean(self, dim, keepdim)

    def var(self, dim: Any = None, unbiased: Optional[bool] = None, keepdim: bool = False,
            *, correction: Optional[int] = None) -> "Tensor":
        return _ops.var(self, dim, unbiased, keepdim, correction=correction)

    def std(self, dim: Any = None, unbiased: Optional[bool] = None, keepdim: bool = False,
            *, correction: Optional[int] = None) -> "Tensor":
        return _ops.std(self, dim, unbiased, keepdim, correction=correction)

    def max(self, dim: Any = None, keepdim: bool = False) -> Any:
        return _ops.max(self, dim, keepdim)

    def min(self, dim: Any = None, keepdim: bool = False) -> Any:
        return _ops.min(self, dim, keepdim)

    def amax(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        return _ops.amax(self, dim, keepdim)

    def amin(self, dim: Any = None, keepdim: bool = False) -> "Tensor":
        return _ops.amin(self, dim, keepdim)

    def logsumexp(self, dim: Any, keepdim: bool = False) -> "Tensor":
        return _ops.logsumexp(self, dim, keepdim)

    def softmax(self, dim: int) -> "Tensor":
        return _ops.softmax(self, dim)

    def log_softmax(self, dim: int) -> "Tensor":
        return _ops.log_softmax(self, dim)

    def argmax(self, dim: Optional[int] = None, keepdim: bool = False) -> "Tensor":
        return _ops.argmax(self, dim, keepdim)

    def argmin(self, dim: Optional[int] = None, keepdim: bool = False) -> "Tensor":
        return _ops.argmin(self, dim, keepdim)

    def reshape(self, *sizes: Any, shape: Any = None) -> "Tensor":
        return _ops.reshape(self, *sizes, shape=shape)

    def view(self, *sizes: Any, size: Any = None) -> "Tensor":
        return _ops.view(self, *sizes, size=size)

    def view_as(self, other: "Tensor") -> "Tensor":
        return _ops.view(self, other.shape)

    def reshape_as(self, other: "Tensor") -> "Tensor":
        return _ops.reshape(self, other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        return _ops.flatten(self, start_dim, end_dim)

    def transpose(self, dim0: int, dim1: int) -> "Tensor":
        return _ops.transpose(self, dim0, dim1)

    def permute(self, *order: Any, dims: Any = None) -> "Tensor":
        return _ops.permute(self, *order, dims=dims)

    @property
    def T(self) -> "Tensor":
        """The tensor with its dimensions reversed."""
        return _ops.permute(self, *reversed(range(self.ndim)))

    @property
    def mT(self) -> "Tensor":
        return _ops.transpose(self, -2, -1)

    def t(self) -> "Tensor":
        if self.ndim > 2:
            raise OpError(f"t() expects a tensor with <= 2 dimensions, but got {self.ndim}")
        return self.T

    def squeeze(self, dim: Any = None) -> "Tensor":
        return _ops.squeeze(self, dim)

    def unsqueeze(self, dim: int) -> "Tensor":
        return _ops.unsqueeze(self, dim)

    def expand(self, *sizes: Any, size: Any = None) -> "Tensor":
        return _ops.expand(self, *sizes, size=size)

    def expand_as(self, other: "Tensor") -> "Tensor":
        return _ops.expand(self, other.shape)

    def broadcast_to(self, *sizes: Any, size: Any = None) -> "Tensor":
        return _ops.broadcast_to(self, *sizes, size=size)

    def split(self, split_size_or_sections: Any, dim: int = 0) -> tuple:
        return _ops.split(self, split_size_or_sections, dim)

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        return _ops.chunk(self, chunks, dim)

    def where(self, condition: Any, other: Any) -> "Tensor":
        return _ops.where(condition, self, other)
