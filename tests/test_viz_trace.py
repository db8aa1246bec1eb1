"""The backward trace: rows in execution order, numbers in the right cells, exports, hygiene."""
from __future__ import annotations

import json

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd.grad_mode import state
from chainrule.viz.trace import COLUMNS, Trace, trace
from helpers import named_leaf, shop_graph


@pytest.fixture
def shop_trace() -> Trace:
    with cr.trace() as t:
        price, _ = shop_graph()
        price.backward()
    return t


def _col(cells, name):
    return cells[COLUMNS.index(name)]


def _text_rows(text: str) -> dict[int, list[list[str]]]:
    """Parse the text table: step -> list of lines, each split into column strings."""
    lines = text.splitlines()
    header = [h.strip() for h in lines[0].split(" | ")]
    rows: dict[int, list[list[str]]] = {}
    step = None
    for line in lines[2:]:
        cols = [c.strip() for c in line.split(" | ")]
        cols += [""] * (len(header) - len(cols))
        if cols[0]:
            step = int(cols[0])
            rows[step] = []
        rows[step].append(cols)
    return header, rows


# ============================================================================ the shop graph
def test_shop_rows_in_execution_order(shop_trace):
    t = shop_trace
    assert [(r.step, r.phase, r.op) for r in t] == [
        (1, "forward", "Mul"), (2, "forward", "Mul"), (3, "forward", "Add"),
        (4, "forward", "Mul"), (5, "backward", "MulBackward0"), (6, "backward", "AddBackward0"),
        (7, "backward", "MulBackward0"), (8, "backward", "MulBackward0")]
    assert [r.forward_step for r in t.backward_rows] == [4, 3, 1, 2]


def test_shop_forward_outputs_row_by_row(shop_trace):
    expected = {1: ("apple_price", "200", ["apple ()", "apple_num ()"]),
                2: ("orange_price", "450", ["orange ()", "orange_num ()"]),
                3: ("all_price", "650", ["apple_price ()", "orange_price ()"]),
                4: ("price", "715", ["all_price ()", "tax ()"])}
    for row in shop_trace.forward_rows:
        name, value, inputs = expected[row.step]
        cells = shop_trace.cells(row)
        assert _col(cells, "output") == [f"{name} = {value}"]
        assert _col(cells, "inputs") == inputs
        assert _col(cells, "upstream grad") == [] and _col(cells, "grad to inputs") == []


def test_shop_backward_rows_show_upstream_local_and_grads(shop_trace):
    rows = {r.step: shop_trace.cells(r) for r in shop_trace.backward_rows}
    # step 5: price = all_price * tax, upstream 1
    assert _col(rows[5], "op") == ["MulBackward0 (of 4)"]
    assert _col(rows[5], "upstream grad") == ["1"]
    assert _col(rows[5], "local derivative") == ["dprice/dall_price = tax = 1.1",
                                                 "dprice/dtax = all_price = 650"]
    assert _col(rows[5], "grad to inputs") == ["all_price: 1.1", "tax: 650"]
    # step 6: all_price = apple_price + orange_price, upstream 1.1 passed through
    assert _col(rows[6], "upstream grad") == ["1.1"]
    assert _col(rows[6], "local derivative") == ["dall_price/dapple_price = 1",
                                                 "dall_price/dorange_price = 1"]
    assert _col(rows[6], "grad to inputs") == ["apple_price: 1.1", "orange_price: 1.1"]
    # step 7: apple
    assert _col(rows[7], "upstream grad") == ["1.1"]
    assert _col(rows[7], "local derivative") == ["dapple_price/dapple = apple_num = 2",
                                                 "dapple_price/dapple_num = apple = 100"]
    assert _col(rows[7], "grad to inputs") == ["apple: 2.2", "apple_num: 110"]
    # step 8: orange
    assert _col(rows[8], "upstream grad") == ["1.1"]
    assert _col(rows[8], "grad to inputs") == ["orange: 3.3", "orange_num: 165"]
    for r in shop_trace.backward_rows:
        assert r.notes == []  # scalars: nothing broadcast


