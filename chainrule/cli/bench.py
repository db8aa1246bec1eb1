"""``chainrule bench``: the benchmark suite beside PyTorch (``python -m benchmarks``).

The suite lives in the repository's ``benchmarks/`` folder, not in the installed package,
so this module imports nothing from it when it is imported: the folder is looked for when
the parser is built (beside the ``chainrule`` package of a source checkout, then in the
current folder) and, if absent, ``chainrule bench`` says where to run it from.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any, Optional

from . import (EXIT_ERROR, error, folder_problem, make_writable_folder, os_error_reason,
               usage_error)

MISSING = ("the benchmark suite is not installed with chainrule: it lives in the benchmarks/ "
           "folder of a source checkout. Run `chainrule bench` (or `python -m benchmarks`) "
           "from the repository root.")


def _candidates() -> list[Path]:
    """Folders that may hold ``benchmarks/harness.py``: the checkout, then the cwd."""
    package_root = Path(__file__).resolve().parents[2]  # .../<repo>/chainrule/cli/bench.py
    out = [package_root]
    cwd = Path.cwd().resolve()
    if cwd != package_root:
        out.append(cwd)
    return out


def locate() -> Optional[Path]:
    """The folder whose ``benchmarks/harness.py`` exists, or None."""
    for root in _candidates():
        if (root / "benchmarks" / "harness.py").is_file():
            return root
    return None


def load_harness() -> Optional[ModuleType]:
    """Import ``benchmarks.harness`` from the located checkout (None when there is none).

    An unrelated ``benchmarks`` package already imported from elsewhere is not used.
    """
    root = locate()
    if root is None:
        return None
    loaded = sys.modules.get("benchmarks")
    if loaded is not None:
        where = Path(getattr(loaded, "__file__", "") or "").resolve().parent.parent
        if where != root:
            return None
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        return importlib.import_module("benchmarks.harness")
    except ImportError:
        return None


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``bench`` on the ``chainrule`` subparsers (options from the suite)."""
    harness = load_harness()
    p = subparsers.add_parser(
        "bench", help="time chainrule against PyTorch (the benchmark suite)",
        description="Run the benchmark suite: each case in chainrule and in PyTorch, "
                    "median times, ratios against targets, peak memory; writes "
                    "benchmarks/results/latest.json and latest.md."
                    + ("" if harness is not None else " UNAVAILABLE: " + MISSING))
    if harness is not None:
        harness.add_arguments(p)
    else:  # accept anything, so `run` can say why nothing happens
        p.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    p.set_defaults(func=run, _parser=p)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the suite with the parsed options; exit 1 with a message without a checkout.

    ``--out`` is checked before the suite runs (minutes), not when its results are written:
    a path under a file is a usage error (2), a folder that cannot be created or written an
    error (1).
    """
    harness = load_harness()
    if harness is None or not hasattr(args, "cases"):
        error(MISSING)
        return EXIT_ERROR
    out = getattr(args, "out", None)
    if out is not None:
        problem = folder_problem(out)
        if problem is not None:
            usage_error(args, f"--out {out} {problem}")
        try:
            make_writable_folder(out)
        except OSError as exc:
            error(f"cannot write the results folder {out}: {os_error_reason(exc)}")
            return EXIT_ERROR
    return int(harness.run(args))
