"""Peak memory of one step, measured in a fresh subprocess per framework and case.

:func:`measure_memory` starts ``python -c`` running :func:`memory_child`, which builds the
variant, warms it up, and measures one step: the kernel's RSS high-water mark (the same method
for both frameworks) and each allocator's own view (tracemalloc for chainrule, the torch
profiler for PyTorch).
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import json
import os
import subprocess
import sys
import tracemalloc
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

from .cases import CASES
from .framework import ROOT, Case, Framework, Runner, Settings, Variant, configure_threads
from .timing import gc_paused

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
        case = next(c for c in CASES if c.key == spec["case"])
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
    code = "import sys, benchmarks.memory as m; sys.exit(m.memory_child(sys.argv[1]))"
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