def test_shop_text_table_puts_numbers_in_their_columns(shop_trace):
    header, rows = _text_rows(str(shop_trace))
    assert header == ["step", "phase", "op", "inputs", "output", "upstream grad",
                      "local derivative", "grad to inputs"]  # no note column: no broadcast
    col = {h: i for i, h in enumerate(header)}
    assert rows[4][0][col["output"]] == "price = 715"
    assert rows[1][0][col["output"]] == "apple_price = 200"
    assert rows[5][0][col["upstream grad"]] == "1"
    assert rows[5][0][col["grad to inputs"]] == "all_price: 1.1"
    assert rows[5][1][col["grad to inputs"]] == "tax: 650"
    assert rows[7][0][col["grad to inputs"]] == "apple: 2.2"
    assert rows[7][1][col["grad to inputs"]] == "apple_num: 110"
    assert rows[8][0][col["grad to inputs"]] == "orange: 3.3"
    assert rows[8][1][col["grad to inputs"]] == "orange_num: 165"
    assert rows[7][0][col["upstream grad"]] == "1.1"
    assert [rows[s][0][col["phase"]] for s in range(1, 9)] == ["forward"] * 4 + ["backward"] * 4


def test_shop_gallery_module_traces_the_same_numbers():
    from chainrule.gallery import shop
    with cr.trace() as t:
        result = shop.run()
    assert result["price"] == pytest.approx(715)
    by_step = {r.step: t.cells(r) for r in t}
    grads = [_col(by_step[r.step], "grad to inputs") for r in t.backward_rows]
    assert grads == [["all_price: 1.1", "tax: 650"], ["apple_price: 1.1", "orange_price: 1.1"],
                     ["apple: 2.2", "apple_num: 110"], ["orange: 3.3", "orange_num: 165"]]
    assert _col(by_step[4], "output") == ["price = 715"]


def test_markdown_rows(shop_trace):
    md = shop_trace.to_markdown().strip().splitlines()
    assert md[0] == ("| step | phase | op | inputs | output | upstream grad | local derivative "
                     "| grad to inputs |")
    assert md[1] == "|---|---|---|---|---|---|---|---|"
    assert len(md) == 2 + 8
    cells = [c.strip() for c in md[2 + 6].strip("|").split(" | ")]  # step 7
    assert cells[0] == "7" and cells[1] == "backward"
    assert cells[5] == "1.1"
    assert cells[7] == "apple: 2.2<br>apple_num: 110"
    assert "price = 715" in md[2 + 3]


def test_json_round_trips(shop_trace):
    text = shop_trace.to_json()
    data = json.loads(text)
    assert data == shop_trace.to_dict()
    assert data["format"] == "chainrule.trace" and len(data["rows"]) == 8
    row7 = data["rows"][6]
    assert row7["op"] == "MulBackward0" and row7["forward_step"] == 1
    assert [i["label"] for i in row7["inputs"]] == ["apple", "apple_num"]
    assert row7["upstream"][0]["value"] == pytest.approx(1.1)
    assert [g["value"] for g in row7["grads"]] == pytest.approx([2.2, 110])
    assert data["rows"][3]["outputs"][0] == {"label": "price", "shape": [], "dtype": "float32",
                                             "value": pytest.approx(715)}
    assert json.loads(shop_trace.to_json(indent=None)) == data


def test_json_is_strict_with_non_finite_values():
    x = cr.tensor([0.0, 1.0], requires_grad=True)
    with cr.trace() as t:
        cr.log(x).sum().backward()
    text = t.to_json()

    def reject(token):
        raise AssertionError(f"non-standard JSON token {token}")

    data = json.loads(text, parse_constant=reject)
    assert data["rows"][0]["outputs"][0]["value"] == ["-inf", 0.0]
    assert "inf" in str(t)


# ============================================================================ semantics
def test_ops_run_inside_backward_are_not_forward_rows():
    a = named_leaf([1.0, 2.0], "a")
    b = named_leaf([3.0, 4.0], "b")
    with cr.trace() as t:
        (a * b).sum().backward()
    assert [r.op for r in t.forward_rows] == ["Mul", "Sum"]
    assert [r.op for r in t.backward_rows] == ["SumBackward0", "MulBackward0"]
    inner = [e["op"] for e in t.backward_rows[1].inner_ops]
    assert inner.count("Mul") == 2  # gy * x1 and gy * x0
    assert all(r.step == i + 1 for i, r in enumerate(t))


def test_broadcast_note_names_the_input_and_shapes():
    a = named_leaf(np.arange(6.0).reshape(2, 3), "a")
    b = named_leaf([1.0, 2.0, 3.0], "b", dtype=cr.float64)
    with cr.trace() as t:
        (a * b).sum().backward()
    mul = [r for r in t.backward_rows if r.op == "MulBackward0"][0]
    assert mul.notes == ["b: gradient summed from (2, 3) to (3,) (undoing the broadcast)"]
    cells = t.cells(mul)
    assert _col(cells, "grad to inputs") == ["a: [[1, 2, 3], [1, 2, 3]]", "b: [3, 5, 7]"]
    assert "note" in str(t).splitlines()[0]
    np.testing.assert_allclose(b.grad.numpy(), [3.0, 5.0, 7.0])


