"""One training step of a tiny CNN, its gradient written out by hand with the chain rule.

The network (the example's notation: X input, W1 conv weight, W2 linear weight)::

    X (1, 1, 6, 6) = 1..36        W1 (1, 1, 3, 3): 0.01 on the diagonal, no bias
    L1   = conv2d(X, W1)          (1, 1, 4, 4)
    L1_a = sigmoid(L1)            (1, 1, 4, 4)
    P    = max_pool2d(L1_a, 2)    (1, 1, 2, 2)
    f    = flatten(P)             (1, 4)
    z    = f @ W2.T               (1, 1)       W2 = [[0, 0.01, 0, 0.01]], no bias
    out  = sigmoid(z)             = 0.5033
    E    = 0.5 * (Y - out)^2      = 0.1233     with Y = 1

Backward, each factor a local gradient::

    dE/dz    = (out - Y) * out (1 - out)
    dE/dP    = dE/dz * W2, reshaped to (2, 2)
    dE/dL1_a = dE/dP routed through the pool's arg-max mask (0 elsewhere)
    dE/dL1   = dE/dL1_a * L1_a (1 - L1_a)
    dE/dW1   = X cross-correlated with dE/dL1 (a (3, 3) "valid" convolution)

It equals autograd's gradient, and one plain gradient step W1 <- W1 - 1 * dE/dW1 lowers E to
0.1226.
"""
from __future__ import annotations

from typing import Any

import numpy as np

import chainrule as cr
import chainrule.nn.functional as F

Y = 1.0
LR = 1.0


def inputs() -> tuple[cr.Tensor, cr.Tensor, cr.Tensor]:
    """X (1, 1, 6, 6) holding 1..36, W1 (1, 1, 3, 3) with 0.01 on the diagonal, W2 (1, 4)."""
    x = cr.arange(1, 37, dtype=cr.float32).reshape(1, 1, 6, 6)
    conv_weight = cr.tensor((0.01 * np.eye(3, dtype=np.float32)).reshape(1, 1, 3, 3))
    fc_weight = cr.tensor([[0.0, 0.01, 0.0, 0.01]])
    return x, conv_weight, fc_weight


def forward(x: cr.Tensor, conv_weight: cr.Tensor, fc_weight: cr.Tensor) -> dict[str, cr.Tensor]:
    """The forward pass, every intermediate kept (names as in the module docstring)."""
    L1 = F.conv2d(x, conv_weight)  # (1, 1, 4, 4)
    L1_a = F.sigmoid(L1)
    pooled = F.max_pool2d(L1_a, 2, 2)  # (1, 1, 2, 2)
    flat = F.flatten(pooled, 1)  # (1, 1, 2, 2) -> (1, 4)
    z = F.linear(flat, fc_weight)  # (1, 4) @ (4, 1) -> (1, 1)
    out = F.sigmoid(z)
    E = 0.5 * (Y - out) ** 2
    return {"L1": L1, "L1_a": L1_a, "pooled": pooled, "flat": flat, "z": z, "out": out,
            "E": E}


def pool_mask(a: np.ndarray) -> np.ndarray:
    """1 at the maximum of each 2x2 window of a (4, 4) map (the first one on ties, as
    PyTorch), 0 elsewhere: where max pooling sends the gradient."""
    # (4, 4) -> (2, 2, 2, 2) as (row block, row in block, col block, col in block)
    # -> (row block, col block, 4): the four values of each window in row-major order
    windows = a.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(2, 2, 4)
    onehot = np.eye(4, dtype=a.dtype)[windows.argmax(axis=2)]  # (2, 2, 4)
    # back: (2, 2, 4) -> (2, 2, 2, 2) -> (row block, row in block, col block, col in block)
    return onehot.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(4, 4)


