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
from ..device import CPU, DEVICE_TYPES, check_device, check_factory, get_default_dtype
from ..random import resolve
from .errors import OpError
from .grad_mode import state
from .size import Size

Shape = tuple[int, ...]
_ndarray = xp.ndarray  # read on every op's output
ArrayLike = Any

_FLOAT_KINDS = ("f",)
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


TYPE_NAMES = {numpy.dtype(k): v for k, v in (
    ("float32", "FloatTensor"), ("float64", "DoubleTensor"), ("float16", "HalfTensor"),
    ("int64", "LongTensor"), ("int32", "IntTensor"), ("int16", "ShortTensor"),
    ("int8", "CharTensor"), ("uint8", "ByteTensor"), ("bool", "BoolTensor"),
    ("uint16", "UInt16Tensor"), ("uint32", "UInt32Tensor"), ("uint64", "UInt64Tensor"))}
"""PyTorch's legacy type name of each dtype (``Tensor.type()``, ``FloatTensor``...)."""


def _dtype_of_type_name(name: str) -> numpy.dtype:
    """The dtype of a type name such as ``'torch.FloatTensor'`` or ``'chainrule.FloatTensor'``."""
    short = name.rpartition(".")[2]
    for dtype, type_name in TYPE_NAMES.items():
        if type_name == short:
            return dtype
    raise ValueError(f"invalid type: {name!r}")


def _legacy_constructor(dtype_name: str) -> Callable[..., "Tensor"]:
    """PyTorch's legacy constructor of one dtype (``FloatTensor``...): a function here, so
    ``isinstance(x, FloatTensor)`` is not supported (compare ``x.dtype``)."""
    dtype = numpy.dtype(dtype_name)
    name = TYPE_NAMES[dtype]

    def construct(*data: Any, requires_grad: bool = False) -> "Tensor":
        return Tensor(legacy_array(data, dtype, name), requires_grad=requires_grad)

    construct.__name__ = construct.__qualname__ = name
    construct.dtype = dtype  # type: ignore[attr-defined]  # read by Tensor.type(FloatTensor)
    construct.__doc__ = f"""A {dtype_name} tensor: ``{name}(2, 3)`` (zeros of that shape), ``{name}([1, 2])``
    (the values), ``{name}(array)`` (cast; shared when already {dtype_name}), ``{name}(t)``
    (a {dtype_name} Tensor's data, shared; another dtype raises TypeError), as PyTorch's
    ``torch.{name}`` (see :func:`legacy_array`).

    Example:
        >>> import chainrule as cr
        >>> cr.{name}([1, 0]).dtype, cr.{name}(2, 3).shape
        (dtype('{dtype_name}'), (2, 3))
    """
    return construct


FloatTensor = _legacy_constructor("float32")
DoubleTensor = _legacy_constructor("float64")
HalfTensor = _legacy_constructor("float16")
LongTensor = _legacy_constructor("int64")
IntTensor = _legacy_constructor("int32")
ShortTensor = _legacy_constructor("int16")
CharTensor = _legacy_constructor("int8")
ByteTensor = _legacy_constructor("uint8")
BoolTensor = _legacy_constructor("bool")


class RemovableHandle:
    """Returned by ``register_hook``; ``remove()`` unregisters the hook."""

    def __init__(self, hooks: list, hook: Callable) -> None:
        self._hooks, self._hook = hooks, hook

    def remove(self) -> None:
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _is_size(arg: Any) -> bool:
    """Whether a legacy constructor's argument is a size (an int, not a bool), as PyTorch."""
    return isinstance(arg, (int, numpy.integer)) and not isinstance(arg, (bool, numpy.bool_))


