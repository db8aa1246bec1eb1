"""Run one tutorial script under PyTorch or under chainrule: ``runner.py {torch|chainrule} SCRIPT``.

Started by ``harness.py`` in a fresh interpreter, in the working folder (the tutorials' cwd,
with ``data/``). Both runs: one thread, ``random.seed(0)``, ``numpy.random.seed(0)`` and
``<lib>.manual_seed(0)`` before the script's first line. The PyTorch run finds the torchvision
stand-in on ``sys.path``; the chainrule run rewrites the script's import lines
(``harness.rewrite_imports``), writes the result beside the outputs as
``<name>.chainrule.py`` and runs that, with chainrule's Generators drawing PyTorch's numbers
(``bridge.install``). Only the script writes to stdout.
"""
from __future__ import annotations

import random
import runpy
import sys
from pathlib import Path

import bridge  # this folder is sys.path[0] while the runner starts
import harness

HERE = Path(__file__).resolve().parent
# the script sees the same sys.path under both libraries: without this folder
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]


def _seed_common() -> None:
    import numpy

    random.seed(0)
    numpy.random.seed(0)


def run_torch(script: Path) -> None:
    sys.path.insert(0, str(HERE / "_standin"))  # `import torchvision` -> the stand-in
    import torch

    torch.set_num_threads(1)
    _seed_common()
    torch.manual_seed(0)
    runpy.run_path(str(script), run_name="__main__")


def run_chainrule(script: Path) -> None:
    import chainrule

    twin = Path.cwd() / f"{script.stem}.chainrule.py"
    twin.write_text(harness.rewrite_imports(script.read_text()))
    bridge.install(chainrule.random.Generator)
    chainrule.set_num_threads(1)
    _seed_common()
    chainrule.manual_seed(0)
    runpy.run_path(str(twin), run_name="__main__")


def main() -> None:
    lib, script = sys.argv[1], Path(sys.argv[2]).resolve()
    sys.argv = [str(script)]
    {"torch": run_torch, "chainrule": run_chainrule}[lib](script)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
