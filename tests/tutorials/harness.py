"""Run a ported PyTorch tutorial under PyTorch and under chainrule, and compare what it prints.

The pieces, each a function here:

* :func:`rewrite_imports` turns the script into its chainrule twin by a fixed table that
  rewrites import lines only (``import torch`` -> ``import chainrule as torch``, ...), and
  checks that no other line changed and no torch/torchvision import is left;
* :func:`prepare_workdir` makes a working folder whose ``data/FashionMNIST/raw`` holds the
  Fashion-MNIST IDX files (as torchvision leaves them after a download), so the tutorials'
  ``root="data", download=True`` finds them without a network;
* :func:`run` starts ``runner.py`` in a fresh interpreter (one thread, seeded; for chainrule
  the random bridge, see ``bridge.py``) and returns its stdout;
* :func:`tokens` and :func:`compare` extract numbers, booleans, dtype names and grad_fn names
  from both outputs, in order, and compare them (numbers within a tolerance that also allows
  one unit of the last printed digit, so ``0.4963`` matches ``0.49632``).

By hand (from the repository root)::

    .venv/bin/python tests/tutorials/harness.py quickstart_tutorial      # both runs + compare
    .venv/bin/python tests/tutorials/harness.py quickstart_tutorial --lib chainrule  # one run

The working folder (default ``/tmp/chainrule-tutorials``) keeps each run's stdout, stderr and
the rewritten chainrule script (``<name>.chainrule.py``).
"""
from __future__ import annotations

import argparse
import difflib
import gzip
import math
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

HERE = Path(__file__).resolve().parent
RUNNER = HERE / "runner.py"
STANDIN = HERE / "_standin"  # holds the torchvision stand-in package (PyTorch run only)
DEFAULT_WORKDIR = Path("/tmp/chainrule-tutorials")
FASHION_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def fashion_source() -> Path:
    """Where the real Fashion-MNIST .gz files are: $CHAINRULE_TUTORIAL_DATA or Debian's copy."""
    return Path(os.environ.get("CHAINRULE_TUTORIAL_DATA", "/usr/share/datasets/fashion-mnist"))


def have_fashion() -> bool:
    return all((fashion_source() / f"{name}.gz").is_file() for name in FASHION_FILES)


# ------------------------------------------------------------------ the import rewrite

# (pattern of a whole import line, replacement); applied to the line without its indentation.
# Module paths map torch -> chainrule, torch.X -> chainrule.X, torchvision -> chainrule.vision.
_MOD = r"(?P<mod>torchvision|torch)(?P<sub>(?:\.\w+)*)"
REWRITES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"^import torch$"), "import chainrule as torch"),
    (re.compile(rf"^import {_MOD} as (?P<alias>\w+)$"), "import {mod}{sub} as {alias}"),
    (re.compile(rf"^from {_MOD} import (?P<names>[\w, ]+)$"), "from {mod}{sub} import {names}"),
]
_LIB = {"torch": "chainrule", "torchvision": "chainrule.vision"}
_IMPORT_LINE = re.compile(r"^\s*(import|from)\s")
_TORCH_IMPORT = re.compile(r"^\s*(import|from)\s+(torch|torchvision)\b")


class RewriteError(ValueError):
    """A script line the fixed import table cannot rewrite."""


def rewrite_line(line: str) -> str:
    """One import line of a PyTorch script -> its chainrule form (other lines unchanged)."""
    body = line.lstrip()
    indent = line[:len(line) - len(body)]
    if not _TORCH_IMPORT.match(body):
        return line
    for pattern, template in REWRITES:
        m = pattern.match(body.rstrip())
        if m:
            fields = m.groupdict()
            if "mod" in fields:
                fields["mod"] = _LIB[fields["mod"]]
            return indent + template.format(**fields)
    raise RewriteError(f"no rewrite rule for the import line {line!r}")


