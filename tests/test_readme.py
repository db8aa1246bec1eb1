"""The README's Python examples run as written (both columns of "Thirty seconds", the imports of
PyTorch code, both spellings of "Writing an op"), and its op example differentiates right."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.S)


def test_the_readme_has_its_examples():
    assert len(BLOCKS) >= 4 and "## Writing an op" in README
    assert len(README.splitlines()) <= 205, "the README is for users: keep it near 200 lines"


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_block_runs(i, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a block may write a file (the ONNX export)
    exec(compile(BLOCKS[i], f"README.md python block {i}", "exec"), {})


def test_both_spellings_of_an_op_give_the_same_gradients():
    import chainrule as cr
    from chainrule.testing import gradcheck, gradgradcheck

    (block,) = [b for b in BLOCKS if "class CubeCtx" in b]
    ns: dict = {}
    exec(block, ns)
    x = cr.tensor([0.5, -2.0], dtype=cr.float64, requires_grad=True)
    own, ctx = (lambda t: ns["Cube"]()(t)), ns["CubeCtx"].apply
    assert gradcheck(own, (x,)) and gradgradcheck(own, (x,)) and gradcheck(ctx, (x,))
    assert own(x).grad_fn.name() == "CubeBackward0" and ctx(x).grad_fn.name() == "CubeCtxBackward"