def legacy_array(args: tuple, dtype: Any, op: str = "new") -> Any:
    """The array of PyTorch's legacy constructors (``Tensor(2, 3)``, ``FloatTensor([1, 2])``),
    as PyTorch reads their arguments: sizes (ints) give zeros of that shape (PyTorch leaves
    them uninitialized), a ``Size`` too; a sequence or an ndarray gives its values in
    ``dtype`` (None: the default float dtype), without a copy when the dtype already fits; a
    Tensor gives its own data, which must have ``dtype`` (if given); no argument: an empty
    tensor, shape ``(0,)``.

    Raises:
        TypeError: a number that is not a size (``Tensor(2.5)``), a string, sizes mixed with
            data, a Tensor of another dtype than the constructor's.
        OpError: a negative size.

    Example:
        >>> legacy_array((2, 3), None).shape, legacy_array(([1, 2],), None).dtype
        ((2, 3), dtype('float32'))
    """
    if len(args) == 1 and not _is_size(args[0]):
        data = args[0]
        if isinstance(data, Tensor):
            if dtype is not None and data._data.dtype != dtype:
                raise TypeError(f"{op}(): expected a tensor of dtype {numpy.dtype(dtype)}, got "
                                f"one of dtype {data.dtype} (cast it first: "
                                f"x.to(chainrule.{numpy.dtype(dtype)}))")
            return data._data  # shared, as PyTorch's torch.Tensor(t) aliases t
        if isinstance(data, Size):
            return xp.zeros(tuple(data), dtype or get_default_dtype())
        if isinstance(data, xp.ndarray):
            check_dtype(data.dtype)
            return data.astype(dtype or get_default_dtype(), copy=False)
        if isinstance(data, (str, bytes)) or not hasattr(data, "__iter__"):
            raise TypeError(f"{op}(): data must be a sequence (got {type(data).__name__})")
        return xp.asarray(data if isinstance(data, (list, tuple)) else list(data),
                          dtype=dtype or get_default_dtype())
    for s in args:
        if not _is_size(s):
            raise TypeError(f"{op}(): expected sizes (ints) or one sequence of data, got "
                            f"{tuple(type(a).__name__ for a in args)}")
    if any(s < 0 for s in args):
        raise OpError(f"{op}(): trying to create tensor with negative dimension: "
                      f"{[int(s) for s in args]}")
    return xp.zeros(tuple(int(s) for s in args) or (0,), dtype or get_default_dtype())


