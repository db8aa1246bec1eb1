"""Timing: warm-up, then interleaved samples of back-to-back steps; medians and IQRs.

See :func:`time_variants` for the protocol (and the notes of the report,
:data:`benchmarks.report.NOTES`, for what a reader is told).
"""
from __future__ import annotations

import contextlib
import gc
import math
import statistics
import time
from dataclasses import dataclass, field
from typing import Iterator, Optional, Sequence

import numpy as np

from .framework import Runner

DEFAULT_SETTLE = 0.2
"""Seconds of untimed sleep before each timed sample (see :func:`time_variants`)."""
DEFAULT_MIN_SAMPLE = 0.05
"""A timed sample runs steps back to back until it lasts about this long (seconds)."""
MAX_STEPS_PER_SAMPLE = 1000


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