def test_broadcast_note_for_add_with_keepdim_shape():
    a = named_leaf(np.ones((2, 3)), "a")
    b = named_leaf(np.ones((1, 3)), "b", dtype=cr.float64)
    with cr.trace() as t:
        (a + b).sum().backward()
    add = [r for r in t.backward_rows if r.op == "AddBackward0"][0]
    assert add.notes == ["b: gradient summed from (2, 3) to (1, 3) (undoing the broadcast)"]


def test_large_tensors_are_summarised():
    x = cr.randn(10, 10, requires_grad=True)
    with cr.trace() as t:
        cr.tanh(x).sum().backward()
    out = _col(t.cells(t.rows[0]), "output")[0]
    assert out.startswith("out1 = (10, 10) mean=") and "std=" in out and "max=" in out
    assert "summary" in t.to_dict()["rows"][0]["outputs"][0]
    tanh = t.backward_rows[1]
    assert _col(t.cells(tanh), "local derivative") == ["dout1/dleaf1 = 1-out1^2"]


def test_local_derivative_of_small_elementwise_ops_is_grad_over_upstream():
    x = named_leaf([0.0, 1.0], "x", dtype=cr.float64)
    with cr.trace() as t:
        y = cr.sigmoid(x)
        y.name = "y"
        y.backward(cr.tensor([2.0, 4.0], dtype=cr.float64))
    row = t.backward_rows[0]
    s = 1 / (1 + np.exp(-np.array([0.0, 1.0])))
    expected = "[" + ", ".join(f"{v:.4g}" for v in s * (1 - s)) + "]"
    assert row.local == [f"dy/dx = y*(1-y) = {expected}"]
    assert _col(t.cells(row), "upstream grad") == ["[2, 4]"]


def test_names_given_after_the_op_are_used():
    x = named_leaf(2.0, "x")
    with cr.trace() as t:
        y = x * x
        y.name = "y"  # named after the op ran
        y.backward()
    assert _col(t.cells(t.rows[0]), "output") == ["y = 4"]
    assert t.backward_rows[0].local == ["dy/dx = x = 2", "dy/dx = x = 2"]


def test_params_label_parameters():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with cr.trace(params={"fc.weight": w}) as t:
        (w * 3).sum().backward()
    assert _col(t.cells(t.rows[0]), "inputs") == ["fc.weight (2,)", "3 ()"]


def test_two_backward_passes_and_create_graph():
    x = named_leaf(3.0, "x", dtype=cr.float64)
    with cr.trace() as t:
        y = x ** 3
        (dx,) = cr.autograd.grad(y, x, create_graph=True)
        dx.backward()
    power = y.grad_fn.name()  # PyTorch's name of the node (PowBackward0 in torch)
    # pass 2 runs through the graph that pass 1 recorded: dx = 1 * (3 * x ** 2)
    assert [(r.op, r.backward_pass) for r in t.backward_rows] == [
        (power, 1), ("MulBackward0", 2), ("MulBackward0", 2), (power, 2)]
    assert [r.op for r in t.forward_rows] == ["PowScalar"]  # backward's ops are inner ops
    assert t.backward_rows[0].local == ["dout1/dx = 3*x^2 = 27"]
    assert t.backward_rows[-1].local == ["d(bw2.1)/dx = 2*x = 6"]  # made by step 2's backward
    assert x.grad.item() == pytest.approx(18.0)


def test_trace_records_nothing_outside_and_restores_state():
    x = named_leaf(1.0, "x")
    with cr.trace() as t:
        assert state.tracer is t
        x * 2
    assert state.tracer is None
    (x * 3).backward()
    assert len(t) == 1


def test_trace_restores_previous_tracer_after_an_exception():
    with cr.trace() as outer:
        with pytest.raises(ZeroDivisionError):
            with cr.trace() as inner:
                cr.tensor(1.0) + 1
                1 / 0
        assert state.tracer is outer
        cr.tensor(1.0) * 2
    assert state.tracer is None
    assert [r.op for r in inner] == ["Add"] and [r.op for r in outer] == ["Mul"]