class Tensor:
    """A multi-dimensional array that can record the operations applied to it.

    Args:
        data: the ndarray (or NumPy scalar) to wrap: not copied, its dtype kept. This is
            the one form that differs from ``torch.Tensor``, which casts an ndarray to
            float32: chainrule's ops and tests wrap their arrays this way. For PyTorch's
            result write ``cr.FloatTensor(array)`` (or ``cr.tensor(array, dtype=cr.float32)``);
            ``cr.from_numpy(array)`` is the dtype-keeping form PyTorch also has. PyTorch's
            other legacy forms work as in PyTorch (:func:`legacy_array`): ``Tensor(2, 3)`` or
            ``Tensor(Size)`` (zeros of that shape; PyTorch leaves them uninitialized),
            ``Tensor([1, 2])`` (a sequence, in the default float dtype), ``Tensor(t)`` (the
            Tensor ``t``'s data, shared, its dtype kept) and ``Tensor()`` (empty).
        requires_grad: whether ``backward`` should compute a gradient for this tensor.

    Example:
        >>> import chainrule as cr
        >>> x = cr.tensor([1.0, 2.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4.])
        >>> cr.Tensor(2, 3).shape, cr.Tensor([1, 2])
        ((2, 3), tensor([1., 2.]))
    """

    __slots__ = ("_data", "_grad", "_requires_grad", "grad_fn", "_out_idx", "_ver", "_mtime",
                 "_hooks", "_retains_grad", "name", "__weakref__")
    __array_priority__ = 1000  # so ndarray * Tensor calls Tensor.__rmul__

    def __init__(self, *data: ArrayLike, requires_grad: bool = False) -> None:
        if len(data) == 1 and isinstance(data[0], (xp.ndarray, xp.generic)):
            data = xp.asarray(data[0])  # wrapped as is (see the class docstring)
        else:
            data = legacy_array(data, None, "Tensor")
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
        if self._requires_grad and not _is_float(value._data.dtype):
            raise RuntimeError(f"data set to a tensor that requires gradients must be floating "
                               f"point, got {value.dtype}")
        self._data = value._data

    @property
    def device(self) -> Any:
        """Where the data lives: always ``device(type='cpu')`` (equal to the string "cpu").

        Example:
            >>> import chainrule as cr
            >>> x = cr.zeros(2); x.device, x.device == "cpu", x.is_cuda, x.get_device()
            (device(type='cpu'), True, False, -1)
        """
        return CPU

    def dim(self) -> int:
        return self._data.ndim

    def size(self, dim: Optional[int] = None) -> Union[Size, int]:
        """The shape as a :class:`Size`, or the size of dimension ``dim`` (``.shape`` is the
        plain tuple: it is read on every op, and a tuple is faster to get).

        Example:
            >>> import chainrule as cr
            >>> x = cr.zeros(2, 3)
            >>> x.size(), x.size(-1), x.size() == x.shape
            (chainrule.Size([2, 3]), 3, True)
        """
        return Size(self._data.shape) if dim is None else self._data.shape[dim]

    def numel(self) -> int:
        return int(self._data.size)

    def nelement(self) -> int:
        """The number of elements (``numel``'s other name)."""
        return int(self._data.size)

    def ndimension(self) -> int:
        """The number of dimensions (``dim``'s other name)."""
        return self._data.ndim

    def element_size(self) -> int:
        """The size of one element in bytes.

        Example:
            >>> import chainrule as cr
            >>> x = cr.zeros(2, 3)
            >>> x.element_size(), x.itemsize, x.nbytes, cr.zeros(2, dtype=cr.float64).itemsize
            (4, 4, 24, 8)
        """
        return self._data.itemsize

    itemsize: int = property(attrgetter("_data.itemsize"),  # type: ignore[assignment]
                             doc="The size of one element in bytes.")
    nbytes: int = property(attrgetter("_data.nbytes"),  # type: ignore[assignment]
                           doc="The bytes the elements take (numel * itemsize).")

    def is_floating_point(self) -> bool:
        """Whether the dtype is a floating-point one."""
        return self._data.dtype.kind == "f"

    def stride(self, dim: Optional[int] = None) -> Union[tuple[int, ...], int]:
        """The step in elements from one index to the next along each dimension (or ``dim``),
        as PyTorch counts them (NumPy counts bytes).

        Example:
            >>> import chainrule as cr
            >>> x = cr.zeros(2, 3)
            >>> x.stride(), x.t().stride(), x.stride(1)
            ((3, 1), (1, 3), 1)
        """
        steps = tuple([s // self._data.itemsize for s in self._data.strides])
        return steps if dim is None else steps[dim]

    def data_ptr(self) -> int:
        """The address of the first element."""
        return self._data.__array_interface__["data"][0]

    def storage_offset(self) -> int:
        """How many elements into its memory block (the array owning it) the tensor starts.

        Example:
            >>> import chainrule as cr
            >>> x = cr.zeros(2, 3)
            >>> x.storage_offset(), x[1].storage_offset(), x[:, 1:].storage_offset()
            (0, 3, 1)
        """
        base = self._data
        while isinstance(base.base, xp.ndarray):
            base = base.base
        if base is self._data:
            return 0
        offset = self.data_ptr() - base.__array_interface__["data"][0]
        return offset // self._data.itemsize

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

    def __array__(self, dtype: Any = None, copy: Optional[bool] = None) -> Any:
        """The ndarray NumPy gets from ``np.asarray(t)``/``np.array(t)``: the data itself
        (shared) unless a copy is asked for (``copy=True``) or needed (another ``dtype``);
        ``copy=False`` when a copy is needed raises ValueError, as NumPy 2 wants. A tensor that
        requires grad raises, as PyTorch's (use ``t.detach()``).

        Example:
            >>> import numpy as np, chainrule as cr
            >>> x = cr.zeros(2)
            >>> np.asarray(x) is x.numpy(), np.array(x, copy=True) is x.numpy()
            (True, False)
        """
        if self._requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead.")
        data = self._data
        if dtype is None or numpy.dtype(dtype) == data.dtype:
            return data.copy() if copy else data
        if copy is False:
            raise ValueError(f"Unable to avoid copy while creating an array as requested: the "
                             f"tensor is {data.dtype}, {numpy.dtype(dtype)} was asked for.")
        return data.astype(dtype)

    def __dlpack__(self, *, stream: Any = None, max_version: Optional[tuple[int, int]] = None,
                   dl_device: Any = None, copy: Optional[bool] = None) -> Any:
        """Export the data as a DLPack capsule (no copy), for ``torch.from_dlpack(t)``,
        ``np.from_dlpack(t)``; a tensor that requires grad raises BufferError, as PyTorch's.

        Example:
            >>> import numpy as np, chainrule as cr
            >>> x = cr.zeros(3)
            >>> y = np.from_dlpack(x)
            >>> y[0] = 5.0
            >>> x.tolist()
            [5.0, 0.0, 0.0]
        """
        if self._requires_grad:
            raise BufferError("Can't export tensors that require gradient, use tensor.detach()")
        given = {"stream": stream, "max_version": max_version, "dl_device": dl_device,
                 "copy": copy}
        return self._data.__dlpack__(**{k: v for k, v in given.items() if v is not None})

    def __dlpack_device__(self) -> tuple[int, int]:
        """The DLPack device of the data: ``(1, 0)``, the CPU."""
        return self._data.__dlpack_device__()

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
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
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
    def to(self, *args: Any, dtype: Any = None, device: Any = None, non_blocking: bool = False,
           copy: bool = False, memory_format: Any = None) -> "Tensor":
        """This tensor in another dtype (differentiable between float dtypes) on the CPU.

        Accepts PyTorch's forms: ``to(dtype)``, ``to(device)``, ``to(device, dtype)``,
        ``to(other)`` (other's dtype and device) and the keywords; ``non_blocking`` and
        ``memory_format`` change nothing here. The tensor itself comes back when nothing
        changes (unless ``copy=True``).

        Raises:
            RuntimeError: a device other than the CPU ("cuda", "mps", an int ordinal, ...).

        Example:
            >>> import chainrule as cr
            >>> x = cr.tensor([1, 2])
            >>> x.to(cr.float64).dtype, x.to("cpu") is x, x.to(cr.device("cpu"), cr.float32).dtype
            (dtype('float64'), True, dtype('float32'))
            >>> x.to("cuda")  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            RuntimeError: to: device 'cuda' is not available: chainrule runs on the CPU only ...
        """
        flags = []
        for a in args:
            if isinstance(a, Tensor):
                dtype = a._data.dtype
            elif isinstance(a, bool):
                flags.append(a)  # to(dtype, non_blocking, copy), positionally
            elif (isinstance(a, str) and a.split(":")[0] in DEVICE_TYPES) or \
                    isinstance(getattr(a, "type", None), str) or isinstance(a, int):
                device = a
            elif dtype is None:
                dtype = a
            else:
                raise TypeError(f"to() got an unexpected argument {a!r}")
        if len(flags) > 2:
            raise TypeError(f"to() takes at most 2 flags (non_blocking, copy), got {flags}")
        copy = copy or (len(flags) == 2 and flags[1])
        check_device(device, "to")
        out = self if dtype is None or numpy.dtype(dtype) == self._data.dtype else \
            _ops.cast(self, dtype)
        return out.clone() if copy and out is self else out

    def type(self, dtype: Any = None, non_blocking: bool = False,  # noqa: A003
             **kwargs: Any) -> Any:
        """With no argument, the tensor's type name as PyTorch spells it
        (``'torch.FloatTensor'``: programs compare it to that string); else this tensor cast to
        ``dtype``, a dtype, a type name (``'torch.DoubleTensor'``, ``'chainrule.DoubleTensor'``)
        or a legacy constructor (``cr.DoubleTensor``); the tensor itself when the dtype is its
        own. A CUDA type name raises the device RuntimeError, an unknown one ValueError.

        Example:
            >>> import chainrule as cr
            >>> x = cr.zeros(2)
            >>> x.type(), x.type(cr.float64).type(), x.type("torch.LongTensor").dtype
            ('torch.FloatTensor', 'torch.DoubleTensor', dtype('int64'))
            >>> x.type(cr.DoubleTensor).dtype, x.type(cr.float32) is x
            (dtype('float64'), True)
        """
        if dtype is None:
            return "torch." + TYPE_NAMES[self._data.dtype.newbyteorder("=")]
        if isinstance(dtype, str):
            if "cuda" in dtype.split("."):
                check_device("cuda", "type")
            dtype = _dtype_of_type_name(dtype)
        elif callable(dtype) and getattr(dtype, "__name__", None) in TYPE_NAMES.values():
            dtype = dtype.dtype  # a legacy constructor: x.type(cr.DoubleTensor)
        return self if numpy.dtype(dtype) == self._data.dtype else _ops.cast(self, dtype)

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

    def cpu(self, memory_format: Any = None) -> "Tensor":
        """This tensor (it is on the CPU already), as PyTorch's ``cpu()`` returns it.

        Example:
            >>> import chainrule as cr
            >>> x = cr.ones(2); x.cpu() is x
            True
        """
        return self

    def cuda(self, device: Any = None, non_blocking: bool = False,
             memory_format: Any = None) -> "Tensor":
        """Raises the device RuntimeError: chainrule has no GPU backend yet.

        Example:
            >>> import chainrule as cr
            >>> cr.ones(2).cuda()  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            RuntimeError: cuda: device 'cuda' is not available: chainrule runs on the CPU only ...
        """
        check_device("cuda" if device is None or device == "cpu" else device, "cuda")
        raise RuntimeError(f"cuda: invalid device {device!r}, must be a cuda device")

    @property
    def is_cuda(self) -> bool:
        """Whether the data lives on a CUDA GPU: never (see :attr:`device`)."""
        return False

    def get_device(self) -> int:
        """The GPU ordinal of the data, or -1 for the CPU (always -1 here)."""
        return -1

    # ------------------------------------------------------------------ random fills
    def uniform_(self, from_: float = 0.0, to: float = 1.0, *,
                 generator: Any = None) -> "Tensor":
        """Fill with samples uniform in [from_, to): one uniform draw, times ``to - from_``,
        plus ``from_`` (floating dtypes only, as PyTorch).

        Example:
            >>> import chainrule as cr
            >>> x = cr.empty(100).uniform_(-2, 3, generator=cr.Generator())
            >>> bool(-2 <= x.min() and x.max() < 3)
            True
        """
        self._check_inplace("uniform_")
        if not _is_float(self._data.dtype):
            raise NotImplementedError(f"uniform_: not implemented for dtype {self.dtype}")
        if from_ > to:
            raise OpError(f"uniform_ expects to return a [from, to) range, but found "
                          f"from={from_} > to={to}")
        u = resolve(generator, "uniform_")._uniform(self.shape, self.dtype)
        return self.copy_(u * (to - from_) + from_)

    def normal_(self, mean: float = 0.0, std: float = 1.0, *,
                generator: Any = None) -> "Tensor":
        """Fill with normal samples: one standard normal draw, times ``std``, plus ``mean``
        (floating dtypes only, as PyTorch).

        Example:
            >>> import chainrule as cr
            >>> cr.empty(2, 3).normal_(0, 0.02).shape
            (2, 3)
        """
        self._check_inplace("normal_")
        if not _is_float(self._data.dtype):
            raise NotImplementedError(f"normal_: not implemented for dtype {self.dtype}")
        if std < 0:
            raise OpError(f"normal_ expects std >= 0.0, but found std {std}")
        n = resolve(generator, "normal_")._normal(self.shape, self.dtype)
        return self.copy_(n * std + mean)

    def bernoulli_(self, p: Any = 0.5, *, generator: Any = None) -> "Tensor":
        """Fill with 0/1 samples, 1 with probability ``p`` (a number or a broadcast Tensor).

        Example:
            >>> import chainrule as cr
            >>> cr.zeros(3, dtype=cr.int64).bernoulli_(1.0).tolist()
            [1, 1, 1]
        """
        self._check_inplace("bernoulli_")
        probs = xp.asarray(p._data if isinstance(p, Tensor) else p)
        if not xp.all((probs >= 0) & (probs <= 1)):
            raise OpError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
        return self.copy_(resolve(generator, "bernoulli_")._bernoulli(probs, self.shape))

    def random_(self, from_: Optional[int] = None, to: Optional[int] = None, *,
                generator: Any = None) -> "Tensor":
        """Fill with integers uniform in [from_, to): ``random_(to)``, ``random_(from_, to)``,
        or ``random_()`` for [0, the dtype's largest exact integer] (2**63 - 1 for int64,
        2**24 for float32, as PyTorch).

        Example:
            >>> import chainrule as cr
            >>> seed = cr.empty((), dtype=cr.int64).random_(generator=cr.Generator()).item()
            >>> 0 <= seed < 2 ** 63, cr.zeros(4).random_(3, 5).tolist() <= [4.0] * 4
            (True, True)
        """
        self._check_inplace("random_")
        dt = self._data.dtype
        top = 2 if dt.kind == "b" else 2 ** (numpy.finfo(dt).nmant + 1) + 1 \
            if dt.kind == "f" else min(int(numpy.iinfo(dt).max) + 1, 2 ** 63)  # (exclusive)
        low, high = (0, top) if from_ is None else (0, from_) if to is None else (from_, to)
        if low >= high:
            raise OpError(f"random_ expects 'from' to be less than 'to', but got from={low} "
                          f">= to={high}")
        if high > top:
            raise OpError(f"random_: to - 1 = {high - 1} is out of bounds for {dt}")
        return self.copy_(resolve(generator, "random_")._integers(low, high, self.shape))

    # ------------------------------------------------------------------ new tensors like self
    def new_full(self, size: Any, fill_value: Any, *, dtype: Any = None, device: Any = None,
                 requires_grad: bool = False, layout: Any = None,
                 pin_memory: bool = False) -> "Tensor":
        """A new tensor of ``size`` filled with ``fill_value``, in this tensor's dtype unless
        ``dtype`` is given (``new_zeros``, ``new_ones``, ``new_empty`` take sizes as varargs).

        Example:
            >>> import chainrule as cr
            >>> x = cr.ones(2, dtype=cr.float64)
            >>> x.new_full((2,), 7).tolist(), x.new_zeros(2, 3).shape, x.new_ones((1,)).dtype
            ([7.0, 7.0], (2, 3), dtype('float64'))
        """
        check_factory("new_full", device, layout, pin_memory)
        if not isinstance(size, (tuple, list)):
            raise TypeError(f"new_full(): argument 'size' must be tuple of ints, not "
                            f"{type(size).__name__}")
        if len(size) == 1 and isinstance(size[0], (tuple, list)):
            size = size[0]  # new_zeros((2, 3)) as new_zeros(2, 3)
        try:
            data = xp.full(tuple(size), fill_value, dtype=dtype or self.dtype)
        except ValueError as e:
            raise OpError(f"new_full: bad size {tuple(size)}: {e}") from None
        return Tensor(data, requires_grad=requires_grad)

    def new_zeros(self, *size: Any, **kwargs: Any) -> "Tensor":
        """Zeros of ``size``, in this tensor's dtype (see :meth:`new_full`)."""
        return self.new_full(size, 0, **kwargs)

    def new_ones(self, *size: Any, **kwargs: Any) -> "Tensor":
        """Ones of ``size``, in this tensor's dtype (see :meth:`new_full`)."""
        return self.new_full(size, 1, **kwargs)

    def new_empty(self, *size: Any, **kwargs: Any) -> "Tensor":
        """A tensor of ``size`` to be overwritten (zeros here), in this tensor's dtype."""
        return self.new_full(size, 0, **kwargs)

    def new_tensor(self, data: Any, *, dtype: Any = None, device: Any = None,
                   requires_grad: bool = False, layout: Any = None,
                   pin_memory: bool = False) -> "Tensor":
        """A copy of ``data`` as a new leaf tensor in this tensor's dtype (unless given).

        Example:
            >>> import chainrule as cr
            >>> y = cr.zeros(1, dtype=cr.float64).new_tensor([1, 2]); y.tolist(), y.dtype
            ([1.0, 2.0], dtype('float64'))
        """
        check_factory("new_tensor", device, layout, pin_memory)
        data = data._data if isinstance(data, Tensor) else data
        return Tensor(xp.array(data, dtype=dtype or self.dtype), requires_grad=requires_grad)

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
            # the out-of-place op's result dtype, by PyTorch's promotion (int + 1.5: float32)
            result = getattr(Tensor._const(self._data), "__" + op[3:])(value)
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

    def t_(self) -> "Tensor":
        """Transpose a tensor of at most 2 dimensions in place (its strides swap; no copy).

        Example:
            >>> import chainrule as cr
            >>> x = cr.zeros(2, 3)
            >>> x.t_().shape, x.stride()
            ((3, 2), (1, 3))
        """
        if self.ndim > 2:
            raise OpError(f"t_() expects a tensor with <= 2 dimensions, but got {self.ndim}")
        self._check_inplace("t_")
        self._data = self._data.T
        self._version += 1
        return self

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


def tensors_in(value: Any, other: Optional[Callable[[Any], None]] = None) -> list[Tensor]:
    """The Tensors in ``value`` (a Tensor, or nested tuples, lists and dicts of them), in
    order, found without recursion. ``None`` is skipped; any other item goes to ``other``
    (which raises where only Tensors may appear), or is skipped when ``other`` is None.

    Example:
        >>> a, b = Tensor(numpy.zeros(1)), Tensor(numpy.ones(2))
        >>> [t.shape for t in tensors_in((a, {"x": [b, None, 3]}))]
        [(1,), (2,)]
    """
    found: list[Tensor] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, Tensor):
            found.append(item)
        elif isinstance(item, (tuple, list)):
            stack.extend(reversed(item))
        elif isinstance(item, dict):
            stack.extend(reversed(list(item.values())))
        elif item is not None and other is not None:
            other(item)
    return found
