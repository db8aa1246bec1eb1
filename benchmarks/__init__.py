"""chainrule's benchmark suite: each case in chainrule and in PyTorch, side by side.

Run ``python -m benchmarks`` (``--help`` for the options) from the repository root, or
``chainrule bench`` from a source checkout. The cases are :mod:`benchmarks.cases`, written
against :mod:`benchmarks.framework`; :mod:`benchmarks.timing` and :mod:`benchmarks.memory`
measure them, :mod:`benchmarks.report` makes the tables and :mod:`benchmarks.harness` runs the
suite and holds the command line. Results are written to
``benchmarks/results/latest.json`` and ``latest.md``. Two more commands:
``python -m benchmarks.recipe`` trains the README's recipe in both frameworks, and
``python -m benchmarks.instructions`` counts the chain's instructions per op under Valgrind
(repeatable where timings are not).

Importing this package is light: PyTorch is imported only when a run starts.
"""
from .harness import Options, main, run_suite
from .report import SuiteResult, render_markdown, write_results

__all__ = ["main", "run_suite", "Options", "SuiteResult", "render_markdown", "write_results"]
