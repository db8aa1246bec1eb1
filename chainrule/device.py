"""Devices as PyTorch names them: the CPU is chainrule's only device.

``device("cpu")`` is accepted wherever PyTorch takes a device (factories, ``.to``,
``Module.to``); any other device type ("cuda", "mps", ...) raises a RuntimeError that says
chainrule has no GPU backend yet.
"""
from __future__ import annotations

from typing import Any, Optional

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
        if isinstance(type, device):
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
            f"{op}: device {str(d)!r} is not available: chainrule runs on the CPU only (it has "
            f"no GPU backend yet); use device='cpu', or pick the device with "
            f"'cuda' if chainrule.cuda.is_available() else 'cpu'")
    return d
