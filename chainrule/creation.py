"""Tensor factories: ``tensor``, ``zeros``, ``ones``, ``arange``, ``randn``, ... (as in PyTorch).

Floating results default to float32 (``set_default_dtype`` changes it); integers to int64.
Every factory takes PyTorch's placement arguments (``device=``, ``layout=``, ``pin_memory=``
and, for the ``*_like`` ones, ``memory_format=``): the CPU and dense layout are accepted, other
devices raise the device RuntimeError (``chainrule.device.check_factory``). The random ones
take ``generator=`` and draw from it (else from the default generator) with the same calls as
PyTorch: one ``_normal`` per ``randn``, one ``_uniform`` per ``rand``, ...
"""
from __future__ import annotations

from typing import Any, Optional, Sequence, Union

import numpy

from .autograd.errors import OpError
from .autograd.tensor import Tensor
from .backend import xp
from .device import check_factory, get_default_dtype
from .ops import promote
from .random import Generator, resolve

DTypeLike = Any
float32 = numpy.dtype("float32")
float64 = numpy.dtype("float64")
float16 = numpy.dtype("float16")
int64 = numpy.dtype("int64")
int32 = numpy.dtype("int32")
int8 = numpy.dtype("int8")
uint8 = numpy.dtype("uint8")
bool_ = numpy.dtype("bool")
Device = Any  # a device, its name ("cpu") or None (the default device)


def _shape(size: tuple, keyword: Any = None, op: str = "size") -> tuple[int, ...]:
    """The shape given as varargs ``(2, 3)``, one sequence ``((2, 3),)`` or ``size=(2, 3)``."""
    if keyword is not None:
        if size:
            raise TypeError(f"{op}: got the size both positionally and as size=")
        size = (keyword,)
    if not size:
        raise TypeError(f"{op}: missing the required argument 'size'")
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    out = []
    for s in size:
        if isinstance(s, Tensor) and s._data.ndim == 0 and s._data.dtype.kind in "iu":
            s = int(s._data)  # a 0-d integer tensor is a size, as in PyTorch
        if isinstance(s, (bool, numpy.bool_)) or not isinstance(s, (int, numpy.integer)) \
                or s < 0:
            raise OpError(f"{op}: size must be a sequence of non-negative ints, got {size}")
        out.append(int(s))
    return tuple(out)


_PY_TYPES = (bool, int, float)


def _py_dtype(t: type) -> numpy.dtype:
    """The dtype ``torch.tensor`` gives a Python bool, int or float."""
    return bool_ if t is bool else int64 if t is int else get_default_dtype()


def _infer_dtype(data: Any) -> Optional[numpy.dtype]:
    """The dtype ``torch.tensor`` infers for a nested sequence, or None if it has no elements.

    Python floats count as the default float32 and ints as int64; NumPy scalars and arrays and
    Tensors keep their own dtype (so a NumPy float64 element makes the result float64).
    """
    dtype: Optional[numpy.dtype] = None
    kinds = set(map(type, data))
    for t in kinds & set(_PY_TYPES):  # the common case, with no Python loop over the data
        dtype = promote(dtype, _py_dtype(t))
    if kinds - set(_PY_TYPES):
        for x in data:
            if type(x) in _PY_TYPES:
                continue
            if isinstance(x, (list, tuple)):
                dt = _infer_dtype(x)
                if dt is None:
                    continue
            elif isinstance(x, Tensor):
                dt = x._data.dtype
            else:
                dt = xp.asarray(x).dtype  # NumPy scalars and arrays, or anything else
                if dt.kind not in "biuf":
                    return dt  # not a number: reported by the caller
            dtype = promote(dtype, dt)
    return dtype


