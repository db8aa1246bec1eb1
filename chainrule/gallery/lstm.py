"""Backpropagation through time: one LSTM cell over three steps, its gradient by hand.

A cell of hidden size 1 reads x = (1.0, 0.5, -1.0), starting from h = c = 0. At each step
(PyTorch's gate order i, f, g, o; W_ih (4, 1), W_hh (4, 1), b (4,))::

    a = W_ih x_t + W_hh h + b          the four pre-activations
    i, f, o = sigmoid(a_i, a_f, a_o)   input, forget and output gates
    g = tanh(a_g)                      the candidate
    c_t = f * c_(t-1) + i * g          the cell state
    h_t = o * tanh(c_t)                the output
    E = 0.5 * (h_3 - y)^2              with y = 0.5, after the third step

Backward runs the steps in reverse. The gradient reaches the cell state two ways, from the
output of this step and from the next step's cell (through its forget gate)::

    dE/dc_t = dE/dh_t * o * (1 - tanh(c_t)^2) + dE/dc_(t+1) * f_(t+1)
    dE/da   = (dc * g * i(1-i), dc * c_(t-1) * f(1-f), dc * i * (1-g^2), dh * tanh(c) * o(1-o))
    dE/dh_(t-1) = W_hh^T dE/da,   and each step adds dE/da x_t, dE/da h_(t-1), dE/da
    to the gradients of W_ih, W_hh and b

It equals autograd's gradient and PyTorch's nn.LSTM with the same weights.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import chainrule as cr

X = (1.0, 0.5, -1.0)
Y = 0.5
W_IH = ((0.5,), (0.8,), (1.0,), (-0.3,))  # rows: gates i, f, g, o
W_HH = ((0.2,), (-0.4,), (0.6,), (0.7,))
B = (0.1, 0.5, 0.0, 0.2)
GATES = "ifgo"
DOCS_MAX_ROWS = 200  # the gallery page shows the whole trace: three steps forward and back


def _sigmoid(a: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-a))


def forward(w_ih: cr.Tensor, w_hh: cr.Tensor, b: cr.Tensor) -> dict[str, Any]:
    """The three steps with chainrule's ops; every gate, cell and output kept."""
    h = cr.zeros(1)
    c = cr.zeros(1)
    steps = []
    for x in X:
        a = w_ih[:, 0] * x + w_hh @ h + b  # (4,): the pre-activations of i, f, g, o
        i, f, o = cr.sigmoid(a[0:1]), cr.sigmoid(a[1:2]), cr.sigmoid(a[3:4])
        g = cr.tanh(a[2:3])
        c = f * c + i * g
        h = o * cr.tanh(c)
        steps.append({"i": i, "f": f, "g": g, "o": o, "c": c, "h": h})
    E = 0.5 * (h - Y) ** 2
    return {"steps": steps, "E": E.sum()}


def hand_gradients(values: list[dict[str, float]]) -> dict[str, Any]:
    """dE/dW_ih, dE/dW_hh, dE/db by backpropagation through time, on floats (no autograd)."""
    w_hh = np.array(W_HH)[:, 0]
    d_w_ih, d_w_hh, d_b = np.zeros(4), np.zeros(4), np.zeros(4)
    dh = values[-1]["h"] - Y  # dE/dh_3
    dc_next, f_next = 0.0, 0.0
    back = []
    for t in reversed(range(len(X))):
        v = values[t]
        c_prev = values[t - 1]["c"] if t else 0.0
        h_prev = values[t - 1]["h"] if t else 0.0
        tc = np.tanh(v["c"])
        dc = dh * v["o"] * (1 - tc ** 2) + dc_next * f_next
        da = np.array([dc * v["g"] * v["i"] * (1 - v["i"]),  # i
                       dc * c_prev * v["f"] * (1 - v["f"]),  # f
                       dc * v["i"] * (1 - v["g"] ** 2),  # g
                       dh * tc * v["o"] * (1 - v["o"])])  # o
        d_w_ih += da * X[t]
        d_w_hh += da * h_prev
        d_b += da
        back.append({"t": t + 1, "dh": dh, "dc": dc, "da": da})
        dh = float(w_hh @ da)  # dE/dh_(t-1)
        dc_next, f_next = dc, v["f"]
    return {"d_w_ih": d_w_ih[:, None], "d_w_hh": d_w_hh[:, None], "d_b": d_b, "back": back}


def run(verbose: bool = False) -> dict[str, Any]:
    """Forward, hand and autograd gradients; the numbers."""
    w_ih = cr.tensor(W_IH, requires_grad=True)
    w_hh = cr.tensor(W_HH, requires_grad=True)
    b = cr.tensor(B, requires_grad=True)
    w_ih.name, w_hh.name, b.name = "W_ih", "W_hh", "b"
    out = forward(w_ih, w_hh, b)
    out["E"].name = "E"
    out["E"].backward(retain_graph=True)  # keep the graph so it can still be drawn
    values = [{k: float(v.item()) for k, v in step.items()} for step in out["steps"]]
    result: dict[str, Any] = {"steps": values, "E": float(out["E"].item())}
    result.update(hand_gradients(values))
    result.update(d_w_ih_autograd=w_ih.grad.numpy().copy(),  # type: ignore[union-attr]
                  d_w_hh_autograd=w_hh.grad.numpy().copy(),  # type: ignore[union-attr]
                  d_b_autograd=b.grad.numpy().copy())  # type: ignore[union-attr]
    result["graph"] = out["E"]
    result["params"] = {"W_ih": w_ih, "W_hh": w_hh, "b": b}
    if verbose:
        _print_walkthrough(result)
    return result


def _vec(v: Any) -> str:
    return "[" + ", ".join(f"{float(x) + 0.0:.4f}" for x in np.ravel(v)) + "]"  # no -0.0


def _print_walkthrough(r: dict[str, Any]) -> None:
    print(f"Forward, x = {X}, h_0 = c_0 = 0")
    print(" t      x        i        f        g        o        c        h")
    for t, (x, v) in enumerate(zip(X, r["steps"]), 1):
        print(f"{t:2d} {x:6.2f} " + " ".join(f"{v[k]:8.4f}" for k in "ifgoch"))
    print(f"E = 0.5 * (h_3 - {Y:g})^2 = {r['E']:.6f}")
    print("\nBackward through time (d = dE/d...)")
    for s in r["back"]:
        print(f"t = {s['t']}: dh = {s['dh']:.6f}, dc = {s['dc']:.6f}, "
              f"da (i, f, g, o) = {_vec(s['da'])}")
    print("\nGradients: by hand | autograd")
    for name, key in [("dE/dW_ih", "d_w_ih"), ("dE/dW_hh", "d_w_hh"), ("dE/db", "d_b")]:
        print(f"{name:9s} {_vec(r[key])} | {_vec(r[key + '_autograd'])}")
    gap = max(float(np.abs(r[k] - r[k + "_autograd"]).max())
              for k in ("d_w_ih", "d_w_hh", "d_b"))
    print(f"largest difference: {gap:.1e}")


def main() -> None:
    """Print the walkthrough."""
    run(verbose=True)


if __name__ == "__main__":
    main()