def test_trace_errors_and_empty_table():
    with pytest.raises(ValueError, match="trace: max_elems must be a non-negative int"):
        trace(max_elems=-1)
    with pytest.raises(TypeError, match="trace: params must be a Module"):
        trace(params=3)
    t = trace()
    with t:
        with pytest.raises(RuntimeError, match="already recording"):
            t.__enter__()
    assert str(t) == "(empty trace)" and repr(t) == "<Trace: 0 forward and 0 backward steps>"
    assert json.loads(t.to_json())["rows"] == []


def test_max_rows_cuts_the_tables(shop_trace):
    text = shop_trace.to_text(max_rows=3)
    assert text.splitlines()[-1] == "... 5 more rows"
    assert shop_trace.to_markdown(max_rows=2).strip().endswith("*... 6 more rows*")


def test_user_function_documenting_its_derivative():
    from chainrule.autograd import Function

    class Cube(Function):
        """y = x^3; dy/dx = 3 x^2."""

        def forward(self, x):
            return x ** 3

        def backward(self, gy):
            return gy * 3 * self.inputs[0] ** 2

    x = named_leaf(2.0, "x", dtype=cr.float64)
    with cr.trace() as t:
        y = Cube()(x)
        y.name = "y"
        y.backward()
    assert t.backward_rows[0].local == ["dy/dx = 3 x^2 = 12"]
    assert [r.op for r in t.forward_rows] == ["Cube"]


def test_cnn_step_trace_matches_the_hand_derived_gradients():
    from chainrule.gallery import cnn_step

    with cr.trace(max_elems=16) as t:  # (4, 4) maps and the (3, 3) kernel in full
        r = cnn_step.run()
    first = [row for row in t if row.step <= max(b.step for b in t.backward_rows)]
    fwd = {row.step: row for row in first if row.phase == "forward"}
    bwd = [row for row in first if row.phase == "backward"]

    def value(info):
        return np.asarray(info.numbers["value"], dtype=float)

    def backward_of(op, nth=0):
        rows = [b for b in bwd if fwd[b.forward_step].op == op]
        return rows[nth]

    assert [fwd[s].op for s in sorted(fwd)] == ["Reshape", "Conv2d", "Sigmoid", "MaxPool2d",
                                                "Reshape", "Linear", "Sigmoid",
                                                "Sub", "PowScalar", "Mul"]
    # forward: the last row is E, the second sigmoid is out
    e_row = fwd[max(fwd)]
    assert e_row.outputs[0].label == "E" and value(e_row.outputs[0]).item() == \
        pytest.approx(r["E"], rel=1e-5)
    sig2 = [fwd[s] for s in sorted(fwd) if fwd[s].op == "Sigmoid"][1]
    assert value(sig2.outputs[0]).item() == pytest.approx(r["out"], rel=1e-5)
    np.testing.assert_allclose(value(fwd[2].outputs[0])[0, 0], r["L1"], rtol=1e-5)
    # backward, one local gradient at a time, against the walkthrough's hand values
    out_sig = backward_of("Sigmoid", 0)  # the backward of out = sigmoid(z) runs first
    assert value(out_sig.upstream[0]).item() == pytest.approx(r["dE_dout"].item(), rel=1e-4)
    assert value(out_sig.grads[0]).item() == pytest.approx(r["dE_dz"].item(), rel=1e-4)
    assert out_sig.local[0].startswith("dout7/dout6 = out7*(1-out7) = ")
    linear = backward_of("Linear")
    np.testing.assert_allclose(value(linear.grads[0]).reshape(2, 2), r["dE_dpooled"],
                               rtol=1e-4, atol=1e-9)
    pool = backward_of("MaxPool2d")
    np.testing.assert_allclose(value(pool.grads[0])[0, 0], r["dE_dL1_a"], rtol=1e-4,
                               atol=1e-9)
    assert pool.local == ["dout4/dout3 = 1 at each window's maximum, else 0"]
    l1_sig = backward_of("Sigmoid", 1)
    np.testing.assert_allclose(value(l1_sig.grads[0])[0, 0], r["dE_dL1"], rtol=1e-4,
                               atol=1e-9)
    conv = backward_of("Conv2d")
    assert [i.label for i in conv.inputs if i is not None] == ["X", "W1"]
    assert conv.grads[0] is None  # X needs no gradient
    np.testing.assert_allclose(value(conv.grads[1])[0, 0], r["dE_dW1"], rtol=1e-4)
    np.testing.assert_allclose(value(linear.grads[1]), r["dE_dW2_autograd"], rtol=1e-5)
    assert json.loads(t.to_json())["rows"][conv.step - 1]["op"] == conv.op
    assert conv.op.endswith("Backward0")  # the node's name(), as PyTorch names it