def tensor(data: Any, dtype: DTypeLike = None, device: Device = None,
           requires_grad: bool = False, pin_memory: bool = False) -> Tensor:
    """Build a tensor from data (copied), inferring dtypes like ``torch.tensor``.

    Python floats become the default dtype (float32) and ints int64; NumPy arrays and scalars
    keep their dtype, also inside a list (``[np.float64(1.0), 2.0]`` gives float64, as in
    PyTorch).

    Args:
        data: a number, nested sequence, ndarray or Tensor.
        dtype: the dtype to convert to.
        device: only the CPU (others raise RuntimeError).
        requires_grad: track operations on the tensor for backward.
        pin_memory: only False (pinned memory needs an accelerator).

    Example:
        >>> import chainrule as cr, numpy as np
        >>> cr.tensor([[1, 2]]).dtype, cr.tensor([0.5], device="cpu").dtype
        (dtype('int64'), dtype('float32'))
        >>> cr.tensor([np.float64(0.5), 1.0]).dtype
        dtype('float64')
    """
    check_factory("tensor", device, pin_memory=pin_memory)
    if isinstance(data, Tensor):
        data = data._data
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
        data = [d._data if isinstance(d, Tensor) else d for d in data]
    is_array = isinstance(data, (numpy.ndarray, numpy.generic))
    try:
        arr = xp.array(data, dtype=dtype, copy=True)
    except ValueError as e:  # a ragged nested list
        raise ValueError(f"tensor: could not convert data of type {type(data).__name__}: "
                         f"{e}") from None
    except TypeError as e:
        raise TypeError(f"tensor: could not convert data of type {type(data).__name__}: "
                        f"{e}") from None
    if dtype is None and not is_array:
        inferred = _infer_dtype(data) if isinstance(data, (list, tuple)) else None
        if inferred is not None and inferred.kind in "biuf" and arr.dtype.kind in "biuf":
            if arr.dtype != inferred:
                arr = arr.astype(inferred)
        elif arr.dtype == numpy.float64:
            arr = arr.astype(get_default_dtype())
        elif arr.dtype.kind == "i":
            arr = arr.astype(numpy.int64)
    return Tensor(arr, requires_grad=requires_grad)  # refuses dtypes torch lacks (check_dtype)


def as_tensor(data: Any, dtype: DTypeLike = None, device: Device = None) -> Tensor:
    """Like :func:`tensor`, but shares memory where it can: a Tensor of the right dtype is
    returned as is, and an ndarray of the right dtype is wrapped without a copy.

    Example:
        >>> import chainrule as cr, numpy as np
        >>> a = np.zeros(2); t = cr.as_tensor(a, device="cpu"); a[0] = 5; t.tolist()
        [5.0, 0.0]
    """
    check_factory("as_tensor", device)
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtype):
        return data
    if isinstance(data, numpy.ndarray) and (dtype is None or data.dtype == dtype):
        return from_numpy(data)
    return tensor(data, dtype)


def from_numpy(array: Any) -> Tensor:
    """Wrap an ndarray without copying (the tensor and the array share memory).

    Example:
        >>> import chainrule as cr, numpy as np
        >>> cr.from_numpy(np.arange(3)).tolist()
        [0, 1, 2]
    """
    if not isinstance(array, numpy.ndarray):
        raise TypeError(f"from_numpy: expected np.ndarray (got {type(array).__name__})")
    return Tensor(array)


class _CapsuleExporter:
    """A bare DLPack capsule dressed as an exporter, so ``numpy.from_dlpack`` takes it (a
    capsule lives on the CPU here: NumPy checks its device when it reads it)."""

    def __init__(self, capsule: Any) -> None:
        self._capsule = capsule

    def __dlpack__(self, **kwargs: Any) -> Any:
        return self._capsule

    def __dlpack_device__(self) -> tuple[int, int]:
        return (1, 0)  # kDLCPU, device 0


def from_dlpack(ext_tensor: Any) -> Tensor:
    """A Tensor sharing the memory of ``ext_tensor``, through the DLPack protocol (as
    ``torch.from_dlpack``): any object with ``__dlpack__`` (a NumPy array, a PyTorch or a
    chainrule tensor, ...) or a DLPack capsule (which can be consumed only once). The dtype
    is kept; writes through either side show in the other. A read-only NumPy array gives a
    read-only tensor (PyTorch ignores the flag).

    Args:
        ext_tensor: the object to import.

    Raises:
        BufferError: the exporter refuses (a PyTorch or chainrule tensor that requires grad).
        OpError: ``ext_tensor`` is neither an exporter nor a capsule (PyTorch's
            RuntimeError), or it lives on a device other than the CPU.
        TypeError: a dtype no Tensor holds (complex).

    Example:
        >>> import chainrule as cr, numpy as np
        >>> a = np.arange(3.0)
        >>> t = cr.from_dlpack(a)
        >>> t[0] = 7.0
        >>> a.tolist(), cr.from_dlpack(t).tolist()
        ([7.0, 1.0, 2.0], [7.0, 1.0, 2.0])
    """
    exporter = ext_tensor
    if type(ext_tensor).__name__ == "PyCapsule":
        exporter = _CapsuleExporter(ext_tensor)
    elif not hasattr(ext_tensor, "__dlpack__"):
        raise OpError(f"from_dlpack: expected an object with __dlpack__ (a NumPy array, a "
                      f"tensor) or a DLPack capsule, got {type(ext_tensor).__name__}")
    try:
        array = numpy.from_dlpack(exporter)
    except (RuntimeError, ValueError) as e:  # NumPy: another device, a consumed capsule...
        hint = " (a DLPack capsule can be consumed only once)" \
            if exporter is not ext_tensor else ""
        raise OpError(f"from_dlpack: cannot import the {type(ext_tensor).__name__}{hint}: "
                      f"{e}") from None
    return Tensor(array)  # refuses dtypes torch lacks (check_dtype)


