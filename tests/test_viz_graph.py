"""Graph pictures: what the DOT text contains, rendering, names, freed graphs, no graphviz."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.viz import graph as vg
from chainrule.viz.graph import (DotGraph, GraphvizUnavailableError, draw_graph, save_graph,
                                 to_dot)
from helpers import named_leaf, shop_graph

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz dot not installed")

_NODE = re.compile(r'^\s*(\w+) \[label="?(.*?)"? (?:fillcolor|shape)', re.M)
_EDGE = re.compile(r"^\s*(\w+) -> (\w+)", re.M)


def parse_dot(src: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """node id -> label (lines joined by \\n), and the edges in order."""
    nodes = {m.group(1): m.group(2) for m in _NODE.finditer(src)}
    return nodes, _EDGE.findall(src)


def _by_label(nodes: dict[str, str], first_line: str) -> str:
    ids = [k for k, v in nodes.items() if v.split("\\n")[0] == first_line]
    assert len(ids) == 1, (first_line, nodes)
    return ids[0]


# ============================================================================ content
def test_shop_dot_has_one_node_per_op_and_tensor_and_data_flow_edges():
    src = to_dot(shop_graph()[0])
    nodes, edges = parse_dot(src)
    ops = [v for k, v in nodes.items() if k.startswith("op")]
    tensors = [v for k, v in nodes.items() if k.startswith("t")]
    assert sorted(ops) == ["Add", "Mul", "Mul", "Mul"]
    assert len(tensors) == 9  # 5 leaves, 3 intermediates, the output
    for label in tensors:
        assert "() float32" in label  # shape and dtype on every tensor
    e = set(edges)
    add = _by_label(nodes, "Add")
    ap, op_, al, price = (_by_label(nodes, n) for n in
                          ("apple_price", "orange_price", "all_price", "price"))
    mul_apple = [s for s, d in edges if d == ap][0]
    assert nodes[mul_apple] == "Mul"
    assert {(mul_apple, ap), (ap, add), (op_, add), (add, al)} <= e  # Mul -> t -> Add -> t
    mul_tax = [d for s, d in edges if s == _by_label(nodes, "tax")][0]
    assert {(al, mul_tax), (mul_tax, price)} <= e
    assert len(edges) == 4 * 2 + 4  # two inputs and one output per op
    # data-flow order: every node is defined before the edges that leave it
    pos = {k: src.index(f"\t{k} [") for k in nodes}
    for s, d in edges:
        assert pos[s] < pos[d]


def test_values_and_grads_in_labels():
    price = shop_graph()[0]
    price.backward(retain_graph=True)
    nodes, _ = parse_dot(draw_graph(price, show_values=True, show_grads=True).source)
    assert nodes[_by_label(nodes, "price")] == "price\\n() float32\\nvalue 715"
    assert nodes[_by_label(nodes, "apple")] == "apple\\n() float32\\nvalue 100\\ngrad 2.2"
    assert nodes[_by_label(nodes, "tax")].endswith("value 1.1\\ngrad 650")
    plain, _ = parse_dot(draw_graph(price).source)
    assert all("value" not in v and "grad" not in v for v in plain.values())


def test_large_tensors_show_a_summary_and_shapes():
    x = cr.randn(4, 5, requires_grad=True)
    w = cr.randn(5, 3, requires_grad=True)
    y = (x @ w).relu().sum()
    nodes, edges = parse_dot(to_dot(y, show_values=True))
    labels = list(nodes.values())
    assert any(v.startswith("(4, 5) float32\\nvalue mean=") and "std=" in v for v in labels)
    assert any(v.startswith("(4, 3) float32") for v in labels)
    assert sorted(v for k, v in nodes.items() if k.startswith("op")) == \
        ["MatMul", "ReLU", "Sum\\nkeepdim=False"]


def test_op_settings_in_labels():
    x = cr.ones(2, 3, requires_grad=True)
    nodes, _ = parse_dot(to_dot((x ** 2).sum(dim=1)))
    ops = sorted(v for k, v in nodes.items() if k.startswith("op"))
    assert ops == ["PowScalar\\nc=2", "Sum\\naxes=(1,) keepdim=False"]


class _FakeModule:
    def __init__(self, **params):
        self._p = params

    def named_parameters(self):
        return list(self._p.items())


def test_params_name_the_parameters():
    w = cr.randn(3, 2, requires_grad=True)
    b = cr.zeros(2, requires_grad=True)
    x = cr.randn(4, 3)
    y = x @ w + b
    for params in ({"fc.weight": w, "fc.bias": b}, _FakeModule(**{"fc.weight": w,
                                                                   "fc.bias": b})):
        nodes, _ = parse_dot(to_dot(y, params=params))
        firsts = [v.split("\\n")[0] for v in nodes.values()]
        assert "fc.weight" in firsts and "fc.bias" in firsts
    w.name = "w"
    nodes, _ = parse_dot(to_dot(y, params=[w]))
    assert "w" in [v.split("\\n")[0] for v in nodes.values()]


def test_freed_graph_still_draws():
    x = named_leaf([1.0, 2.0], "x")
    h = x * 3
    h.name = "h"
    y = (h * h).sum()
    y.backward()  # no retain_graph: intermediates become metadata records
    del h  # now only the record of h is left
    nodes, edges = parse_dot(to_dot(y, show_values=True, show_grads=True))
    assert nodes[_by_label(nodes, "h")] == "h\\n(2,) float32"  # no values left
    assert nodes[_by_label(nodes, "x")] == "x\\n(2,) float32\\nvalue [1, 2]\\ngrad [18, 36]"
    assert sorted(v for k, v in nodes.items() if k.startswith("op")) == ["Mul", "Mul", "Sum"]
    # x, the constant 3, h, h*h, y; h feeds the second Mul twice
    assert len(nodes) == 3 + 5 and len(edges) == 3 + 3 + 2


def test_shared_inputs_are_one_node():
    a = named_leaf(2.0, "a")
    b = a + a
    c = b + b
    nodes, edges = parse_dot(to_dot(c))
    a_id = _by_label(nodes, "a")
    assert len([e for e in edges if e[0] == a_id]) == 2  # a feeds the first Add twice
    assert len(nodes) == 5  # a, b, c and two Adds


def test_ten_thousand_op_chain_draws_without_recursion():
    x = named_leaf(1.0, "x")
    y = x
    for _ in range(10_000):
        y = y * 1.0
    src = to_dot(y)
    nodes, edges = parse_dot(src)
    assert sum(k.startswith("op") for k in nodes) == 10_000
    assert len(edges) == 3 * 10_000
    assert draw_graph(y).source.count("->") == 3 * 10_000


def test_leaf_and_several_roots():
    a = named_leaf(1.0, "a")
    b = a * 2
    c = a + 1
    nodes, _ = parse_dot(to_dot([b, c]))
    assert sum(k.startswith("op") for k in nodes) == 2
    nodes, edges = parse_dot(to_dot(a))
    assert list(nodes.values()) == ["a\\n() float32"] and edges == []


def test_errors_name_the_function_and_rule():
    with pytest.raises(TypeError, match=r"draw_graph: expected Tensors .* got int"):
        draw_graph(3)
    with pytest.raises(ValueError, match="draw_graph: expected at least one Tensor"):
        draw_graph()
    with pytest.raises(ValueError, match="to_dot: rankdir must be one of"):
        to_dot(cr.ones(1), rankdir="up")
    with pytest.raises(TypeError, match="draw_graph: params must be a Module"):
        draw_graph(cr.ones(1), params=5)
    with pytest.raises(TypeError, match=r"draw_graph: params\['w'\] must be a Tensor"):
        draw_graph(cr.ones(1), params={"w": 1.0})
    with pytest.raises(ValueError, match="save_graph: cannot tell the format"):
        save_graph("digraph {}", "g.jpeg2000")
    with pytest.raises(TypeError, match="save_graph: expected a graph"):
        save_graph(42, "g.dot")


# ============================================================================ without graphviz
def test_without_graphviz_package_dot_text_still_works(monkeypatch, tmp_path):
    y = shop_graph()[0]
    with_pkg = draw_graph(y).source
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz -> ImportError
    g = draw_graph(y)
    assert isinstance(g, DotGraph)
    assert parse_dot(g.source) == parse_dot(with_pkg) == parse_dot(to_dot(y))
    p = save_graph(g, tmp_path / "shop.dot")
    assert p.read_text() == g.source
    assert g.render(tmp_path / "again.gv") == str(tmp_path / "again.gv")


def test_image_without_dot_program_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setattr(vg.shutil, "which", lambda name: None)
    g = draw_graph(shop_graph()[0])
    with pytest.raises(GraphvizUnavailableError) as info:
        save_graph(g, tmp_path / "shop.png")
    msg = str(info.value)
    assert "save_graph" in msg and "apt-get install graphviz" in msg and \
        "pip install graphviz" in msg
    assert not (tmp_path / "shop.png").exists()
    save_graph(g, tmp_path / "shop.dot")  # DOT still works
    assert DotGraph()._repr_mimebundle_() == {"text/plain": DotGraph().source}


# ============================================================================ rendering
@needs_dot
def test_png_and_svg_render(tmp_path):
    import matplotlib.image

    price = shop_graph()[0]
    price.backward(retain_graph=True)
    g = draw_graph(price, show_values=True, show_grads=True)
    png = save_graph(g, tmp_path / "sub" / "shop.png")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000
    img = matplotlib.image.imread(png)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert img.std() > 0.05  # not a blank picture
    svg = save_graph(g, tmp_path / "shop.svg").read_text()
    assert "<svg" in svg and "apple_price" in svg and "grad 2.2" in svg
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files


@needs_dot
def test_dot_graph_renders_and_shows_in_jupyter(monkeypatch, tmp_path):
    y = shop_graph()[0]
    assert "image/svg+xml" in draw_graph(y)._repr_mimebundle_()  # graphviz.Digraph
    monkeypatch.setitem(sys.modules, "graphviz", None)
    g = draw_graph(y)
    assert isinstance(g, DotGraph)
    assert g._repr_mimebundle_()["image/svg+xml"].lstrip().startswith("<?xml")
    assert g.pipe("png")[:4] == b"\x89PNG"
    out = g.render(tmp_path / "g.svg")
    assert "<svg" in open(out).read()


@needs_dot
def test_odd_names_are_escaped(tmp_path):
    x = named_leaf(1.0, 'say "hi" \\ <b>')
    src = to_dot(x * 2)
    proc = subprocess.run(["dot", "-Tsvg"], input=src.encode(), capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert b"say &quot;hi&quot; \\ &lt;b&gt;" in proc.stdout
    save_graph(draw_graph(x * 2), tmp_path / "odd.svg")


def test_save_graph_accepts_dot_text(tmp_path):
    p = save_graph("digraph { a -> b }", tmp_path / "g.dot")
    assert p.read_text() == "digraph { a -> b }"
    x = named_leaf(np.float32(1.0), "x")
    save_graph(to_dot(x.exp()), tmp_path / "e.gv")
    assert "Exp" in (tmp_path / "e.gv").read_text()


def test_module_parameters_are_named():
    from chainrule import nn

    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    y = model(cr.randn(5, 3)).sum()
    nodes, _ = parse_dot(to_dot(y, params=model))
    firsts = {v.split("\\n")[0] for v in nodes.values()}
    expected = {name for name, _ in model.named_parameters()}
    assert expected and expected <= firsts
