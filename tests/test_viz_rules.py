"""The rule book page (docs/ops.md) is generated from the ops' own `derivative` and is current."""
from __future__ import annotations

from pathlib import Path

from chainrule.viz import rules

REPO = Path(__file__).resolve().parents[1]


def test_docs_ops_md_is_the_generated_rule_book() -> None:
    page = (REPO / "docs" / "ops.md").read_text()
    assert page == rules.rule_book(), (
        "docs/ops.md is stale: run `python -m chainrule.viz.rules docs/ops.md`")


def test_every_primitive_has_one_line_with_its_derivative() -> None:
    prims = rules.primitives()
    book = rules.rule_book()
    names = {c.__name__ for c in prims}
    assert {"Mul", "Sigmoid", "MatMul", "CrossEntropy", "Sum"} <= names
    for cls in prims:
        line = rules.rule_line(cls)
        assert line in book and line.count("d/d") >= 1, cls
    assert rules.rule_line(rules.primitives()[0]).startswith("| `")


def test_sigmoid_line_reads_its_class_attribute() -> None:
    from chainrule.ops.activation import Sigmoid

    assert Sigmoid.derivative == "{y}*(1-{y})"
    assert "| `Sigmoid` | activation | d/dx: y*(1-y) | formula + fast path |" in rules.rule_book()


def test_main_writes_the_page(tmp_path: Path) -> None:
    out = tmp_path / "ops.md"
    assert rules.main([str(out)]) == 0
    assert out.read_text() == rules.rule_book()