# ---------------------------------------------------------------------- tensor queries
def _tensor_arg(input: Any, op: str) -> Tensor:
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not "
                        f"{type(input).__name__}")
    return input


def is_tensor(obj: Any) -> bool:
    """Whether ``obj`` is a Tensor (a Parameter too), as ``torch.is_tensor``.

    Example:
        >>> import chainrule as cr, numpy as np
        >>> cr.is_tensor(cr.zeros(1)), cr.is_tensor(np.zeros(1)), cr.is_tensor([1.0])
        (True, False, False)
    """
    return isinstance(obj, Tensor)


def numel(input: Tensor) -> int:
    """The number of elements of ``input`` (a Tensor, else TypeError, as ``torch.numel``).

    Example:
        >>> import chainrule as cr
        >>> cr.numel(cr.zeros(2, 3)), cr.numel(cr.tensor(1.0)), cr.numel(cr.zeros(0, 4))
        (6, 1, 0)
    """
    return _tensor_arg(input, "numel").numel()


def is_floating_point(input: Tensor) -> bool:
    """Whether ``input``'s dtype is a floating-point one (a Tensor, else TypeError).

    Example:
        >>> import chainrule as cr
        >>> cr.is_floating_point(cr.zeros(1)), cr.is_floating_point(cr.tensor([1]))
        (True, False)
    """
    return _tensor_arg(input, "is_floating_point").is_floating_point()


def _size_kw(kwargs: dict[str, Any], op: str) -> Any:
    """The ``size=`` keyword of a varargs factory (``*size`` cannot also be named ``size``)."""
    size = kwargs.pop("size", None)
    if kwargs:
        raise TypeError(f"{op}() got an unexpected keyword argument {next(iter(kwargs))!r}")
    return size


def _filled(fill: Any, size: tuple, kwargs: dict[str, Any], dtype: DTypeLike,
            requires_grad: bool, op: str) -> Tensor:
    """``zeros``, ``ones`` and ``empty`` (fill None) after their placement check."""
    shape = _shape(size, _size_kw(kwargs, op), op)
    dtype = dtype or get_default_dtype()
    data = xp.empty(shape, dtype=dtype) if fill is None else xp.full(shape, fill, dtype=dtype)
    return Tensor(data, requires_grad=requires_grad)


def zeros(*size: Any, dtype: DTypeLike = None, layout: Any = None, device: Device = None,
          requires_grad: bool = False, pin_memory: bool = False, **kwargs: Any) -> Tensor:
    """A tensor of zeros of the given size (varargs, one sequence, or ``size=``).

    Example:
        >>> import chainrule as cr
        >>> cr.zeros(2, 3).shape, cr.zeros((2,)).tolist(), cr.zeros(size=[1, 2]).shape
        ((2, 3), [0.0, 0.0], (1, 2))
    """
    check_factory("zeros", device, layout, pin_memory)
    return _filled(0, size, kwargs, dtype, requires_grad, "zeros")


def ones(*size: Any, dtype: DTypeLike = None, layout: Any = None, device: Device = None,
         requires_grad: bool = False, pin_memory: bool = False, **kwargs: Any) -> Tensor:
    """A tensor of ones of the given size (varargs, one sequence, or ``size=``).

    Example:
        >>> import chainrule as cr
        >>> cr.ones(size=(2,), device="cpu").tolist()
        [1.0, 1.0]
    """
    check_factory("ones", device, layout, pin_memory)
    return _filled(1, size, kwargs, dtype, requires_grad, "ones")


