"""The benchmark harness: timing, peak memory, the tables, and the command line.

Every case runs in chainrule and in PyTorch **in the same process**, on the same float32
inputs, with the same number of threads. For each case the harness

1. builds one :class:`Runner` per variant (inputs are made here, outside any timed region);
2. warms each runner up (``--warmup`` calls, interleaved between the variants);
3. times ``--repeats`` samples of each, interleaved (the order alternates every repeat so a
   burst of load on a shared machine hits both). A sample is the mean time of k steps run
   back to back, k chosen from the warm-up so that it lasts ``--min-sample`` seconds (as
   ``torch.utils.benchmark.Timer.blocked_autorange`` does): a step of a few milliseconds is
   timed warm, as in a training loop, not alone after an idle pause. Each step follows an
   untimed ``reset()`` that zeroes the gradients; the garbage collector is run before and
   disabled during a sample;
4. reports the median and the interquartile range (IQR) of the samples, never the mean,
   and the ratio chainrule / PyTorch of the medians, beside the case's target;
5. for cases that ask for it, measures peak memory in a **fresh subprocess per framework**
   (see :func:`memory_child` and the notes printed under the table).

Results go to ``<out>/latest.json`` and ``<out>/latest.md``, each written atomically (a
temporary file in the same folder, then ``os.replace``).

Run ``python -m benchmarks --help`` (or ``chainrule bench --help`` from a source checkout).
"""
from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, ContextManager, Iterator, Optional, Sequence

import numpy as np

from chainrule.backend import keep_freed_memory, set_num_threads
from chainrule.cli import nonnegative_float, nonnegative_int, positive_int

ROOT = Path(__file__).resolve().parent.parent
"""The folder holding the ``benchmarks`` package (the repository root)."""
RESULTS_DIR = Path(__file__).resolve().parent / "results"
DEFAULT_REPEATS = 7
DEFAULT_WARMUP = 2
QUICK_REPEATS = 3
QUICK_WARMUP = 1
QUICK_EPOCH_IMAGES = 5000
FRAMEWORKS = ("chainrule", "torch")
LABELS = {"chainrule": "chainrule", "torch": "PyTorch"}
"""How tables name each framework."""
DEFAULT_SETTLE = 0.2
"""Seconds of untimed sleep before each timed sample (see :func:`time_variants`)."""
DEFAULT_MIN_SAMPLE = 0.05
"""A timed sample runs steps back to back until it lasts about this long (seconds)."""
MAX_STEPS_PER_SAMPLE = 1000


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


def all_cases() -> list[Case]:
    """The registered cases, in table order."""
    from .cases import CASES

    return list(CASES)


