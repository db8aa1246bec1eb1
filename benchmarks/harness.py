"""The benchmark harness: run the suite, profile a case, and the command line.

Every case runs in chainrule and in PyTorch **in the same process**, on the same float32
inputs, with the same number of threads. For each case the harness

1. builds one :class:`~benchmarks.framework.Runner` per variant (inputs are made here,
   outside any timed region);
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
   (see :func:`~benchmarks.memory.memory_child` and the notes printed under the table).

Results go to ``<out>/latest.json`` and ``<out>/latest.md``, each written atomically.

This module runs the suite and holds the command line; the pieces are
:mod:`benchmarks.framework` (frameworks, runners, cases, threads), :mod:`benchmarks.timing`,
:mod:`benchmarks.memory` and :mod:`benchmarks.report` (results, tables, files).

Run ``python -m benchmarks --help`` (or ``chainrule bench --help`` from a source checkout).
"""
from __future__ import annotations

import argparse
import datetime
import gc
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from chainrule.backend import keep_freed_memory
from chainrule.cli import (folder_problem, make_writable_folder, nonnegative_float,
                           nonnegative_int, os_error_reason, positive_int)

from .cases import CASES
from .framework import RESULTS_DIR, ROOT, Case, Framework, Settings, configure_threads
from .memory import measure_memory
from .report import CaseResult, SuiteResult, VariantResult, render_markdown, write_results
from .timing import DEFAULT_MIN_SAMPLE, DEFAULT_SETTLE, gc_paused, time_variants

DEFAULT_REPEATS = 7
DEFAULT_WARMUP = 2
QUICK_REPEATS = 3
QUICK_WARMUP = 1
QUICK_EPOCH_IMAGES = 5000


# ============================================================================ cases
def all_cases() -> list[Case]:
    """The registered cases, in table order."""
    return list(CASES)


def select_cases(spec: Optional[str], cases: Optional[Sequence[Case]] = None) -> list[Case]:
    """The cases named by ``spec`` (comma-separated keys or group names; None: all).

    Raises:
        ValueError: an unknown name (the message lists the known ones).
    """
    cases = list(all_cases() if cases is None else cases)
    if spec is None or spec.strip() in ("", "all"):
        return cases
    from . import distributed  # here, not at the top: `python -m benchmarks.distributed` runs it

    wanted = [w.strip() for w in spec.split(",") if w.strip()]
    known = sorted({c.key for c in cases} | {g for c in cases for g in c.groups}
                   | {distributed.DISTRIBUTED})  # run apart: see run_suite
    unknown = [w for w in wanted if w not in known]
    if unknown:
        raise ValueError(f"unknown case(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(known)} or all")
    return [c for c in cases if c.key in wanted or any(g in wanted for g in c.groups)]


# ============================================================================ running
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
    from . import distributed  # (as in select_cases)

    if distributed.wanted(options.cases, options.tiny):  # ranks in processes of their own
        log(f"running {distributed.DISTRIBUTED} ...")
        meta[distributed.DISTRIBUTED] = distributed.measure(
            options.tiny, steps=distributed.STEPS // 2 if options.quick else None,
            repeats=QUICK_REPEATS if options.quick else None, log=log)
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
    from chainrule.ops import compiled_status

    return {
        "started": now_iso(), "python": platform.python_version(),
        "platform": platform.platform(), "processor": platform.processor() or platform.machine(),
        "numpy": np.__version__, "torch": torch.__version__, "chainrule": chainrule.__version__,
        "compiled_kernels": compiled_status(),
        "threads": threads, "loadavg_start": _loadavg(),
        "options": asdict(options), "settings": asdict(options.settings()),
    }


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
    case failed to run, 2 for a bad ``--cases``). The caller has checked ``--out``."""
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
    """Parse ``argv`` and run the suite; return the exit code (2 for an ``--out`` that is a
    file or lies under one, 1 for one that cannot be written: checked before minutes of
    timing, not after; ``chainrule bench`` makes the same checks in its own words)."""
    parser = build_parser(prog)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    problem = folder_problem(args.out)
    if problem is not None:
        print(f"benchmarks: error: --out {args.out} {problem}", file=sys.stderr)
        return 2
    try:
        make_writable_folder(args.out)
    except OSError as exc:
        print(f"benchmarks: error: cannot write the results folder {args.out}: "
              f"{os_error_reason(exc)}", file=sys.stderr)
        return 1
    keep_freed_memory()  # glibc keeps freed blocks: the same allocator for both frameworks
    return run(args)
