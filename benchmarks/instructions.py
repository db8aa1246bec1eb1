"""Instructions per op of the 1,000-op chain, counted by Valgrind, in chainrule and PyTorch.

Time on a shared machine moves from minute to minute (the chain's time ratio drifts between
1.1x and 1.3x with the same code); the number of instructions a program executes does not.
This tool runs the benchmark suite's chain (:class:`benchmarks.cases.ChainRunner`: ``y * c``,
``y + c``, ``sin``, ``tanh`` on a one-element tensor) under ``valgrind --tool=callgrind``,
three times per framework:

* ``base``: import and warm-up only (no counted chain);
* ``forward``: the same, then ``--chains`` forward passes, each kept alive;
* ``both``: the same, then a backward through each of them.

so ``(forward - base) / ops`` is the forward's cost per op and ``(both - forward) / ops`` the
backward's, where ops = chains * length. Every run has one BLAS/OpenMP/torch thread, hash seed
0 and (where ``setarch`` exists) no address randomisation, so a count repeats to within about ten
instructions per op. Instructions are not time (PyTorch's C++ retires more of them per
cycle than the interpreter does), so this is a yardstick for changes to the graph's
bookkeeping, beside the timed ratio, not a replacement for it.

Run ``python -m benchmarks.instructions [--length 1000] [--chains 10]
[--frameworks chainrule,torch]`` (needs ``valgrind``; a minute for chainrule, three or four
for PyTorch, whose import is slow under Valgrind). It prints a table and writes
``benchmarks/results/instructions.{json,md}``.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import re
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

from chainrule.cli import positive_int
from chainrule.io.files import write_atomic

from .cases import ChainRunner
from .framework import FRAMEWORKS, LABELS, RESULTS_DIR, ROOT, Framework
from .harness import now_iso

WARMUP_CHAINS = 3
_COLLECTED = re.compile(r"Collected\s*:\s*([\d,]+)")

Counter = Callable[[str, int, int, bool], int]
"""``counter(framework, length, chains, backward)``: instructions of one child run."""


@dataclass
class Counts:
    """Instructions per op of one framework's chain."""

    framework: str
    forward: float
    backward: float

    @property
    def total(self) -> float:
        return self.forward + self.backward


def parse_collected(stderr: str) -> int:
    """The instruction count callgrind reports (``==pid== Collected : 123``) in ``stderr``."""
    found = _COLLECTED.findall(stderr)
    if not found:
        tail = "\n".join(stderr.strip().splitlines()[-5:])
        raise ValueError(f"instructions: no 'Collected : N' line in valgrind's output:\n{tail}")
    return int(found[-1].replace(",", ""))


def child(framework: str, length: int, chains: int, backward: bool) -> None:
    """What runs under valgrind: warm up, then ``chains`` chains (and their backward)."""
    fw = Framework(framework)
    if framework == "torch":
        fw.lib.set_num_threads(1)
    runner = ChainRunner(fw, length)
    for _ in range(WARMUP_CHAINS):
        runner.forward().backward()
    gc.disable()  # a collection would land in one run and not another
    ys = [runner.forward() for _ in range(chains)]
    if backward:
        for y in ys:
            y.backward()
    sys.stdout.flush()
    os._exit(0)  # skip the interpreter's teardown: it is not the chain's cost


def _command(framework: str, length: int, chains: int, backward: bool) -> list[str]:
    cmd = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable,
           "-m", "benchmarks.instructions", "--child", framework, str(length), str(chains),
           str(int(backward))]
    if shutil.which("setarch"):  # the same addresses every run: hash tables probe alike
        cmd = ["setarch", platform.machine(), "-R"] + cmd
    return cmd