def empty(*size: Any, dtype: DTypeLike = None, layout: Any = None, device: Device = None,
          requires_grad: bool = False, pin_memory: bool = False, memory_format: Any = None,
          **kwargs: Any) -> Tensor:
    """An uninitialised tensor of the given size (varargs, one sequence, or ``size=``).

    Example:
        >>> import chainrule as cr
        >>> cr.empty(size=(2, 3)).shape, cr.empty((), dtype=cr.int64).shape
        ((2, 3), ())
    """
    check_factory("empty", device, layout, pin_memory, memory_format)
    return _filled(None, size, kwargs, dtype, requires_grad, "empty")


def full(size: Sequence[int], fill_value: Any, dtype: DTypeLike = None, layout: Any = None,
         device: Device = None, requires_grad: bool = False,
         pin_memory: bool = False) -> Tensor:
    """A tensor filled with ``fill_value`` (the default float dtype for floats, int64 for
    ints, bool for bools).

    Example:
        >>> import chainrule as cr, numpy as np
        >>> cr.full((2,), 7).dtype, cr.full((2,), np.int32(7)).dtype, cr.full((2,), 0.5).dtype
        (dtype('int64'), dtype('int64'), dtype('float32'))
    """
    check_factory("full", device, layout, pin_memory)
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full: size must be a tuple of ints, got {type(size).__name__}")
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if dtype is None:  # a NumPy integer counts as a Python int here, as in PyTorch
        dtype = numpy.bool_ if isinstance(fill_value, bool) else \
            numpy.int64 if isinstance(fill_value, (int, numpy.integer)) else get_default_dtype()
    return Tensor(xp.full(_shape((tuple(size),), op="full"), fill_value, dtype=dtype),
                  requires_grad=requires_grad)


def _like(input: Any, fill: Any, dtype: DTypeLike, requires_grad: bool, op: str,
          placement: tuple) -> Tensor:
    """``zeros_like`` and its kin: ``fill`` (None: uninitialised) with ``input``'s shape."""
    check_factory(op, *placement)
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' must be Tensor, not {type(input).__name__}")
    dtype = dtype or input.dtype
    data = xp.empty(input.shape, dtype) if fill is None else xp.full(input.shape, fill, dtype)
    return Tensor(data, requires_grad=requires_grad)


def zeros_like(input: Tensor, dtype: DTypeLike = None, layout: Any = None,
               device: Device = None, requires_grad: bool = False,
               memory_format: Any = None) -> Tensor:
    """Zeros with ``input``'s shape and (unless given) dtype.

    Example:
        >>> import chainrule as cr
        >>> cr.zeros_like(cr.ones(2, dtype=cr.int64), device="cpu")
        tensor([0, 0])
    """
    return _like(input, 0, dtype, requires_grad, "zeros_like",
                 (device, layout, False, memory_format))


def ones_like(input: Tensor, dtype: DTypeLike = None, layout: Any = None,
              device: Device = None, requires_grad: bool = False,
              memory_format: Any = None) -> Tensor:
    """Ones with ``input``'s shape and (unless given) dtype.

    Example:
        >>> import chainrule as cr
        >>> cr.ones_like(cr.zeros(2), dtype=cr.float64).tolist()
        [1.0, 1.0]
    """
    return _like(input, 1, dtype, requires_grad, "ones_like",
                 (device, layout, False, memory_format))


def empty_like(input: Tensor, dtype: DTypeLike = None, layout: Any = None,
               device: Device = None, requires_grad: bool = False,
               memory_format: Any = None) -> Tensor:
    """An uninitialised tensor with ``input``'s shape and (unless given) dtype.

    Example:
        >>> import chainrule as cr
        >>> cr.empty_like(cr.zeros(2, 3)).shape
        (2, 3)
    """
    return _like(input, None, dtype, requires_grad, "empty_like",
                 (device, layout, False, memory_format))


def full_like(input: Tensor, fill_value: Any, dtype: DTypeLike = None, layout: Any = None,
              device: Device = None, requires_grad: bool = False,
              memory_format: Any = None) -> Tensor:
    """``fill_value`` with ``input``'s shape and (unless given) dtype.

    Example:
        >>> import chainrule as cr
        >>> cr.full_like(cr.ones(2), 7, requires_grad=True)
        tensor([7., 7.], requires_grad=True)
    """
    return _like(input, fill_value, dtype, requires_grad, "full_like",
                 (device, layout, False, memory_format))


def _number(v: Any) -> Any:
    return v.item() if isinstance(v, Tensor) else v


