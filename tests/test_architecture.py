"""The house's rules, checked on the source: floors import only downward (import-linter's
contracts in pyproject.toml), no private name crosses a floor, no import hides at the bottom of a
module, and no op chooses its own backward (the engine does: see autograd/function.py)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "chainrule"


def _modules() -> list[tuple[str, Path]]:
    """(dotted name, path) of every module of the package."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append((".".join(parts), path))
    return out


def _imports(name: str, path: Path) -> list[tuple[int, str, list[str]]]:
    """(line, absolute module, imported names) of every import in a module, however nested."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            found.append((node.lineno, base, [a.name for a in node.names]))
    return found


def _floor(module: str) -> str:
    """The floor of a chainrule module: its first-level package (``chainrule.ops``...)."""
    return ".".join(module.split(".")[:2])


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_import_linter_contracts_are_kept() -> None:
    pytest.importorskip("importlinter")
    lint = Path(sys.executable).with_name("lint-imports")
    cmd = [str(lint)] if lint.exists() else [sys.executable, "-m", "importlinter.cli"]
    run = subprocess.run(cmd + ["--no-cache"], cwd=ROOT, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "0 broken" in run.stdout


def test_no_private_name_is_imported_across_floors() -> None:
    crossings = []
    for name, path in _modules():
        for line, target, names in _imports(name, path):
            if not target.startswith("chainrule.") or _floor(target) == _floor(name):
                continue
            hidden = [p for p in target.split(".")[2:] if _private(p)]
            hidden += [n for n in names if _private(n)]
            if hidden:
                crossings.append(f"{path.relative_to(ROOT)}:{line} imports {hidden} "
                                 f"from {target}")
    assert not crossings, "\n".join(crossings)


def test_no_module_level_import_after_the_first_definition() -> None:
    late = []
    for _, path in _modules():
        seen_definition = False
        for node in ast.parse(path.read_text(), str(path)).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                seen_definition = True
            elif seen_definition and isinstance(node, (ast.Import, ast.ImportFrom)):
                late.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not late, "imports below a definition (a cycle dodged?): " + ", ".join(late)


def test_ops_never_choose_their_own_backward() -> None:
    """The engine picks the formula or the declared fast path; no op branches on the mode."""
    branching = []
    for _, path in _modules():
        if "ops" not in path.relative_to(PACKAGE).parts[:1]:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.FunctionDef) and node.name in ("backward", "fast_backward"):
                text = ast.unparse(node)
                for mode in ("backward_composes", "grad_enabled", "tracer"):
                    if mode in text:
                        branching.append(f"{path.relative_to(ROOT)}:{node.lineno} reads {mode}")
    assert not branching, "\n".join(branching)


def test_the_ground_floors_import_without_the_rest() -> None:
    """backend and autograd import on their own: nothing below the ops reaches up for them."""
    code = ("import sys; import chainrule.backend, chainrule.autograd.tensor; "
            "print(any(m.startswith('chainrule.ops') for m in sys.modules))")
    # chainrule/__init__ imports the ops, so load the floors by path, without the package
    code = ("import importlib.util, sys, types\n"
            f"pkg = types.ModuleType('chainrule'); pkg.__path__ = [{str(PACKAGE)!r}]\n"
            "sys.modules['chainrule'] = pkg\n"
            "import chainrule.backend, chainrule.autograd.engine, chainrule.autograd.function\n"
            "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('chainrule.')}))")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['autograd', 'backend', 'device', 'random']"


def test_the_op_contract_shown_in_architecture_md_is_the_real_mul() -> None:
    """docs/ARCHITECTURE.md quotes ops/arithmetic.py's Mul; a quote that drifts fails here."""
    doc = (ROOT / "docs" / "ARCHITECTURE.md").read_text()
    start = doc.index("```python\n# chainrule/ops/arithmetic.py\n") + len("```python\n")
    quoted = doc[start:doc.index("```", start)].split("\n", 1)[1]
    assert "class Mul(Function):" in quoted
    assert quoted in (PACKAGE / "ops" / "arithmetic.py").read_text()