def count(framework: str, length: int, chains: int, backward: bool) -> int:
    """Instructions of one child run under callgrind (one thread, hash seed 0)."""
    env = dict(os.environ, PYTHONHASHSEED="0", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               MKL_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    proc = subprocess.run(_command(framework, length, chains, backward), cwd=ROOT, env=env,
                          capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join(proc.stderr.strip().splitlines()[-10:])
        raise RuntimeError(f"instructions: the {framework} run under valgrind failed "
                           f"(exit {proc.returncode}):\n{tail}")
    return parse_collected(proc.stderr)


def measure(framework: str, length: int, chains: int, counter: Counter = count) -> Counts:
    """Forward and backward instructions per op, by differences of three runs."""
    if length < 1 or chains < 1:
        raise ValueError(f"instructions: length and chains must be positive, got length="
                         f"{length}, chains={chains}")
    base = counter(framework, length, 0, False)
    forward = counter(framework, length, chains, False)
    both = counter(framework, length, chains, True)
    ops = length * chains
    return Counts(framework, (forward - base) / ops, (both - forward) / ops)


def table(results: Sequence[Counts]) -> str:
    """A markdown table of instructions per op, with chainrule / PyTorch when both ran."""
    rows = ["| framework | forward / op | backward / op | forward + backward / op |",
            "|---|---|---|---|"]
    for c in results:
        rows.append(f"| {LABELS[c.framework]} | {c.forward:,.0f} | {c.backward:,.0f} "
                    f"| {c.total:,.0f} |")
    by_name = {c.framework: c for c in results}
    if set(by_name) >= {"chainrule", "torch"}:
        ours, base = by_name["chainrule"], by_name["torch"]
        rows.append(f"| ratio chainrule / PyTorch | {ours.forward / base.forward:.2f}x | "
                    f"{ours.backward / base.backward:.2f}x | {ours.total / base.total:.2f}x |")
    return "\n".join(rows)


def _versions(names: Sequence[str]) -> dict[str, str]:
    """Installed versions of NumPy and the counted frameworks (read without importing them)."""
    from importlib import metadata

    found = {}
    for dist in ["numpy", *names]:
        try:
            found[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            found[dist] = "not installed"
    return found


def markdown(meta: dict, text: str) -> str:
    """The report: what was counted, where and when, then the table."""
    versions = ", ".join(f"{k} {v}" for k, v in meta.get("versions", {}).items())
    return (f"# Instructions per op of the chain\n\n- {meta['chains']} chains of "
            f"{meta['length']} ops (y * c, y + c, sin, tanh on a one-element tensor), counted "
            f"by callgrind, one thread\n- {meta['date']}; Python {meta['python']}; "
            f"{meta['platform']}\n- {versions}\n\n{text}\n")


def build_parser(prog: str = "python -m benchmarks.instructions") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--length", type=positive_int, default=1000, metavar="N",
                        help="ops per chain [default: 1000]")
    parser.add_argument("--chains", type=positive_int, default=10, metavar="N",
                        help="counted chains per run [default: 10]")
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS), metavar="A,B",
                        help="comma-separated, from: " + ", ".join(FRAMEWORKS))
    parser.add_argument("--out", type=Path, default=RESULTS_DIR, metavar="DIR",
                        help="where instructions.json and instructions.md go "
                             "[default: benchmarks/results]")
    parser.add_argument("--child", nargs=4, metavar=("FRAMEWORK", "LENGTH", "CHAINS", "BWD"),
                        help=argparse.SUPPRESS)
    return parser


def main(argv: Optional[Sequence[str]] = None, counter: Counter = count) -> int:
    """Parse ``argv``, count each framework's chain, print and write the table."""
    args = build_parser().parse_args(argv)
    if args.child:
        name, length, chains, backward = args.child
        child(name, int(length), int(chains), backward == "1")
    names = [n.strip() for n in args.frameworks.split(",") if n.strip()]
    unknown = [n for n in names if n not in FRAMEWORKS]
    if unknown or not names:
        print(f"instructions: unknown framework(s) {unknown}; expected some of {FRAMEWORKS}",
              file=sys.stderr)
        return 2
    if counter is count and shutil.which("valgrind") is None:
        print("instructions: needs valgrind (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    results = []
    for name in names:
        print(f"counting {name} ({args.chains} chains of {args.length} ops) ...", flush=True)
        results.append(measure(name, args.length, args.chains, counter))
    text = table(results)
    print(text)
    meta = {"date": now_iso(),
            "python": platform.python_version(), "platform": platform.platform(),
            "length": args.length, "chains": args.chains, "versions": _versions(names)}
    args.out.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out / "instructions.json", json.dumps(
        {"meta": meta, "results": [dict(asdict(c), total=c.total) for c in results]},
        indent=2) + "\n")
    write_atomic(args.out / "instructions.md", markdown(meta, text))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