def select_cases(spec: Optional[str], cases: Optional[Sequence[Case]] = None) -> list[Case]:
    """The cases named by ``spec`` (comma-separated keys or group names; None: all).

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    cases = list(all_cases() if cases is None else cases)
    if spec is None or spec.strip() in ("", "all"):
        return cases
    wanted = [w.strip() for w in spec.split(",") if w.strip()]
    known = sorted({c.key for c in cases} | {g for c in cases for g in c.groups})
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise ValueError(f"unknown case(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(known)} or all")
    return [c for c in cases if c.key in wanted or any(g in wanted for g in c.groups)]


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


# ============================================================================ timing
@dataclass
class Timing:
    """The timed repeats of one variant.

    Attributes:
        samples: seconds per step, one per repeat (each the mean of ``steps`` steps).
        phases: seconds per phase per repeat (``{"forward": [...], "backward": [...]}``).
        steps: back-to-back steps per sample.
    """

    samples: list[float] = field(default_factory=list)
    phases: dict[str, list[float]] = field(default_factory=dict)
    steps: int = 1

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else math.nan

    @property
    def iqr(self) -> float:
        return iqr(self.samples)

    def phase_median(self, name: str) -> float:
        values = self.phases.get(name, [])
        return statistics.median(values) if values else math.nan


def iqr(values: Sequence[float]) -> float:
    """The interquartile range (75th minus 25th percentile, linear interpolation).

    Example:
        >>> iqr([1.0, 2.0, 3.0, 4.0, 5.0])
        2.0
    """
    if not values:
        return math.nan
    q25, q75 = np.percentile(np.asarray(values, dtype=float), [25, 75])
    return float(q75 - q25)


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Collect garbage, then keep the collector off inside the block (restored after)."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def steps_per_sample(step_seconds: float, min_sample: float) -> int:
    """How many back-to-back steps make a sample of at least ``min_sample`` seconds.

    Example:
        >>> steps_per_sample(0.004, 0.05), steps_per_sample(2.0, 0.05)
        (13, 1)
    """
    if min_sample <= 0 or not step_seconds > 0:
        return 1
    return max(1, min(MAX_STEPS_PER_SAMPLE, math.ceil(min_sample / step_seconds)))


def timed_sample(runner: Runner, steps: int = 1) -> tuple[float, Optional[dict[str, float]]]:
    """The mean seconds of ``steps`` back-to-back ``runner.step()`` calls (and of its phases).

    Each step follows an untimed ``reset()``; the collector is paused for the whole sample.
    """
    total = 0.0
    phases: dict[str, float] = {}
    with gc_paused():
        for _ in range(steps):
            runner.reset()
            start = time.perf_counter()
            step_phases = runner.step()
            total += time.perf_counter() - start
            for name, seconds in (step_phases or {}).items():
                phases[name] = phases.get(name, 0.0) + seconds
    return total / steps, ({name: seconds / steps for name, seconds in phases.items()}
                           if phases else None)


def time_variants(runners: Sequence[tuple[str, Runner]], warmup: int, repeats: int,
                  settle: float = DEFAULT_SETTLE,
                  min_sample: float = DEFAULT_MIN_SAMPLE) -> dict[str, Timing]:
    """Warm up, then time ``repeats`` samples of every runner, interleaved.

    The order of the runners alternates every repeat, so slow drift (another process waking
    up) is shared between them instead of landing on whichever ran last. Each runner's
    sample is the mean of k back-to-back steps, k = :func:`steps_per_sample` of its fastest
    timed warm-up call (1 without warm-up or with ``min_sample`` 0). Before each sample the
    harness sleeps ``settle`` seconds (untimed): the worker threads of the library that ran
    before (OpenBLAS's spin for up to ~0.1 s, OpenMP's for a while too) go idle instead of
    competing with the next library's threads for the same cores.
    """
    fastest = {label: math.inf for label, _ in runners}
    for _ in range(warmup):
        for label, runner in runners:
            runner.reset()
            start = time.perf_counter()
            runner.warm_up()
            fastest[label] = min(fastest[label], time.perf_counter() - start)
    steps = {label: steps_per_sample(fastest[label], min_sample) for label, _ in runners}
    timings = {label: Timing(steps=steps[label]) for label, _ in runners}
    for rep in range(repeats):
        order = runners if rep % 2 == 0 else list(reversed(runners))
        for label, runner in order:
            if settle > 0:
                time.sleep(settle)
            elapsed, phases = timed_sample(runner, steps[label])
            timings[label].samples.append(elapsed)
            for name, seconds in (phases or {}).items():
                timings[label].phases.setdefault(name, []).append(seconds)
    return timings


# ============================================================================ memory
_PROC_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_bytes(name: str) -> Optional[int]:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in bytes."""
    try:
        for line in _PROC_STATUS.read_text().splitlines():
            if line.startswith(name + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _malloc_trim() -> None:
    """Hand freed heap pages back to the OS (glibc), so the next peak starts from a clean
    baseline instead of reusing memory the process kept."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def _reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark to the current RSS (Linux >= 4.0)."""
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False


@dataclass
class MemoryResult:
    """Peak memory of one step of one variant, measured in a fresh subprocess.

    Attributes:
        rss_peak: high-water RSS during the step minus the RSS just before it (bytes).
        alloc_peak: the allocator's view: tracemalloc's peak (chainrule: NumPy buffers and
            Python objects) or the torch profiler's peak of live tensor bytes (PyTorch).
        alloc_method: how ``alloc_peak`` was measured.
        error: why nothing was measured.
    """

    rss_peak: Optional[int] = None
    alloc_peak: Optional[int] = None
    alloc_method: str = ""
    error: Optional[str] = None


def _torch_profiler_peak(runner: Runner) -> tuple[Optional[int], str]:
    """Peak of live bytes from the torch profiler's allocation events during one step."""
    from torch.profiler import ProfilerActivity, profile

    runner.reset()
    with gc_paused(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        runner.step()
    try:  # kineto's raw events: one "[memory]" event per allocation (+) or free (-)
        events = prof.profiler.kineto_results.events()  # type: ignore[union-attr]
        deltas = sorted((e.start_ns(), e.nbytes()) for e in events if e.name() == "[memory]")
    except Exception as exc:  # a private API: report instead of failing the run
        return None, f"torch.profiler (unreadable: {type(exc).__name__})"
    live = peak = 0
    for _, nbytes in deltas:
        live += nbytes
        peak = max(peak, live)
    return peak, "torch.profiler profile_memory"


def _tracemalloc_peak(runner: Runner) -> tuple[int, str]:
    """tracemalloc's peak of new allocations during one step (NumPy registers its buffers)."""
    runner.reset()
    gc.collect()
    tracemalloc.start()
    try:
        with gc_paused():
            tracemalloc.reset_peak()
            base, _ = tracemalloc.get_traced_memory()
            runner.step()
            _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base, "tracemalloc"


def measure_memory_here(runner: Runner, framework: str) -> MemoryResult:
    """Measure one step's peak memory in this process (call it in a fresh one)."""
    runner.reset()
    runner.warm_up()  # lazy caches and thread pools are not part of the step's peak
    runner.reset()
    gc.collect()
    _malloc_trim()
    result = MemoryResult()
    if _status_bytes("VmHWM") is None:
        result.error = "no /proc/self/status (RSS high-water mark needs Linux)"
    elif not _reset_peak_rss():
        result.error = "cannot reset the RSS high-water mark (/proc/self/clear_refs)"
    else:
        before = _status_bytes("VmRSS") or 0
        with gc_paused():
            runner.step()
        result.rss_peak = max(0, (_status_bytes("VmHWM") or 0) - before)
    if framework == "torch":
        result.alloc_peak, result.alloc_method = _torch_profiler_peak(runner)
    else:
        result.alloc_peak, result.alloc_method = _tracemalloc_peak(runner)
    return result


def memory_child(payload: str) -> int:
    """Entry point of the memory subprocess: build one variant, measure, print JSON.

    Args:
        payload: JSON ``{"case", "variant", "settings", "threads"}``.
    """
    spec = json.loads(payload)
    try:
        fw_name = spec["framework"]
        configure_threads(spec["threads"], with_torch=fw_name == "torch")
        case = next(c for c in all_cases() if c.key == spec["case"])
        variant = next(v for v in case.variants if v.label == spec["variant"])
        runner = case.setup(Framework(fw_name), Settings(**spec["settings"]),
                            **dict(variant.options))
        result = measure_memory_here(runner, fw_name)
    except Exception as exc:  # reported in the table, never a crash of the suite
        result = MemoryResult(error=f"{type(exc).__name__}: {exc}")
    print(json.dumps(asdict(result)), flush=True)
    return 0


def measure_memory(case: Case, variant: Variant, settings: Settings, threads: int,
                   timeout: float = 1800.0) -> MemoryResult:
    """Run :func:`memory_child` for one variant in a fresh Python process."""
    import chainrule

    payload = json.dumps({"case": case.key, "variant": variant.label,
                          "framework": variant.framework, "settings": asdict(settings),
                          "threads": threads})
    paths = [str(ROOT), str(Path(chainrule.__file__).resolve().parent.parent)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(paths + [env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    code = "import sys, benchmarks.harness as h; sys.exit(h.memory_child(sys.argv[1]))"
    try:
        proc = subprocess.run([sys.executable, "-c", code, payload], capture_output=True,
                              text=True, cwd=str(ROOT), env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return MemoryResult(error=f"timed out after {timeout:.0f} s")
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return MemoryResult(error=f"subprocess exit {proc.returncode}: {tail}")
    return MemoryResult(**json.loads(lines[-1]))


# ============================================================================ results
@dataclass
class VariantResult:
    """One column of a case: its timing and (optionally) its memory."""

    label: str
    framework: str
    timing: Timing
    memory: Optional[MemoryResult] = None


@dataclass
class CaseResult:
    """Everything measured for one case."""

    case: Case
    units: int
    variants: list[VariantResult] = field(default_factory=list)
    error: Optional[str] = None

    def variant(self, label: str) -> Optional[VariantResult]:
        return next((v for v in self.variants if v.label == label), None)

    @property
    def baseline(self) -> Optional[VariantResult]:
        return next((v for v in self.variants if v.framework == "torch"), None)

    def ratio(self, label: str = "chainrule", phase: Optional[str] = None) -> float:
        """Median time of ``label`` over PyTorch's (for a phase when given)."""
        ours, base = self.variant(label), self.baseline
        if ours is None or base is None:
            return math.nan
        if phase is None:
            return ours.timing.median / base.timing.median
        return ours.timing.phase_median(phase) / base.timing.phase_median(phase)

    @property
    def passed(self) -> Optional[bool]:
        if self.error is not None:
            return False
        if self.case.target is None:
            return None
        return bool(self.ratio() <= self.case.target)

    def mem_ratio(self) -> float:
        ours, base = self.variant("chainrule"), self.baseline
        if ours is None or base is None or ours.memory is None or base.memory is None:
            return math.nan
        a, b = ours.memory.rss_peak, base.memory.rss_peak
        return a / b if a is not None and b else math.nan

    @property
    def mem_passed(self) -> Optional[bool]:
        if self.case.mem_target is None or not self.case.memory:
            return None
        r = self.mem_ratio()
        return None if math.isnan(r) else bool(r <= self.case.mem_target)

    def to_json(self) -> dict[str, Any]:
        c = self.case
        return {
            "key": c.key, "title": c.title, "table": c.table, "kind": c.kind,
            "units": self.units, "unit_name": c.unit_name, "target": c.target,
            "ratio": _finite(self.ratio()), "pass": self.passed, "error": self.error,
            "phase_ratios": {p: _finite(self.ratio(phase=p)) for p in c.phases},
            "mem_target": c.mem_target, "mem_ratio": _finite(self.mem_ratio()),
            "mem_pass": self.mem_passed,
            "variants": [{
                "label": v.label, "framework": v.framework,
                "median_s": _finite(v.timing.median), "iqr_s": _finite(v.timing.iqr),
                "samples_s": v.timing.samples, "phases_s": v.timing.phases,
                "steps_per_sample": v.timing.steps,
                "memory": asdict(v.memory) if v.memory is not None else None,
            } for v in self.variants],
        }


def _finite(x: float) -> Optional[float]:
    return None if x is None or not math.isfinite(x) else float(x)


@dataclass
class Options:
    """What to run (the command-line options, minus output handling)."""

    cases: Optional[str] = None
    repeats: int = DEFAULT_REPEATS
    warmup: int = DEFAULT_WARMUP
    threads: Optional[int] = None
    quick: bool = False
    tiny: bool = False
    memory: bool = True
    epoch_images: Optional[int] = None
    settle: float = DEFAULT_SETTLE
    min_sample: float = DEFAULT_MIN_SAMPLE

    def settings(self) -> Settings:
        images = self.epoch_images
        if images is None and self.quick:
            images = QUICK_EPOCH_IMAGES
        return Settings(tiny=self.tiny, epoch_images=images)


@dataclass
class SuiteResult:
    """A whole run: metadata, the case results and the notes."""

    meta: dict[str, Any]
    results: list[CaseResult]

    def to_json(self) -> dict[str, Any]:
        return {"meta": self.meta, "results": [r.to_json() for r in self.results],
                "notes": NOTES, "misses": misses(self.results)}


def run_case(case: Case, options: Options, threads: int,
             log: Callable[[str], None] = lambda s: None) -> CaseResult:
    """Set up, time and (optionally) memory-profile one case; errors become a result."""
    settings = options.settings()
    result = CaseResult(case, units=1)
    repeats = options.repeats if case.repeat_cap is None else min(options.repeats,
                                                                  case.repeat_cap)
    warmup = options.warmup if case.repeat_cap is None else min(options.warmup, 1)
    try:
        result.units = case.units(settings)
        runners = [(v.label, case.setup(Framework(v.framework), settings, **dict(v.options)))
                   for v in case.variants]
        # an epoch is its own long sample; a warm-up there is a few batches, not a step
        min_sample = options.min_sample if case.repeat_cap is None else 0.0
        timings = time_variants(runners, warmup, repeats, options.settle, min_sample)
        del runners
        gc.collect()
    except Exception as exc:
        result.error = f"{type(exc).__name__}: {exc}"
        log(f"  {case.key}: ERROR {result.error}")
        return result
    for v in case.variants:
        result.variants.append(VariantResult(v.label, v.framework, timings[v.label]))
    if options.memory and case.memory:
        for vr, v in zip(result.variants, case.variants):
            vr.memory = measure_memory(case, v, settings, threads)
    ours = case.variants[0].label
    log(f"  {case.key}: {ours}/PyTorch {result.ratio(ours):.2f}x")
    return result


def run_suite(options: Options, log: Callable[[str], None] = lambda s: None) -> SuiteResult:
    """Run the selected cases and return every measurement with the run's metadata."""
    cases = select_cases(options.cases)
    thread_info = configure_threads(options.threads)
    meta = machine_info(options, thread_info)
    results = []
    for case in cases:
        log(f"running {case.key} ...")
        results.append(run_case(case, options, thread_info["threads"], log))
    meta["finished"] = now_iso()
    meta["loadavg_end"] = _loadavg()
    return SuiteResult(meta, results)


def now_iso() -> str:
    """The local time with its UTC offset, to the second (ISO 8601): results' time stamps."""
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _loadavg() -> Optional[list[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def machine_info(options: Options, threads: dict[str, Any]) -> dict[str, Any]:
    """Versions, CPU, threads and the load average: what a reader needs to trust a number."""
    import torch

    import chainrule
    from chainrule.backend import compiled_status

    return {
        "started": now_iso(), "python": platform.python_version(),
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "numpy": np.__version__, "torch": torch.__version__, "chainrule": chainrule.__version__,
        "compiled_kernels": compiled_status(),
        "threads": threads, "loadavg_start": _loadavg(),
        "options": asdict(options), "settings": asdict(options.settings()),
    }


# ============================================================================ tables
NOTES = [
    "Time: median of the timed samples after warm-up; IQR = 75th - 25th percentile. A "
    "sample is the mean of k steps run back to back, k chosen per case and framework from "
    "the warm-up so a sample lasts --min-sample seconds (0.05 by default; as "
    "torch.utils.benchmark's blocked_autorange; the epoch is one step). Both frameworks run "
    "in this process on the same float32 inputs, interleaved sample by sample, with the same "
    "BLAS/OpenMP thread count; the garbage collector is run before and disabled during each "
    "sample; gradients are zeroed (untimed) before each step.",
    "ratio = chainrule median / PyTorch median (for img/s: PyTorch img/s / chainrule "
    "img/s), so lower is better and PASS means ratio <= target.",
    "Every case times forward AND backward with gradients for every input; the MLP step and "
    "the LeNet-5 epoch also include the SGD update. The epoch runs chainrule's own training "
    "loop (chainrule.training.train_one_epoch) for both frameworks over the same batches, "
    "materialised before timing (the data loader is not timed).",
    "Peak memory: measured in a fresh Python process per framework and case, after one "
    "warm-up step: 'RSS peak' is the kernel's resident-set high-water mark during one step "
    "(one epoch) minus the RSS just before it (reset via /proc/self/clear_refs after "
    "malloc_trim). It is the same method for both frameworks and decides the memory "
    "target. 'alloc peak' is each allocator's own view: tracemalloc for chainrule (NumPy "
    "buffers and Python objects) and the torch profiler's live tensor bytes for PyTorch.",
    "Caveats: RSS counts pages, not bytes, and includes allocator caching, thread stacks and "
    "library scratch buffers (oneDNN, BLAS); memory freed and reused inside the step is "
    "counted once. tracemalloc misses non-NumPy C allocations and counts Python objects the "
    "profiler does not; the torch profiler misses memory that oneDNN/MKL allocate outside "
    "PyTorch's allocator. The two 'alloc' numbers are indicative, not comparable.",
    "Timings taken on a shared or busy machine (see the load average above) are noisy; "
    "compare ratios, not absolute times, and re-run on a quiet machine before concluding.",
]


def _fmt_seconds(s: float) -> str:
    if not math.isfinite(s):
        return "-"
    if s >= 1:
        return f"{s:.3g} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def _fmt_bytes(n: Optional[int]) -> str:
    if n is None:
        return "-"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if abs(n) >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} B"


def _fmt_ratio(r: float) -> str:
    return f"{r:.2f}x" if math.isfinite(r) else "-"


def _fmt_value(case: Case, units: int, samples: Sequence[float]) -> str:
    """The median and IQR of one variant in the case's unit."""
    if not samples:
        return "-"
    med, spread = statistics.median(samples), iqr(samples)
    if case.kind == "throughput":
        rates = [units / s for s in samples]
        return f"{statistics.median(rates):,.0f} {case.unit_name}/s (IQR {iqr(rates):,.0f})"
    if case.kind == "per_unit":
        return (f"{_fmt_seconds(med / units)}/{case.unit_name} "
                f"(IQR {_fmt_seconds(spread / units)})")
    return f"{_fmt_seconds(med)} (IQR {_fmt_seconds(spread)})"


def _verdict(passed: Optional[bool]) -> str:
    return "-" if passed is None else ("PASS" if passed else "FAIL")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "/") for c in row) + " |" for row in rows]
    return "\n".join(lines)


MAIN_HEADER = ("case", "chainrule", "PyTorch", "ratio", "target", "PASS/FAIL",
               "RSS peak chainrule",
               "RSS peak PyTorch", "mem ratio", "mem target", "alloc peak chainrule",
               "alloc peak PyTorch")
IMPL_HEADER = ("kernel", "per call", "vs PyTorch", "vs fast")


IMPL_NOTE = ("naive: seven nested Python loops, one multiply-add per iteration; im2col: "
             "unfold the input into a (C*KH*KW, N*OH*OW) matrix, then one GEMM; fast: the "
             "same GEMM on a channels-last, cache-blocked unfold, or, with the compiled "
             "kernels on and output channels that fill the SIMD vectors (16 here), a compiled "
             "direct convolution. Moving the arithmetic out of Python loops into compiled code (one "
             "BLAS call) is what wins; at this tiny shape the remaining cost is per-call "
             "overhead, which is why im2col and fast are close.")


def main_rows(results: Sequence[CaseResult]) -> list[list[str]]:
    """The rows of the main table (a case with phases adds one row per phase)."""
    rows = []
    for r in results:
        c = r.case
        if c.table != "main":
            continue
        if r.error is not None:
            rows.append([c.title, f"ERROR: {r.error}"] + ["-"] * 3 + ["ERROR"]
                        + ["-"] * (len(MAIN_HEADER) - 6))
            continue
        ours, base = r.variant("chainrule"), r.baseline
        mem = [_fmt_bytes(ours.memory.rss_peak if ours and ours.memory else None),
               _fmt_bytes(base.memory.rss_peak if base and base.memory else None),
               _fmt_ratio(r.mem_ratio()),
               f"<= {c.mem_target}x {_verdict(r.mem_passed)}" if c.mem_target else "-",
               _fmt_bytes(ours.memory.alloc_peak if ours and ours.memory else None),
               _fmt_bytes(base.memory.alloc_peak if base and base.memory else None)]
        for vr in (ours, base):
            if vr is not None and vr.memory is not None and vr.memory.error:
                mem[0 if vr is ours else 1] = f"error: {vr.memory.error}"
        rows.append([c.title,
                     _fmt_value(c, r.units, ours.timing.samples if ours else []),
                     _fmt_value(c, r.units, base.timing.samples if base else []),
                     _fmt_ratio(r.ratio()),
                     f"<= {c.target}x" if c.target else "-", _verdict(r.passed)] + mem)
        for phase in c.phases:
            rows.append([f"  {c.title}: {phase}",
                         _fmt_value(c, r.units, ours.timing.phases.get(phase, [])
                                    if ours else []),
                         _fmt_value(c, r.units, base.timing.phases.get(phase, [])
                                    if base else []),
                         _fmt_ratio(r.ratio(phase=phase)), "-", "-"]
                        + ["-"] * (len(MAIN_HEADER) - 6))
    return rows


def impl_rows(result: CaseResult) -> list[list[str]]:
    """Rows of the convolution-kernel table: each kernel against PyTorch and ``fast``."""
    if result.error is not None:
        return [[f"ERROR: {result.error}", "-", "-", "-"]]
    fast = result.variant("fast")
    rows = []
    for vr in result.variants:
        vs_fast = (vr.timing.median / fast.timing.median) if fast else math.nan
        rows.append([vr.label, _fmt_value(result.case, result.units, vr.timing.samples),
                     _fmt_ratio(result.ratio(vr.label)), _fmt_ratio(vs_fast)])
    return rows


def misses(results: Sequence[CaseResult]) -> list[str]:
    """One line per missed target (time or memory) or errored case."""
    out = []
    for r in results:
        c = r.case
        if r.error is not None:
            out.append(f"{c.key}: ERROR {r.error}")
            continue
        if r.passed is False:
            out.append(f"{c.key}: {r.ratio():.2f}x vs target {c.target}x "
                       f"({r.ratio() / c.target:.2f}x over)")
        if r.mem_passed is False:
            out.append(f"{c.key} memory: {r.mem_ratio():.2f}x vs target {c.mem_target}x "
                       f"({r.mem_ratio() / c.mem_target:.2f}x over)")
    return out


def render_markdown(suite: SuiteResult) -> str:
    """The whole report as markdown: header, main table, kernel table, misses, notes."""
    m = suite.meta
    th = m.get("threads", {})
    lines = [
        "# chainrule vs PyTorch benchmarks", "",
        f"- started {m.get('started')}, finished {m.get('finished')}; load average "
        f"{m.get('loadavg_start')} -> {m.get('loadavg_end')} (1/5/15 min) on "
        f"{th.get('cpu_count')} CPUs",
        f"- {m.get('platform')}; Python {m.get('python')}, NumPy {m.get('numpy')}, "
        f"torch {m.get('torch')}, chainrule {m.get('chainrule')}; compiled kernels: "
        f"{m.get('compiled_kernels', 'off')}",
        f"- threads: {th.get('threads')} (threadpoolctl: {th.get('threadpoolctl')}; pools: "
        f"{'; '.join(th.get('pools', []))}; chainrule {th.get('chainrule_threads')}; torch "
        f"intra-op {th.get('torch_threads')}, inter-op {th.get('torch_interop_threads')})",
        f"- options: {m.get('options')}",
    ]
    load = (m.get("loadavg_start") or [0])[0]  # before the run: other processes' load
    if th.get("cpu_count") and load > 0.5 * th["cpu_count"]:
        lines.append(f"- **busy machine**: load average {load} on {th['cpu_count']} CPUs; "
                     f"multi-threaded BLAS/OpenMP timings are unreliable (re-run when quiet, "
                     f"or compare with --threads 1)")
    lines += [
        "",
        _md_table(MAIN_HEADER, main_rows(suite.results)),
    ]
    for r in suite.results:
        if r.case.table == "impls":
            lines += ["", f"## {r.case.title}", "",
                      _md_table(IMPL_HEADER, impl_rows(r)), "", IMPL_NOTE]
    missed = misses(suite.results)
    lines += ["", "## Missed targets", ""]
    lines += [f"- {line}" for line in missed] or ["- none"]
    if m.get("profile"):
        lines += ["", "## Profile", "", "```", m["profile"], "```"]
    lines += ["", "## Notes", ""] + [f"- {note}" for note in NOTES]
    return "\n".join(lines) + "\n"


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=str(path.parent))
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def write_results(suite: SuiteResult, out: Path) -> tuple[Path, Path]:
    """Write ``latest.json`` and ``latest.md`` into ``out``; return their paths."""
    json_path, md_path = out / "latest.json", out / "latest.md"
    write_atomic(json_path, json.dumps(suite.to_json(), indent=2, ensure_ascii=False) + "\n")
    write_atomic(md_path, render_markdown(suite))
    return json_path, md_path


# ============================================================================ profiling
def profile_case(case: Case, options: Options, min_steps: int = 3, min_seconds: float = 2.0,
                 top: int = 15) -> str:
    """Profile chainrule's variant of ``case`` with pyinstrument; return the hot spots.

    Runs at least ``min_steps`` steps and at least ``min_seconds`` of them (sampling every
    0.5 ms). Self time is summed per ``file:function`` over the whole call tree, so a helper
    called from many places shows its full share.
    """
    try:
        from pyinstrument import Profiler
    except ImportError:
        return "pyinstrument is not installed (pip install pyinstrument)"
    variant = next(v for v in case.variants if v.framework == "chainrule")
    runner = case.setup(Framework("chainrule"), options.settings(), **dict(variant.options))
    runner.reset()
    runner.warm_up()
    profiler = Profiler(interval=0.0005)
    steps = 0
    with gc_paused():
        profiler.start()
        start = time.perf_counter()
        while steps < min_steps or time.perf_counter() - start < min_seconds:
            runner.reset()
            runner.step()
            steps += 1
        profiler.stop()
    totals: dict[str, float] = {}
    root = profiler.last_session.root_frame() if profiler.last_session else None
    stack = [root] if root is not None else []
    while stack:
        frame = stack.pop()
        stack.extend(frame.children)
        if frame.is_synthetic:  # "[self]" leaves: already in their parent's total_self_time
            continue
        where = f"{_short_path(frame.file_path)}:{frame.function}"
        totals[where] = totals.get(where, 0.0) + frame.total_self_time
    whole = sum(totals.values()) or 1.0
    lines = [f"pyinstrument, chainrule {case.key}, {steps} step(s), "
             f"{whole:.3f} s sampled; self time by file:function"]
    for where, secs in sorted(totals.items(), key=lambda kv: -kv[1])[:top]:
        lines.append(f"  {secs / whole:6.1%}  {secs:7.3f} s  {where}")
    return "\n".join(lines)


def _short_path(path: Optional[str]) -> str:
    if not path:
        return "<builtin>"
    for marker in ("site-packages" + os.sep, str(ROOT) + os.sep):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


# ============================================================================ command line
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the suite's options to ``parser`` (shared by ``python -m benchmarks`` and
    ``chainrule bench``)."""
    names = ", ".join(sorted({c.key for c in all_cases()} | {g for c in all_cases()
                                                              for g in c.groups}))
    parser.add_argument("--cases", default=None, metavar="A,B",
                        help=f"comma-separated cases or groups [default: all]: {names}")
    parser.add_argument("--repeats", type=positive_int, default=None, metavar="N",
                        help=f"timed repeats per case [default: {DEFAULT_REPEATS}, "
                             f"--quick {QUICK_REPEATS}; the epoch at most 3]")
    parser.add_argument("--warmup", type=nonnegative_int, default=None, metavar="N",
                        help=f"untimed warm-up calls per case [default: {DEFAULT_WARMUP}, "
                             f"--quick {QUICK_WARMUP}]")
    parser.add_argument("--threads", type=positive_int, default=None, metavar="N",
                        help="BLAS/OpenMP and torch threads [default: what NumPy's BLAS "
                             "uses now]")
    parser.add_argument("--out", default=str(RESULTS_DIR), metavar="DIR",
                        help="where latest.json and latest.md go [default: "
                             "benchmarks/results]")
    parser.add_argument("--quick", action="store_true",
                        help=f"a quick pass: the epoch on {QUICK_EPOCH_IMAGES:,} images, "
                             f"fewer repeats")
    parser.add_argument("--epoch-images", type=positive_int, default=None, metavar="N",
                        help="images in the LeNet-5 epoch [default: all 60,000]")
    parser.add_argument("--settle", type=nonnegative_float, default=DEFAULT_SETTLE,
                        metavar="S", help="untimed sleep before each timed sample, so the "
                                          "other library's spinning threads go idle "
                                          f"[default: {DEFAULT_SETTLE}]")
    parser.add_argument("--min-sample", type=nonnegative_float, default=DEFAULT_MIN_SAMPLE,
                        metavar="S", help="a timed sample runs steps back to back for at "
                                          "least S seconds; 0 times single steps "
                                          f"[default: {DEFAULT_MIN_SAMPLE}]")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the peak-memory subprocesses")
    parser.add_argument("--tiny", action="store_true",
                        help="smoke test: tiny shapes (the numbers mean nothing)")
    parser.add_argument("--profile", nargs="?", const="worst", default=None, metavar="CASE",
                        help="after the run, profile chainrule's side of CASE (default: the "
                             "case furthest over its target) with pyinstrument")


def options_from_args(args: argparse.Namespace) -> Options:
    """The :class:`Options` an argparse namespace describes (``--quick`` fills defaults)."""
    repeats = args.repeats or (QUICK_REPEATS if args.quick else DEFAULT_REPEATS)
    warmup = args.warmup if args.warmup is not None else (QUICK_WARMUP if args.quick
                                                          else DEFAULT_WARMUP)
    return Options(cases=args.cases, repeats=repeats, warmup=warmup, threads=args.threads,
                   quick=args.quick, tiny=args.tiny, memory=not args.no_memory,
                   epoch_images=args.epoch_images, settle=args.settle,
                   min_sample=args.min_sample)


def _worst(suite: SuiteResult) -> Optional[Case]:
    scored = [(r.ratio() / r.case.target, r.case) for r in suite.results
              if r.error is None and r.case.target and math.isfinite(r.ratio())]
    return max(scored, key=lambda sc: sc[0])[1] if scored else None


def run(args: argparse.Namespace) -> int:
    """Run the suite as ``args`` say: print the table, write the files, return 0 (1 if a
    case failed to run, 2 for a bad ``--cases``)."""
    options = options_from_args(args)
    try:
        select_cases(options.cases)
    except ValueError as exc:
        print(f"benchmarks: error: {exc}", file=sys.stderr)
        return 2
    try:
        import torch  # noqa: F401
    except ImportError:
        print("benchmarks: error: PyTorch is needed as the baseline (pip install torch)",
              file=sys.stderr)
        return 1

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    suite = run_suite(options, log)
    if args.profile is not None:
        case = _worst(suite) if args.profile == "worst" else next(
            (c for c in all_cases() if c.key == args.profile), None)
        if case is None:
            log(f"benchmarks: nothing to profile ({args.profile})")
        else:
            log(f"profiling {case.key} ...")
            suite.meta["profile"] = profile_case(case, options)
    json_path, md_path = write_results(suite, Path(args.out))
    print(render_markdown(suite))
    print(f"wrote {json_path} and {md_path}", file=sys.stderr)
    return 1 if any(r.error is not None for r in suite.results) else 0


def build_parser(prog: str = "python -m benchmarks") -> argparse.ArgumentParser:
    """The suite's argument parser."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Time chainrule against PyTorch (forward + backward, float32, "
                               "same threads) and write benchmarks/results/latest.{json,md}.",
        epilog="Speed claims live here, not in the tests; run on a quiet machine.")
    add_arguments(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None, prog: str = "python -m benchmarks") -> int:
    """Parse ``argv`` and run the suite; return the exit code."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    keep_freed_memory()  # glibc keeps freed blocks: the same allocator for both frameworks
    return run(args)
