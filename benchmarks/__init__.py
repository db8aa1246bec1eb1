"""chainrule's benchmark suite: each case in chainrule and in PyTorch, side by side.

Run ``python -m benchmarks`` (``--help`` for the options) from the repository root, or
``chainrule bench`` from a source checkout. The harness (timing, memory, tables) is
:mod:`benchmarks.harness`; the cases are :mod:`benchmarks.cases`. Results are written to
``benchmarks/results/latest.json`` and ``latest.md``. Two more commands:
``python -m benchmarks.recipe`` trains the README's recipe in both frameworks, and
``python -m benchmarks.instructions`` counts the chain's instructions per op under Valgrind
(repeatable where timings are not).

Importing this package is light: PyTorch is imported only when a run starts.
"""
from .harness import Options, SuiteResult, main, render_markdown, run_suite, write_results

__all__ = ["main", "run_suite", "Options", "SuiteResult", "render_markdown", "write_results"]