def hand_gradients(x: np.ndarray, fc_weight: np.ndarray,
                   values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """dE/dW1 by the chain rule, one local gradient at a time (arrays, no autograd)."""
    out, L1_a = values["out"], values["L1_a"][0, 0]  # (1, 1) and (4, 4)
    g: dict[str, np.ndarray] = {}
    g["dE_dout"] = out - Y  # E = 0.5 (Y - out)^2
    g["dout_dz"] = out * (1 - out)  # sigmoid' = s (1 - s)
    g["dE_dz"] = g["dE_dout"] * g["dout_dz"]  # (1, 1)
    g["dE_dW2"] = g["dE_dz"] * values["flat"]  # z = f @ W2.T: dz/dW2 = f, (1, 4)
    g["dE_dpooled"] = (g["dE_dz"] * fc_weight).reshape(2, 2)  # dz/df = W2; (1, 4) -> (2, 2)
    g["pool_mask"] = pool_mask(L1_a)
    # each pooled gradient goes to its window's arg-max: upsample (2, 2) -> (4, 4), then mask
    g["dE_dL1_a"] = np.kron(g["dE_dpooled"], np.ones((2, 2), L1_a.dtype)) * g["pool_mask"]
    g["dL1_a_dL1"] = L1_a * (1 - L1_a)
    g["dE_dL1"] = g["dE_dL1_a"] * g["dL1_a_dL1"]  # (4, 4)
    # dE/dW1[a, b] = sum_ij X[i + a, j + b] dE/dL1[i, j]: conv2d of X with dE/dL1 as kernel
    with cr.no_grad():
        kernel = cr.tensor(g["dE_dL1"].reshape(1, 1, 4, 4))  # (4, 4) -> (OC, C, KH, KW)
        g["dE_dW1"] = F.conv2d(cr.tensor(x), kernel).detach().numpy().reshape(3, 3)  # (1, 1, 3, 3)
    return g


def run(verbose: bool = False) -> dict[str, Any]:
    """Forward, hand and autograd gradients of W1, one gradient step; the numbers."""
    x, conv_weight, fc_weight = inputs()
    conv_weight.requires_grad_()
    fc_weight.requires_grad_()
    x.name, conv_weight.name, fc_weight.name = "X", "W1", "W2"
    t = forward(x, conv_weight, fc_weight)
    t["E"].name = "E"
    t["E"].backward(retain_graph=True)  # keep the graph so it can still be drawn
    values = {k: v.detach().numpy().copy() for k, v in t.items()}
    result: dict[str, Any] = {"X": x.detach().numpy()[0, 0], "W1": conv_weight.detach().numpy()[0, 0].copy(),
                              "W2": fc_weight.detach().numpy().copy()}
    result.update({k: values[k][0, 0] if values[k].ndim == 4 else values[k]
                   for k in ("L1", "L1_a", "pooled")})
    result.update(out=float(values["out"].item()), E=float(values["E"].item()))
    result.update(hand_gradients(x.detach().numpy(), fc_weight.detach().numpy(), values))
    result["dE_dW1_autograd"] = conv_weight.grad.detach().numpy()[0, 0].copy()  # type: ignore[union-attr]
    result["dE_dW2_autograd"] = fc_weight.grad.detach().numpy().copy()  # type: ignore[union-attr]
    with cr.no_grad():
        stepped = conv_weight - LR * cr.tensor(result["dE_dW1"].reshape(1, 1, 3, 3))
        result["W1_after"] = stepped.detach().numpy()[0, 0]
        result["E_after"] = float(forward(x, stepped, fc_weight)["E"].item())
    result["graph"] = t["E"]
    result["params"] = {"W1": conv_weight, "W2": fc_weight}
    if verbose:
        _print_walkthrough(result)
    return result


def _show(label: str, value: Any, precision: int = 4) -> None:
    value = np.asarray(value) + 0.0  # + 0.0 turns -0.0 (from 0 * negative) into 0.0
    text = np.array2string(value, precision=precision, floatmode="fixed")
    sep = "\n" if "\n" in text else " "
    print(f"{label}:{sep}{text}")


def _print_walkthrough(r: dict[str, Any]) -> None:
    print("Forward")
    _show("X (6x6, 1..36)", r["X"])
    _show("W1 (3x3, 0.01 on the diagonal)", r["W1"])
    _show("L1 = conv2d(X, W1) (4x4)", r["L1"])
    _show("L1_a = sigmoid(L1)", r["L1_a"])
    _show("pooled = max_pool2d(L1_a, 2) (2x2)", r["pooled"])
    _show("W2", r["W2"])
    print(f"out = sigmoid(flatten(pooled) @ W2.T) = {r['out']:.4f}")
    print(f"E = 0.5 * (Y - out)^2 with Y = {Y:g}: {r['E']:.4f}")
    print("\nBackward, one local gradient at a time")
    _show("dE/dout = out - Y", r["dE_dout"])
    _show("dout/dz = out (1 - out)", r["dout_dz"])
    _show("dE/dz = dE/dout * dout/dz", r["dE_dz"])
    _show("dE/dW2 = dE/dz * flatten(pooled)", r["dE_dW2"])
    _show("dE/dpooled = dE/dz * W2 (as 2x2)", r["dE_dpooled"], 6)
    _show("pool arg-max mask", r["pool_mask"])
    _show("dE/dL1_a = mask * upsampled dE/dpooled", r["dE_dL1_a"], 6)
    _show("dL1_a/dL1 = L1_a (1 - L1_a)", r["dL1_a_dL1"])
    _show("dE/dL1 = dE/dL1_a * dL1_a/dL1", r["dE_dL1"], 6)
    _show("dE/dW1 = X cross-correlated with dE/dL1 (by hand)", r["dE_dW1"])
    _show("dE/dW1 from autograd", r["dE_dW1_autograd"])
    gap = float(np.abs(r["dE_dW1"] - r["dE_dW1_autograd"]).max())
    print(f"largest difference hand vs autograd: {gap:.1e}")
    print(f"\nOne step W1 <- W1 - {LR:g} * dE/dW1: E goes from {r['E']:.4f} to "
          f"{r['E_after']:.4f}")


def main() -> None:
    run(verbose=True)


if __name__ == "__main__":
    main()
