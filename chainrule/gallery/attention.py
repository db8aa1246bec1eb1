"""One head of causal self-attention, its gradient by hand: scores, softmax, Q, K and V.

Three tokens with queries, keys and values of width d = 2 (rows are tokens)::

    Q = [[1, 0], [0, 1], [1, 1]]   K = [[1, 1], [0, 1], [1, 0]]   V = [[1, 2], [3, 4], [5, 6]]
    S = Q K^T / sqrt(d)            the scores, (3, 3)
    S[t, s] = -inf for s > t       causal: a token sees itself and the tokens before it
    A = softmax(S) row by row      the attention weights (0 where masked)
    O = A V                        the output, (3, 2)
    E = sum(O * G)                 with the upstream gradient G = [[1, 0], [0, 1], [0.5, -1]]

Backward, with the softmax's Jacobian dA_t/dS_t = diag(a_t) - a_t a_t^T for each row t::

    dE/dO = G
    dE/dV = A^T G
    dE/dA = G V^T
    dE/dS = A * (dE/dA - rowsum(dE/dA * A))      the Jacobian applied to each row
    dE/dQ = dE/dS K / sqrt(d),   dE/dK = dE/dS^T Q / sqrt(d)

Masked positions get weight 0, so no gradient reaches their scores. It equals autograd's
gradient and PyTorch's scaled_dot_product_attention(Q, K, V, is_causal=True).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

import chainrule as cr

Q = ((1.0, 0.0), (0.0, 1.0), (1.0, 1.0))
K = ((1.0, 1.0), (0.0, 1.0), (1.0, 0.0))
V = ((1.0, 2.0), (3.0, 4.0), (5.0, 6.0))
G = ((1.0, 0.0), (0.0, 1.0), (0.5, -1.0))
D = 2


def forward(q: cr.Tensor, k: cr.Tensor, v: cr.Tensor) -> dict[str, cr.Tensor]:
    """Scores, causal mask, softmax, output and E, with chainrule's ops."""
    scores = q @ k.T / math.sqrt(D)  # (3, 2) @ (2, 3) -> (3, 3)
    future = cr.triu(cr.ones(3, 3, dtype=cr.bool), diagonal=1)  # True above the diagonal
    masked = scores.masked_fill(future, float("-inf"))
    weights = cr.softmax(masked, dim=-1)
    out = weights @ v  # (3, 3) @ (3, 2) -> (3, 2)
    E = (out * cr.tensor(G)).sum()
    return {"S": scores, "A": weights, "O": out, "E": E}


def softmax_jacobian(a: np.ndarray) -> np.ndarray:
    """diag(a) - a a^T: how each weight of a row moves with each score of the row."""
    return np.diag(a) - np.outer(a, a)


def hand_gradients(q: np.ndarray, k: np.ndarray, v: np.ndarray,
                   weights: np.ndarray) -> dict[str, np.ndarray]:
    """dE/dQ, dE/dK, dE/dV by the chain rule, on arrays (no autograd)."""
    g = np.array(G)
    d_a = g @ v.T  # dE/dA (3, 3)
    # each row through its Jacobian: J_t dA_t = a_t * (dA_t - a_t . dA_t)
    d_s = weights * (d_a - (d_a * weights).sum(axis=1, keepdims=True))
    return {"dE_dV": weights.T @ g, "dE_dA": d_a, "dE_dS": d_s,
            "dE_dQ": d_s @ k / math.sqrt(D), "dE_dK": d_s.T @ q / math.sqrt(D),
            "jacobian_row3": softmax_jacobian(weights[2])}


def run(verbose: bool = False) -> dict[str, Any]:
    """Forward, hand and autograd gradients; the numbers."""
    q, k, v = (cr.tensor(m, requires_grad=True) for m in (Q, K, V))
    q.name, k.name, v.name = "Q", "K", "V"
    t = forward(q, k, v)
    t["E"].name = "E"
    t["E"].backward(retain_graph=True)  # keep the graph so it can still be drawn
    result: dict[str, Any] = {key: t[key].detach().numpy().copy() for key in ("S", "A", "O")}
    result["E"] = float(t["E"].item())
    result.update(hand_gradients(np.array(Q), np.array(K), np.array(V), result["A"]))
    for name, x in (("Q", q), ("K", k), ("V", v)):
        result[f"dE_d{name}_autograd"] = x.grad.numpy().copy()  # type: ignore[union-attr]
    result["graph"] = t["E"]
    result["params"] = {"Q": q, "K": k, "V": v}
    if verbose:
        _print_walkthrough(result)
    return result


def _show(label: str, value: Any) -> None:
    text = np.array2string(np.asarray(value) + 0.0, precision=4, floatmode="fixed",
                           suppress_small=True)
    print(f"{label}:\n{text}")


def _print_walkthrough(r: dict[str, Any]) -> None:
    print("Forward")
    _show("S = Q K^T / sqrt(2)", r["S"])
    _show("A = softmax(S with -inf above the diagonal)", r["A"])
    _show("O = A V", r["O"])
    print(f"E = sum(O * G) = {r['E']:.4f}")
    print("\nBackward, by hand")
    _show("dE/dV = A^T G", r["dE_dV"])
    _show("dE/dA = G V^T", r["dE_dA"])
    _show("softmax Jacobian of row 3: diag(a) - a a^T", r["jacobian_row3"])
    _show("dE/dS = A * (dE/dA - rowsum(dE/dA * A)): 0 where masked", r["dE_dS"])
    _show("dE/dQ = dE/dS K / sqrt(2)", r["dE_dQ"])
    _show("dE/dK = dE/dS^T Q / sqrt(2)", r["dE_dK"])
    gap = max(float(np.abs(r[f"dE_d{n}"] - r[f"dE_d{n}_autograd"]).max()) for n in "QKV")
    print(f"\nlargest difference from autograd's dE/dQ, dE/dK, dE/dV: {gap:.1e}")


def main() -> None:
    """Print the walkthrough."""
    run(verbose=True)


if __name__ == "__main__":
    main()
