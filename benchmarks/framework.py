"""What a benchmark is made of: the frameworks under test, runners, variants, cases, and the
threads the two frameworks share.

A case is written once against the API chainrule and PyTorch share (:class:`Framework`), and
builds one :class:`Runner` per :class:`Variant` (a column of its row). The cases themselves are
in :mod:`benchmarks.cases`; timing them is :mod:`benchmarks.timing`, their peak memory
:mod:`benchmarks.memory`, the report :mod:`benchmarks.report`, and running the suite and the
command line :mod:`benchmarks.harness`.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, ContextManager, Optional

import numpy as np

from chainrule.backend import set_num_threads

ROOT = Path(__file__).resolve().parent.parent
"""The folder holding the ``benchmarks`` package (the repository root)."""
RESULTS_DIR = Path(__file__).resolve().parent / "results"
FRAMEWORKS = ("chainrule", "torch")
LABELS = {"chainrule": "chainrule", "torch": "PyTorch"}
"""How tables name each framework."""


# ============================================================================ frameworks
class Framework:
    """One library under test: ``lib`` is the ``chainrule`` or the ``torch`` module.

    Cases are written once against the API the two share (``lib.from_numpy``,
    ``lib.nn.functional.conv2d``, ``lib.optim.SGD``...). The only spelling that differs, the
    choice of convolution kernel, is :meth:`conv_impl`.

    Args:
        name: ``"chainrule"`` or ``"torch"``.
    """

    def __init__(self, name: str) -> None:
        if name not in FRAMEWORKS:
            raise ValueError(f"unknown framework {name!r}; expected one of {FRAMEWORKS}")
        self.name = name
        self.lib: ModuleType = __import__(name)

    @property
    def label(self) -> str:
        """The name shown in tables."""
        return LABELS[self.name]

    def tensor(self, array: np.ndarray, requires_grad: bool = False) -> Any:
        """A tensor owning a copy of ``array`` (same dtype), optionally requiring grad."""
        t = self.lib.from_numpy(np.array(array, copy=True))
        return t.requires_grad_(True) if requires_grad else t

    def conv_impl(self, name: Optional[str]) -> ContextManager[None]:
        """chainrule's ``conv_impl(name)`` block; PyTorch picks its own kernel (a no-op)."""
        if self.name != "chainrule" or name is None:
            return contextlib.nullcontext()
        from chainrule.ops.conv import conv_impl

        return conv_impl(name)

    def manual_seed(self, seed: int) -> None:
        """Seed the framework's global generator (dropout masks, default initialisation)."""
        self.lib.manual_seed(seed)


# ============================================================================ cases
class Runner:
    """One variant of one case, ready to run: inputs built, model and optimizer made.

    Subclasses implement :meth:`step` (the timed work) and, when there are gradients to
    clear, :meth:`reset` (untimed, called before every step).
    """

    def reset(self) -> None:
        """Untimed preparation before each step (zero the gradients)."""

    def step(self) -> Optional[dict[str, float]]:
        """The timed work; may return its own phase timings in seconds (e.g. forward)."""
        raise NotImplementedError

    def warm_up(self) -> None:
        """One warm-up call (default: a step); an epoch case warms up on a few batches."""
        self.step()


@dataclass(frozen=True)
class Settings:
    """Problem sizes shared by all cases.

    Attributes:
        tiny: shrink every shape to a smoke test (numbers meaningless; used by the tests).
        epoch_images: images in the LeNet-5 epoch (None: the whole training split).
    """

    tiny: bool = False
    epoch_images: Optional[int] = None


@dataclass(frozen=True)
class Variant:
    """A column of a case: a framework plus options (e.g. ``{"impl": "naive"}``)."""

    label: str
    framework: str
    options: tuple[tuple[str, Any], ...] = ()


CHAINRULE = Variant("chainrule", "chainrule")
PYTORCH = Variant("PyTorch", "torch")


@dataclass(frozen=True)
class Case:
    """One benchmark.

    Attributes:
        key: the name used with ``--cases``.
        groups: other names that select it (``conv`` selects every convolution).
        title: the row label.
        setup: ``setup(fw, settings, **options) -> Runner`` (builds inputs; never timed).
        kind: ``"time"`` (a median time per step), ``"per_unit"`` (time per op or call) or
            ``"throughput"`` (units per second, e.g. images/s).
        units: ``units(settings)``: ops, calls or images done by one step.
        unit_name: ``"op"``, ``"call"`` or ``"img"``.
        target: the largest acceptable ratio chainrule / PyTorch (None: no target).
        memory: measure peak memory (in fresh subprocesses).
        mem_target: the largest acceptable peak-memory ratio.
        variants: the columns; ratios are against the PyTorch one.
        table: ``"main"`` or ``"impls"`` (the separate convolution-kernel table).
        phases: names of the phase timings returned by ``Runner.step``.
        repeat_cap: at most this many timed repeats (an epoch is long).
    """

    key: str
    groups: tuple[str, ...]
    title: str
    setup: Callable[..., Runner]
    kind: str = "time"
    units: Callable[[Settings], int] = lambda s: 1
    unit_name: str = ""
    target: Optional[float] = None
    memory: bool = False
    mem_target: Optional[float] = None
    variants: tuple[Variant, ...] = (CHAINRULE, PYTORCH)
    table: str = "main"
    phases: tuple[str, ...] = ()
    repeat_cap: Optional[int] = None


# ============================================================================ threads
_THREAD_LIMITER: Any = None  # keeps threadpoolctl's limits alive for the process


def configure_threads(threads: Optional[int], with_torch: bool = True) -> dict[str, Any]:
    """Give NumPy's BLAS (and OpenMP), chainrule's own kernels and PyTorch the same number of
    threads.

    With threadpoolctl installed, ``threads`` (default: what NumPy's BLAS uses now) is applied
    to every BLAS/OpenMP pool loaded in the process; ``torch.set_num_threads`` gets the same
    number. Without it NumPy keeps what ``OPENBLAS_NUM_THREADS``/``OMP_NUM_THREADS`` said at
    start-up, and the report says so.

    Returns:
        What is in force: ``{"threads", "threadpoolctl", "pools", "torch_threads", ...}``.
    """
    global _THREAD_LIMITER
    if with_torch:
        import torch  # load its OpenMP runtime first, so threadpoolctl sees it too
    try:
        import threadpoolctl
    except ImportError:
        threadpoolctl = None
    blas_now = None
    if threadpoolctl is not None:
        blas = [p for p in threadpoolctl.threadpool_info() if p.get("user_api") == "blas"]
        blas_now = max((p["num_threads"] for p in blas), default=None)
    n = int(threads or blas_now or os.cpu_count() or 1)
    if threadpoolctl is not None:
        _THREAD_LIMITER = threadpoolctl.threadpool_limits(limits=n)
    info: dict[str, Any] = {"threads": n, "threadpoolctl": threadpoolctl is not None,
                            "cpu_count": os.cpu_count()}
    if threadpoolctl is not None:
        info["pools"] = [f"{p.get('internal_api')}:{p.get('num_threads')} "
                         f"({p.get('prefix')})" for p in threadpoolctl.threadpool_info()]
    else:
        info["pools"] = [f"env {k}={os.environ.get(k)}" for k in
                         ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")]
    set_num_threads(n)  # chainrule's own threads (the direct convolution's split) too
    info["chainrule_threads"] = n
    if with_torch:
        torch.set_num_threads(n)
        info["torch_threads"] = torch.get_num_threads()
        info["torch_interop_threads"] = torch.get_num_interop_threads()
    return info