def rewrite_imports(source: str) -> str:
    """The chainrule twin of a PyTorch script: only its torch/torchvision imports change."""
    old = source.splitlines()
    new = [rewrite_line(line) for line in old]
    for i, (a, b) in enumerate(zip(old, new), 1):
        if a != b and not _IMPORT_LINE.match(a):
            raise RewriteError(f"line {i} changed but is not an import: {a!r}")
        if _TORCH_IMPORT.match(b):
            raise RewriteError(f"line {i} still imports torch: {b!r}")
    return "\n".join(new) + "\n"


# ------------------------------------------------------------------ the working folder

def prepare_workdir(workdir: Path) -> Path:
    """``workdir/data/FashionMNIST/raw`` with the four IDX files, .gz and decompressed."""
    raw = workdir / "data" / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    if not have_fashion():
        return workdir
    for name in FASHION_FILES:
        src = fashion_source() / f"{name}.gz"
        gz = raw / f"{name}.gz"
        if not gz.exists():
            gz.symlink_to(src)
        plain = raw / name
        if not plain.exists():
            tmp = raw / f".{name}.tmp"
            with gzip.open(src, "rb") as fin, open(tmp, "wb") as fout:
                shutil.copyfileobj(fin, fout)
            tmp.replace(plain)
    return workdir


# ------------------------------------------------------------------ running a script

@dataclass
class Run:
    lib: str
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    def failure(self) -> str:
        """The last lines of stderr (the traceback), for a failure message."""
        return "\n".join(self.stderr.rstrip().splitlines()[-25:])


