"""``chainrule.cuda``, ``chainrule.backends`` and ``chainrule.accelerator``: PyTorch's device
queries, answered as a PyTorch build without an accelerator answers them.

So the device idiom of PyTorch's tutorials runs unchanged and picks the CPU::

    device = cr.accelerator.current_accelerator().type if cr.accelerator.is_available() \\
        else "cpu"
    device = "cuda" if cr.cuda.is_available() else "cpu"

Queries answer "none" (``is_available()`` is False, ``device_count()`` 0), seeding and cache
calls do nothing, and what needs a device (``synchronize``, ``current_device``,
``get_device_name``) raises a RuntimeError. The three namespaces are registered as modules, so
``import chainrule.backends.cudnn as cudnn`` works as it does for torch.
"""
from __future__ import annotations

import sys
import types
from typing import Any, Callable, Optional

from .device import check_device, device


def _namespace(name: str, doc: str, **members: Any) -> types.ModuleType:
    """A module named ``chainrule.<name>`` holding ``members``, importable by that name."""
    module = types.ModuleType(f"{__package__}.{name}", doc)
    module.__dict__.update(members)
    sys.modules[module.__name__] = module
    return module


def _no_accelerator(op: str) -> None:
    check_device("cuda", op)  # raises the one device error, naming op


# ---------------------------------------------------------------------- cuda
def is_available() -> bool:
    """Whether a CUDA GPU can be used: never in chainrule (``cuda.is_available``).

    Example:
        >>> import chainrule as cr
        >>> cr.cuda.is_available(), "cuda" if cr.cuda.is_available() else "cpu"
        (False, 'cpu')
    """
    return False


def device_count() -> int:
    """The number of usable GPUs: 0 (``cuda.device_count``, ``accelerator.device_count``).

    Example:
        >>> import chainrule as cr
        >>> cr.cuda.device_count(), cr.accelerator.device_count()
        (0, 0)
    """
    return 0


def is_initialized() -> bool:
    """Whether CUDA has been initialised: never (``cuda.is_initialized``).

    Example:
        >>> import chainrule as cr
        >>> cr.cuda.is_initialized()
        False
    """
    return False


def manual_seed(seed: int) -> None:
    """Seed the GPUs' generators: there are none, so nothing happens (as PyTorch without CUDA).

    Seed chainrule's own draws with ``chainrule.manual_seed``. Also ``cuda.manual_seed_all``.

    Example:
        >>> import chainrule as cr
        >>> cr.cuda.manual_seed(0), cr.cuda.manual_seed_all(0)
        (None, None)
    """
    return None


def seed() -> None:
    """Reseed the GPUs' generators: nothing to do (``cuda.seed``, ``cuda.seed_all``).

    Example:
        >>> import chainrule as cr
        >>> cr.cuda.seed()
    """
    return None


def empty_cache() -> None:
    """Release cached GPU memory: nothing to release (``cuda.empty_cache``).

    Example:
        >>> import chainrule as cr
        >>> cr.cuda.empty_cache()
    """
    return None


def memory_allocated(device: Any = None) -> int:  # noqa: A002  (torch's argument name)
    """GPU memory held by tensors, in bytes: 0 (``cuda.memory_allocated`` and its peak).

    Example:
        >>> import chainrule as cr
        >>> cr.cuda.memory_allocated(), cr.cuda.max_memory_allocated()
        (0, 0)
    """
    return 0


def is_bf16_supported(including_emulation: bool = True) -> bool:
    """Whether the GPU computes in bfloat16: there is no GPU (``cuda.is_bf16_supported``).

    Example:
        >>> import chainrule as cr
        >>> cr.cuda.is_bf16_supported()
        False
    """
    return False


def _needs_cuda(op: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        _no_accelerator(op)

    call.__name__ = call.__qualname__ = op.rpartition(".")[2]
    call.__doc__ = (f"``{op}``: needs a CUDA device, so it raises chainrule's device "
                    f"RuntimeError (PyTorch without CUDA raises too).")
    return call


def is_built() -> bool:
    """Whether this build has the backend compiled in: no (``backends.mps.is_built``).

    Example:
        >>> import chainrule as cr
        >>> cr.backends.mps.is_built(), cr.backends.mps.is_available()
        (False, False)
    """
    return False


def cudnn_version() -> Optional[int]:
    """cuDNN's version: None, as PyTorch reports without cuDNN (``backends.cudnn.version``).

    Example:
        >>> import chainrule as cr
        >>> cr.backends.cudnn.version() is None
        True
    """
    return None


# ---------------------------------------------------------------------- accelerator
def current_accelerator(check_available: bool = False) -> Optional[device]:
    """The accelerator device in use: None, since chainrule has none
    (``accelerator.current_accelerator``).

    Example:
        >>> import chainrule as cr
        >>> acc = cr.accelerator
        >>> acc.current_accelerator().type if acc.is_available() else "cpu"
        'cpu'
    """
    return None


def _no_accelerator_device(op: str) -> Callable[..., Any]:
    def call(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"{op}: Cannot access accelerator device when none is available "
                           f"(chainrule runs on the CPU only)")

    call.__name__ = call.__qualname__ = op.rpartition(".")[2]
    call.__doc__ = f"``{op}``: raises RuntimeError, as PyTorch does without an accelerator."
    return call


cuda = _namespace(
    "cuda", "PyTorch's torch.cuda queries, answered for a machine without CUDA.",
    is_available=is_available, device_count=device_count, is_initialized=is_initialized,
    manual_seed=manual_seed, manual_seed_all=manual_seed, seed=seed, seed_all=seed,
    empty_cache=empty_cache, memory_allocated=memory_allocated,
    max_memory_allocated=memory_allocated, memory_reserved=memory_allocated,
    is_bf16_supported=is_bf16_supported,
    synchronize=_needs_cuda("cuda.synchronize"),
    current_device=_needs_cuda("cuda.current_device"),
    set_device=_needs_cuda("cuda.set_device"),
    get_device_name=_needs_cuda("cuda.get_device_name"),
    get_device_properties=_needs_cuda("cuda.get_device_properties"),
    get_rng_state=_needs_cuda("cuda.get_rng_state"),
    set_rng_state=_needs_cuda("cuda.set_rng_state"))

backends = _namespace("backends", "PyTorch's torch.backends flags, for a CPU-only build.")
backends.mps = _namespace("backends.mps", "torch.backends.mps: Apple's GPU, never available.",
                          is_available=is_available, is_built=is_built)
backends.cudnn = _namespace(
    "backends.cudnn", "torch.backends.cudnn: settable flags; cuDNN is never available.",
    enabled=True, benchmark=False, deterministic=False, allow_tf32=True,
    is_available=is_available, version=cudnn_version)
backends.cuda = _namespace(
    "backends.cuda", "torch.backends.cuda: settable flags; CUDA is never built in.",
    matmul=types.SimpleNamespace(allow_tf32=False, allow_fp16_reduced_precision_reduction=True,
                                 allow_bf16_reduced_precision_reduction=True),
    is_built=is_built)

accelerator = _namespace(
    "accelerator", "PyTorch's torch.accelerator queries, answered for a CPU-only machine.",
    is_available=is_available, device_count=device_count,
    current_accelerator=current_accelerator,
    synchronize=_no_accelerator_device("accelerator.synchronize"),
    current_device_index=_no_accelerator_device("accelerator.current_device_index"),
    set_device_index=_no_accelerator_device("accelerator.set_device_index"))
