"""The results of a run and their report: ratios and verdicts, the markdown tables, the files.

A :class:`SuiteResult` holds one :class:`CaseResult` per case; :func:`render_markdown` makes
the report and :func:`write_results` writes ``latest.json`` and ``latest.md`` atomically.
"""
from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from chainrule.io.files import write_atomic

from .framework import Case
from .memory import MemoryResult
from .timing import Timing, iqr


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
class SuiteResult:
    """A whole run: metadata, the case results and the notes."""

    meta: dict[str, Any]
    results: list[CaseResult]

    def to_json(self) -> dict[str, Any]:
        return {"meta": self.meta, "results": [r.to_json() for r in self.results],
                "notes": NOTES, "misses": misses(self.results)}


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


def _one_line(text: str) -> str:
    """``text`` on one line: a table cell or a list item cannot hold a line break (an error
    message, such as a missing dataset's, may span several).

    Example:
        >>> _one_line("not found in:\\n  - /data\\n  - ~/.cache")
        'not found in: - /data - ~/.cache'
    """
    return " ".join(line.strip() for line in str(text).splitlines() if line.strip())


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_one_line(c).replace("|", "/") for c in row) + " |"
              for row in rows]
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
             "direct convolution. Moving the arithmetic out of Python loops into compiled code "
             "(one BLAS call) is what wins; at this tiny shape the remaining cost is per-call "
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
    lines += [f"- {_one_line(line)}" for line in missed] or ["- none"]
    if m.get("profile"):
        lines += ["", "## Profile", "", "```", m["profile"], "```"]
    if m.get("distributed"):  # benchmarks/distributed.py: its own small table
        from .distributed import render_section

        lines += ["", render_section(m["distributed"])]
    lines += ["", "## Notes", ""] + [f"- {note}" for note in NOTES]
    return "\n".join(lines) + "\n"


def write_results(suite: SuiteResult, out: Path) -> tuple[Path, Path]:
    """Write ``latest.json`` and ``latest.md`` into ``out``; return their paths."""
    json_path, md_path = out / "latest.json", out / "latest.md"
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(json_path, json.dumps(suite.to_json(), indent=2, ensure_ascii=False) + "\n")
    write_atomic(md_path, render_markdown(suite))
    return json_path, md_path