def arange(start: float = 0, end: Optional[float] = None, step: float = 1,
           dtype: DTypeLike = None, layout: Any = None, device: Device = None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 for integer arguments.

    Example:
        >>> import chainrule as cr
        >>> cr.arange(3).tolist(), cr.arange(0, 1, 0.5).tolist(), cr.arange(end=2).tolist()
        ([0, 1, 2], [0.0, 0.5], [0, 1])
    """
    check_factory("arange", device, layout)
    start, end, step = _number(start), _number(end), _number(step)
    if end is None:
        start, end = 0, start
    if step == 0:
        raise OpError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise OpError(f"arange: upper bound and lower bound inconsistent with step sign "
                      f"(start={start}, end={end}, step={step})")
    if dtype is None:
        ints = all(isinstance(v, (int, numpy.integer)) for v in (start, end, step))
        dtype = numpy.int64 if ints else get_default_dtype()
    return Tensor(xp.arange(start, end, step).astype(dtype), requires_grad=requires_grad)


def _steps(steps: Any, op: str) -> int:
    steps = _number(steps)
    if isinstance(steps, (bool, numpy.bool_)) or not isinstance(steps, (int, numpy.integer)):
        raise TypeError(f"{op}: steps must be an int, got {type(steps).__name__}")
    if steps < 0:
        raise OpError(f"{op}: number of steps must be non-negative, got {steps}")
    return int(steps)


def linspace(start: float, end: float, steps: int, dtype: DTypeLike = None,
             layout: Any = None, device: Device = None, requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive.

    Example:
        >>> import chainrule as cr, math
        >>> x = cr.linspace(-math.pi, math.pi, 2000, device="cpu", dtype=cr.float32)
        >>> x.shape, x.dtype, cr.linspace(0, 1, 3).tolist()
        ((2000,), dtype('float32'), [0.0, 0.5, 1.0])
    """
    check_factory("linspace", device, layout)
    values = xp.linspace(_number(start), _number(end), _steps(steps, "linspace"))
    return Tensor(values.astype(dtype or get_default_dtype()), requires_grad=requires_grad)


def logspace(start: float, end: float, steps: int, base: float = 10.0,
             dtype: DTypeLike = None, layout: Any = None, device: Device = None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` values from ``base ** start`` to ``base ** end``, evenly spaced in exponent.

    Example:
        >>> import chainrule as cr
        >>> cr.logspace(0, 2, 3).tolist(), cr.logspace(0, 2, 3, base=2).tolist()
        ([1.0, 10.0, 100.0], [1.0, 2.0, 4.0])
    """
    check_factory("logspace", device, layout)
    exponents = xp.linspace(_number(start), _number(end), _steps(steps, "logspace"))
    return Tensor((_number(base) ** exponents).astype(dtype or get_default_dtype()),
                  requires_grad=requires_grad)


def eye(n: int, m: Optional[int] = None, dtype: DTypeLike = None, layout: Any = None,
        device: Device = None, requires_grad: bool = False) -> Tensor:
    """The identity matrix of size (n, m).

    Example:
        >>> import chainrule as cr
        >>> cr.eye(2, 3, device="cpu").tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """
    check_factory("eye", device, layout)
    return Tensor(xp.eye(n, m, dtype=dtype or get_default_dtype()),
                  requires_grad=requires_grad)


# ---------------------------------------------------------------------- random factories
def _float_dtype(dtype: DTypeLike, op: str) -> numpy.dtype:
    dt = numpy.dtype(dtype or get_default_dtype())
    if dt.kind != "f":
        raise TypeError(f"{op}: expected a floating point dtype, got {dt} (use randint for "
                        f"integers)")
    return dt


def randn(*size: Any, generator: Optional[Generator] = None, dtype: DTypeLike = None,
          layout: Any = None, device: Device = None, requires_grad: bool = False,
          pin_memory: bool = False, **kwargs: Any) -> Tensor:
    """Standard normal samples (one draw from ``generator``, else the default generator).

    Example:
        >>> import chainrule as cr
        >>> cr.randn(2, 3).shape, cr.randn(size=(2,)).dtype, cr.randn((), device="cpu").shape
        ((2, 3), dtype('float32'), ())
        >>> g = cr.Generator().manual_seed(0)
        >>> cr.randn(2, generator=g).tolist() == cr.randn(2, generator=g.manual_seed(0)).tolist()
        True
    """
    check_factory("randn", device, layout, pin_memory)
    dt = _float_dtype(dtype, "randn")
    shape = _shape(size, _size_kw(kwargs, "randn"), "randn")
    return Tensor(resolve(generator, "randn")._normal(shape, dt), requires_grad=requires_grad)


def rand(*size: Any, generator: Optional[Generator] = None, dtype: DTypeLike = None,
         layout: Any = None, device: Device = None, requires_grad: bool = False,
         pin_memory: bool = False, **kwargs: Any) -> Tensor:
    """Uniform samples in [0, 1) (one draw from ``generator``, else the default generator).

    Example:
        >>> import chainrule as cr
        >>> x = cr.rand(size=(100,))
        >>> bool((x >= 0).numpy().all() and (x < 1).numpy().all())
        True
    """
    check_factory("rand", device, layout, pin_memory)
    dt = _float_dtype(dtype, "rand")
    shape = _shape(size, _size_kw(kwargs, "rand"), "rand")
    return Tensor(resolve(generator, "rand")._uniform(shape, dt), requires_grad=requires_grad)


def randn_like(input: Tensor, generator: Optional[Generator] = None, dtype: DTypeLike = None,
               layout: Any = None, device: Device = None, requires_grad: bool = False,
               memory_format: Any = None) -> Tensor:
    """:func:`randn` with ``input``'s shape and (unless given) dtype.

    Example:
        >>> import chainrule as cr
        >>> cr.randn_like(cr.zeros(2, 3, dtype=cr.float64)).dtype
        dtype('float64')
    """
    check_factory("randn_like", device, layout, memory_format=memory_format)
    return randn(*input.shape, generator=generator, dtype=dtype or input.dtype,
                 requires_grad=requires_grad)


def rand_like(input: Tensor, generator: Optional[Generator] = None, dtype: DTypeLike = None,
              layout: Any = None, device: Device = None, requires_grad: bool = False,
              memory_format: Any = None) -> Tensor:
    """:func:`rand` with ``input``'s shape and (unless given) dtype.

    Example:
        >>> import chainrule as cr
        >>> cr.rand_like(cr.zeros(2, 3)).shape
        (2, 3)
    """
    check_factory("rand_like", device, layout, memory_format=memory_format)
    return rand(*input.shape, generator=generator, dtype=dtype or input.dtype,
                requires_grad=requires_grad)


def _int_range(low: Any, high: Any, op: str) -> tuple[int, int]:
    low, high = _number(low), _number(high)
    if high <= low:
        raise OpError(f"{op}: expected low < high, got low={low}, high={high}")
    return int(low), int(high)


def randint(low: int = 0, high: Optional[int] = None, size: Union[Sequence[int], None] = None,
            generator: Optional[Generator] = None, dtype: DTypeLike = None,
            layout: Any = None, device: Device = None, requires_grad: bool = False) -> Tensor:
    """Integers uniform in [low, high) (``randint(high, size)`` also works, as in PyTorch).

    Example:
        >>> import chainrule as cr
        >>> r = cr.randint(3, (50,))
        >>> r.dtype, bool(0 <= r.min() and r.max() < 3)
        (dtype('int64'), True)
    """
    check_factory("randint", device, layout)
    if high is None or (size is None and isinstance(high, (tuple, list))):
        if size is None and isinstance(high, (tuple, list)):
            low, high, size = 0, low, high
        else:
            low, high = 0, low
    if size is None:
        raise TypeError("randint: missing the required argument 'size'")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint: size must be a tuple of ints, got {type(size).__name__}")
    low, high = _int_range(low, high, "randint")
    shape = _shape((tuple(size),), op="randint")
    values = resolve(generator, "randint")._integers(low, high, shape)
    return Tensor(values.astype(dtype or numpy.int64), requires_grad=requires_grad)


def randint_like(input: Tensor, low: int = 0, high: Optional[int] = None,
                 generator: Optional[Generator] = None, dtype: DTypeLike = None,
                 layout: Any = None, device: Device = None, requires_grad: bool = False,
                 memory_format: Any = None) -> Tensor:
    """:func:`randint` with ``input``'s shape and (unless given) dtype:
    ``randint_like(x, high)`` or ``randint_like(x, low, high)``.

    Example:
        >>> import chainrule as cr
        >>> r = cr.randint_like(cr.zeros(3), 2, 5)
        >>> r.dtype, r.shape, bool((r >= 2).numpy().all() and (r < 5).numpy().all())
        (dtype('float32'), (3,), True)
    """
    check_factory("randint_like", device, layout, memory_format=memory_format)
    if high is None:
        low, high = 0, low
    return randint(low, high, input.shape, generator=generator, dtype=dtype or input.dtype,
                   requires_grad=requires_grad)


def randperm(n: int, generator: Optional[Generator] = None, dtype: DTypeLike = None,
             layout: Any = None, device: Device = None, requires_grad: bool = False,
             pin_memory: bool = False) -> Tensor:
    """A random permutation of 0..n-1 (int64 unless ``dtype`` is given).

    Example:
        >>> import chainrule as cr
        >>> sorted(cr.randperm(4).tolist()), cr.randperm(3, generator=cr.Generator()).shape
        ([0, 1, 2, 3], (3,))
    """
    check_factory("randperm", device, layout, pin_memory)
    if isinstance(n, (bool, numpy.bool_)) or not isinstance(n, (int, numpy.integer)) or n < 0:
        raise OpError(f"randperm: n must be a non-negative int, got {n!r}")
    return Tensor(resolve(generator, "randperm")._permutation(int(n)).astype(
        dtype or numpy.int64), requires_grad=requires_grad)


def _float_input(x: Tensor, op: str) -> None:
    """PyTorch's NotImplementedError (a RuntimeError) for a sampler given integers."""
    if x.dtype.kind != "f":
        raise NotImplementedError(f"{op}: not implemented for dtype {x.dtype}: the input "
                                  f"must be floating point")


def normal(mean: Any = 0.0, std: Any = 1.0, size: Optional[Sequence[int]] = None,
           generator: Optional[Generator] = None, dtype: DTypeLike = None,
           layout: Any = None, device: Device = None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """Normal samples with the given mean and standard deviation (``torch.normal``).

    Either ``mean`` or ``std`` (or both) is a Tensor, and the result has their broadcast
    shape; or both are numbers and ``size`` gives the shape. One standard normal draw of the
    result's shape, scaled by ``std`` and shifted by ``mean``, as PyTorch. No gradient flows
    to ``mean`` or ``std`` (PyTorch gives them zero gradients).

    Raises:
        RuntimeError: a negative ``std``, or shapes that do not broadcast.

    Example:
        >>> import chainrule as cr
        >>> cr.normal(2.0, 3.0, size=(2, 3)).shape, cr.normal(cr.zeros(4), 1.0).shape
        ((2, 3), (4,))
        >>> cr.normal(cr.zeros(2, 1), cr.ones(3), generator=cr.Generator()).shape
        (2, 3)
    """
    check_factory("normal", device, layout, pin_memory)
    tensors = [v for v in (mean, std) if isinstance(v, Tensor)]
    if tensors and size is not None:
        raise TypeError("normal: size= is taken only when mean and std are numbers")
    if not tensors and size is None:
        raise TypeError("normal: missing the argument 'size' (mean and std are numbers)")
    for t in tensors:
        _float_input(t, "normal")
    mean_a, std_a = (v._data if isinstance(v, Tensor) else v for v in (mean, std))
    if xp.any(xp.asarray(std_a) < 0):
        raise OpError(f"normal expects std >= 0.0, but found std {xp.min(std_a)}")
    if tensors:
        dtype = promote(*(t.dtype for t in tensors)) if len(tensors) == 2 else tensors[0].dtype
        try:
            shape = xp.broadcast_shapes(*(t.shape for t in tensors))
        except ValueError:
            raise OpError(f"normal: the shapes of mean {xp.shape(mean_a)} and std "
                          f"{xp.shape(std_a)} do not broadcast") from None
    else:
        dtype, shape = _float_dtype(dtype, "normal"), _shape((tuple(size),), op="normal")
    noise = resolve(generator, "normal")._normal(shape, dtype)
    return Tensor(xp.asarray(noise * std_a + mean_a, dtype=dtype),
                  requires_grad=requires_grad)


def bernoulli(input: Tensor, p: Optional[float] = None,
              generator: Optional[Generator] = None) -> Tensor:
    """0/1 samples: each element is 1 with the probability ``input`` holds there (or ``p``).

    The result has ``input``'s shape and dtype (floating point, as PyTorch requires).

    Raises:
        RuntimeError: a probability outside [0, 1].

    Example:
        >>> import chainrule as cr
        >>> cr.bernoulli(cr.tensor([0.0, 1.0, 1.0])).tolist()
        [0.0, 1.0, 1.0]
        >>> cr.bernoulli(cr.zeros(3), 1.0).tolist()
        [1.0, 1.0, 1.0]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"bernoulli(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    _float_input(input, "bernoulli")
    probs = input._data if p is None else _number(p)
    if not xp.all((xp.asarray(probs) >= 0) & (xp.asarray(probs) <= 1)):
        raise OpError("bernoulli: expected every probability p to be in [0, 1] (no NaN)")
    drawn = resolve(generator, "bernoulli")._bernoulli(probs, input.shape)
    return Tensor(drawn.astype(input.dtype))


def _check_distribution(probs: Any, num_samples: int, replacement: bool) -> None:
    """multinomial's argument rules, with PyTorch's messages (RuntimeErrors)."""
    if probs.ndim not in (1, 2):
        raise OpError(f"multinomial: prob_dist must be 1 or 2 dim, got shape {probs.shape}")
    if isinstance(num_samples, (bool, numpy.bool_)) or \
            not isinstance(num_samples, (int, numpy.integer)):
        raise TypeError(f"multinomial: num_samples must be an int, got {num_samples!r}")
    if num_samples <= 0:
        raise OpError(f"multinomial: cannot sample n_sample <= 0 samples (got {num_samples})")
    if not replacement and num_samples > probs.shape[-1]:
        raise OpError(f"multinomial: cannot sample n_sample > prob_dist.size(-1) samples "
                      f"without replacement ({num_samples} > {probs.shape[-1]})")
    if not xp.all(xp.isfinite(probs) & (probs >= 0)):
        raise OpError("multinomial: probability tensor contains either `inf`, `nan` or "
                      "element < 0")
    if probs.size and not xp.all(probs.sum(-1) > 0):
        raise OpError("multinomial: invalid multinomial distribution (sum of probabilities "
                      "<= 0)")


def multinomial(input: Tensor, num_samples: int, replacement: bool = False,
                generator: Optional[Generator] = None) -> Tensor:
    """Indices drawn from the categories weighted by ``input`` (one row per distribution).

    Without replacement each index appears once per row (PyTorch's rule: keep the
    ``num_samples`` largest ``weight / E`` with ``E`` exponential, one per category); with
    replacement each sample inverts the cumulative distribution at a uniform draw.

    Args:
        input: non-negative weights (need not sum to 1), shape (K,) or (N, K), floating point.
        num_samples: indices per row (at most K without replacement).
        replacement: draw with replacement.
        generator: the generator to draw from (else the default one).

    Shape:
        The result is int64 of shape (num_samples,) or (N, num_samples).

    Example:
        >>> import chainrule as cr
        >>> cr.multinomial(cr.tensor([0.0, 0.0, 1.0]), 1).tolist()
        [2]
        >>> cr.multinomial(cr.tensor([[1.0, 0.0], [0.0, 1.0]]), 3, replacement=True).tolist()
        [[0, 0, 0], [1, 1, 1]]
    """
    if not isinstance(input, Tensor):
        raise TypeError(f"multinomial(): argument 'input' must be Tensor, not "
                        f"{type(input).__name__}")
    if input.dtype.kind != "f":
        raise OpError(f"multinomial only supports floating-point dtypes for input, got "
                      f"{input.dtype}")
    _check_distribution(input._data, num_samples, replacement)
    probs = input._data.astype(numpy.float64).reshape(-1, input.shape[-1])  # (N, K)
    gen = resolve(generator, "multinomial")
    if replacement:
        cdf = xp.cumsum(probs, axis=1)  # (N, K)
        u = gen._uniform((probs.shape[0], num_samples), numpy.float64) * cdf[:, -1:]  # (N, S)
        idx = xp.stack([xp.searchsorted(c, r, side="right") for c, r in zip(cdf, u)])
        last = probs.shape[1] - 1 - xp.argmax(probs[:, ::-1] > 0, axis=1)  # last category > 0
        idx = xp.minimum(idx, last[:, None])  # (a rounding-error overshoot of the last bin)
    else:
        u = gen._uniform(probs.shape, numpy.float64)  # (N, K)
        expo = xp.maximum(-xp.log1p(-u), numpy.finfo(numpy.float64).tiny)  # Exp(1) samples
        idx = xp.argsort(-(probs / expo), axis=1, kind="stable")[:, :num_samples]  # (N, S)
    return Tensor(idx.astype(numpy.int64).reshape(input.shape[:-1] + (num_samples,)))