def start(script: Path, lib: str, workdir: Path) -> subprocess.Popen:
    """Start ``runner.py lib script`` in ``workdir`` (one thread, headless matplotlib)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               NUMBA_NUM_THREADS="1", MPLBACKEND="Agg", PYTHONHASHSEED="0",
               PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTHONPATH", None)
    cmd = [sys.executable, str(RUNNER), lib, str(script)]
    return subprocess.Popen(cmd, cwd=workdir, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen, lib: str, started: float, timeout: float) -> Run:
    try:
        out, err = proc.communicate(timeout=max(1.0, timeout - (time.monotonic() - started)))
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        err += f"\n[harness] {lib} run killed after its {timeout:.0f} s budget"
        return Run(lib, -9, out, err, time.monotonic() - started)
    return Run(lib, proc.returncode, out, err, time.monotonic() - started)


def run_both(script: Path, workdir: Path, timeout: float) -> tuple[Run, Run]:
    """The PyTorch run and the chainrule run of ``script``, side by side (two processes)."""
    started = time.monotonic()
    procs = {lib: start(script, lib, workdir) for lib in ("torch", "chainrule")}
    runs = [finish(procs[lib], lib, started, timeout) for lib in ("torch", "chainrule")]
    for r in runs:
        (workdir / f"{script.stem}.{r.lib}.stdout").write_text(r.stdout)
        (workdir / f"{script.stem}.{r.lib}.stderr").write_text(r.stderr)
    return runs[0], runs[1]


# ------------------------------------------------------------------ comparing outputs

_HEX = re.compile(r"0x[0-9a-fA-F]+")
_TOKEN = re.compile(
    r"(?P<num>(?<![\w.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w]))"
    r"|(?P<special>(?<![\w.])-?(?:nan|inf)(?!\w))"
    r"|(?P<bool>\b(?:True|False)\b)"
    r"|(?P<dtype>(?<![A-Za-z])(?:u?int(?:8|16|32|64)|b?float(?:16|32|64)|complex(?:64|128))"
    r"(?!\w))"
    r"|(?P<gradfn>\b\w+Backward\d*\b|\bAccumulateGrad\b)")


@dataclass(frozen=True)
class Token:
    kind: str  # num, bool, dtype, gradfn
    text: str
    line: int  # 1-based line of the output it came from

    @property
    def value(self) -> float:
        return float(self.text)

    @property
    def unit(self) -> float:
        """One unit of the last printed digit (0 for integers and values like ``1.``)."""
        mant, _, exp = self.text.lower().partition("e")
        decimals = len(mant.partition(".")[2])
        if decimals == 0:
            return 0.0
        return 10.0 ** (int(exp or 0) - decimals)


def tokens(text: str) -> list[Token]:
    """Numbers, booleans, dtype names and grad_fn names of an output, in order.

    Object addresses (``0x7f...``) are dropped first; digits inside identifiers (``float32``,
    ``AddBackward0``) are not numbers. ``torch.float32``, ``dtype('float32')`` and ``float32``
    give the same dtype token, ``torch.Size([3, 4])`` and ``(3, 4)`` the same numbers.
    """
    out = []
    for lineno, line in enumerate(_HEX.sub(" ", text).splitlines(), 1):
        for m in _TOKEN.finditer(line):
            kind = m.lastgroup
            kind = "num" if kind == "special" else kind
            out.append(Token(kind, m.group(), lineno))
    return out


def _close(ref: Token, got: Token, rtol: float, atol: float) -> bool:
    a, b = ref.value, got.value
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    slack = 0.5 * (ref.unit + got.unit) * 1.0001  # rounding to the printed digits, both sides
    return abs(a - b) <= atol + rtol * abs(a) + slack


def _diff(ref_text: str, got_text: str, lines: int = 40) -> str:
    diff = difflib.unified_diff(ref_text.splitlines(), got_text.splitlines(), "torch",
                                "chainrule", lineterm="", n=1)
    return "\n".join(list(diff)[:lines])


def compare(ref_text: str, got_text: str, rtol: float, atol: float) -> Optional[str]:
    """None when the outputs agree; else a message: the first mismatch and a diff."""
    ref, got = tokens(ref_text), tokens(got_text)
    for i, (r, g) in enumerate(zip(ref, got)):
        same = (r.kind == g.kind == "num" and _close(r, g, rtol, atol)) or \
               (r.kind == g.kind != "num" and r.text == g.text)
        if not same:
            return (f"token {i}: torch printed {r.text!r} (line {r.line}), chainrule printed "
                    f"{g.text!r} (line {g.line}); rtol={rtol}, atol={atol}\n"
                    f"torch line:     {ref_text.splitlines()[r.line - 1]!r}\n"
                    f"chainrule line: {got_text.splitlines()[g.line - 1]!r}\n"
                    + _diff(ref_text, got_text))
    if len(ref) != len(got):
        return (f"torch printed {len(ref)} tokens, chainrule {len(got)}\n"
                + _diff(ref_text, got_text))
    return None


# ------------------------------------------------------------------ command line

def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("name", help="a script of tests/tutorials, e.g. quickstart_tutorial")
    parser.add_argument("--lib", choices=("torch", "chainrule"),
                        help="run only this one (output straight to the terminal)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--rtol", type=float, default=1e-4)
    parser.add_argument("--atol", type=float, default=1e-5)
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    script = HERE / f"{args.name.removesuffix('.py')}.py"
    workdir = prepare_workdir(args.workdir)
    if args.lib:
        proc = start(script, args.lib, workdir)
        run = finish(proc, args.lib, time.monotonic(), args.timeout)
        sys.stdout.write(run.stdout)
        sys.stderr.write(run.stderr)
        print(f"[{args.lib}: exit {run.returncode}, {run.seconds:.1f} s]", file=sys.stderr)
        return run.returncode
    ref, got = run_both(script, workdir, args.timeout)
    print(f"torch: exit {ref.returncode}, {ref.seconds:.1f} s; "
          f"chainrule: exit {got.returncode}, {got.seconds:.1f} s")
    if ref.returncode or got.returncode:
        print((ref if ref.returncode else got).failure())
        return 1
    msg = compare(ref.stdout, got.stdout, args.rtol, args.atol)
    print(msg or "outputs agree")
    return 1 if msg else 0


if __name__ == "__main__":
    sys.exit(main())
