"""The linear model y_hat = x * w with squared-error loss, its gradient and SGD training.

loss = (x*w - y)^2, so dloss/dw = 2 * x * (x*w - y): at w = 1, (x, y) = (1, 2) it is -2 and at
(2, 4) it is -8. Training by SGD (lr 0.01, one update per sample, 10 epochs over
x = [1, 2, 3], y = [2, 4, 6]) moves the prediction for x = 4 from 4 toward 8.
"""
from __future__ import annotations

from typing import Any

import chainrule as cr

X_DATA = [1.0, 2.0, 3.0]
Y_DATA = [2.0, 4.0, 6.0]


def loss_fn(x: float, y: float, w: cr.Tensor) -> cr.Tensor:
    """(x * w - y) ** 2 for one sample."""
    return (x * w - y) ** 2


def gradient_at(x: float, y: float, w: float = 1.0) -> float:
    """dloss/dw at one sample, by autograd."""
    wt = cr.tensor(w, requires_grad=True)
    loss_fn(x, y, wt).backward()
    return wt.grad.item()  # type: ignore[union-attr]


def train(epochs: int = 10, lr: float = 0.01, w0: float = 1.0,
          verbose: bool = False) -> dict[str, Any]:
    """Per-sample SGD; returns the loss of the last sample and w after each epoch."""
    w = cr.tensor(w0, requires_grad=True)
    w.name = "w"
    before = (4.0 * w).item()
    history = []
    for epoch in range(epochs):
        for x, y in zip(X_DATA, Y_DATA):
            loss = loss_fn(x, y, w)
            loss.backward()
            with cr.no_grad():
                w -= lr * w.grad  # type: ignore[operator]
            w.grad = None
        history.append({"epoch": epoch, "loss": loss.item(), "w": w.item()})
        if verbose:
            print(f"epoch {epoch}: loss of the last sample {loss.item():.6f}, "
                  f"w = {w.item():.6f}")
    return {"before": before, "after": (4.0 * w).item(), "history": history, "w": w}


def run(verbose: bool = False) -> dict[str, Any]:
    """Gradients at two samples, then training; returns the numbers and a graph."""
    g1, g2 = gradient_at(1.0, 2.0), gradient_at(2.0, 4.0)
    if verbose:
        print(f"dloss/dw at w=1, x=1, y=2: {g1:g}   (2 * 1 * (1*1 - 2))")
        print(f"dloss/dw at w=1, x=2, y=4: {g2:g}   (2 * 2 * (2*1 - 4))")
    trained = train(verbose=verbose)
    if verbose:
        print(f"prediction for x=4: before {trained['before']:.4f}, after "
              f"{trained['after']:.4f} (target 8)")
    w = cr.tensor(1.0, requires_grad=True)
    w.name = "w"
    graph = loss_fn(2.0, 4.0, w)
    graph.backward(retain_graph=True)
    return {"grad_x1_y2": g1, "grad_x2_y4": g2, **trained, "graph": graph,
            "params": {"w": w}}


def main() -> None:
    run(verbose=True)


if __name__ == "__main__":
    main()
