"""Devices as PyTorch names them, and the defaults new tensors are made with.

The CPU is chainrule's only device. ``device("cpu")`` is accepted wherever PyTorch takes a
device (factories, ``.to``, ``Module.to``); any other device type ("cuda", "mps", ...) raises a
RuntimeError that says chainrule has no GPU backend yet. The factories' other placement
arguments (``layout=``, ``pin_memory=``, ``memory_format=``) are checked here too
(:func:`check_factory`), and the defaults they read: :func:`get_default_device`,
:func:`get_default_dtype`.
"""
from __future__ import annotations

from typing import Any, Optional

import numpy

DEVICE_TYPES = ("cpu", "cuda", "mps", "xpu", "meta", "hip", "xla", "npu", "hpu", "mtia")


class device:  # noqa: N801  (torch.device's name)
    """A device name: ``device("cpu")``, ``device("cpu", 0)``, ``device("cpu:0")``.

    Example:
        >>> import chainrule as cr
        >>> cr.device("cpu"), cr.device("cpu").type, cr.device("cpu") == "cpu"
        (device(type='cpu'), 'cpu', True)
    """

    __slots__ = ("type", "index")

    def __init__(self, type: Any, index: Optional[int] = None) -> None:  # noqa: A002
        if isinstance(getattr(type, "type", None), str):  # a device (also torch.device)
            type, index = type.type, type.index  # noqa: A001
        if not isinstance(type, str):
            raise TypeError(f"device(): expected a string like 'cpu', got {type!r}")
        name, _, idx = type.partition(":")
        if name not in DEVICE_TYPES:
            raise RuntimeError(f"Expected one of {', '.join(DEVICE_TYPES)} device type at start "
                               f"of device string: {type}")
        if idx:
            if index is not None:
                raise RuntimeError(f"device(): type (string) {type!r} must not include an index "
                                   f"because index was passed explicitly: {index}")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: {type!r}")
            index = int(idx)
        self.type = name
        self.index = index

    def __repr__(self) -> str:
        extra = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{extra})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, str):
            try:
                other = device(other)
            except (RuntimeError, TypeError):
                return False
        return isinstance(other, device) and (self.type, self.index) == (other.type,
                                                                        other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def check_device(dev: Any, op: str) -> device:
    """``dev`` as a device, refused unless it is the CPU (None means the CPU).

    Raises:
        RuntimeError: a device other than the CPU (chainrule has no GPU backend yet).
    """
    if dev is None:
        return CPU
    if isinstance(dev, int) and not isinstance(dev, bool):
        dev = device("cuda", dev)  # torch reads a bare int as a CUDA ordinal
    d = dev if isinstance(dev, device) else device(dev)
    if d.type != "cpu":
        raise RuntimeError(
            f"{op}: device {str(d)!r} is not available: chainrule runs on the CPU only (only "
            f"the 'cpu' device is supported; it has no GPU backend yet); use device='cpu', or "
            f"pick the device with "
            f"'cuda' if chainrule.cuda.is_available() else 'cpu'")
    return d


# ---------------------------------------------------------------------- layouts, memory formats
class _Constant:
    """A named constant printed as PyTorch prints its own (``torch.strided``)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"torch.{self.name}"


class layout(_Constant):  # noqa: N801  (torch.layout's name)
    """How a tensor's elements are stored: chainrule has :data:`strided` (dense) only.

    Example:
        >>> import chainrule as cr
        >>> cr.strided, cr.zeros(2, layout=cr.strided).shape
        (torch.strided, (2,))
    """


class memory_format(_Constant):  # noqa: N801  (torch.memory_format's name)
    """A memory layout request (``contiguous_format``, ``preserve_format``, ``channels_last``).

    chainrule's factories make row-major (contiguous) arrays whatever the request: the
    format is a speed hint in PyTorch and never changes values.

    Example:
        >>> import chainrule as cr
        >>> cr.empty(1, 2, 3, 3, memory_format=cr.channels_last).shape
        (1, 2, 3, 3)
    """


strided = layout("strided")
sparse_coo = layout("sparse_coo")
contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
_MEMORY_FORMAT = memory_format  # (check_factory's argument shadows the class name)


# ---------------------------------------------------------------------- defaults
_defaults: dict[str, Any] = {"device": CPU, "dtype": numpy.dtype("float32")}
_DEFAULT_DTYPES = frozenset(numpy.dtype(t) for t in ("float16", "float32", "float64"))


def set_default_device(device: Any) -> None:  # noqa: A002  (torch's argument name)
    """Set the device factories use when ``device=`` is not given (only the CPU; None resets).

    Raises:
        RuntimeError: a device other than the CPU (PyTorch would fail at the next factory).

    Example:
        >>> import chainrule as cr
        >>> cr.set_default_device("cpu"); cr.get_default_device()
        device(type='cpu')
    """
    _defaults["device"] = check_device(device, "set_default_device")


def get_default_device() -> device:
    """The device factories use when ``device=`` is not given: always the CPU.

    Example:
        >>> import chainrule as cr
        >>> cr.get_default_device() == "cpu"
        True
    """
    return _defaults["device"]


def set_default_dtype(d: Any) -> None:
    """Set the floating dtype of new tensors made from Python floats or without ``dtype=``.

    It applies to ``tensor(1.5)``, ``zeros``, ``ones``, ``full`` with a float, ``arange``
    with a float, ``linspace``, ``eye``, ``rand``, ``randn`` and ``normal``.

    Args:
        d: float32 (the initial default), float64 or float16.

    Raises:
        TypeError: a dtype that is not floating point (as PyTorch).

    Example:
        >>> import chainrule as cr
        >>> cr.set_default_dtype(cr.float64); cr.tensor(1.5).dtype, cr.zeros(2).dtype
        (dtype('float64'), dtype('float64'))
        >>> cr.set_default_dtype(cr.float32); cr.get_default_dtype()
        dtype('float32')
    """
    try:
        dt = numpy.dtype(d)
    except TypeError:
        dt = None
    if dt not in _DEFAULT_DTYPES:
        raise TypeError(f"set_default_dtype: only floating-point types are supported as the "
                        f"default type (float16, float32, float64), got {d!r}")
    _defaults["dtype"] = dt


def get_default_dtype() -> numpy.dtype:
    """The floating dtype of new tensors (float32 unless :func:`set_default_dtype` changed it).

    Example:
        >>> import chainrule as cr
        >>> cr.get_default_dtype()
        dtype('float32')
    """
    return _defaults["dtype"]


def check_factory(op: str, device: Any = None, layout: Any = None,  # noqa: A002
                  pin_memory: bool = False, memory_format: Any = None) -> device:
    """Check a factory's placement arguments as PyTorch's CPU build does; returns the device.

    Raises:
        RuntimeError: a device other than the CPU, a layout other than ``strided``, or
            ``pin_memory=True`` (pinned memory needs an accelerator).
        TypeError: a ``memory_format=`` that is not a :class:`memory_format`.

    Example:
        >>> from chainrule.device import check_factory, strided
        >>> check_factory("zeros", "cpu", strided)
        device(type='cpu')
    """
    dev = check_device(_defaults["device"] if device is None else device, op)
    if layout is not None and layout is not strided:
        raise RuntimeError(f"{op}: layout {layout!r} is not supported: chainrule tensors are "
                           f"dense (layout=torch.strided)")
    if pin_memory:
        raise RuntimeError(f"{op}: pin_memory=True requires a CUDA or other accelerator "
                           f"backend; no pinned memory allocator is available on this system")
    if memory_format is not None and not isinstance(memory_format, _MEMORY_FORMAT):
        raise TypeError(f"{op}: memory_format must be a chainrule.memory_format, got "
                        f"{memory_format!r}")
    return dev
